/**
 * Pure judgements over what was observed of the Mesos masters: the elected leader (followers do
 * not say whom they follow), whether its registrar recovered, the planning facts, the registry a
 * run records before its first change and what a verification demands of the leader after it,
 * and the signs a lost or returning DC gives of electing a master of its own.
 */
import type { Finding } from '../../core/safety.js';
import type { ClusterObservation, NodeObservation } from '../../observe/observation.js';
import type { NodeFacts } from '../../plan/facts.js';

/** What the probe read of one master (probe.ts), as the observation holds it. */
type MesosMasterStatus = NonNullable<NodeObservation['mesos']>;

/**
 * The registry as a run recorded it before its first change: the agents the registry of the
 * leader named held (registry.proto `slaves`, `unreachable`, `gone`; frameworks are not in the
 * registry). A later leader's registry must still know every one of them: an agent that the
 * registry no longer knows is the mark of an older registry (a lagging replica's, or an empty
 * one a wiped replica auto-initialised).
 */
export interface MesosRegistryRecord {
  /** The master whose registrar held it. */
  leader: string;
  /** Agent ids, sorted; at most RECORDED_AGENTS_MAX of them. */
  agents: string[];
  /** How many agents the registry held (more than `agents` when it was cut). */
  agentCount: number;
  sizeBytes?: number;
  at: string;
}

/** The most agent ids a record keeps (the marker is read back under 1 MiB). */
export const RECORDED_AGENTS_MAX = 10_000;

/**
 * One elected master stands for the quorum of every reachable master. Its position is the number
 * of agents its registry knows: Mesos tells no replica's position, only the leader's registry.
 */
export function mesosQuorums(
  members: readonly NodeObservation[],
  positions: Record<string, string>,
  quorums: { members: string[]; leader?: string }[],
): void {
  for (const m of members) {
    if (m.mesos?.registry) positions[m.name] = String(m.mesos.registry.agents.length);
    if (m.mesos?.elected) quorums.push({ members: [m.name], leader: m.name });
  }
  if (quorums.length === 1) quorums[0]!.members = members.filter((m) => m.mesos?.reachable).map((m) => m.name);
}

/** Why an elected master's registrar has not recovered, in words, from what it reports. */
function unrecoveredRegistrar(name: string, s: MesosMasterStatus): string {
  const q = s.quorum !== undefined ? `${s.quorum} replicas` : 'a quorum of replicas (its quorum unread)';
  const group =
    s.ensembleSize !== undefined
      ? `; ${s.ensembleSize} replica${s.ensembleSize === 1 ? '' : 's'} in its ZooKeeper group`
      : '';
  return `leader ${name} elected but its registrar has not recovered: the replicated log has no quorum to fetch the registry from (it needs ${q} VOTING${group}; registrar/registry_size_bytes absent)`;
}

/**
 * An elected master serves nothing until its registrar recovers from a quorum of voting
 * replicas; one that cannot gets no further than its registry fetch timeout.
 */
export function mesosLeaderHazards(o: ClusterObservation, leaderName: string | undefined, title: string): Finding[] {
  const leader = o.nodes.find((n) => n.name === leaderName);
  return leader?.mesos?.elected && !leader.mesos.registrarRecovered
    ? [{ code: 'no-quorum', cluster: 'mesos', message: `${title}: ${unrecoveredRegistrar(leader.name, leader.mesos)}` }]
    : [];
}

/** The one elected master whose registrar recovered, if there is exactly one. */
export function mesosRecoveredLeader(o: ClusterObservation): string | null {
  const elected = o.nodes.filter((n) => n.mesos?.elected);
  return elected.length === 1 && elected[0]!.mesos!.registrarRecovered ? elected[0]!.name : null;
}

/** A master's facts as observed: whether it leads with a recovered registrar (its host's log is the one to copy). */
export function withMesosFacts(next: NodeFacts, n: NodeObservation, recoveredLeader: string | null): void {
  if (recoveredLeader === n.name) next.mesosLeads = true;
  if (n.mesosLogs) next.mesosLogs = n.mesosLogs;
}

/** The registry of the recovered leader among `names`, as a record; undefined when none leads with one. */
export function mesosRegistryRecord(
  o: ClusterObservation,
  names: readonly string[],
  at: string,
): MesosRegistryRecord | undefined {
  const leader = mesosRecoveredLeader(o);
  const n = o.nodes.find((x) => x.name === leader);
  if (!n || !names.includes(n.name) || !n.mesos?.registry) return undefined;
  const r = n.mesos.registry;
  return {
    leader: n.name,
    agents: r.agents.slice(0, RECORDED_AGENTS_MAX),
    agentCount: r.agents.length,
    ...(r.sizeBytes !== undefined ? { sizeBytes: r.sizeBytes } : {}),
    at,
  };
}

export type MesosVerdict = { kind: 'holds'; leader: string } | { kind: 'not-yet'; why: string };

/**
 * The Mesos verification: exactly one elected master among `masters`, its registrar recovered
 * (the registry size gauge present and GET_HEALTH healthy), running with `quorum` as its /flags
 * say, and its registry knowing every agent recorded before the run's first change.
 */
export function judgeMesosCheck(
  masters: readonly { name: string; status: MesosMasterStatus }[],
  want: { quorum: number; before?: MesosRegistryRecord },
): MesosVerdict {
  const seen = masters
    .map(({ name, status: s }) =>
      !s.reachable
        ? `${name}: down (${s.error ?? 'no answer'})`
        : s.elected === undefined
          ? `${name}: ${s.error ?? 'unreadable'}`
          : `${name}: ${s.elected ? 'elected' : 'follower'}`,
    )
    .join(', ');
  const elected = masters.filter((m) => m.status.elected === true);
  if (elected.length === 0) return { kind: 'not-yet', why: `no Mesos master is elected (${seen})` };
  if (elected.length > 1)
    return { kind: 'not-yet', why: `${elected.length} Mesos masters say they are elected (${seen})` };
  const { name, status: s } = elected[0]!;
  if (!s.registrarRecovered) return { kind: 'not-yet', why: unrecoveredRegistrar(name, s) };
  if (s.healthy !== true)
    return {
      kind: 'not-yet',
      why: `leader ${name} fetched its registry but has not finished recovery (${s.health ?? s.error ?? 'GET_HEALTH unread'})`,
    };
  if (s.quorum === undefined)
    return { kind: 'not-yet', why: `leader ${name}: its quorum is unknown (${s.error ?? '/flags has no quorum'})` };
  if (s.quorum !== want.quorum)
    return { kind: 'not-yet', why: `leader ${name} runs with quorum ${s.quorum}, want ${want.quorum}` };
  if (!s.registry)
    return {
      kind: 'not-yet',
      why: `leader ${name}: its registry is unread (${s.error ?? '/registrar(1)/registry empty'})`,
    };
  if (want.before) {
    const now = new Set(s.registry.agents);
    const missing = want.before.agents.filter((a) => !now.has(a));
    if (missing.length > 0)
      return {
        kind: 'not-yet',
        why: `the registry of leader ${name} is older than the one ${want.before.leader} held before the run (${want.before.at}): ${missing.length} of the ${want.before.agentCount} agents it knew are missing (${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''}); it holds ${s.registry.agents.length}`,
      };
  }
  return { kind: 'holds', leader: name };
}

/** A lost-DC master that answers is a member still alive. */
export function mesosMemberAnswers(o: NodeObservation): string[] {
  return o.mesos?.reachable ? [`Mesos master on ${o.name} answers`] : [];
}

/** Where a survivor's registry stood when the failover began (the failover point): only a recovered leader knows it. */
export function mesosPoint(
  o: ClusterObservation,
  n: NodeObservation,
  at: string,
): { mesosRegistry?: MesosRegistryRecord } {
  const r = mesosRegistryRecord(o, [n.name], at);
  return r ? { mesosRegistry: r } : {};
}

/** A returning master that was elected ran a cluster of its own after the failover. */
export function mesosDivergence(n: NodeObservation): string[] {
  return n.mesos?.elected
    ? [
        `Mesos master on ${n.name} was elected leader${n.mesos.registry ? ` (its registry knows ${n.mesos.registry.agents.length} agents)` : ''}`,
      ]
    : [];
}
