/**
 * Journals read back (`history`, `show`, `report`). A journal is untrusted input: anyone who can
 * write the state directory, or hand an operator a file, chooses its bytes. So it is read as a
 * regular file only (no link followed at its name), at most MAX_JOURNAL_BYTES, and validated by a
 * schema with bounded strings and arrays; a file that fails any of it is reported as such, one
 * line, never a crash. The writer is apply/journal.ts; the objects are loose so that a journal of
 * a later dcfail, with additions, still reads.
 */
import { constants } from 'node:fs';
import { lstat, open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { UserError } from '../errors.js';

/** Far above any real journal (a 67-step failback writes about 60 KiB). */
export const MAX_JOURNAL_BYTES = 8 * 1024 * 1024;
/** How many run directories `history` looks at, newest names first. */
const MAX_RUNS = 5000;
const RUN_ID = /^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$/;

const text = (max = 4096) => z.string().max(max);
const iso = z.iso.datetime({ offset: true });
const count = z.number().int().nonnegative().max(Number.MAX_SAFE_INTEGER);

const stepSchema = z.looseObject({
  id: text(2048),
  node: text(256).nullable(),
  summary: text(),
  status: z.enum(['done', 'failed']),
  ms: count,
  detail: text(16_384),
  startedAt: iso.optional(),
  track: text(256).optional(),
  action: text(64).optional(),
});

const planStepSchema = z.looseObject({
  id: text(2048),
  cluster: text(64).nullable().optional(),
  node: text(256).nullable(),
  action: text(64),
  summary: text(),
  group: text(2048).optional(),
  track: text(256).optional(),
});

const evidenceSchema = z.looseObject({
  dc: text(256),
  attempts: count,
  checks: z
    .array(z.looseObject({ node: text(256), check: text(256), results: z.array(text(256)).max(100) }))
    .max(10_000),
  answeringAsMembers: z.array(text()).max(10_000),
  survivors: z.array(z.looseObject({ node: text(256), sane: z.boolean(), why: text() })).max(10_000),
  verdict: z.enum(['down', 'alive', 'inconclusive']),
  reasons: z.array(text()).max(10_000),
});

const problemSchema = z.looseObject({
  code: text(256),
  message: text(16_384),
  details: z.array(text(16_384)).max(1000),
});

export const journalSchema = z.looseObject({
  runId: z.string().regex(RUN_ID),
  runbook: z.enum(['failover', 'failback']),
  cluster: text(256),
  operator: text(256),
  host: text(256),
  topology: text(),
  from: text(256).optional(),
  to: text(256).optional(),
  startedAt: iso,
  evidenceAt: iso.optional(),
  confirmedAt: iso.optional(),
  finishedAt: iso.optional(),
  outcome: z.enum(['done', 'failed', 'refused', 'aborted', 'interrupted']).optional(),
  timeToRecoveryMs: count.optional(),
  flags: z.record(text(256), z.union([text(), z.boolean()])),
  evidence: evidenceSchema.optional(),
  failoverPoint: z.record(text(256), z.record(text(256), z.union([text(256), z.number()]))).optional(),
  plan: z
    .looseObject({
      runbook: z.enum(['failover', 'failback']),
      from: text(256),
      to: text(256),
      steps: z.array(planStepSchema).max(10_000),
    })
    .optional(),
  steps: z.array(stepSchema).max(10_000),
  warnings: z.array(problemSchema).max(1000).optional(),
  notes: z.record(text(4096), z.unknown()),
  error: problemSchema.optional(),
});

export type RunJournal = z.infer<typeof journalSchema>;
export type RunJournalStep = RunJournal['steps'][number];

/** A journal as read: either valid, or why not (one line). */
export type ReadJournal =
  { kind: 'ok'; journal: RunJournal; file: string } | { kind: 'bad'; file: string; why: string };

function issuesLine(err: z.ZodError): string {
  const first = err.issues.slice(0, 3).map((i) => `${i.path.join('.') || '(top)'}: ${i.message}`);
  return `${first.join('; ')}${err.issues.length > 3 ? ` (and ${err.issues.length - 3} more)` : ''}`;
}

/** Reads and validates one journal file; never throws for what the file holds. */
export async function readJournalFile(file: string): Promise<ReadJournal> {
  const bad = (why: string): ReadJournal => ({ kind: 'bad', file, why });
  let fh;
  try {
    fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return bad(code === 'ELOOP' ? 'a symbolic link, not read' : `cannot be read (${code ?? String(err)})`);
  }
  let raw: string;
  try {
    const st = await fh.stat();
    if (!st.isFile()) return bad('not a regular file, not read');
    if (st.size > MAX_JOURNAL_BYTES) return bad(`${st.size} bytes, over the ${MAX_JOURNAL_BYTES}-byte limit, not read`);
    const buf = Buffer.alloc(Math.min(st.size, MAX_JOURNAL_BYTES) + 1);
    const { bytesRead } = await fh.read(buf, 0, buf.length, 0);
    if (bytesRead > MAX_JOURNAL_BYTES) return bad(`over the ${MAX_JOURNAL_BYTES}-byte limit, not read`);
    raw = buf.subarray(0, bytesRead).toString('utf8');
  } catch (err) {
    return bad(`cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
  } finally {
    await fh.close();
  }
  let value: unknown;
  try {
    value = JSON.parse(raw);
  } catch {
    return bad('not JSON (a corrupt or foreign file)');
  }
  const parsed = journalSchema.safeParse(value);
  if (!parsed.success) return bad(`not a dcfail journal: ${issuesLine(parsed.error)}`);
  return { kind: 'ok', journal: parsed.data, file };
}

/** Every run under `<stateDir>/runs`, each read (or why not), newest first. */
export async function readAllJournals(stateDir: string): Promise<ReadJournal[]> {
  const runs = join(stateDir, 'runs');
  let names: string[];
  try {
    names = await readdir(runs);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw new UserError('runs-unreadable', `${runs}: cannot be read (${(err as NodeJS.ErrnoException).code})`);
  }
  const ids = names
    .filter((n) => RUN_ID.test(n))
    .sort()
    .reverse()
    .slice(0, MAX_RUNS);
  const read: ReadJournal[] = [];
  for (const id of ids) {
    const dir = join(runs, id);
    const st = await lstat(dir).catch(() => null);
    if (!st?.isDirectory()) continue;
    const r = await readJournalFile(join(dir, 'journal.json'));
    if (r.kind === 'ok' && r.journal.runId !== id)
      read.push({ kind: 'bad', file: r.file, why: `names run ${r.journal.runId}, not its directory's ${id}` });
    else read.push(r);
  }
  return read.sort((a, b) => startOf(b).localeCompare(startOf(a)));
}

function startOf(r: ReadJournal): string {
  return r.kind === 'ok' ? r.journal.startedAt : '';
}

/**
 * The journal a command names: a run id (or a unique prefix of one), `latest`, or a path to a
 * journal file (a copy handed over). An unknown run is bad input (exit 2), with where to look.
 */
export async function findJournal(stateDir: string, which: string): Promise<ReadJournal> {
  if (which.includes('/') || which.endsWith('.json')) return readJournalFile(which);
  const all = await readAllJournals(stateDir);
  const idOf = (r: ReadJournal) => (r.kind === 'ok' ? r.journal.runId : r.file.split('/').at(-2)!);
  if (which === 'latest') {
    const newest = all.find((r) => r.kind === 'ok');
    if (newest) return newest;
  } else {
    const exact = all.find((r) => idOf(r) === which);
    if (exact) return exact;
    const prefixed = all.filter((r) => idOf(r).startsWith(which));
    if (prefixed.length === 1) return prefixed[0]!;
    if (prefixed.length > 1)
      throw new UserError(
        'run-ambiguous',
        `${which} names ${prefixed.length} runs: give more of the run id`,
        prefixed.slice(0, 10).map(idOf),
      );
  }
  throw new UserError(
    'unknown-run',
    `no run ${JSON.stringify(which)} in ${join(stateDir, 'runs')}: \`dcfail history\` lists the runs`,
  );
}
