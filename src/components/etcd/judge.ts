/**
 * Pure judgements over what was observed of etcd: its live quorums, what status notes, the
 * online planning facts, and the signs a lost or returning DC gives of running etcd on its own.
 */
import type { Finding } from '../../core/safety.js';
import { clusterMembers } from '../../core/clusters.js';
import type { ClusterObservation, NodeObservation } from '../../observe/observation.js';
import type { LiveFacts, NodeFacts } from '../../plan/facts.js';
import type { Topology } from '../../topology/model.js';
import { INITIAL_CLUSTER_KEY, parseInitialCluster, peerUrlOf } from './settings.js';

/**
 * Members that follow the same leader form one quorum. A forced new cluster keeps its cluster
 * id, so the id alone would merge the two sides of a split.
 */
export function etcdQuorums(
  members: readonly NodeObservation[],
  positions: Record<string, string>,
  quorums: { members: string[]; leader?: string }[],
): void {
  const byCluster = new Map<string, NodeObservation[]>();
  for (const m of members) {
    if (m.etcd?.appliedIndex !== undefined) positions[m.name] = m.etcd.appliedIndex.toString();
    if (!m.etcd?.ok || !m.etcd.leader || m.etcd.leader === '0') continue;
    const key = `${m.etcd.clusterId ?? '?'}/${m.etcd.leader}`;
    byCluster.set(key, [...(byCluster.get(key) ?? []), m]);
  }
  for (const group of byCluster.values()) {
    const leader = group.find((m) => m.etcd?.memberId === m.etcd?.leader);
    quorums.push({ members: group.map((m) => m.name), ...(leader ? { leader: leader.name } : {}) });
  }
}

/** A force line left behind: the next restart would fork the cluster again. */
export function etcdNodeNotes(n: NodeObservation): Finding[] {
  return n.config?.etcdForceNewCluster === 'true'
    ? [
        {
          code: 'force-new-cluster-left',
          cluster: 'etcd',
          message: `${n.name}: ETCD_FORCE_NEW_CLUSTER=true is still set; a restart would fork the cluster again`,
        },
      ]
    : [];
}

/** In normal mode, etcd should list as many voters as the topology has members. */
export function etcdMembershipNotes(t: Topology, o: ClusterObservation): Finding[] {
  if (!o.etcdMembers) return [];
  const declared = clusterMembers(t.nodes, 'etcd').length;
  const listed = o.etcdMembers.filter((m) => !m.isLearner).length;
  return listed === declared
    ? []
    : [
        {
          code: 'etcd-membership',
          cluster: 'etcd',
          message: `etcd lists ${listed} voting members, the topology ${declared}`,
        },
      ];
}

/** The membership of the etcd cluster that has a leader, for a re-plan to continue from. */
export function etcdLiveFacts(o: ClusterObservation): LiveFacts['etcd'] {
  const hasLeader = o.nodes.some((n) => n.etcd?.ok && n.etcd.leader !== '0');
  return hasLeader && o.etcdMembers
    ? {
        members: o.etcdMembers.map((m) => ({
          name: m.name,
          peerUrl: m.peerURLs[0] ?? '',
          learner: m.isLearner,
          started: m.name !== '',
        })),
      }
    : null;
}

/** A node's etcd facts as observed: the identity its env file gives, and its applied index. */
export function withEtcdFacts(next: NodeFacts, n: NodeObservation): void {
  if (n.etcdEnv?.name) next.etcdName = n.etcdEnv.name;
  if (n.etcdEnv?.peerUrl) next.etcdPeerUrl = n.etcdEnv.peerUrl;
  if (n.etcdEnv?.dataDir) next.dirs = { ...next.dirs, etcdData: n.etcdEnv.dataDir };
  if (n.etcd?.appliedIndex !== undefined) next.etcdAppliedIndex = Number(n.etcd.appliedIndex);
}

/** A lost-DC node whose etcd answers is a member still alive. */
export function etcdMemberAnswers(o: NodeObservation): string[] {
  return o.etcd?.ok ? [`etcd member ${o.name} answers (leader ${o.etcd.leader})`] : [];
}

/**
 * A survivor that follows a leader among the lost members: the lost DC still leads. Returns a
 * test per survivor, given the observation and the lost members' names.
 */
export function etcdFollowsLost(
  observation: ClusterObservation,
  lostNames: ReadonlySet<string>,
  lostDc: string,
): (o: NodeObservation) => string[] {
  const lostIds = new Set(observation.etcdMembers?.filter((m) => lostNames.has(m.name)).map((m) => m.id) ?? []);
  return (o) =>
    o.etcd?.ok && o.etcd.leader && lostIds.has(o.etcd.leader)
      ? [`etcd on ${o.name} follows a leader in ${lostDc}`]
      : [];
}

/** Where a survivor's etcd stood when the failover began (the failover point). */
export function etcdPoint(n: NodeObservation): {
  etcdAppliedIndex?: string;
  etcdRaftTerm?: string;
  etcdClusterId?: string;
} {
  return {
    ...(n.etcd?.appliedIndex !== undefined ? { etcdAppliedIndex: n.etcd.appliedIndex.toString() } : {}),
    ...(n.etcd?.raftTerm !== undefined ? { etcdRaftTerm: n.etcd.raftTerm.toString() } : {}),
    ...(n.etcd?.clusterId ? { etcdClusterId: n.etcd.clusterId } : {}),
  };
}

/** A returning member that leads a cluster other than the survivors' ran on its own after the failover. */
export function etcdDivergence(n: NodeObservation, o: ClusterObservation, returningDc: string): string[] {
  const survivorsCluster = o.nodes.find((x) => x.dc !== returningDc && x.etcd?.ok)?.etcd?.clusterId;
  return n.etcd?.ok && n.etcd.leader !== '0' && n.etcd.clusterId !== survivorsCluster
    ? [`etcd on ${n.name} runs its own cluster (leader ${n.etcd.leader}, applied index ${n.etcd.appliedIndex})`]
    : [];
}

/**
 * Where the topology's etcd members disagree with a readable node's ETCD_INITIAL_CLUSTER: a name
 * the topology does not have, or a peer URL other than the topology's address and peer port.
 */
export function etcdTopologyDisagreements(t: Topology, o: ClusterObservation): string[] {
  const members = clusterMembers(t.nodes, 'etcd');
  const out: string[] = [];
  for (const n of o.nodes) {
    const value = n.roles.includes('etcd') ? n.config?.etcdInitialCluster : undefined;
    if (value === undefined) continue;
    const where = `${INITIAL_CLUSTER_KEY} on ${n.name}`;
    const listed = parseInitialCluster(value);
    if (listed === null) {
      out.push(`${n.name}: ${where} cannot be parsed: ${value}`);
      continue;
    }
    for (const m of listed) {
      const node = members.find((x) => x.name === m.name);
      const expected = node ? peerUrlOf(node.address, node.services.etcd.peerPort) : undefined;
      if (!node) out.push(`${where} names ${m.name}=${m.peerUrl}, an etcd member the topology does not have`);
      else if (expected !== m.peerUrl)
        out.push(`${node.name}: topology etcd peer URL ${expected}, ${where} says ${m.name}=${m.peerUrl}`);
    }
  }
  return out;
}
