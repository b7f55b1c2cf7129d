/**
 * The failover plan: pure. Facts (what the nodes hold now) and the lost DC in, a Plan out.
 *
 * Order, and why:
 * 1. fence the lost DC (its old majority must not come back and elect its own leaders);
 * 2. ZooKeeper: the survivors' ensemble and master_count change together, Exhibitor restarts,
 *    ZooKeeper must serve (DC/OS starts a Mesos master only once the serving ZooKeeper servers
 *    equal master_count, so Mesos must come after);
 * 3. Mesos: MESOS_QUORUM = majority of the new master count, restart, one leader recovered;
 * 4. etcd: stop every survivor, force a new cluster on the freshest one, remove the force line,
 *    then add the other survivors back one at a time as learners with fresh data dirs.
 * Nothing runs on a node of the lost DC.
 */
import { CLUSTERS, type ClusterName } from '../core/clusters.js';
import { majorityOf } from '../core/quorum.js';
import { assessFailover, type Finding } from '../core/safety.js';
import { renderEnsemble } from '../clusters/exhibitor.js';
import { failedOverEtcdSettings, planEtcdFailover } from '../components/etcd/plan.js';
import { factsMembers, type ClusterFacts, type NodeConfig, type NodeFacts } from './facts.js';
import { StepList, type Plan, type QuorumFigure } from './plan.js';
import { addEdits, addServiceOp, addVerify, byFreshness, editsToward } from './steps.js';

export interface FailoverOptions {
  lostDc: string;
  /** The fence hook of the lost DC, if the topology has one. */
  fenceCommand?: string | undefined;
}

const zkPosition = (n: NodeFacts): bigint | undefined => (n.zkZxid === undefined ? undefined : BigInt(n.zkZxid));
export const mesosPosition = (n: NodeFacts): bigint | undefined =>
  n.mesosLogVersion === undefined ? undefined : BigInt(n.mesosLogVersion);

/** The configuration every survivor holds at the end of a failover away from `lostDc`. */
export function failedOverConfig(facts: ClusterFacts, lostDc: string): Record<string, NodeConfig> {
  const surviving = (c: ClusterName) => factsMembers(facts, c).filter((n) => n.dc !== lostDc);
  const zk = surviving('exhibitor');
  const masters = surviving('mesos');
  const etcdFailedOver = failedOverEtcdSettings(surviving('etcd'));
  const ensemble = renderEnsemble(zk.map((n) => ({ id: n.zkId!, address: n.address })));
  const out: Record<string, NodeConfig> = {};
  for (const n of facts.nodes) {
    if (n.dc === lostDc) continue;
    const c: NodeConfig = { ...n.config };
    if (n.roles.includes('mesos')) {
      c.masterCount = String(zk.length);
      c.mesosQuorum = String(majorityOf(masters.length));
    }
    if (n.roles.includes('exhibitor')) c.ensemble = ensemble;
    if (n.roles.includes('etcd')) etcdFailedOver(n, c);
    out[n.name] = c;
  }
  return out;
}

function quorumFigures(facts: ClusterFacts, lostDc: string): Plan['quorum'] {
  const out: Plan['quorum'] = {};
  for (const c of CLUSTERS) {
    const all = factsMembers(facts, c);
    if (all.length === 0) continue;
    const after = all.filter((n) => n.dc !== lostDc).length;
    const fig = (n: number): QuorumFigure => ({ members: n, quorum: majorityOf(n) });
    out[c] = { before: fig(all.length), after: lostDc === facts.secondary ? fig(all.length) : fig(after) };
  }
  return out;
}

export function planFailover(observed: ClusterFacts, opts: FailoverOptions): Plan {
  const { lostDc } = opts;
  // The planner edits its own copy of each node's settings as it plans.
  const facts = structuredClone(observed);
  const to = lostDc === facts.main ? facts.secondary : facts.main;
  const verdict = assessFailover(facts, lostDc);
  const base = {
    runbook: 'failover' as const,
    from: lostDc,
    to,
    cluster: facts.cluster,
    mode: facts.mode,
    lostDc,
    quorum: quorumFigures(facts, lostDc),
  };
  switch (verdict.kind) {
    case 'refused':
      return { ...base, safe: false, refusals: verdict.refusals, warnings: verdict.warnings, steps: [] };
    case 'no-action':
      return {
        ...base,
        safe: true,
        refusals: [],
        warnings: [
          ...verdict.warnings,
          {
            code: 'no-action-needed',
            message: `${lostDc} holds a minority of every cluster: ${to} keeps every quorum. Nothing to change; bring ${lostDc} back when it can be.`,
          },
        ],
        steps: [],
      };
    case 'failover':
      break;
    default: {
      const never: never = verdict;
      return never;
    }
  }

  const warnings: Finding[] = [...verdict.warnings];
  const list = new StepList();
  const target = failedOverConfig(facts, lostDc);
  const survivors = (c: ClusterName) => factsMembers(facts, c).filter((n) => n.dc !== lostDc);

  // 1. Fence.
  if (opts.fenceCommand) {
    list.add({
      id: `fence:${lostDc}`,
      cluster: null,
      node: null,
      action: 'fence',
      dc: lostDc,
      command: opts.fenceCommand,
      summary: `run the fence hook for ${lostDc} (locally): it must stay down until failback`,
    });
    addVerify(list, null, null, { kind: 'dc-down', dc: lostDc }, `${lostDc} fails every health check`, `fence:verify`);
  } else {
    warnings.push({
      code: 'no-fence-hook',
      message: `no fence hook for ${lostDc}: the operator must attest that it is kept down (--attest-fenced "<how>")`,
    });
  }

  // 2-3. ZooKeeper, then Mesos, in one track; 4. etcd in another, side by side: the clusters are
  // independent (Calico's etcd does not wait for ZooKeeper, nor ZooKeeper for it).
  const zk = survivors('exhibitor');
  const live = facts.live;
  const holds = (n: NodeFacts, fields: (keyof NodeConfig)[]) => fields.every((f) => n.config[f] === target[n.name]![f]);
  const zkDone =
    live !== undefined &&
    zk.length > 0 &&
    zk.every((n) => holds(n, ['ensemble', 'masterCount']) && live.zkServing.includes(n.name));
  list.inTrack('zookeeper-mesos', () => {
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

    // 3. Mesos.
    const masters = survivors('mesos');
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
  });

  // 4. etcd.
  list.inTrack('etcd', () => planEtcdFailover(list, facts, survivors('etcd'), warnings));

  return { ...base, safe: true, refusals: [], warnings, steps: list.steps };
}
