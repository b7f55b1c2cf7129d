/** Where etcd keeps a member's replica: the data dir its env file names, else the topology's. */
import type { NodeObservation } from '../../observe/observation.js';
import type { TopologyNode } from '../../topology/model.js';

export function etcdReplicaPath(n: TopologyNode, observed: NodeObservation | undefined): string | undefined {
  return observed?.etcdEnv?.dataDir ?? n.services.etcd.dataDir;
}
