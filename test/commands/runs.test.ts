/** `dcfail history`, `show` and `report` through the built binary, on journals in a private state dir. */
import { execa } from 'execa';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { needs } from '../support/skips.js';

const BIN = resolve('dist/bin/dcfail.js');
const OLD = JSON.parse(readFileSync('fixtures/journals/failover-five-old.json', 'utf8'));

function stateWith(journals: Record<string, unknown>): string {
  const state = mkdtempSync(join(tmpdir(), 'dcfail-runs-cmd-'));
  for (const [id, j] of Object.entries(journals)) {
    mkdirSync(join(state, 'runs', id), { recursive: true });
    writeFileSync(join(state, 'runs', id, 'journal.json'), typeof j === 'string' ? j : JSON.stringify(j));
  }
  return state;
}

const dcfail = (state: string, args: string[]) =>
  execa('node', [BIN, ...args], { reject: false, env: { DCFAIL_STATE_DIR: state } });

/** A journal whose texts try to forge terminal output and markup. */
function hostileJournal(): any {
  const j = structuredClone(OLD);
  j.runId = '20261202-000000-hostil';
  j.startedAt = '2026-12-02T00:00:00.000Z';
  j.operator = 'mallory\x1b]0;owned\x07';
  j.steps[0].summary = 'fence <script>alert(1)</script> \x1b[2J\nFAKE LINE';
  j.steps[1].status = 'failed';
  delete j.outcome;
  return j;
}

describe.runIf(needs(existsSync(BIN), `runs: ${BIN} is not built (npm test builds it)`))(
  'dcfail history / show',
  () => {
    it('history lists every run newest first, with outcome, recovery and steps; unreadable journals one line each', async () => {
      const state = stateWith({
        [OLD.runId]: OLD,
        '20261202-000000-hostil': hostileJournal(),
        'x-broken': '{"runId": ',
      });
      const r = await dcfail(state, ['history']);
      expect(r.exitCode).toBe(0);
      const lines = r.stdout.split('\n');
      expect(lines[0]).toMatch(/^RUN\s+RUNBOOK\s+FROM -> TO\s+OPERATOR\s+STARTED\s+OUTCOME\s+RECOVERY\s+STEPS$/);
      expect(lines[1]).toMatch(
        /^20261202-000000-hostil\s+failover\s+madrid -> barcelona\s+mallory\\x1b\]0;owned\\x07\s.*unfinished\s+10\.17 s\s+40\/41$/,
      );
      expect(lines[2]).toMatch(
        /^20261201-030506-44m7h9\s+failover\s+madrid -> barcelona\s+e2e-test\s+2026-12-01 03:05:06Z\s+done\s+10\.17 s\s+41\/41$/,
      );
      expect(lines[3]).toMatch(/^! .*x-broken\/journal\.json: not JSON \(a corrupt or foreign file\) \(left out\)$/);
      expect(r.stdout).not.toContain('\x1b');
      const json = await dcfail(state, ['history', '--json']);
      const doc = JSON.parse(json.stdout);
      expect(doc.runs.map((x: any) => [x.runId, x.outcome, x.stepsDone, x.stepsTotal])).toEqual([
        ['20261202-000000-hostil', 'unfinished', 40, 41],
        [OLD.runId, 'done', 41, 41],
      ]);
      expect(doc.runs[0].operator).toBe('mallory\x1b]0;owned\x07');
      expect(doc.unreadable).toHaveLength(1);
    });

    it('history on a machine with no run says so, exit 0', async () => {
      const r = await dcfail(stateWith({}), ['history']);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(/^No runs in .*\/runs\.$/);
    });

    it('show: evidence, flags, the failover point, every step with node, duration and outcome, the copies', async () => {
      const state = stateWith({ [OLD.runId]: OLD });
      const r = await dcfail(state, ['show', OLD.runId.slice(0, 15)]);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(/^Run 20261201-030506-44m7h9: failover madrid -> barcelona of dcfail-lab, done$/m);
      expect(r.stdout).toMatch(/^ {2}flags: {6}--yes$/m);
      expect(r.stdout).toMatch(/^Evidence that madrid is lost: down \(2 attempts per check\)$/m);
      expect(r.stdout).toMatch(/^ {2}master-4 {5}etcdAppliedIndex=2028 .*mesosRegistryVersion=2$/m);
      const stepLines = r.stdout.split('\n').filter((l) => /^ {2,4}\d+\. \+/.test(l));
      expect(stepLines).toHaveLength(OLD.steps.length);
      expect(stepLines[0]).toMatch(/^ {4}1\. \+1\.90 s {5}locally {14}283 ms {2}done {4}run the fence hook for madrid/);
      expect(r.stdout).toMatch(/^ {2}copy {4}master-5 {5}replicas -> .*copies\/20261201-030506-44m7h9$/m);
      expect(r.stdout).toMatch(/^ {2}backup {2}master-4 .*etc\/exhibitor -> /m);
    });

    it('show of a hostile journal escapes control characters and keeps every field on its line', async () => {
      const state = stateWith({ '20261202-000000-hostil': hostileJournal() });
      const r = await dcfail(state, ['show', 'latest']);
      expect(r.exitCode).toBe(0);
      expect(r.stdout).not.toContain('\x1b');
      expect(r.stdout).not.toMatch(/^FAKE LINE/m);
      expect(r.stdout).toContain('fence <script>alert(1)</script> \\x1b[2J\\nFAKE LINE');
      const json = await dcfail(state, ['show', 'latest', '--json']);
      expect(JSON.parse(json.stdout).steps[0].summary).toBe(hostileJournal().steps[0].summary);
    });

    it('an unknown run is exit 2 with the hint; a corrupt one is exit 2, one line', async () => {
      const state = stateWith({ [OLD.runId]: OLD, 'x-broken': '[1,2' });
      const unknown = await dcfail(state, ['show', 'nope']);
      expect(unknown.exitCode).toBe(2);
      expect(unknown.stderr.trim()).toBe(`dcfail: no run "nope" in ${state}/runs: \`dcfail history\` lists the runs`);
      const broken = await dcfail(state, ['report', 'x-broken', '--html', join(state, 'r.html')]);
      expect(broken.exitCode).toBe(2);
      expect(broken.stderr.trim()).toBe(
        `dcfail: ${state}/runs/x-broken/journal.json: not JSON (a corrupt or foreign file)`,
      );
      expect(existsSync(join(state, 'r.html'))).toBe(false);
    });

    it('report writes one private HTML file and says where', async () => {
      const state = stateWith({ [OLD.runId]: OLD });
      const file = join(state, 'out', 'report.html');
      const missingDir = await dcfail(state, ['report', 'latest', '--html', file]);
      expect(missingDir.exitCode).toBe(2);
      expect(missingDir.stderr).toMatch(/cannot write the report \(ENOENT\)/);
      mkdirSync(join(state, 'out'));
      const r = await dcfail(state, ['report', 'latest', '--html', file]);
      expect(r.exitCode).toBe(0);
      expect(r.stdout.trim()).toBe(`${file}: the report of run ${OLD.runId} (failover, 41 steps on the timeline)`);
      expect(statSync(file).mode & 0o777).toBe(0o600);
      expect(readFileSync(file, 'utf8')).toMatch(/^<!DOCTYPE html>/);
    });
  },
);
