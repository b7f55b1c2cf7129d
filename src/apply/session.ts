/**
 * A run's session: the topology, the SSH pool, the run id, the journal and audit log that every
 * event goes to, the lock, and the environment hooks see. Opened before any gate, finished
 * (hooks, lock released, connections closed) whatever the outcome.
 */
import { hostname } from 'node:os';
import type { ExitCode } from '../errors.js';
import { Journal, newRunId } from './journal.js';
import type { Plan } from '../plan/plan.js';
import { RemotePool } from '../remote/ssh.js';
import type { Remotes } from '../remote/types.js';
import type { RunEvent } from './executor.js';
import { RunLock } from './lock.js';
import type { RunNote } from './host.js';
import type { RunbookOptions } from '../commands/options.js';
import type { Topology } from '../topology/model.js';
import { auditLog } from '../views/audit-log.js';
import { loadTopology } from '../topology/load.js';
import { operatorName } from './state.js';
import { runHook } from './hooks.js';
function flagsOf(o: RunbookOptions): Record<string, string | boolean> {
  const f: Record<string, string | boolean> = {};
  if (o.yes) f['yes'] = true;
  if (o.overrideLossCheck) f['override-loss-check'] = o.overrideLossCheck;
  if (o.attestFenced) f['attest-fenced'] = o.attestFenced;
  if (o.breakLock) f['break-lock'] = true;
  if (o.discardDivergent) f['discard-divergent'] = true;
  return f;
}

export interface Session {
  t: Topology;
  pool: Remotes;
  runId: string;
  journal: Journal;
  lock: RunLock;
  log: ReturnType<typeof auditLog>;
  /** To the journal and the audit log. */
  emit: (e: RunEvent | RunNote) => void;
  hookEnv: Record<string, string>;
}

export async function openSession(
  opts: RunbookOptions,
  runbook: Plan['runbook'],
  from: string,
  to: string,
): Promise<Session> {
  const t = await loadTopology(opts.topology);
  const runId = newRunId();
  const pool = new RemotePool();
  const operator = operatorName();
  const journal = new Journal({
    runId,
    runbook,
    cluster: t.cluster,
    operator,
    host: hostname(),
    topology: opts.topology,
    from,
    to,
    startedAt: new Date().toISOString(),
    flags: flagsOf(opts),
    steps: [],
    notes: {},
  });
  const log = auditLog(opts.logFile, opts.logLevel, { runId, runbook, cluster: t.cluster, operator });
  const hookEnv = {
    DCFAIL_RUN_ID: runId,
    DCFAIL_RUNBOOK: runbook,
    DCFAIL_FROM: from,
    DCFAIL_TO: to,
    DCFAIL_OPERATOR: operator,
    DCFAIL_PLAN_FILE: journal.planFile,
    DCFAIL_CLUSTER: t.cluster,
  };
  const lock = new RunLock(t, pool, {
    host: hostname(),
    pid: process.pid,
    runId,
    operator,
    at: new Date().toISOString(),
  });
  const session: Session = {
    t,
    pool,
    runId,
    journal,
    lock,
    log,
    hookEnv,
    emit: (e) => {
      journal.onEvent(e);
      log?.info(
        {
          event: e.kind,
          ...('step' in e ? { step: e.step.id, node: e.step.node, summary: e.step.summary } : {}),
          ...('ms' in e ? { ms: e.ms } : {}),
          ...('error' in e ? { error: e.error } : {}),
          ...('detail' in e ? { detail: e.detail } : {}),
          ...('message' in e ? { message: e.message } : {}),
        },
        e.kind,
      );
    },
  };
  return session;
}

/** Hooks after the run, journal saved, lock released, connections closed, log flushed. */
export async function finish(
  s: Session,
  code: ExitCode,
  hook: { ok?: string | undefined; failed?: string | undefined },
  dir: string,
  ok: boolean,
): Promise<ExitCode> {
  const r = await runHook(
    ok ? 'post' : 'onFailure',
    ok ? hook.ok : hook.failed,
    dir,
    s.hookEnv,
    120_000,
    s.t.hooks.env,
  ).catch(() => ({
    ran: false,
  }));
  if (r.ran) s.journal.data.notes[ok ? 'postHook' : 'onFailureHook'] = r;
  await s.journal.save();
  await s.lock.release().catch(() => undefined);
  await s.pool.closeAll();
  s.log?.flush();
  return code;
}
