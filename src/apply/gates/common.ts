/** What each runbook's gates hand the run: the plan, whom to confirm, what to do around the steps. */
import type { ClusterObservation } from '../../observe/observation.js';
import type { FailoverMarker } from '../marker.js';
import { type NodeConfig, declaredConfig } from '../../plan/facts.js';
import type { Plan } from '../../plan/plan.js';
import type { Topology, TopologyNode } from '../../topology/model.js';
import { newestRegistryVersion } from '../../components/mesos/judge.js';
export interface Prepared {
  plan: Plan;
  confirmDc: string;
  extra: { guardLostDc?: string; minRegistryVersion?: number; beforeRun?: () => Promise<void> };
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

export function maxRegistry(o: ClusterObservation, nodes: readonly TopologyNode[]): number | undefined {
  return newestRegistryVersion(
    o,
    nodes.map((n) => n.name),
  );
}
