/**
 * What `history`, `show` and `report` say of a run, from its validated journal: pure (no clock,
 * no I/O). The one-line summary, and the timeline: one bar per executed step, on a row per track
 * and node, with the run's marks (loss certificate, confirmation, end).
 */
import type { RunJournal, RunJournalStep } from './journal-file.js';

export interface RunSummary {
  runId: string;
  runbook: RunJournal['runbook'];
  cluster: string;
  from: string | null;
  to: string | null;
  operator: string;
  startedAt: string;
  /** The journal's outcome; `unfinished` when the run left none (killed, or still running). */
  outcome: NonNullable<RunJournal['outcome']> | 'unfinished';
  timeToRecoveryMs: number | null;
  stepsDone: number;
  /** Steps of the plan executed; null when the run stopped before it had a plan. */
  stepsTotal: number | null;
}

export function summaryOf(j: RunJournal): RunSummary {
  const done = new Set(j.steps.filter((s) => s.status === 'done').map((s) => s.id));
  return {
    runId: j.runId,
    runbook: j.runbook,
    cluster: j.cluster,
    from: j.from ?? j.plan?.from ?? null,
    to: j.to ?? j.plan?.to ?? null,
    operator: j.operator,
    startedAt: j.startedAt,
    outcome: j.outcome ?? 'unfinished',
    timeToRecoveryMs: j.timeToRecoveryMs ?? null,
    stepsDone: done.size,
    stepsTotal: j.plan ? j.plan.steps.length : null,
  };
}

/** The colour family of a step on the timeline. */
export type StepKind = 'fence' | 'edit' | 'service' | 'verify' | 'data' | 'member' | 'other';

function kindOfAction(action: string | undefined): StepKind {
  switch (action) {
    case 'fence':
      return 'fence';
    case 'edit-file':
      return 'edit';
    case 'start':
    case 'stop':
    case 'restart':
    case 'disable':
    case 'enable':
      return 'service';
    case 'verify':
      return 'verify';
    case 'move-aside':
    case 'copy-replicated-log':
      return 'data';
    case undefined:
      return 'other';
    default:
      return action.startsWith('etcd-member') ? 'member' : 'other';
  }
}

export interface TimelineBar {
  step: RunJournalStep;
  /** Index of the step in the journal (the order steps finished). */
  index: number;
  row: number;
  /** Where it ran: its node, its cluster (a cluster-wide check), or locally. */
  where: string;
  kind: StepKind;
  /** Milliseconds from the timeline's origin. */
  startMs: number;
  endMs: number;
}

export interface Timeline {
  /** The run's start (ms since the epoch). */
  origin: number;
  /** Length of the axis in ms. */
  spanMs: number;
  rows: { label: string }[];
  bars: TimelineBar[];
  marks: { kind: 'loss-certificate' | 'confirmation' | 'end'; atMs: number; label: string }[];
  /** Whether step times were reconstructed (a journal written before dcfail recorded step start times). */
  estimated: boolean;
}

/**
 * Lays the executed steps out. Each step's start comes from the journal (`startedAt`); an older
 * journal without it gets its steps laid end to end from the confirmation, in the order they
 * finished, each row's steps after the previous one (a parallel step shares its group's start):
 * an estimate, said so.
 */
export function timelineOf(j: RunJournal): Timeline {
  const origin = Date.parse(j.startedAt);
  const planStep = new Map((j.plan?.steps ?? []).map((s) => [s.id, s]));
  const rowsByLabel = new Map<string, number>();
  const rowOf = (label: string) => {
    if (!rowsByLabel.has(label)) rowsByLabel.set(label, rowsByLabel.size);
    return rowsByLabel.get(label)!;
  };
  const estimated = j.steps.some((s) => s.startedAt === undefined);
  const confirmMs = j.confirmedAt ? Date.parse(j.confirmedAt) - origin : 0;
  let cursor = confirmMs;
  const groupStart = new Map<string, number>();
  const bars: TimelineBar[] = j.steps.map((step, index) => {
    const p = planStep.get(step.id);
    const track = step.track ?? p?.track;
    const cluster = p?.cluster ?? null;
    const where = step.node ?? (cluster ? `${cluster} cluster` : 'locally');
    const label = track ? `${track} · ${where}` : where;
    let startMs: number;
    if (step.startedAt !== undefined) startMs = Date.parse(step.startedAt) - origin;
    else {
      const g = p?.group;
      startMs = g !== undefined && groupStart.has(g) ? groupStart.get(g)! : cursor;
      if (g !== undefined) groupStart.set(g, startMs);
      cursor = Math.max(cursor, startMs + step.ms);
    }
    return {
      step,
      index,
      row: rowOf(label),
      where,
      kind: kindOfAction(step.action ?? p?.action),
      startMs,
      endMs: startMs + step.ms,
    };
  });
  const marks: Timeline['marks'] = [];
  if (j.evidenceAt)
    marks.push({ kind: 'loss-certificate', atMs: Date.parse(j.evidenceAt) - origin, label: 'loss certificate' });
  if (j.confirmedAt) marks.push({ kind: 'confirmation', atMs: confirmMs, label: 'confirmed' });
  const lastEnd = Math.max(0, ...bars.map((b) => b.endMs));
  const endMs = j.finishedAt ? Math.max(Date.parse(j.finishedAt) - origin, lastEnd) : lastEnd;
  if (j.finishedAt) marks.push({ kind: 'end', atMs: endMs, label: j.outcome ?? 'end' });
  return {
    origin,
    spanMs: Math.max(endMs, ...marks.map((m) => m.atMs), 1),
    rows: [...rowsByLabel.keys()].map((label) => ({ label })),
    bars,
    marks,
    estimated,
  };
}

/** `1.23 s`, `850 ms`, `2 min 05 s`. */
export function duration(ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`;
  if (ms < 60_000) return `${(ms / 1000).toFixed(2)} s`;
  const s = Math.round(ms / 1000);
  return `${Math.floor(s / 60)} min ${String(s % 60).padStart(2, '0')} s`;
}

/** Backups, moved data and copies the run recorded in its notes: `[what, node, path]`. */
export function keptFilesOf(j: RunJournal): { what: string; node: string; target: string; path: string }[] {
  const out: { what: string; node: string; target: string; path: string }[] = [];
  for (const [key, value] of Object.entries(j.notes)) {
    const m = /^(backup|moved):([^:]+):(.*)$/.exec(key);
    if (m && typeof value === 'string') out.push({ what: m[1]!, node: m[2]!, target: m[3]!, path: value });
    if ((key === 'copies' || key === 'archived') && value !== null && typeof value === 'object')
      for (const [node, path] of Object.entries(value))
        if (typeof path === 'string')
          out.push({ what: key === 'copies' ? 'copy' : 'archive', node, target: 'replicas', path });
  }
  return out;
}
