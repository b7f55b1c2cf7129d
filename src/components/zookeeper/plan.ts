/**
 * ZooKeeper's part of the plans (Exhibitor runs it from EXHIBITOR_STATICENSEMBLE): pure. A
 * failover gives the survivors their own ensemble and master_count; a failback grows it back,
 * survivors first (they wait without quorum), then the wiped servers one at a time, so that
 * empty servers never reach a quorum of their own.
 */
import { majorityOf } from '../../core/quorum.js';
import type { Finding } from '../../core/safety.js';
import type { ClusterFacts, NodeConfig, NodeFacts } from '../../plan/facts.js';
import type { StepList } from '../../plan/plan.js';
import { addEdits, addServiceOp, addVerify, byFreshness, editsToward } from '../../plan/steps.js';
import { renderEnsemble } from './settings.js';

/** How far a server has got: its zxid. */
const zkPosition = (n: NodeFacts): bigint | undefined => (n.zkZxid === undefined ? undefined : BigInt(n.zkZxid));

/**
 * The ZooKeeper settings of a survivor at the end of a failover: the survivors' ensemble, and
 * master_count (on the masters) equal to its size, since DC/OS starts a Mesos master only once
 * that many ZooKeeper servers serve.
 */
export function failedOverZookeeperSettings(survivors: readonly NodeFacts[]): (n: NodeFacts, c: NodeConfig) => void {
  const ensemble = renderEnsemble(survivors.map((n) => ({ id: n.zkId!, address: n.address })));
  return (n, c) => {
    if (n.roles.includes('mesos')) c.masterCount = String(survivors.length);
    if (n.roles.includes('exhibitor')) c.ensemble = ensemble;
  };
}

/**
 * Failover: the survivors' ensemble and master_count change together, Exhibitor restarts,
 * ZooKeeper must serve and take a test write. Online, a re-run skips it once the survivors serve
 * with the target files.
 */
export function planZookeeperFailover(
  list: StepList,
  facts: ClusterFacts,
  survivors: readonly NodeFacts[],
  target: Record<string, NodeConfig>,
  warnings: Finding[],
): void {
  const zk = survivors;
  const live = facts.live;
  const holds = (n: NodeFacts, fields: (keyof NodeConfig)[]) => fields.every((f) => n.config[f] === target[n.name]![f]);
  const zkDone =
    live !== undefined &&
    zk.length > 0 &&
    zk.every((n) => holds(n, ['ensemble', 'masterCount']) && live.zkServing.includes(n.name));
  if (zk.length > 1 && facts.mode === 'online' && !zkDone) {
    // ZooKeeper elects its freshest server itself when the survivors restart together; say who.
    const ranked = byFreshness(zk, zkPosition);
    const top = ranked[0]!;
    const behind = (n: NodeFacts) =>
      top.zkZxid !== undefined && n.zkZxid !== undefined
        ? `${BigInt(top.zkZxid) - BigInt(n.zkZxid)} transactions behind`
        : 'position unknown';
    warnings.push({
      code: 'zookeeper-freshest',
      cluster: 'exhibitor',
      message: `ZooKeeper: ${top.name} is the most advanced (zxid 0x${BigInt(top.zkZxid ?? '0').toString(16)}); ${ranked
        .slice(1)
        .map((n) => `${n.name} ${behind(n)}`)
        .join(', ')}`,
    });
  }
  if (zk.length > 0 && !zkDone) {
    addEdits(
      list,
      zk.flatMap((n) => editsToward(n, target[n.name]!, ['ensemble', 'masterCount'])),
      'zk:config',
      'ensemble of the survivors; master_count follows it',
    );
    addServiceOp(list, 'exhibitor', 'restart', zk, 'zk:restart', 'ZooKeeper comes back with the new ensemble');
    addVerify(
      list,
      'exhibitor',
      null,
      { kind: 'zookeeper', servers: zk.map((n) => n.name), mode: zk.length === 1 ? 'standalone' : 'quorum' },
      `ZooKeeper serves on ${zk.map((n) => n.name).join(', ')} and takes a test write`,
      'zk:verify',
    );
  }
}

const holdsFullEnsemble =
  (want: (n: NodeFacts) => NodeConfig) =>
  (n: NodeFacts): boolean =>
    n.config.ensemble === want(n).ensemble && n.config.masterCount === want(n).masterCount;

/** Failback: has this returning server rejoined already (it serves, everyone holds the full ensemble)? */
export function zookeeperRejoined(
  facts: ClusterFacts,
  survivors: readonly NodeFacts[],
  want: (n: NodeFacts) => NodeConfig,
): (n: NodeFacts) => boolean {
  const live = facts.live;
  const zkFull = holdsFullEnsemble(want);
  return (n) => live !== undefined && live.zkServing.includes(n.name) && zkFull(n) && survivors.every(zkFull);
}

/** Failback: the returning server's stale state, moved aside before it joins afresh. */
export function zookeeperStaleState(n: NodeFacts): { path: string; what: 'zookeeper-data'; why: string } {
  return { path: n.dirs.zkData, what: 'zookeeper-data', why: 'a stale server could lead with old data' };
}

/**
 * Failback: the survivors take the full ensemble and master_count first (they wait, without
 * quorum, for peers); then the wiped servers start one at a time. Returns the warning that says
 * how long ZooKeeper does not serve.
 */
export function planZookeeperFailback(
  list: StepList,
  facts: ClusterFacts,
  survivors: readonly NodeFacts[],
  returning: readonly NodeFacts[],
  pending: readonly NodeFacts[],
  want: (n: NodeFacts) => NodeConfig,
): Finding {
  const zkSurvivors = survivors;
  const zkReturning = pending;
  const zkRejoined = returning.filter((n) => !zkReturning.includes(n));
  const zkSize = zkSurvivors.length + returning.length;
  const live = facts.live;
  const zkFull = holdsFullEnsemble(want);
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
  return {
    code: 'zookeeper-pause',
    message: `ZooKeeper does not serve from the survivors' restart with the full ensemble until ${zkQuorum - zkSurvivors.length} returning server${zkQuorum - zkSurvivors.length === 1 ? '' : 's'} joined; Mesos and other ZooKeeper clients wait meanwhile`,
  };
}
