/** Where a Mesos master keeps its replica of the registry: the replicated log in its work dir. */
import type { TopologyNode } from '../../topology/model.js';

export function mesosReplicaPath(n: TopologyNode): string {
  return `${n.services.mesos.workDir}/replicated_log`;
}
