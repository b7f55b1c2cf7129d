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
import { failedOverMesosSettings, planMesosFailover } from '../components/mesos/plan.js';
import { failedOverZookeeperSettings, planZookeeperFailover } from '../components/zookeeper/plan.js';
import { failedOverEtcdSettings, planEtcdFailover } from '../components/etcd/plan.js';
import { factsMembers, type ClusterFacts, type NodeConfig } from './facts.js';
import { StepList, type Plan, type QuorumFigure } from './plan.js';
import { addVerify } from './steps.js';

export interface FailoverOptions {
  lostDc: string;
  /** The fence hook of the lost DC, if the topology has one. */
  fenceCommand?: string | undefined;
}

/** The configuration every survivor holds at the end of a failover away from `lostDc`. */
export function failedOverConfig(facts: ClusterFacts, lostDc: string): Record<string, NodeConfig> {
  const surviving = (c: ClusterName) => factsMembers(facts, c).filter((n) => n.dc !== lostDc);
  const zookeeperFailedOver = failedOverZookeeperSettings(surviving('exhibitor'));
  const mesosFailedOver = failedOverMesosSettings(surviving('mesos'));
  const etcdFailedOver = failedOverEtcdSettings(surviving('etcd'));
  const out: Record<string, NodeConfig> = {};
  for (const n of facts.nodes) {
    if (n.dc === lostDc) continue;
    const c: NodeConfig = { ...n.config };
    zookeeperFailedOver(n, c);
    mesosFailedOver(n, c);
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
    addVerify(
      list,
      null,
      null,
      { kind: 'survivors-up', dc: to },
      `${to}'s survivors still answer and are not fenced`,
      'fence:survivors',
    );
  } else {
    warnings.push({
      code: 'no-fence-hook',
      message: `no fence hook for ${lostDc}: the operator must attest that it is kept down (--attest-fenced "<how>")`,
    });
  }

  // 2-3. ZooKeeper, then Mesos, in one track; 4. etcd in another, side by side: the clusters are
  // independent (Calico's etcd does not wait for ZooKeeper, nor ZooKeeper for it).
  list.inTrack('zookeeper-mesos', () => {
    planZookeeperFailover(list, facts, survivors('exhibitor'), target, warnings);
    // 3. Mesos.
    planMesosFailover(list, facts, survivors('mesos'), target);
  });

  // 4. etcd.
  list.inTrack('etcd', () => planEtcdFailover(list, facts, survivors('etcd'), warnings));

  return { ...base, safe: true, refusals: [], warnings, steps: list.steps };
}
