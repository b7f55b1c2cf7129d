/**
 * The failback plan: pure. From the failed-over state (the survivors serve, the returning DC
 * holds stale files and data) back to the original configuration, every file as it was.
 *
 * Order, and why:
 * 1. Quarantine the returning DC: hold and stop its services (a drop-in with a flag: it survives a
 *    reboot; the start of each unit lifts its hold). With its old configuration its
 *    majority could elect its own leaders (split brain).
 * 2. Move its stale state aside, kept as a backup: etcd data dir, ZooKeeper data, both Mesos
 *    replicated logs (the registry's and the overlay module's).
 * 3. ZooKeeper: the survivors take the full ensemble and master_count first (they wait, without
 *    quorum, for peers); then the wiped servers start one at a time. Were empty servers to reach a
 *    quorum first, they would win with an empty tree.
 * 4. etcd: each returning member is added as a learner, started with a fresh data dir, promoted
 *    once caught up; then every etcd env file is restored.
 * 5. Mesos: the survivors stop; the leader's replicated logs (registry and overlay) are copied to
 *    every returning master (an empty replica only catches up while a quorum of voting replicas exists,
 *    and all-empty replicas initialise an empty registry); MESOS_QUORUM restored; survivors start
 *    first, then the returning masters; one leader with the registry intact.
 */
import { CLUSTERS, type ClusterName } from '../core/clusters.js';
import { majorityOf } from '../core/quorum.js';
import { assessFailover } from '../core/safety.js';
import { factsMembers, type ClusterFacts, type NodeConfig, type NodeFacts } from './facts.js';
import { etcdRejoined, etcdStaleState, planEtcdFailback } from '../components/etcd/plan.js';
import { MESOS_PAUSE, mesosRejoined, mesosStaleState, planMesosFailback } from '../components/mesos/plan.js';
import { planZookeeperFailback, zookeeperRejoined, zookeeperStaleState } from '../components/zookeeper/plan.js';
import { failedOverConfig } from './failover.js';
import { StepList, type Plan, type QuorumFigure, type StaleState } from './plan.js';
import { addServiceOp, addVerify } from './steps.js';

export interface FailbackOptions {
  /** The DC coming back (the one that was lost). */
  returningDc: string;
}

/** Offline: the facts a failback starts from are the end state of the offline failover. */
export function failedOverFacts(facts: ClusterFacts, lostDc: string): ClusterFacts {
  const config = failedOverConfig(facts, lostDc);
  return { ...facts, nodes: facts.nodes.map((n) => (n.dc === lostDc ? n : { ...n, config: { ...config[n.name] } })) };
}

function quorumFigures(facts: ClusterFacts, returningDc: string): Plan['quorum'] {
  const out: Plan['quorum'] = {};
  for (const c of CLUSTERS) {
    const all = factsMembers(facts, c);
    if (all.length === 0) continue;
    const fig = (n: number): QuorumFigure => ({ members: n, quorum: majorityOf(n) });
    out[c] = { before: fig(all.filter((n) => n.dc !== returningDc).length), after: fig(all.length) };
  }
  return out;
}

export function planFailback(observed: ClusterFacts, opts: FailbackOptions): Plan {
  const { returningDc } = opts;
  // The planner edits its own copy of each node's settings as it plans.
  const facts = structuredClone(observed);
  const to = returningDc;
  const from = returningDc === facts.main ? facts.secondary : facts.main;
  const base = {
    runbook: 'failback' as const,
    from,
    to,
    cluster: facts.cluster,
    mode: facts.mode,
    lostDc: returningDc,
    quorum: quorumFigures(facts, returningDc),
  };
  // What a failback writes back is what each node's own files held: a node with none recorded
  // (unreadable when the failover began and now) has nothing to restore from.
  const unknown = facts.nodes.filter(
    (n) => n.roles.length > 0 && Object.keys(facts.original[n.name] ?? {}).length === 0,
  );
  if (unknown.length > 0)
    return {
      ...base,
      safe: false,
      refusals: unknown.map((n) => ({
        code: 'original-unknown',
        message: `${n.name}: its files as they were before the failover are not known (not recorded, and not readable on the node now): read them on ${n.name} (sudo) and re-run`,
      })),
      warnings: [],
      steps: [],
    };
  const verdict = assessFailover(facts, returningDc);
  if (verdict.kind === 'refused')
    return { ...base, safe: false, refusals: verdict.refusals, warnings: verdict.warnings, steps: [] };
  if (verdict.kind === 'no-action') {
    return {
      ...base,
      safe: true,
      refusals: [],
      warnings: [
        {
          code: 'no-action-needed',
          message: `${returningDc} holds a minority of every cluster: no failover moved away from it, so there is nothing to fail back. Start its services to rejoin.`,
        },
      ],
      steps: [],
    };
  }

  const list = new StepList();
  const original = facts.original;
  const returning = (c: ClusterName) => factsMembers(facts, c).filter((n) => n.dc === returningDc);
  const survivors = (c: ClusterName) => factsMembers(facts, c).filter((n) => n.dc !== returningDc);
  const want = (n: NodeFacts): NodeConfig => original[n.name] ?? {};
  // Online, a re-run after an interruption skips what has rejoined already.
  const rejoined: Record<ClusterName, (n: NodeFacts) => boolean> = {
    exhibitor: zookeeperRejoined(facts, survivors('exhibitor'), want),
    etcd: etcdRejoined(facts, survivors('etcd')),
    mesos: mesosRejoined(facts, want),
  };
  const pending = (c: ClusterName) => returning(c).filter((n) => !rejoined[c](n));
  const back = facts.nodes.filter((n) => n.dc === returningDc && n.roles.length > 0);

  // 1. Quarantine.
  for (const c of ['mesos', 'exhibitor', 'etcd'] as const) {
    addServiceOp(
      list,
      c,
      'disable',
      pending(c),
      'quarantine',
      `quarantine ${returningDc}: it must not elect its own leader`,
    );
  }
  for (const n of back) {
    for (const c of ['mesos', 'exhibitor', 'etcd'] as const) {
      if (pending(c).includes(n))
        addVerify(
          list,
          c,
          n.name,
          { kind: 'held', unit: n.units[c] },
          `${n.units[c]} is stopped and held (flag and drop-in read back)`,
          `quarantine:verify:${c}`,
        );
    }
  }

  // 2. Stale state aside.
  const moves: {
    n: NodeFacts;
    c: ClusterName;
    path: string;
    what: StaleState;
    why: string;
  }[] = [];
  const isPending = (n: NodeFacts, c: ClusterName) => pending(c).includes(n);
  for (const n of back) {
    if (isPending(n, 'etcd')) moves.push({ n, c: 'etcd', ...etcdStaleState(n) });
    if (isPending(n, 'exhibitor')) moves.push({ n, c: 'exhibitor', ...zookeeperStaleState(n) });
    if (isPending(n, 'mesos')) for (const m of mesosStaleState(n)) moves.push({ n, c: 'mesos', ...m });
  }
  for (const m of moves) {
    list.add({
      id: `stale:${m.what}:${m.n.name}`,
      cluster: m.c,
      node: m.n.name,
      action: 'move-aside',
      path: m.path,
      what: m.what,
      summary: `move ${m.path} aside, kept as a backup (${m.why})`,
      group: 'stale',
    });
  }
  for (const m of moves)
    addVerify(list, m.c, m.n.name, { kind: 'moved', path: m.path }, `${m.path} moved aside`, 'stale:verify');

  // 3-5 run in two tracks side by side: ZooKeeper then Mesos (Mesos needs ZooKeeper), and etcd.
  // 3. ZooKeeper: survivors first, then one wiped server at a time.
  list.setTrack('zookeeper-mesos');
  const zookeeperPause = planZookeeperFailback(
    list,
    facts,
    survivors('exhibitor'),
    returning('exhibitor'),
    pending('exhibitor'),
    want,
  );

  // 4. etcd: one learner at a time, then every env file as it was.
  list.setTrack('etcd');
  planEtcdFailback(list, facts, survivors('etcd'), returning('etcd'), pending('etcd'), want);

  // 5. Mesos: copy the leader's logs, restore the quorum, survivors first.
  list.setTrack('zookeeper-mesos');
  const logSource = planMesosFailback(list, facts, survivors('mesos'), returning('mesos'), pending('mesos'), want);

  list.setTrack(undefined);
  const warnings = [zookeeperPause, MESOS_PAUSE, ...logSource];
  return { ...base, safe: true, refusals: [], warnings, steps: list.steps };
}
