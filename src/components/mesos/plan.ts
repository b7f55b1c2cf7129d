/**
 * The Mesos masters' part of the plans: pure. MESOS_QUORUM is the replicated log's quorum; an
 * empty replica catches up only while a quorum of voting replicas exists, and replicas that are
 * all empty initialise an empty registry. So a failback copies the leader's logs (the registry's
 * and DC/OS's overlay module's, which has the same hazards) to every returning master before any
 * of them starts.
 */
import { majorityOf } from '../../core/quorum.js';
import type { Finding } from '../../core/safety.js';
import { factsMembers, type ClusterFacts, type NodeConfig, type NodeFacts } from '../../plan/facts.js';
import type { StepList } from '../../plan/plan.js';
import { addEdits, addServiceOp, addVerify, editsToward } from '../../plan/steps.js';
import { describeReading, mostAdvanced } from './log-position.js';
import type { MesosLog } from './steps.js';

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

/** Failback: the returning master's stale logs, moved aside (copies of the survivors' replace them). */
export function mesosStaleState(n: NodeFacts): { path: string; what: 'replicated-log' | 'overlay-log'; why: string }[] {
  return [
    { path: n.dirs.replicatedLog, what: 'replicated-log' as const, why: "replaced by a copy of the survivors' log" },
    ...(n.dirs.overlayLog === null
      ? []
      : [
          {
            path: n.dirs.overlayLog,
            what: 'overlay-log' as const,
            why: "the overlay module's log, replaced by a copy of the survivors'",
          },
        ]),
  ];
}

/**
 * Where a failback copies a log from. Mesos' own rule: the leader's host, since an arbitrary
 * replica may hold an unlearned entry and copying it could assemble a false quorum for it
 * (apache/mesos docs/replicated-log-internals.md; the elected coordinator has filled every
 * missing position of its own replica up to the end of the log, src/log/coordinator.cpp
 * `elect`/`catchupMissingPositions`, src/log/replica.cpp `missing`). Without a leader among the
 * survivors (a re-run after the survivors stopped, a leader that cannot recover), the most
 * advanced replica by what `mesos-log read` lists on the stopped survivors (log-position.ts);
 * with no such reading (offline, or the masters run), the first survivor. Every choice but the
 * leader's is told in a finding, with what each survivor's replica said.
 */
function mesosLogSource(
  facts: ClusterFacts,
  survivors: readonly NodeFacts[],
  log: MesosLog,
): { node: NodeFacts; finding?: Finding } | undefined {
  const leader = facts.live?.mesosLeader;
  const led = survivors.find((n) => n.name === leader);
  if (led) return { node: led };
  const first = survivors[0];
  if (!first) return undefined;
  const what = log === 'registry' ? 'registry log' : 'overlay log';
  const readings = survivors.flatMap((n) => {
    const r = n.mesosLogs?.[log];
    return r ? [{ item: n, reading: r }] : [];
  });
  const said = readings.map((r) => `${r.item.name}: ${describeReading(r.reading)}`).join('; ');
  const unread = survivors.filter((n) => !n.mesosLogs?.[log]).map((n) => n.name);
  const best = mostAdvanced(readings);
  if (!best)
    return {
      node: first,
      finding: {
        code: 'mesos-log-source',
        message: `no Mesos leader seen among the survivors and no replica's position known${said ? ` (${said})` : ''}: the ${what} is copied from ${first.name}, the first survivor. Mesos copies the leader's log: start the survivors' masters and re-plan once one leads, or stop them all and re-plan so that \`mesos-log read\` can tell the most advanced replica`,
      },
    };
  const r = best.mesosLogs![log]!;
  const unlearned =
    r.kind === 'read' && r.unlearned > 0
      ? ` Its replica holds ${r.unlearned} unlearned position${r.unlearned === 1 ? '' : 's'}: a copied unlearned entry may assemble a false quorum (why Mesos copies the leader's log); to avoid it, start the survivors' masters and re-plan once one leads.`
      : '';
  return {
    node: best,
    finding: {
      code: 'mesos-log-source',
      message: `no Mesos leader seen among the survivors: the ${what} is copied from ${best.name}, the most advanced replica by \`mesos-log read\` (${said})${unread.length > 0 ? `; not read: ${unread.join(', ')}` : ''}.${unlearned}`,
    },
  };
}

/**
 * Failback: the survivors stop; the leader's logs (the registry's and the overlay module's) are
 * copied to every returning master; MESOS_QUORUM restored; survivors start first, then the
 * returning masters; one leader with the registry intact.
 */
export function planMesosFailback(
  list: StepList,
  facts: ClusterFacts,
  survivors: readonly NodeFacts[],
  returning: readonly NodeFacts[],
  pending: readonly NodeFacts[],
  want: (n: NodeFacts) => NodeConfig,
): Finding[] {
  const mSurvivors = survivors;
  const mReturning = returning;
  const sources = {
    registry: mesosLogSource(facts, mSurvivors, 'registry'),
    overlay: mesosLogSource(facts, mSurvivors, 'overlay'),
  };
  const findings: Finding[] = [];
  if (sources.registry && pending.length > 0) {
    for (const f of [sources.registry.finding, sources.overlay?.finding]) if (f) findings.push(f);
    const mQuorum = majorityOf(mSurvivors.length + mReturning.length);
    addServiceOp(list, 'mesos', 'stop', mSurvivors, 'mesos:grow:stop', 'the logs must not move while they are copied');
    for (const n of mSurvivors)
      addVerify(
        list,
        'mesos',
        n.name,
        { kind: 'stopped', unit: n.units.mesos },
        `${n.units.mesos} is stopped`,
        'mesos:grow:stop:verify',
      );
    const logs = (n: NodeFacts) =>
      [
        { log: 'registry' as const, id: 'copy-log', path: n.dirs.replicatedLog, what: 'replicated log' },
        ...(n.dirs.overlayLog === null
          ? []
          : [{ log: 'overlay' as const, id: 'copy-overlay-log', path: n.dirs.overlayLog, what: 'overlay log' }]),
      ] as const;
    const copies = mReturning.flatMap((r) =>
      logs(r).flatMap((l) => {
        const source = sources[l.log]?.node;
        const from = source && logs(source).find((x) => x.log === l.log);
        return source && from ? [{ r, l, source, fromPath: from.path }] : [];
      }),
    );
    for (const { r, l, source, fromPath } of copies) {
      list.add({
        id: `mesos:grow:${l.id}:${r.name}`,
        cluster: 'mesos',
        node: r.name,
        action: 'copy-replicated-log',
        log: l.log,
        from: source.name,
        fromPath,
        path: l.path,
        summary: `copy the ${l.what} of ${source.name} to ${l.path}`,
        group: 'mesos:grow:copy-log',
      });
    }
    for (const { r, l, source, fromPath } of copies)
      addVerify(
        list,
        'mesos',
        r.name,
        { kind: 'log-copied', log: l.log, from: source.name, fromPath, path: l.path },
        `the ${l.what} on ${r.name} matches ${source.name}'s`,
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
    addServiceOp(list, 'mesos', 'start', mReturning, 'mesos:grow:start-returning', 'with the copied logs', true);
    addVerify(
      list,
      'mesos',
      null,
      { kind: 'mesos', masters: [...mSurvivors, ...mReturning].map((n) => n.name), quorum: mQuorum },
      `one Mesos leader, registrar recovered, quorum ${mQuorum}, registry not older than before`,
      'mesos:grow:verify',
    );
  }
  return findings;
}

export const MESOS_PAUSE: Finding = {
  code: 'mesos-pause',
  message:
    "the Mesos masters are down from the survivors' stop until the returning masters start with the copied log: no leader meanwhile (agents and tasks keep running)",
};
