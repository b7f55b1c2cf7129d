/**
 * `dcfail failover` and `dcfail failback`: gate, plan, confirm, act, verify after each step,
 * stop on the first failure with a clear report. Planning starts from what the nodes' own files
 * and services say now, so a re-run continues where a killed run stopped.
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { CLUSTERS } from '../core/clusters.js';
import { DcfailError, EXIT, RefusedError, UserError, type ExitCode } from '../errors.js';
import { factsFromObservation, judge } from '../observe/judge.js';
import { observeCluster, type ClusterObservation } from '../observe/observe.js';
import { describeDrift, fingerprintBasis, fingerprintOf } from '../observe/fingerprint.js';
import { etcdDivergence, etcdPoint } from '../components/etcd/judge.js';
import { mesosDivergence, mesosPoint, newestRegistryVersion } from '../components/mesos/judge.js';
import { mesosReplicaPath } from '../components/mesos/replicas.js';
import { zookeeperDivergence, zookeeperPoint, zookeeperPointEpoch } from '../components/zookeeper/judge.js';
import { zookeeperReplicaPath } from '../components/zookeeper/replicas.js';
import { etcdAnswersAsMember } from '../components/etcd/observe.js';
import { etcdReplicaPath } from '../components/etcd/replicas.js';
import { mesosAnswers } from '../components/mesos/observe.js';
import { zookeeperAnswers } from '../components/zookeeper/observe.js';
import { quote } from '../remote/shell.js';
import { RemotePool } from '../remote/ssh.js';
import { nodeEffects, topologyDirOf, type EffectContext } from '../apply/effects.js';
import { declaredConfig, type NodeConfig } from '../plan/facts.js';
import { planFailback } from '../plan/failback.js';
import { planFailover } from '../plan/failover.js';
import { preHook, runHook } from '../apply/hooks.js';
import { RunLock } from '../apply/lock.js';
import { certifyLoss, type LossEvidence } from '../apply/loss-certificate.js';
import { readMarker, removeMarker, writeMarker, type FailoverMarker } from '../apply/marker.js';
import { operatorName, stateDir } from '../apply/state.js';
import { Journal, newRunId } from '../apply/journal.js';
import type { Plan } from '../plan/plan.js';
import { readApplyProgress, readSavedPlan, savedPlanOf, type SavedPlan } from '../plan/saved-plan.js';
import { executePlan, type RunEvent } from '../apply/executor.js';
import { auditLog } from '../views/audit-log.js';
import { renderPlanText } from '../views/plan-text.js';
import { progressRenderer, seconds } from '../views/progress.js';
import { loadTopology } from '../topology/load.js';
import { otherDc, resolveDc, type Topology, type TopologyNode } from '../topology/model.js';
import type { GlobalOptions } from './options.js';
import type { Io } from '../views/io.js';
import { writeFileAtomic } from '../apply/local-files.js';

export interface RunbookOptions extends GlobalOptions {
  yes?: boolean;
  overrideLossCheck?: string;
  attestFenced?: string;
  breakLock?: boolean;
  discardDivergent?: boolean;
  /** How long each verification may take to hold (ms). */
  verifyTimeoutMs?: number;
}

function flagsOf(o: RunbookOptions): Record<string, string | boolean> {
  const f: Record<string, string | boolean> = {};
  if (o.yes) f['yes'] = true;
  if (o.overrideLossCheck) f['override-loss-check'] = o.overrideLossCheck;
  if (o.attestFenced) f['attest-fenced'] = o.attestFenced;
  if (o.breakLock) f['break-lock'] = true;
  if (o.discardDivergent) f['discard-divergent'] = true;
  return f;
}

async function confirm(io: Io, opts: RunbookOptions, dc: string, what: string): Promise<void> {
  if (opts.yes) return;
  if (!io.isTTY || !io.ask)
    throw new UserError('no-tty', `${what} changes the cluster: confirm on a terminal, or pass --yes`);
  const answer = (await io.ask(`Type the name of the DC (${dc}) to ${what}, anything else aborts: `)).trim();
  if (answer !== dc)
    throw new UserError('not-confirmed', `not confirmed (typed ${JSON.stringify(answer)}): nothing was changed`);
}

/** Anything of the lost DC that answers as a cluster member stops the run (split brain in the making). */
async function lostDcAnswers(t: Topology, lostDc: string): Promise<string[]> {
  const timeoutMs = Math.min(t.health.timeoutMs, 1000);
  const out: string[] = [];
  await Promise.all(
    t.nodes
      .filter((n) => n.dc === lostDc)
      .flatMap((n) => [
        n.roles.includes('etcd')
          ? etcdAnswersAsMember(n, timeoutMs).then((a) => {
              if (a) out.push(a);
            })
          : undefined,
        n.roles.includes('exhibitor')
          ? zookeeperAnswers(n, timeoutMs).then((a) => {
              if (a) out.push(a);
            })
          : undefined,
        n.roles.includes('mesos')
          ? mesosAnswers(n, timeoutMs).then((a) => {
              if (a) out.push(a);
            })
          : undefined,
      ]),
  );
  return out;
}

/**
 * Watches the lost DC in the background while the run goes on, so the check before each step is
 * instant: the guard throws when the latest probe (at most about a second old) saw a member.
 */
class LostDcWatch {
  private seen: string[] = [];
  private running = true;
  private first: Promise<void>;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly t: Topology,
    private readonly dc: string,
  ) {
    this.first = this.probe();
    void this.first.then(async () => {
      while (this.running) {
        await new Promise<void>((r) => {
          this.wake = r;
          this.timer = setTimeout(r, 500);
        });
        if (this.running) await this.probe();
      }
    });
  }

  private async probe(): Promise<void> {
    this.seen = await lostDcAnswers(this.t, this.dc).catch(() => this.seen);
  }

  async guard(): Promise<void> {
    await this.first;
    if (this.seen.length > 0) {
      throw new RefusedError(
        'lost-dc-returned',
        `${this.dc} came back as a cluster member during the run: ${this.seen.join(', ')}. Stopped before the next step: this is split brain in the making. Fence it, then re-run.`,
      );
    }
  }

  /** Stops the watch at once: a probe still under way (bounded by its timeout) is left to finish on its own. */
  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.wake?.();
  }
}

function pointOf(o: ClusterObservation, nodes: readonly string[]): FailoverMarker['point'] {
  const out: FailoverMarker['point'] = {};
  for (const n of o.nodes.filter((x) => nodes.includes(x.name))) {
    out[n.name] = {
      ...etcdPoint(n),
      ...zookeeperPoint(n),
      ...mesosPoint(n),
    };
  }
  return out;
}

interface Session {
  t: Topology;
  pool: RemotePool;
  runId: string;
  journal: Journal;
  lock: RunLock;
  log: ReturnType<typeof auditLog>;
  emit: (e: RunEvent) => void;
  hookEnv: Record<string, string>;
}

async function openSession(
  opts: RunbookOptions,
  io: Io,
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
        },
        e.kind,
      );
    },
  };
  return session;
}

function report(io: Io, opts: RunbookOptions, s: Session, body: Record<string, unknown>, text: string[]): void {
  if (opts.json)
    io.out(
      JSON.stringify(
        { runId: s.runId, journal: `${s.journal.dir}/journal.json`, ...body },
        (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v),
        2,
      ),
    );
  else for (const line of text) io.out(line);
}

/** Gates passed and plan shown: confirm, run, report. Shared by failover and failback. */
async function execute(
  opts: RunbookOptions,
  io: Io,
  s: Session,
  plan: Plan,
  confirmDc: string,
  extra: {
    guardLostDc?: string;
    watch?: LostDcWatch | null;
    minRegistryVersion?: number;
    beforeRun?: () => Promise<void>;
    onStepDone?: (id: string) => Promise<void>;
  },
): Promise<{ ok: boolean; code: ExitCode; ms: number }> {
  await s.journal.savePlan(plan);
  if (!opts.json) io.out(renderPlanText(plan));
  if (plan.steps.length === 0) {
    s.journal.data.outcome = 'done';
    s.journal.data.finishedAt = new Date().toISOString();
    await s.journal.save();
    report(io, opts, s, { outcome: 'done', plan, steps: [] }, [
      'Nothing to do: the cluster is already in the target state.',
    ]);
    return { ok: true, code: EXIT.ok, ms: 0 };
  }
  await confirm(io, opts, confirmDc, plan.runbook);
  const confirmedAt = Date.now();
  s.journal.data.confirmedAt = new Date(confirmedAt).toISOString();
  await s.journal.save();
  await extra.beforeRun?.();
  const ctx: EffectContext = {
    topology: s.t,
    topologyDir: topologyDirOf(opts.topology),
    pool: s.pool,
    runId: s.runId,
    backupRootOf: (node) => `${s.t.nodes.find((n) => n.name === node)!.services.dcfail.stateDir}/backups/${s.runId}`,
    commandTimeoutMs: 30_000,
    hookEnv: { ...process.env, ...s.hookEnv } as Record<string, string>,
    note: (k, v) => {
      s.journal.data.notes[k] = v;
    },
    ...(extra.minRegistryVersion !== undefined ? { minRegistryVersion: extra.minRegistryVersion } : {}),
  };
  const renderer = opts.json ? null : progressRenderer(io, plan);
  // Started by the caller before the loss certificate, so its first probe is done by now.
  const watch = extra.guardLostDc ? (extra.watch ?? new LostDcWatch(s.t, extra.guardLostDc)) : null;
  const pendingDone: Promise<void>[] = [];
  const outcome = await executePlan(plan, nodeEffects(ctx), {
    runId: s.runId,
    verifyTimeoutMs: opts.verifyTimeoutMs ?? 60_000,
    emit: (e) => {
      s.emit(e);
      renderer?.(e);
      if (e.kind === 'step-finished') pendingDone.push(extra.onStepDone?.(e.step.id) ?? Promise.resolve());
    },
    ...(watch ? { guard: () => watch.guard() } : {}),
  });
  watch?.stop();
  await Promise.all(pendingDone);
  const ms = Date.now() - confirmedAt;
  s.journal.data.finishedAt = new Date().toISOString();
  if (outcome.kind === 'done') {
    s.journal.data.outcome = 'done';
    s.journal.data.timeToRecoveryMs = ms;
    await s.journal.save();
    report(io, opts, s, { outcome: 'done', timeToRecoveryMs: ms, plan, steps: s.journal.data.steps }, [
      `${plan.runbook} done: ${plan.steps.length} steps, time to recovery ${seconds(ms)} (from confirmation). Journal: ${s.journal.dir}/journal.json`,
    ]);
    return { ok: true, code: EXIT.ok, ms };
  }
  const e = outcome.error;
  s.journal.data.outcome = 'failed';
  s.journal.data.error = { code: e.code, message: e.message, details: e.details };
  await s.journal.save();
  const doneIds = new Set(outcome.done.map((d) => d.id));
  report(
    io,
    opts,
    s,
    {
      outcome: 'failed',
      failedStep: outcome.failed,
      error: { code: e.code, message: e.message },
      done: outcome.done.map((d) => d.id),
      plan,
      steps: s.journal.data.steps,
    },
    [
      '',
      `${plan.runbook} STOPPED at step ${outcome.failed.id}${outcome.failed.node ? ` on ${outcome.failed.node}` : ''}: ${outcome.failed.summary}`,
      `  seen: ${e.message}`,
      `  already done: ${outcome.done.length} of ${plan.steps.length} steps${outcome.done.length > 0 ? ` (last: ${outcome.done.at(-1)!.summary})` : ''}`,
      `  not done: ${plan.steps.filter((x) => !doneIds.has(x.id)).length} steps`,
      `  Fix the cause and run the same command again: it plans from what the nodes hold now and continues from there.`,
      `  Journal: ${s.journal.dir}/journal.json`,
    ],
  );
  return { ok: false, code: e.exitCode === EXIT.refused ? EXIT.refused : EXIT.failed, ms };
}

async function finish(
  s: Session,
  code: ExitCode,
  hook: { ok?: string | undefined; failed?: string | undefined },
  dir: string,
  ok: boolean,
): Promise<ExitCode> {
  const r = await runHook(ok ? 'post' : 'onFailure', ok ? hook.ok : hook.failed, dir, s.hookEnv).catch(() => ({
    ran: false,
  }));
  if (r.ran) s.journal.data.notes[ok ? 'postHook' : 'onFailureHook'] = r;
  await s.journal.save();
  await s.lock.release().catch(() => undefined);
  await s.pool.closeAll();
  s.log?.flush();
  return code;
}

// ---------------------------------------------------------------------------------------------

/** The original files: the marker's if a failover started, else the topology's declared ones. */
function originalFrom(t: Topology, marker: FailoverMarker | null): Record<string, NodeConfig> {
  return marker?.original ?? declaredConfig(t);
}

function maxRegistry(o: ClusterObservation, nodes: readonly TopologyNode[]): number | undefined {
  return newestRegistryVersion(
    o,
    nodes.map((n) => n.name),
  );
}

/** Signs that the returning DC ran as a cluster of its own after the failover (split brain). */
function divergence(t: Topology, returningDc: string, o: ClusterObservation, marker: FailoverMarker | null): string[] {
  const out: string[] = [];
  const pointEpoch = zookeeperPointEpoch(Object.values(marker?.point ?? {}));
  for (const n of o.nodes.filter((x) => x.dc === returningDc)) {
    out.push(...etcdDivergence(n, o, returningDc));
    out.push(...zookeeperDivergence(n, o, returningDc, pointEpoch));
    out.push(...mesosDivergence(n));
  }
  return out;
}

/**
 * Copies each node's replica state (etcd data dir, ZooKeeper data dir, Mesos replicated log) to
 * `<stateDir>/<kind>/<run>/` on the node itself: `copies` before anything destructive, `archive`
 * for what a divergent DC wrote. Returns where each node's copy is (for the journal).
 */
async function copyState(
  s: Session,
  nodes: readonly TopologyNode[],
  kind: 'copies' | 'archive',
  o: ClusterObservation,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  await Promise.all(
    nodes.map(async (n) => {
      const remote = await s.pool.get(n);
      const dest = `${n.services.dcfail.stateDir}/${kind}/${s.runId}`;
      const etcdData = etcdReplicaPath(
        n,
        o.nodes.find((x) => x.name === n.name),
      );
      const paths = [
        n.roles.includes('etcd') ? etcdData : undefined,
        n.roles.includes('exhibitor') ? zookeeperReplicaPath(n) : undefined,
        n.roles.includes('mesos') ? mesosReplicaPath(n) : undefined,
      ].filter((p): p is string => p !== undefined);
      const r = await remote.exec(
        `mkdir -p ${quote(dest)} && for p in ${paths.map(quote).join(' ')}; do if [ -e "$p" ]; then mkdir -p ${quote(dest)}"$(dirname "$p")" && cp -a "$p" ${quote(dest)}"$p"; fi; done`,
        { timeoutMs: 120_000 },
      );
      out[n.name] = r.exitCode === 0 ? dest : `archive failed: ${r.stderr.trim()}`;
    }),
  );
  return out;
}

interface Prepared {
  plan: Plan;
  confirmDc: string;
  extra: { guardLostDc?: string; minRegistryVersion?: number; beforeRun?: () => Promise<void> };
  afterSuccess?: () => Promise<void>;
  /** Nothing to run: the reason, shown instead. */
  early?: string;
}

async function prepareFailover(
  s: Session,
  opts: RunbookOptions,
  io: Io,
  lostDc: string,
  to: string,
  observation: ClusterObservation,
): Promise<Prepared> {
  const { t } = s;
  const survivors = t.nodes.filter((n) => n.dc !== lostDc);
  const evidence: LossEvidence = await certifyLoss(t, lostDc, observation);
  s.journal.data.evidence = evidence;
  await s.journal.save();
  if (evidence.verdict === 'alive') {
    throw new RefusedError(
      'lost-dc-alive',
      `${lostDc} is not down: it answers as a cluster member. A failover now would be split brain.`,
      evidence.answeringAsMembers,
    );
  }
  if (evidence.verdict === 'inconclusive') {
    if (!opts.overrideLossCheck)
      throw new RefusedError(
        'loss-inconclusive',
        `the evidence that ${lostDc} is down is inconclusive; --override-loss-check "<reason>" proceeds anyway`,
        evidence.reasons,
      );
    io.err(`WARNING: proceeding on inconclusive loss evidence, as asked: ${opts.overrideLossCheck}`);
    for (const r of evidence.reasons) io.err(`  ${r}`);
  }
  const fence = t.hooks.fence?.[lostDc];
  if (!fence && !opts.attestFenced) {
    throw new RefusedError(
      'unfenced',
      `${lostDc} has no fence hook: it must stay down until failback. Add hooks.fence.${lostDc}, or attest how it is kept down with --attest-fenced "<how>"`,
    );
  }
  const marker = readMarker(observation);
  const facts = factsFromObservation(t, observation, originalFrom(t, marker));
  const plan = planFailover(facts, { lostDc, fenceCommand: fence });
  if (!plan.safe)
    throw new RefusedError(
      'plan-refused',
      'the safety core refuses this failover',
      plan.refusals.map((r) => `[${r.code}] ${r.message}`),
    );
  if (plan.steps.length > 0) await preHook('preFailover', t.hooks.preFailover, topologyDirOf(opts.topology), s.hookEnv);
  s.journal.data.failoverPoint =
    marker?.point ??
    pointOf(
      observation,
      survivors.map((n) => n.name),
    );
  return {
    plan,
    confirmDc: to,
    extra: {
      guardLostDc: lostDc,
      ...(maxRegistry(observation, survivors) !== undefined
        ? { minRegistryVersion: maxRegistry(observation, survivors)! }
        : {}),
      beforeRun: async () => {
        // Before anything destructive: a copy of every survivor's replicas (the seeds among them).
        s.journal.data.notes['copies'] = await copyState(
          s,
          survivors.filter((n) => n.roles.length > 0),
          'copies',
          observation,
        );
        await s.journal.save();
        if (marker) return;
        // Before the first change: the files as they were, and where each survivor's replicas stood.
        const original = declaredConfig(t);
        for (const o of observation.nodes) if (o.dc !== lostDc && o.config) original[o.name] = o.config;
        await writeMarker(s.pool, survivors, {
          runId: s.runId,
          lostDc,
          at: new Date().toISOString(),
          operator: s.journal.data.operator,
          original,
          point: pointOf(
            observation,
            survivors.map((n) => n.name),
          ),
        });
      },
    },
  };
}

async function prepareFailback(
  s: Session,
  opts: RunbookOptions,
  io: Io,
  returningDc: string,
  observation: ClusterObservation,
): Promise<Prepared> {
  const { t } = s;
  const marker = readMarker(observation);
  const status = judge(t, observation);
  const resuming = marker?.lostDc === returningDc && marker.failbackRunId !== undefined;
  const unreachable = observation.nodes.filter((n) => !n.ssh.ok).map((n) => n.name);
  if (unreachable.length > 0)
    throw new RefusedError(
      'unreachable',
      `failback needs every node reachable; not reachable: ${unreachable.join(', ')}`,
    );
  const survivorsOf = t.nodes.filter((n) => n.dc !== returningDc);
  if (status.mode === 'normal' && status.hazards.length === 0) {
    const plan = planFailback(factsFromObservation(t, observation, originalFrom(t, marker)), { returningDc });
    if (plan.steps.length === 0 || !marker) {
      // A marker here is left by a failback killed after its last step but before its clean-up:
      // it must go, or a later failover would start from its stale original files and point.
      return {
        plan: { ...plan, steps: [] },
        confirmDc: returningDc,
        extra: {},
        early: `Nothing to do: status reads normal, every cluster has its full membership.${marker ? ' The failover marker left by an interrupted run is cleared.' : ''}`,
        ...(marker ? { afterSuccess: () => removeMarker(s.pool, survivorsOf, s.runId) } : {}),
      };
    }
  }
  if (!resuming) {
    const unhealthy = CLUSTERS.flatMap((c) => {
      const lc = status.clusters.find((x) => x.cluster === c);
      if (!lc) return [];
      const q = lc.quorums.filter((g) => g.members.some((m) => t.nodes.find((n) => n.name === m)!.dc !== returningDc));
      return q.length === 1 ? [] : [`${c}: the surviving side has ${q.length === 0 ? 'no quorum' : 'several quorums'}`];
    });
    if (unhealthy.length > 0)
      throw new RefusedError(
        'survivors-unhealthy',
        'the cluster on the surviving DC is not healthy: fix it before a failback',
        unhealthy,
      );
  }
  const diverged = divergence(t, returningDc, observation, marker);
  if (diverged.length > 0) {
    const archived = await copyState(
      s,
      t.nodes.filter((n) => n.dc === returningDc),
      'archive',
      observation,
    );
    s.journal.data.notes['divergent'] = diverged;
    s.journal.data.notes['archived'] = archived;
    await s.journal.save();
    if (!opts.discardDivergent) {
      throw new RefusedError(
        'divergent',
        `${returningDc} ran as a cluster of its own after the failover and may hold writes the survivors do not have. They are archived; --discard-divergent drops them from the cluster`,
        [...diverged, ...Object.entries(archived).map(([n, p]) => `archived on ${n}: ${p}`)],
      );
    }
    io.err(`WARNING: discarding what ${returningDc} wrote on its own (archived): ${diverged.join('; ')}`);
  }
  const facts = factsFromObservation(t, observation, originalFrom(t, marker));
  const plan = planFailback(facts, { returningDc });
  if (!plan.safe)
    throw new RefusedError(
      'plan-refused',
      'the safety core refuses this failback',
      plan.refusals.map((r) => `[${r.code}] ${r.message}`),
    );
  if (plan.steps.length > 0) await preHook('preFailback', t.hooks.preFailback, topologyDirOf(opts.topology), s.hookEnv);
  const minRegistryVersion = maxRegistry(observation, survivorsOf);
  return {
    plan,
    confirmDc: returningDc,
    extra: {
      ...(minRegistryVersion !== undefined ? { minRegistryVersion } : {}),
      beforeRun: async () => {
        s.journal.data.notes['copies'] = await copyState(
          s,
          survivorsOf.filter((n) => n.roles.length > 0),
          'copies',
          observation,
        );
        await s.journal.save();
        if (marker && !resuming)
          await writeMarker(
            s.pool,
            t.nodes.filter((n) => n.dc !== returningDc && n.roles.length > 0),
            { ...marker, failbackRunId: s.runId },
          );
      },
    },
    afterSuccess: () => removeMarker(s.pool, survivorsOf, s.runId),
  };
}

interface ApplyState {
  saved: SavedPlan;
  progressFile: string;
  done: string[];
}

async function runRunbook(
  kind: Plan['runbook'],
  opts: RunbookOptions & { to?: string },
  io: Io,
  apply?: ApplyState,
): Promise<ExitCode> {
  const t0 = await loadTopology(opts.topology);
  const { main, secondary } = t0.datacenters;
  const to = kind === 'failover' ? resolveDc(t0, opts.to!, '--to') : main;
  const lostDc = otherDc(t0, to);
  const s = await openSession(opts, io, kind, kind === 'failover' ? lostDc : secondary, to);
  const { t } = s;
  let code: ExitCode = EXIT.failed;
  let ok = false;
  // The lost-DC watch starts now: its first probe (bounded by timeouts against a dead DC) runs
  // while the lock, observation and loss certificate do, not after the confirmation.
  const watch = kind === 'failover' && lostDc !== secondary ? new LostDcWatch(t, lostDc) : null;
  try {
    if (kind === 'failover' && lostDc === secondary) {
      const plan = planFailover(
        factsFromObservation(t, { cluster: t.cluster, observedAt: new Date().toISOString(), nodes: [] }),
        { lostDc },
      );
      report(io, opts, s, { outcome: 'done', plan }, [renderPlanText(plan)]);
      ok = true;
      code = EXIT.ok;
      return code;
    }
    const lockNodes =
      kind === 'failover' ? t.nodes.filter((n) => n.dc !== lostDc) : t.nodes.filter((n) => n.roles.length > 0);
    s.journal.data.notes['lockNotes'] = await s.lock.acquire(lockNodes, Boolean(opts.breakLock));
    await s.journal.save();
    const observation = await observeCluster(t, { pool: s.pool });
    if (apply && apply.done.length === 0) {
      const now = fingerprintOf(observation);
      if (now !== apply.saved.fingerprint) {
        throw new RefusedError(
          'stale-plan',
          `the saved plan is stale: the cluster no longer looks as it did when the plan was made (${apply.saved.createdAt}). Make a new plan.`,
          describeDrift(apply.saved.basis, fingerprintBasis(observation)),
        );
      }
    }
    const prepared =
      kind === 'failover'
        ? await prepareFailover(s, opts, io, lostDc, to, observation)
        : await prepareFailback(s, opts, io, to, observation);
    if (prepared.early && !apply) {
      await prepared.afterSuccess?.();
      report(io, opts, s, { outcome: 'done', plan: prepared.plan }, [prepared.early]);
      ok = true;
      code = EXIT.ok;
      return code;
    }
    let plan = prepared.plan;
    if (apply) {
      // Exactly the saved steps, from the first one not yet done.
      const done = new Set(apply.done);
      plan = { ...apply.saved.plan, steps: apply.saved.plan.steps.filter((x) => !done.has(x.id)) };
      if (apply.done.length > 0)
        io.err(
          `resuming the saved plan: ${apply.done.length} of ${apply.saved.plan.steps.length} steps were done before`,
        );
    }
    let progress = Promise.resolve();
    const onDone = apply
      ? (id: string) => {
          apply.done.push(id);
          progress = progress.then(() => writeFileAtomic(apply.progressFile, JSON.stringify({ done: apply.done })));
          return progress;
        }
      : undefined;
    const r = await execute(opts, io, s, plan, prepared.confirmDc, {
      ...prepared.extra,
      watch,
      ...(onDone ? { onStepDone: onDone } : {}),
    });
    ok = r.ok;
    code = r.code;
    if (ok) await prepared.afterSuccess?.();
    return code;
  } catch (err) {
    if (err instanceof DcfailError) {
      s.journal.data.outcome = err.exitCode === EXIT.refused || err.exitCode === EXIT.locked ? 'refused' : 'failed';
      s.journal.data.error = { code: err.code, message: err.message, details: err.details };
    }
    throw err;
  } finally {
    watch?.stop();
    const hooks =
      kind === 'failover'
        ? { ok: t.hooks.postFailover, failed: t.hooks.onFailure }
        : { ok: t.hooks.postFailback, failed: t.hooks.onFailure };
    code = await finish(s, code, hooks, topologyDirOf(opts.topology), ok);
  }
}

export function failover(opts: RunbookOptions & { to: string }, io: Io): Promise<ExitCode> {
  return runRunbook('failover', opts, io);
}

export function failback(opts: RunbookOptions, io: Io): Promise<ExitCode> {
  return runRunbook('failback', opts, io);
}

/** The online plan, as `dcfail plan` (without --offline) shows and saves it: read-only. */
export async function planOnline(
  t: Topology,
  topologyFile: string,
  runbook: Plan['runbook'],
  to: string,
): Promise<{ plan: Plan; saved: SavedPlan }> {
  const pool = new RemotePool();
  try {
    const observation = await observeCluster(t, { pool });
    const marker = readMarker(observation);
    const facts = factsFromObservation(t, observation, originalFrom(t, marker));
    const plan =
      runbook === 'failover'
        ? planFailover(facts, { lostDc: otherDc(t, to), fenceCommand: t.hooks.fence?.[otherDc(t, to)] })
        : planFailback(facts, { returningDc: t.datacenters.main });
    return {
      plan,
      saved: savedPlanOf(plan, topologyFile, fingerprintOf(observation), fingerprintBasis(observation), new Date()),
    };
  } finally {
    await pool.closeAll();
  }
}

/** `dcfail apply <plan file>`: a saved online plan, refused when stale, resumed where it stopped. */
export async function applyPlan(opts: RunbookOptions & { file: string }, io: Io): Promise<ExitCode> {
  let text: string;
  try {
    text = await readFile(opts.file, 'utf8');
  } catch (err) {
    throw new UserError(
      'plan-unreadable',
      `${opts.file}: cannot read the plan: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  const saved = readSavedPlan(text, opts.file);
  const dir = join(stateDir(), 'applied');
  await mkdir(dir, { recursive: true });
  const progressFile = join(dir, `${createHash('sha256').update(text).digest('hex').slice(0, 32)}.json`);
  const progressText = await readFile(progressFile, 'utf8').catch(() => null);
  let done: string[] = [];
  if (progressText !== null) {
    const read = readApplyProgress(progressText);
    if (read === null) {
      throw new UserError(
        'progress-invalid',
        `${progressFile}: the record of which steps of ${opts.file} were applied cannot be read; remove it to apply the plan from its first step (a step already done is then refused as stale)`,
      );
    }
    done = read;
  }
  if (done.length === saved.plan.steps.length) {
    io.out(`${opts.file}: every step of this plan was applied already.`);
    return EXIT.ok;
  }
  const to = saved.plan.runbook === 'failover' ? saved.plan.to : undefined;
  return runRunbook(saved.plan.runbook, { ...opts, ...(to ? { to } : {}) }, io, { saved, progressFile, done });
}
