/** Where ZooKeeper keeps a server's replica: the data dir Exhibitor runs it with. */
import type { TopologyNode } from '../../topology/model.js';

export function zookeeperReplicaPath(n: TopologyNode): string {
  return n.services.exhibitor.zkDataDir;
}
