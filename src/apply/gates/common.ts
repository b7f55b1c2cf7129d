/** What each runbook's gates hand the run: the plan, whom to confirm, what to do around the steps. */
import type { ClusterObservation } from '../../observe/observation.js';
import type { FailoverMarker } from '../marker.js';
import { type NodeConfig, declaredConfig } from '../../plan/facts.js';
import type { Plan } from '../../plan/plan.js';
import type { Topology, TopologyNode } from '../../topology/model.js';
import { mesosRegistryRecord, type MesosRegistryRecord } from '../../components/mesos/judge.js';
export interface Prepared {
  plan: Plan;
  confirmDc: string;
  extra: { guardLostDc?: string; mesosRegistryBefore?: MesosRegistryRecord; beforeRun?: () => Promise<void> };
  afterSuccess?: () => Promise<void>;
  /** Nothing to run: the reason, shown instead. */
  early?: string;
}

/**
 * The original files: what the marker recorded from the nodes' own disks if a failover started,
 * else the topology's declared ones. A node the marker has no files for (a lost node, unreadable
 * when the failover began) has them from its own disk once it answers (`returning`): it was down
 * through the failover, so they are the files it ran with. The failback records them in the
 * marker before its first change, so a re-run restores the same.
 */
export function originalFrom(
  t: Topology,
  marker: FailoverMarker | null,
  returning?: { observation: ClusterObservation; dc: string },
): Record<string, NodeConfig> {
  if (!marker) return declaredConfig(t);
  const own: Record<string, NodeConfig> = {};
  if (returning)
    for (const o of returning.observation.nodes)
      if (o.dc === returning.dc && o.config && !(o.name in marker.original)) own[o.name] = { ...o.config };
  return { ...own, ...marker.original };
}

/**
 * The registry a run's Mesos verification judges against, recorded before its first change:
 * what the marker recorded (a resumed run's), else what the recovered leader among `nodes`
 * holds now. None when no survivor leads with a recovered registrar (a failover's usual case:
 * the survivors have lost their quorum, and Mesos tells no replica's content over HTTP).
 */
export function registryBefore(
  o: ClusterObservation,
  nodes: readonly TopologyNode[],
  recorded?: MesosRegistryRecord,
): MesosRegistryRecord | undefined {
  return (
    recorded ??
    mesosRegistryRecord(
      o,
      nodes.map((n) => n.name),
      new Date().toISOString(),
    )
  );
}
