/**
 * Issue 15 (a bad day): what the bad-day suites share: journals and locks of $DCFAIL_STATE_DIR,
 * and the private build `input.test.ts` runs (the lab files build through useMachinesE2e).
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildPrivately, REPO, type RunResult } from '../../support/e2e.js';

const BUILD_DIR = `${REPO}/.lab-badday-build`;

/** One private build of dcfail per file (the shared dist/ is rebuilt by others while we run). */
export async function build(): Promise<number> {
  return buildPrivately(BUILD_DIR);
}

export function freshStateDir(name: string): string {
  const d = mkdtempSync(join(tmpdir(), `dcfail-badday-${name}-`));
  process.env['DCFAIL_STATE_DIR'] = d;
  return d;
}

export const both = (r: RunResult) => `${r.stdout}\n${r.stderr}`;

/** Every journal of $DCFAIL_STATE_DIR, oldest first. */
export async function journals(): Promise<any[]> {
  const dir = join(process.env['DCFAIL_STATE_DIR']!, 'runs');
  if (!existsSync(dir)) return [];
  const out: any[] = [];
  for (const r of (await readdir(dir)).sort()) {
    const p = join(dir, r, 'journal.json');
    if (existsSync(p)) out.push(JSON.parse(await readFile(p, 'utf8')));
  }
  return out;
}

/** The newest journal being written, if any (a run in progress). */
async function newestJournalOrNull(): Promise<any | null> {
  const all = await journals().catch(() => []);
  return all.at(-1) ?? null;
}

/** Until `pred` holds on the newest journal (polled every 100 ms). */
export async function untilJournal(pred: (j: any) => boolean, timeoutMs = 60_000): Promise<any> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const j = await newestJournalOrNull().catch(() => null);
    if (j && pred(j)) return j;
    if (Date.now() > end)
      throw new Error(`journal condition not met in ${timeoutMs} ms: ${JSON.stringify(j)?.slice(0, 2000)}`);
    await sleep(100);
  }
}

export const stepsDone = (j: any): string[] =>
  (j?.steps ?? []).filter((s: { status: string }) => s.status === 'done').map((s: { id: string }) => s.id);

/** Files under `<stateDir>/locks` (the local run lock) and every node's lock dir. */
export async function localLocks(): Promise<string[]> {
  const dir = join(process.env['DCFAIL_STATE_DIR']!, 'locks');
  return existsSync(dir) ? readdir(dir) : [];
}
