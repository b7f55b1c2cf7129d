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

/** The original files: the marker's if a failover started, else the topology's declared ones. */
export function originalFrom(t: Topology, marker: FailoverMarker | null): Record<string, NodeConfig> {
  return marker?.original ?? declaredConfig(t);
}

export function maxRegistry(o: ClusterObservation, nodes: readonly TopologyNode[]): number | undefined {
  return newestRegistryVersion(
    o,
    nodes.map((n) => n.name),
  );
}
