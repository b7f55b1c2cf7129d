/**
 * Pure judgements over what was observed of the Mesos masters: the elected leader (followers do
 * not say whom they follow), whether its registrar recovered, the planning facts, and the signs a
 * lost or returning DC gives of electing a master of its own.
 */
import type { Finding } from '../../core/safety.js';
import type { ClusterObservation, NodeObservation } from '../../observe/observation.js';
import type { NodeFacts } from '../../plan/facts.js';

/** One elected master stands for the quorum of every reachable master. */
export function mesosQuorums(
  members: readonly NodeObservation[],
  positions: Record<string, string>,
  quorums: { members: string[]; leader?: string }[],
): void {
  for (const m of members) {
    if (m.mesos?.registryVersion !== undefined) positions[m.name] = String(m.mesos.registryVersion);
    if (m.mesos?.elected) quorums.push({ members: [m.name], leader: m.name });
  }
  if (quorums.length === 1) quorums[0]!.members = members.filter((m) => m.mesos?.reachable).map((m) => m.name);
}

/**
 * An elected master serves nothing until its registrar recovers from a quorum of voting
 * replicas; one that cannot gets no further than its registry fetch timeout.
 */
export function mesosLeaderHazards(o: ClusterObservation, leaderName: string | undefined, title: string): Finding[] {
  const leader = o.nodes.find((n) => n.name === leaderName);
  return leader?.mesos && !leader.mesos.recovered
    ? [
        {
          code: 'no-quorum',
          cluster: 'mesos',
          message: `${title}: ${leader.name} is elected but has not recovered the registrar (it needs MESOS_QUORUM voting replicas)`,
        },
      ]
    : [];
}

/** The one elected master whose registrar recovered, if there is exactly one. */
export function mesosRecoveredLeader(o: ClusterObservation): string | null {
  const leaders = o.nodes.filter((n) => n.mesos?.elected && n.mesos.recovered);
  return leaders.length === 1 ? leaders[0]!.name : null;
}

/** A master's facts as observed: the registry version it recovered. */
export function withMesosFacts(next: NodeFacts, n: NodeObservation): void {
  if (n.mesos?.registryVersion !== undefined) next.mesosRegistryVersion = n.mesos.registryVersion;
}

/** The newest registry version the given masters have seen: a later leader must not recover an older one. */
export function newestRegistryVersion(o: ClusterObservation, names: readonly string[]): number | undefined {
  const vs = o.nodes
    .filter((n) => names.includes(n.name))
    .map((n) => n.mesos?.registryVersion)
    .filter((v): v is number => v !== undefined);
  return vs.length > 0 ? Math.max(...vs) : undefined;
}

/** A lost-DC master that answers is a member still alive. */
export function mesosMemberAnswers(o: NodeObservation): string[] {
  return o.mesos?.reachable ? [`Mesos master on ${o.name} answers`] : [];
}

/** Where a survivor's registry stood when the failover began (the failover point). */
export function mesosPoint(n: NodeObservation): { mesosRegistryVersion?: number } {
  return n.mesos?.registryVersion !== undefined ? { mesosRegistryVersion: n.mesos.registryVersion } : {};
}

/** A returning master that was elected ran a cluster of its own after the failover. */
export function mesosDivergence(n: NodeObservation): string[] {
  return n.mesos?.elected
    ? [`Mesos master on ${n.name} was elected leader (registry version ${n.mesos.registryVersion ?? '?'})`]
    : [];
}
