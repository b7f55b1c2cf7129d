/**
 * Reading etcd live: each member's status through its client port, the membership as one member
 * lists it, and whether a member of a lost DC answers (which would make a failover split brain).
 */
import type { ClusterObservation, NodeObservation } from '../../observe/observation.js';
import { probeTcp } from '../../probes/tcp.js';
import type { Topology, TopologyNode } from '../../topology/model.js';
import { etcdClientUrl, etcdMemberList, probeEtcdEndpoint, type EtcdEndpointStatus } from './probe.js';

export function probeEtcdMember(n: TopologyNode, timeoutMs: number): Promise<EtcdEndpointStatus> {
  return probeEtcdEndpoint(etcdClientUrl(n.address, n.services.etcd.clientPort), timeoutMs);
}

/**
 * The membership of the cluster that has a leader, asked of the secondary DC's members first
 * (after a failover they hold the cluster that counts); a member without quorum still lists.
 */
export async function listEtcdMembers(
  t: Topology,
  nodes: readonly NodeObservation[],
  timeoutMs: number,
): Promise<Pick<ClusterObservation, 'etcdMembers' | 'etcdMembersError'>> {
  const withLeader = nodes.filter((o) => o.etcd?.ok && o.etcd.leader !== '0');
  const ordered = [
    ...withLeader.filter((o) => o.dc !== t.datacenters.main),
    ...withLeader.filter((o) => o.dc === t.datacenters.main),
  ];
  const reachableEtcd = (ordered.length > 0 ? ordered.slice(0, 1) : nodes.filter((o) => o.etcd?.ok)).map((o) =>
    t.nodes.find((n) => n.name === o.name)!,
  );
  if (reachableEtcd.length === 0) return {};
  // Ask the members that answered, freshest first: a member without quorum still lists (serializable).
  try {
    return {
      etcdMembers: await etcdMemberList(
        reachableEtcd.map((n) => etcdClientUrl(n.address, n.services.etcd.clientPort)),
        timeoutMs,
      ),
    };
  } catch (err) {
    return { etcdMembersError: (err as Error).message.split('\n')[0]! };
  }
}

/** What a lost-DC member says if it answers as an etcd member (undefined: it does not). */
export async function etcdAnswersAsMember(n: TopologyNode, timeoutMs: number): Promise<string | undefined> {
  if ((await probeTcp(n.address, n.services.etcd.clientPort, timeoutMs)).kind !== 'open') return undefined;
  if ((await probeEtcdMember(n, timeoutMs)).ok) return `etcd on ${n.name}`;
  return undefined;
}
