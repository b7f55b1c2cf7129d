/**
 * The Mesos masters' part of the plans: pure. MESOS_QUORUM is the replicated log's quorum; an
 * empty replica catches up only while a quorum of voting replicas exists, and replicas that are
 * all empty initialise an empty registry. So a failback copies the freshest survivor's log to
 * every returning master before any of them starts.
 */
import { majorityOf } from '../../core/quorum.js';
import type { Finding } from '../../core/safety.js';
import { factsMembers, type ClusterFacts, type NodeConfig, type NodeFacts } from '../../plan/facts.js';
import type { StepList } from '../../plan/plan.js';
import { addEdits, addServiceOp, addVerify, byFreshness, editsToward } from '../../plan/steps.js';

/**
 * Which master's log to copy: the leader's. Mesos tells no replica's position over HTTP; its own
 * repair procedure copies the log from the leader's host (docs/replicated-log-internals.md).
 */
const mesosPosition = (n: NodeFacts): bigint | undefined => (n.mesosLeads ? 1n : undefined);

/** The Mesos settings of a surviving master at the end of a failover: the majority of the survivors. */
export function failedOverMesosSettings(survivors: readonly NodeFacts[]): (n: NodeFacts, c: NodeConfig) => void {
  return (n, c) => {
    if (n.roles.includes('mesos')) c.mesosQuorum = String(majorityOf(survivors.length));
  };
}

/**
 * Failover: MESOS_QUORUM = majority of the surviving masters, restart, one leader recovered.
 * Online, a re-run skips it once a surviving leader runs with that quorum.
 */
export function planMesosFailover(
  list: StepList,
  facts: ClusterFacts,
  survivors: readonly NodeFacts[],
  target: Record<string, NodeConfig>,
): void {
  const masters = survivors;
  const live = facts.live;
  const holds = (n: NodeFacts, fields: (keyof NodeConfig)[]) => fields.every((f) => n.config[f] === target[n.name]![f]);
  const mesosDone =
    live !== undefined &&
    masters.every((n) => holds(n, ['mesosQuorum'])) &&
    live.mesosLeader !== null &&
    masters.some((n) => n.name === live.mesosLeader);
  if (masters.length > 0 && !mesosDone) {
    const quorum = majorityOf(masters.length);
    addEdits(
      list,
      masters.flatMap((n) => editsToward(n, target[n.name]!, ['mesosQuorum'])),
      'mesos:config',
      `majority of ${masters.length} master${masters.length === 1 ? '' : 's'}`,
    );
    addServiceOp(
      list,
      'mesos',
      'restart',
      masters,
      'mesos:restart',
      'the master recovers its registry with the new quorum',
    );
    addVerify(
      list,
      'mesos',
      null,
      { kind: 'mesos', masters: masters.map((n) => n.name), quorum },
      `one Mesos leader, registrar recovered, quorum ${quorum}`,
      'mesos:verify',
    );
  }
}

/** Failback: have the masters come back already (a leader, every master with the original quorum)? */
export function mesosRejoined(facts: ClusterFacts, want: (n: NodeFacts) => NodeConfig): () => boolean {
  const live = facts.live;
  return () =>
    live !== undefined &&
    live.mesosLeader !== null &&
    factsMembers(facts, 'mesos').every(
      (n) =>
        n.config.mesosQuorum === want(n).mesosQuorum &&
        n.config.masterCount === want(n).masterCount &&
        live.active[n.name]?.mesos === true,
    );
}

/** Failback: the returning master's stale log, moved aside (a copy of the survivors' replaces it). */
export function mesosStaleState(n: NodeFacts): { path: string; what: 'replicated-log'; why: string } {
  return { path: n.dirs.replicatedLog, what: 'replicated-log', why: "replaced by a copy of the survivors' log" };
}

/**
 * Failback: the survivors stop; the freshest survivor's log is copied to every returning
 * master; MESOS_QUORUM restored; survivors start first, then the returning masters; one leader
 * with the registry intact.
 */
export function planMesosFailback(
  list: StepList,
  survivors: readonly NodeFacts[],
  returning: readonly NodeFacts[],
  pending: readonly NodeFacts[],
  want: (n: NodeFacts) => NodeConfig,
): void {
  const mSurvivors = survivors;
  const mReturning = returning;
  const source = byFreshness(mSurvivors, mesosPosition)[0];
  if (source && pending.length > 0) {
    const mQuorum = majorityOf(mSurvivors.length + mReturning.length);
    addServiceOp(list, 'mesos', 'stop', mSurvivors, 'mesos:grow:stop', 'the log must not move while it is copied');
    for (const n of mSurvivors)
      addVerify(
        list,
        'mesos',
        n.name,
        { kind: 'stopped', unit: n.units.mesos },
        `${n.units.mesos} is stopped`,
        'mesos:grow:stop:verify',
      );
    for (const r of mReturning) {
      list.add({
        id: `mesos:grow:copy-log:${r.name}`,
        cluster: 'mesos',
        node: r.name,
        action: 'copy-replicated-log',
        from: source.name,
        path: r.dirs.replicatedLog,
        summary: `copy the replicated log of ${source.name} to ${r.dirs.replicatedLog}`,
        group: 'mesos:grow:copy-log',
      });
    }
    for (const r of mReturning)
      addVerify(
        list,
        'mesos',
        r.name,
        { kind: 'log-copied', from: source.name, path: r.dirs.replicatedLog },
        `the log on ${r.name} matches ${source.name}'s`,
        'mesos:grow:copy-log:verify',
      );
    addEdits(
      list,
      [...mSurvivors, ...mReturning].flatMap((n) => editsToward(n, want(n), ['mesosQuorum', 'masterCount'])),
      'mesos:grow:config',
      `quorum of ${mSurvivors.length + mReturning.length} masters`,
    );
    addServiceOp(list, 'mesos', 'start', mSurvivors, 'mesos:grow:start-survivors', 'survivors first');
    for (const n of mSurvivors)
      addVerify(
        list,
        'mesos',
        n.name,
        { kind: 'mesos-waiting' },
        `${n.units.mesos} runs on ${n.name}, waiting for its quorum`,
        'mesos:grow:start-survivors:verify',
      );
    addServiceOp(list, 'mesos', 'start', mReturning, 'mesos:grow:start-returning', 'with the copied log', true);
    addVerify(
      list,
      'mesos',
      null,
      { kind: 'mesos', masters: [...mSurvivors, ...mReturning].map((n) => n.name), quorum: mQuorum },
      `one Mesos leader, registrar recovered, quorum ${mQuorum}, registry not older than before`,
      'mesos:grow:verify',
    );
  }
}

export const MESOS_PAUSE: Finding = {
  code: 'mesos-pause',
  message:
    "the Mesos masters are down from the survivors' stop until the returning masters start with the copied log: no leader meanwhile (agents and tasks keep running)",
};
