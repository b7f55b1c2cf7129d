/**
 * `dcfail status`: the live view, read from the nodes in parallel. Exit 0 when every cluster has
 * exactly one quorum and no split brain threatens, 5 for a hazard, 1 when the state could not be
 * determined (no node answered). `--format prometheus` prints the same state as metrics;
 * `--watch` observes again every `--interval` until Ctrl-C.
 */
import { calicoStatusFindings, type CalicoReport } from '../calico/judge.js';
import { readCalico } from '../calico/source.js';
import { DcfailError, EXIT, UserError, type ExitCode } from '../errors.js';
import { companionWarnings, isDetermined, judge, type StatusReport } from '../observe/judge.js';
import { observeCluster } from '../observe/observe.js';
import { companionViews } from '../core/companions.js';
import { RemotePool } from '../remote/ssh.js';
import type { Remotes } from '../remote/types.js';
import { loadTopology } from '../topology/load.js';
import type { Topology } from '../topology/model.js';
import type { GlobalOptions } from './options.js';
import type { Io } from '../views/io.js';
import { renderStatus, type StatusResult } from '../views/status.js';
import { renderStatusPrometheus } from '../views/status-prometheus.js';
import { watchFrame, watchFrameText, type Observed } from '../views/status-watch.js';
import { inspectGuards } from './guard.js';
import { withGuarded } from '../guard/status.js';

export interface StatusOptions {
  /** `text` (default) or `prometheus` (text exposition format, for node_exporter's textfile collector). */
  format?: 'text' | 'prometheus' | undefined;
  /** Observe again every `intervalMs` until Ctrl-C (or `count` observations). */
  watch?: boolean | undefined;
  intervalMs?: number | undefined;
  /** With `watch`: stop after this many observations. */
  count?: number | undefined;
  /** Stops a watch (tests); SIGINT and SIGTERM do it for the process. */
  signal?: AbortSignal | undefined;
}

const DEFAULT_INTERVAL_MS = 5000;

/** Calico's findings join status's own: its hazards are hazards (exit 5); unreadable, a note. */
function withCalico<R extends StatusReport>(
  report: R,
  calico: CalicoReport | { error: string } | undefined,
): R & { calico?: CalicoReport } {
  if (calico === undefined) return report;
  if ('error' in calico)
    return { ...report, notes: [...report.notes, { code: 'calico-unreadable', message: calico.error }] };
  const f = calicoStatusFindings(calico);
  return {
    ...report,
    hazards: [...report.hazards, ...f.hazards],
    notes: [...report.notes, ...f.notes],
    calico,
  };
}

async function readStatus(t: Topology, pool: Remotes): Promise<StatusResult> {
  const calico = t.calico
    ? readCalico(t).catch((err: unknown) => ({
        error: `Calico's configuration: ${err instanceof Error ? err.message : String(err)}${err instanceof DcfailError && err.details.length > 0 ? ` (${err.details.join('; ')})` : ''}`,
      }))
    : undefined;
  const observation = await observeCluster(t, { pool, companions: true });
  const judged = judge(t, observation);
  // The return guard, when declared: a returning DC it keeps down reads `guarded`.
  const guards = t.guard ? await inspectGuards(t, pool, { verdict: false }) : [];
  const { guarded, notes } = withGuarded(t, judged, guards);
  const report = withCalico({ ...judged, notes }, await calico);
  const views = companionViews(observation.nodes.filter((n) => n.roles.includes('mesos')));
  // Failed over: what that means for them now (IAM down, Marathon back with ZooKeeper).
  const findings = report.mode === 'failed-over' ? companionWarnings(observation, t.datacenters.main) : [];
  return {
    ...report,
    ...(t.guard ? { guarded } : {}),
    otherQuorumServices: views.map((v) => ({
      name: `${v.name} (${v.serves})`,
      nodes: v.presentOn,
      unit: v.unit,
      kind: v.kind,
      activeOn: v.activeOn,
      unknownOn: v.unknownOn,
    })),
    notes: [...report.notes, ...findings],
    ...(isDetermined(observation) ? {} : { undetermined: true }),
  };
}

export function statusExitCode(r: StatusResult & { undetermined?: boolean }): ExitCode {
  if (r.undetermined) return EXIT.failed;
  return r.hazards.length > 0 || r.mode === 'split-brain-risk' ? EXIT.hazard : EXIT.ok;
}

/** One observation, over its own connections (a node that died since the last one is not held open). */
async function observeOnce(t: Topology): Promise<Observed> {
  const pool = new RemotePool();
  try {
    const report = await readStatus(t, pool);
    return { report, exitCode: statusExitCode(report) };
  } finally {
    await pool.closeAll();
  }
}

/** Flags that only make sense together: bad input (exit 2) before anything is observed. */
function checkStatusFlags(opts: GlobalOptions & StatusOptions): void {
  const bad = (msg: string) => new UserError('bad-flags', msg);
  if (opts.format === 'prometheus' && opts.json) throw bad('--format prometheus and --json: choose one');
  if (opts.watch && opts.json)
    throw bad('--watch does not take --json (one JSON document per run); poll `dcfail status --json` instead');
  if (opts.watch && opts.format === 'prometheus')
    throw bad('--watch does not take --format prometheus: run it from cron into the textfile directory instead');
  if (!opts.watch && opts.intervalMs !== undefined) throw bad('--interval needs --watch');
  if (!opts.watch && opts.count !== undefined) throw bad('--count needs --watch');
}

export async function status(opts: GlobalOptions & StatusOptions, io: Io): Promise<ExitCode> {
  checkStatusFlags(opts);
  const t = await loadTopology(opts.topology);
  if (opts.watch) return watchStatus(t, opts, io);
  const { report: r, exitCode } = await observeOnce(t);
  io.out(
    opts.json
      ? JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)
      : opts.format === 'prometheus'
        ? renderStatusPrometheus(r, exitCode)
        : renderStatus(r),
  );
  return exitCode;
}

/**
 * Observes every interval (measured from the start of one observation to the next) and draws
 * each frame: in place on a terminal, else one frame after the other. Ctrl-C (or SIGTERM) stops
 * it at once, an observation under way abandoned; the exit code is the last observation's
 * (130 when none finished).
 */
async function watchStatus(t: Topology, opts: StatusOptions, io: Io): Promise<ExitCode> {
  const intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS;
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  opts.signal?.addEventListener('abort', onSignal);
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const stopped = new Promise<'stopped'>((resolve) => {
    if (stop.signal.aborted) resolve('stopped');
    stop.signal.addEventListener('abort', () => resolve('stopped'));
  });
  let prev: Observed | undefined;
  try {
    for (let n = 1; !stop.signal.aborted; n++) {
      const started = Date.now();
      const cur = await Promise.race([observeOnce(t), stopped]);
      if (cur === 'stopped') break;
      const lines = watchFrame(prev, cur, { count: n, intervalMs });
      if (io.redraw) io.redraw(lines);
      else io.out(`${n > 1 ? '\n' : ''}${watchFrameText(lines)}`);
      prev = cur;
      if (opts.count !== undefined && n >= opts.count) break;
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([
        new Promise((resolve) => (timer = setTimeout(resolve, Math.max(0, started + intervalMs - Date.now())))),
        stopped,
      ]);
      clearTimeout(timer);
    }
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    opts.signal?.removeEventListener('abort', onSignal);
  }
  return prev ? prev.exitCode : EXIT.interrupted;
}
