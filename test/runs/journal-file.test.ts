/** Journals read back: the writer's journals validate; corrupt, foreign, oversized or linked files are one line each. */
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Journal } from '../../src/apply/journal.js';
import { offlineFacts } from '../../src/plan/facts.js';
import { planFailover } from '../../src/plan/failover.js';
import { loadTopology } from '../../src/topology/load.js';
import { MAX_JOURNAL_BYTES, findJournal, readAllJournals, readJournalFile } from '../../src/runs/journal-file.js';
import { UserError } from '../../src/errors.js';

const OLD = 'fixtures/journals/failover-five-old.json';

let state: string;
const saved = process.env['DCFAIL_STATE_DIR'];
beforeEach(() => {
  state = mkdtempSync(join(tmpdir(), 'dcfail-runs-test-'));
  process.env['DCFAIL_STATE_DIR'] = state;
});
afterEach(() => {
  if (saved === undefined) delete process.env['DCFAIL_STATE_DIR'];
  else process.env['DCFAIL_STATE_DIR'] = saved;
});

/** A run directory holding `text` as its journal. */
function runDir(id: string, text: string): string {
  const dir = join(state, 'runs', id);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'journal.json'), text);
  return join(dir, 'journal.json');
}

/** A journal written by dcfail's own writer, with the example's failover plan and two finished steps. */
async function writtenJournal(runId: string, startedAt: string): Promise<Journal> {
  const t = await loadTopology('fixtures/topologies/example.yaml');
  const plan = planFailover(offlineFacts(t), { lostDc: 'madrid', fenceCommand: './fence.sh madrid' });
  const j = new Journal({
    runId,
    runbook: 'failover',
    cluster: t.cluster,
    operator: 'ops@laptop',
    host: 'laptop',
    topology: 'example.yaml',
    from: 'madrid',
    to: 'barcelona',
    startedAt,
    flags: { yes: true, 'attest-fenced': 'PDUs off' },
    steps: [],
    notes: {},
  });
  await j.savePlan(plan);
  j.onEvent({ kind: 'step-finished', step: plan.steps[0]!, ms: 120, detail: 'fence hook exited 0' });
  j.onEvent({ kind: 'step-failed', step: plan.steps[1]!, ms: 900, error: 'madrid answers on ssh' });
  await j.save();
  return j;
}

describe('reading journals back', () => {
  it("a journal of dcfail's own writer validates, with each step's start time, track and action", async () => {
    await writtenJournal('20261201-101010-abcdef', '2026-12-01T10:10:10.000Z');
    const r = await readJournalFile(join(state, 'runs', '20261201-101010-abcdef', 'journal.json'));
    expect(r.kind).toBe('ok');
    if (r.kind !== 'ok') return;
    expect(r.journal.steps.map((s) => [s.status, s.action])).toEqual([
      ['done', 'fence'],
      ['failed', 'verify'],
    ]);
    expect(Date.parse(r.journal.steps[0]!.startedAt!)).toBeGreaterThan(Date.parse('2026-12-01T00:00:00Z'));
    expect(r.journal.from).toBe('madrid');
    expect(r.journal.plan!.steps.length).toBeGreaterThan(10);
  });

  it('a journal of an earlier dcfail (no step times, no from/to) still validates', async () => {
    const r = await readJournalFile(OLD);
    expect(r.kind).toBe('ok');
  });

  it('corrupt, foreign, oversized, linked and non-regular files are one line each, never an exception', async () => {
    const good = readFileSync(OLD, 'utf8');
    const cases: [string, string][] = [];
    cases.push([runDir('a-corrupt', good.slice(0, 500)), 'not JSON']);
    cases.push([
      runDir('b-foreign', JSON.stringify({ name: 'some-package', version: '1.0.0' })),
      'not a dcfail journal',
    ]);
    const wrongType = JSON.parse(good) as Record<string, unknown>;
    wrongType['steps'] = [{ id: 1, status: 'exploded' }];
    cases.push([runDir('c-wrong-type', JSON.stringify(wrongType)), 'steps.0']);
    const big = runDir('d-big', '{}');
    truncateSync(big, MAX_JOURNAL_BYTES + 1);
    cases.push([big, 'over the']);
    mkdirSync(join(state, 'runs', 'e-link'));
    symlinkSync(join(process.cwd(), OLD), join(state, 'runs', 'e-link', 'journal.json'));
    cases.push([join(state, 'runs', 'e-link', 'journal.json'), 'symbolic link']);
    mkdirSync(join(state, 'runs', 'f-fifo'));
    execFileSync('mkfifo', [join(state, 'runs', 'f-fifo', 'journal.json')]);
    cases.push([join(state, 'runs', 'f-fifo', 'journal.json'), 'not a regular file']);
    for (const [file, why] of cases) {
      const r = await readJournalFile(file);
      expect(r, file).toMatchObject({ kind: 'bad', file });
      if (r.kind === 'bad') expect(r.why, file).toContain(why);
    }
    const all = await readAllJournals(state);
    expect(all.map((r) => r.kind)).toEqual(cases.map(() => 'bad'));
  });

  it('a journal naming another run than its directory is left out as such', async () => {
    runDir('20261201-000000-zzzzzz', readFileSync(OLD, 'utf8'));
    const [r] = await readAllJournals(state);
    expect(r).toMatchObject({ kind: 'bad' });
    if (r?.kind === 'bad') expect(r.why).toMatch(/names run 20261201-030506-44m7h9/);
  });

  it('runs are listed newest first; a unique prefix, latest, or a path names one', async () => {
    await writtenJournal('20261201-090000-aaaaaa', '2026-12-01T09:00:00.000Z');
    await writtenJournal('20261201-110000-bbbbbb', '2026-12-01T11:00:00.000Z');
    await writtenJournal('20261201-110500-cccccc', '2026-12-01T11:05:00.000Z');
    const all = await readAllJournals(state);
    expect(all.map((r) => (r.kind === 'ok' ? r.journal.runId : r.why))).toEqual([
      '20261201-110500-cccccc',
      '20261201-110000-bbbbbb',
      '20261201-090000-aaaaaa',
    ]);
    const id = async (w: string) => {
      const r = await findJournal(state, w);
      return r.kind === 'ok' ? r.journal.runId : r.why;
    };
    expect(await id('latest')).toBe('20261201-110500-cccccc');
    expect(await id('20261201-09')).toBe('20261201-090000-aaaaaa');
    expect(await id(join(state, 'runs', '20261201-110000-bbbbbb', 'journal.json'))).toBe('20261201-110000-bbbbbb');
    await expect(findJournal(state, '20261201-11')).rejects.toMatchObject({ code: 'run-ambiguous', exitCode: 2 });
    const unknown = await findJournal(state, 'nope').catch((e: unknown) => e);
    expect(unknown).toBeInstanceOf(UserError);
    expect(unknown).toMatchObject({ code: 'unknown-run', exitCode: 2 });
    expect((unknown as Error).message).toMatch(/`dcfail history` lists the runs/);
  });
});
