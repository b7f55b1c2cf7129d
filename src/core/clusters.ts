/**
 * The three quorum clusters dcfail moves. Each one is named after the topology role that makes a
 * node a member: Mesos masters (`mesos`), ZooKeeper servers run by Exhibitor (`exhibitor`), etcd
 * members (`etcd`).
 */
export const CLUSTERS = ['exhibitor', 'mesos', 'etcd'] as const;
export type ClusterName = (typeof CLUSTERS)[number];

export const CLUSTER_TITLE: Record<ClusterName, string> = {
  exhibitor: 'ZooKeeper',
  mesos: 'Mesos masters',
  etcd: 'etcd',
};

/** The members of a cluster, in file order. */
export function clusterMembers<N extends { roles: readonly string[] }>(nodes: readonly N[], cluster: ClusterName): N[] {
  return nodes.filter((n) => n.roles.includes(cluster));
}
