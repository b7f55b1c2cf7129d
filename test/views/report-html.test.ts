/**
 * The incident report: pure rendering from a journal (escaping, one bar per executed step, the
 * marks), then the same file rendered by headless Chromium (Debian's `chromium`): the DOM it
 * builds and a screenshot, whose pixels must show the bars.
 */
import { execa } from 'execa';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { journalSchema } from '../../src/runs/journal-file.js';
import { timelineOf } from '../../src/runs/digest.js';
import { renderReportHtml } from '../../src/views/report-html.js';
import { needs } from '../support/skips.js';
import { countColour, readPng } from '../support/png.js';

const OLD = journalSchema.parse(JSON.parse(readFileSync('fixtures/journals/failover-five-old.json', 'utf8')));

/** The fixture with step start times (as dcfail writes them now), a failed last step and hostile texts. */
function timedHostile() {
  const j = structuredClone(OLD);
  const t0 = Date.parse(j.confirmedAt!);
  let at = t0;
  j.steps = j.steps.map((s, i) => {
    const startedAt = new Date(at).toISOString();
    at += i % 3 === 0 ? s.ms : 0;
    return { ...s, startedAt };
  });
  j.evidenceAt = new Date(t0 - 800).toISOString();
  j.steps[0]!.summary = 'fence <script>document.title="pwned"</script><img src=x onerror=alert(1)>';
  j.steps[2]!.detail = '"><svg onload=alert(2)>';
  j.operator = "o'hara & <b>co</b>";
  j.steps.at(-1)!.status = 'failed';
  return j;
}

const CHROMIUM = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

async function chromium(args: string[]): Promise<string> {
  const r = await execa(
    CHROMIUM!,
    ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--hide-scrollbars', ...args],
    { timeout: 90_000, env: { HOME: mkdtempSync(join(tmpdir(), 'dcfail-chromium-home-')) } },
  );
  return r.stdout;
}

describe('the HTML incident report', () => {
  it('one bar per executed step, the confirmation, the loss certificate and the time to recovery marked', () => {
    const j = timedHostile();
    const html = renderReportHtml(j);
    expect(html.match(/<rect class="bar"/g)).toHaveLength(j.steps.length);
    expect(html.match(/data-status="failed"/g)).toHaveLength(1);
    expect(html).toContain('data-mark="confirmation"');
    expect(html).toContain('data-mark="loss-certificate"');
    expect(html).toContain('time to recovery 10.17 s');
    const t = timelineOf(j);
    expect(t.estimated).toBe(false);
    // Each bar starts where the journal says its step started.
    expect(t.bars[3]!.startMs).toBe(Date.parse(j.steps[3]!.startedAt!) - Date.parse(j.startedAt));
    expect(new Set(t.bars.map((b) => b.row)).size).toBe(t.rows.length);
  });

  it('escapes every journal text: no markup from the journal, no external asset, no script', () => {
    const html = renderReportHtml(timedHostile());
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/<img/i);
    expect(html).not.toMatch(/<svg onload/i);
    expect(html).toContain('fence &#60;script&#62;document.title=&#34;pwned&#34;&#60;/script&#62;');
    expect(html).toContain('o&#39;hara &#38; &#60;b&#62;co&#60;/b&#62;');
    expect(html).not.toMatch(/<[^>]*\s(src|href)=/i);
    expect(html).toContain(`content="default-src 'none'; style-src 'unsafe-inline'"`);
  });

  it('an older journal without step times gets an estimated layout, said so', () => {
    const t = timelineOf(OLD);
    expect(t.estimated).toBe(true);
    expect(t.bars).toHaveLength(OLD.steps.length);
    expect(renderReportHtml(OLD)).toContain('step times are estimated');
  });

  describe.runIf(needs(CHROMIUM !== undefined, 'report: chromium is not installed (apt-get install chromium)'))(
    'rendered by headless Chromium',
    () => {
      it('the DOM has one bar per executed step and the hostile texts as text; the screenshot shows the bars', async () => {
        const j = timedHostile();
        const dir = mkdtempSync(join(tmpdir(), 'dcfail-report-'));
        const file = join(dir, 'report.html');
        writeFileSync(file, renderReportHtml(j));
        const dom = await chromium(['--dump-dom', `file://${file}`]);
        expect(dom).toMatch(/<\/svg>/);
        expect(dom.match(/<rect class="bar"/g)).toHaveLength(j.steps.length);
        expect(dom).not.toMatch(/<script/i);
        expect(dom).not.toMatch(/<img/i);
        // The browser parsed the title as text: its first bar's tooltip holds the summary, escaped.
        expect(dom).toContain(
          '1. fence &lt;script&gt;document.title="pwned"&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;',
        );
        expect(dom).toMatch(/<title>dcfail failover 20261201-030506-44m7h9 \(dcfail-lab\): done<\/title>/);
        const png = join(dir, 'report.png');
        await chromium(['--window-size=1300,1000', `--screenshot=${png}`, `file://${file}`]);
        const page = readPng(readFileSync(png));
        expect([page.width, page.height]).toEqual([1300, 1000]);
        expect(countColour(page, '#ffffff')).toBeLessThan(1300 * 1000 * 0.95);
        // The timeline alone: its bars are the only shapes filled with the kinds' colours (the
        // marks have colours of their own), so each kind that ran must show as pixels.
        const svg = /<svg[^]*?<\/svg>/.exec(readFileSync(file, 'utf8'))![0];
        writeFileSync(join(dir, 'timeline.html'), `<!DOCTYPE html><html><body style="margin:0">${svg}</body></html>`);
        const shot = join(dir, 'timeline.png');
        await chromium(['--window-size=1300,400', `--screenshot=${shot}`, `file://${join(dir, 'timeline.html')}`]);
        const timeline = readPng(readFileSync(shot));
        // Fence (red), edits (blue), service operations (orange), verifications (green): each drawn.
        for (const colour of ['#b91c1c', '#2563eb', '#d97706', '#16a34a'])
          expect(countColour(timeline, colour), colour).toBeGreaterThan(100);
        expect(countColour(timeline, '#ffffff')).toBeGreaterThan(0);
      }, 120_000);
    },
  );
});
