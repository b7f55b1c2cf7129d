/**
 * The failback plan: pure. From the failed-over state (the survivors serve, the returning DC
 * holds stale files and data) back to the original configuration, every file as it was.
 *
 * Order, and why:
 * 1. Quarantine the returning DC: mask and stop its services. With its old configuration its
 *    majority could elect its own leaders (split brain).
 * 2. Move its stale state aside, kept as a backup: etcd data dir, ZooKeeper data, replicated log.
 * 3. ZooKeeper: the survivors take the full ensemble and master_count first (they wait, without
 *    quorum, for peers); then the wiped servers start one at a time. Were empty servers to reach a
 *    quorum first, they would win with an empty tree.
 * 4. etcd: each returning member is added as a learner, started with a fresh data dir, promoted
 *    once caught up; then every etcd env file is restored.
 * 5. Mesos: the survivors stop; the freshest survivor's replicated log is copied to every
 *    returning master (an empty replica only catches up while a quorum of voting replicas exists,
 *    and all-empty replicas initialise an empty registry); MESOS_QUORUM restored; survivors start
 *    first, then the returning masters; one leader with the registry intact.
 */
import { CLUSTERS, type ClusterName } from '../core/clusters.js';
import { majorityOf } from '../core/quorum.js';
import { assessFailover } from '../core/safety.js';
import { factsMembers, type ClusterFacts, type NodeConfig, type NodeFacts } from './facts.js';
import { etcdRejoined, etcdStaleState, planEtcdFailback } from '../components/etcd/plan.js';
import { failedOverConfig, mesosPosition } from './failover.js';
import { StepList, type Plan, type QuorumFigure } from './plan.js';
import { addEdits, addServiceOp, addVerify, byFreshness, editsToward } from './steps.js';

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
  const live = facts.live;
  const zkFull = (n: NodeFacts) =>
    n.config.ensemble === want(n).ensemble && n.config.masterCount === want(n).masterCount;
  const rejoined: Record<ClusterName, (n: NodeFacts) => boolean> = {
    exhibitor: (n) =>
      live !== undefined && live.zkServing.includes(n.name) && zkFull(n) && survivors('exhibitor').every(zkFull),
    etcd: etcdRejoined(facts, survivors('etcd')),
    mesos: () =>
      live !== undefined &&
      live.mesosLeader !== null &&
      factsMembers(facts, 'mesos').every(
        (n) =>
          n.config.mesosQuorum === want(n).mesosQuorum &&
          n.config.masterCount === want(n).masterCount &&
          live.active[n.name]?.mesos === true,
      ),
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
          { kind: 'stopped', unit: n.units[c] },
          `${n.units[c]} is stopped and masked`,
          `quarantine:verify:${c}`,
        );
    }
  }

  // 2. Stale state aside.
  const moves: {
    n: NodeFacts;
    c: ClusterName;
    path: string;
    what: 'etcd-data' | 'zookeeper-data' | 'replicated-log';
    why: string;
  }[] = [];
  const isPending = (n: NodeFacts, c: ClusterName) => pending(c).includes(n);
  for (const n of back) {
    if (isPending(n, 'etcd')) moves.push({ n, c: 'etcd', ...etcdStaleState(n) });
    if (isPending(n, 'exhibitor'))
      moves.push({
        n,
        c: 'exhibitor',
        path: n.dirs.zkData,
        what: 'zookeeper-data',
        why: 'a stale server could lead with old data',
      });
    if (isPending(n, 'mesos'))
      moves.push({
        n,
        c: 'mesos',
        path: n.dirs.replicatedLog,
        what: 'replicated-log',
        why: "replaced by a copy of the survivors' log",
      });
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
  const zkSurvivors = survivors('exhibitor');
  const zkReturning = pending('exhibitor');
  const zkRejoined = returning('exhibitor').filter((n) => !zkReturning.includes(n));
  const zkSize = zkSurvivors.length + returning('exhibitor').length;
  const zkQuorum = majorityOf(zkSize);
  // A survivor already runs the full ensemble when it holds it in its files and either waits
  // (running, not serving) or serves with a returning server.
  const survivorsReady =
    live !== undefined &&
    zkSurvivors.every(
      (n) =>
        zkFull(n) &&
        live.active[n.name]?.exhibitor === true &&
        (!live.zkServing.includes(n.name) || zkRejoined.length > 0),
    );
  const started: NodeFacts[] = [...zkSurvivors, ...zkRejoined];
  if (zkReturning.length > 0 && !survivorsReady) {
    addEdits(
      list,
      zkSurvivors.flatMap((n) => editsToward(n, want(n), ['ensemble', 'masterCount'])),
      'zk:grow:config',
      'the full ensemble, survivors first',
    );
    addServiceOp(
      list,
      'exhibitor',
      'restart',
      zkSurvivors,
      'zk:grow:restart',
      'waits for peers; ZooKeeper is unavailable until a quorum forms',
    );
  }
  const zkCheck = (node: string | null, group: string) => {
    if (started.length >= zkQuorum) {
      addVerify(
        list,
        'exhibitor',
        null,
        { kind: 'zookeeper', servers: started.map((n) => n.name), mode: 'quorum' },
        `ZooKeeper serves on ${started.map((n) => n.name).join(', ')} with the survivors' data and takes a test write`,
        group,
      );
    } else {
      for (const n of node === null ? started : started.filter((s) => s.name === node)) {
        addVerify(
          list,
          'exhibitor',
          n.name,
          { kind: 'zookeeper-waiting', ensembleSize: zkSize },
          `ZooKeeper on ${n.name} runs and waits for ${zkQuorum} of ${zkSize}`,
          group,
        );
      }
    }
  };
  if (zkReturning.length > 0 && !survivorsReady) zkCheck(null, 'zk:grow:restart:verify');
  for (const r of zkReturning) {
    addEdits(
      list,
      editsToward(r, want(r), ['ensemble', 'masterCount']),
      `zk:grow:${r.name}:config`,
      'the full ensemble',
    );
    addServiceOp(
      list,
      'exhibitor',
      'start',
      [r],
      `zk:grow:${r.name}:start`,
      'an empty server joins the survivors and syncs from them',
      true,
    );
    started.push(r);
    zkCheck(r.name, `zk:grow:${r.name}:verify`);
  }

  // 4. etcd: one learner at a time, then every env file as it was.
  list.setTrack('etcd');
  planEtcdFailback(list, facts, survivors('etcd'), returning('etcd'), pending('etcd'), want);

  // 5. Mesos: copy the freshest log, restore the quorum, survivors first.
  list.setTrack('zookeeper-mesos');
  const mSurvivors = survivors('mesos');
  const mReturning = returning('mesos');
  const source = byFreshness(mSurvivors, mesosPosition)[0];
  if (source && pending('mesos').length > 0) {
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

  list.setTrack(undefined);
  const warnings = [
    {
      code: 'zookeeper-pause',
      message: `ZooKeeper does not serve from the survivors' restart with the full ensemble until ${zkQuorum - zkSurvivors.length} returning server${zkQuorum - zkSurvivors.length === 1 ? '' : 's'} joined; Mesos and other ZooKeeper clients wait meanwhile`,
    },
    {
      code: 'mesos-pause',
      message:
        "the Mesos masters are down from the survivors' stop until the returning masters start with the copied log: no leader meanwhile (agents and tasks keep running)",
    },
  ];
  return { ...base, safe: true, refusals: [], warnings, steps: list.steps };
}
