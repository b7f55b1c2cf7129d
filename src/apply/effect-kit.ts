/**
 * What every effect works with: the context of the run (topology, transport, run id, where
 * backups go) and the small helpers the generic effects and the components' effects share. The
 * effects tables are typed here so that each component's table must cover its step and check
 * kinds (`satisfies StepEffects<EtcdStep>`).
 */
import type { MesosRegistryRecord } from '../components/mesos/judge.js';
import { OperationError } from '../errors.js';
import { renderCommand } from '../remote/shell.js';
import type { Remotes } from '../remote/types.js';
import type { Remote } from '../remote/types.js';
import type { ClusterName } from '../core/clusters.js';
import { membersOf, nodeByName, type Topology, type TopologyNode } from '../topology/model.js';
import type { Step } from '../plan/plan.js';

export interface EffectContext {
  topology: Topology;
  /** Where the topology file is: hooks run from its directory. */
  topologyDir: string;
  pool: Remotes;
  runId: string;
  /** On each node: backups of this run go below this directory, one subdirectory per step. */
  backupRootOf: (node: string) => string;
  /** How long one command may take. */
  commandTimeoutMs: number;
  /** Environment for local hooks (run id, from, to, operator, plan file). */
  hookEnv: Record<string, string>;
  /** The registry recorded before the run's first change: a Mesos verification's leader must not hold an older one. */
  mesosRegistryBefore?: MesosRegistryRecord;
  /** The operator's `--verify-timeout`: when set, every verification and wait for a unit gets it. */
  verifyTimeoutMs?: number;
  /** Records a fact for the journal (backups, seeds, copies). */
  note: (key: string, value: unknown) => void;
  /** Aborted by a second Ctrl-C: a verification under way stops waiting (its reason is the error). */
  abandon?: AbortSignal;
}

/** A verification that did not hold yet: what was seen, for the report. */
export class NotYet extends Error {}

export function safeName(id: string): string {
  return id.replace(/[^A-Za-z0-9._-]+/g, '_');
}

export async function remoteOf(ctx: EffectContext, node: string): Promise<{ remote: Remote; node: TopologyNode }> {
  const n = nodeByName(ctx.topology, node);
  return { remote: await ctx.pool.get(n), node: n };
}

export async function mustRun(
  remote: Remote,
  node: TopologyNode,
  command: string,
  timeoutMs: number,
  what: string,
): Promise<string> {
  const r = await remote.exec(command, { timeoutMs });
  if (r.exitCode !== 0) {
    const why = r.timedOut
      ? `timed out after ${timeoutMs} ms`
      : `exit ${r.exitCode ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' / ')}`;
    throw new OperationError('step-command-failed', `${node.name}: ${what} failed (${why})`);
  }
  return r.stdout;
}

export function serviceCommand(
  node: TopologyNode,
  op: 'start' | 'stop' | 'restart' | 'reload' | 'isActive' | 'isEnabled' | 'show',
  unit: string,
): string {
  return renderCommand(node.services.commands[op], { unit, node: node.name });
}

/**
 * How long a command on the unit of `cluster` may take, and how long it may take to come up (or a
 * verification of it to hold): the service's own figures from the topology (DC/OS's by default),
 * the verification overridden by the operator's `--verify-timeout`.
 */
export function serviceTimeoutsOf(
  ctx: Pick<EffectContext, 'verifyTimeoutMs'>,
  node: TopologyNode,
  cluster: ClusterName,
): { commandMs: number; upMs: number } {
  const s = node.services[cluster];
  return { commandMs: s.commandTimeoutMs, upMs: ctx.verifyTimeoutMs ?? s.verifyTimeoutMs };
}

/** A verification of no service (files, a DC down, survivors up) without `--verify-timeout`. */
export const DEFAULT_VERIFY_TIMEOUT_MS = 60_000;

/**
 * How long a verify step may take to hold without `--verify-timeout`: its cluster's
 * `verifyTimeoutMs` (the largest among the nodes it looks at), else DEFAULT_VERIFY_TIMEOUT_MS.
 */
export function verifyBudgetOf(t: Topology, step: Step): number {
  const cluster = step.cluster;
  if (step.action !== 'verify' || cluster === null) return DEFAULT_VERIFY_TIMEOUT_MS;
  const nodes = step.node ? [nodeByName(t, step.node)] : membersOf(t, cluster);
  if (nodes.length === 0) return DEFAULT_VERIFY_TIMEOUT_MS;
  return Math.max(...nodes.map((n) => n.services[cluster].verifyTimeoutMs));
}

export async function retry<T>(budgetMs: number, fn: () => Promise<T>): Promise<T> {
  const end = Date.now() + budgetMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end) throw err;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

/** How long one probe of a check may take: a command's budget, but no more than two health timeouts. */
export function checkTimeoutOf(ctx: EffectContext): number {
  return Math.min(ctx.commandTimeoutMs, ctx.topology.health.timeoutMs * 2);
}

/** One function per step kind: runs the step, returns what it did (or that it was done already). */
export type StepEffects<S extends { action: string }> = {
  [K in S['action']]: (ctx: EffectContext, step: Extract<S, { action: K }>) => Promise<string>;
};

/** One function per check kind: resolves when it holds, throws NotYet (with what was seen) when not. */
export type CheckEffects<C extends { kind: string }> = {
  [K in C['kind']]: (ctx: EffectContext, nodeName: string | null, check: Extract<C, { kind: K }>) => Promise<void>;
};
