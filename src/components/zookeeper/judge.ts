/**
 * Pure judgements over what was observed of ZooKeeper: its live quorums (servers grouped by the
 * ensemble their files hold), who serves, the online planning facts, and the signs a lost or
 * returning DC gives of running ZooKeeper on its own.
 */
import type { ClusterObservation, NodeObservation } from '../../observe/observation.js';
import type { NodeFacts } from '../../plan/facts.js';
import type { TopologyNode } from '../../topology/model.js';
import { ENSEMBLE_KEY, parseEnsemble } from './settings.js';

const SERVING = ['leader', 'follower', 'standalone', 'observer'];

/** Servers that serve under the same ensemble form one quorum. */
export function zookeeperQuorums(
  members: readonly NodeObservation[],
  positions: Record<string, string>,
  quorums: { members: string[]; leader?: string }[],
): void {
  const byEnsemble = new Map<string, NodeObservation[]>();
  // A server whose files could not be read (SSH or sudo) is no evidence of a second ensemble.
  const unknown: NodeObservation[] = [];
  for (const m of members) {
    if (m.zk?.zxid !== undefined) positions[m.name] = m.zk.zxid;
    if (!m.zk || !SERVING.includes(m.zk.mode)) continue;
    if (m.config?.ensemble === undefined) unknown.push(m);
    else byEnsemble.set(m.config.ensemble, [...(byEnsemble.get(m.config.ensemble) ?? []), m]);
  }
  // It serves: with the one ensemble known, it is one of its members; with none known, they form one group.
  if (byEnsemble.size === 1) {
    const [key, group] = [...byEnsemble.entries()][0]!;
    byEnsemble.set(key, [...group, ...unknown]);
  } else if (byEnsemble.size === 0 && unknown.length > 0) byEnsemble.set('?', unknown);
  for (const group of byEnsemble.values()) {
    const leader = group.find((m) => m.zk?.mode === 'leader' || m.zk?.mode === 'standalone');
    quorums.push({ members: group.map((m) => m.name), ...(leader ? { leader: leader.name } : {}) });
  }
}

/** The servers that serve (leader, follower, standalone or observer), for a re-plan to continue from. */
export function zookeeperServing(o: ClusterObservation): string[] {
  return o.nodes.filter((n) => n.zk && SERVING.includes(n.zk.mode)).map((n) => n.name);
}

/** A node's ZooKeeper facts as observed: its zxid. */
export function withZookeeperFacts(next: NodeFacts, n: NodeObservation): void {
  if (n.zk?.zxid !== undefined) next.zkZxid = n.zk.zxid;
}

/** A lost-DC server that answers is a member still alive. */
export function zookeeperMemberAnswers(o: NodeObservation): string[] {
  return o.zk && o.zk.mode !== 'down' ? [`ZooKeeper on ${o.name} answers (${o.zk.mode})`] : [];
}

/** A survivor that serves in an ensemble with the lost DC's servers: the lost DC still counts. */
export function zookeeperServesWithLost(o: NodeObservation, lost: readonly TopologyNode[], lostDc: string): string[] {
  return o.zk &&
    (o.zk.mode === 'follower' || o.zk.mode === 'leader') &&
    o.config?.ensemble &&
    lost.some((n) => o.config!.ensemble!.split(',').some((p) => p.endsWith(`:${n.address}`)))
    ? [`ZooKeeper on ${o.name} serves in an ensemble with ${lostDc}'s servers`]
    : [];
}

/**
 * Where a survivor's ZooKeeper stood when the failover began (the failover point): its zxid, and
 * the epoch it last accepted on disk. A survivor without quorum answers no zxid over `srvr`, and
 * its data files may still be named from an older epoch than the one it last followed (issue 15
 * item 4: a DC that flapped and came back before the failover is not divergent for that).
 */
export function zookeeperPoint(n: NodeObservation): { zkZxid?: string; zkEpoch?: string } {
  return {
    ...(n.zk?.zxid ? { zkZxid: n.zk.zxid } : {}),
    ...(n.zk?.diskEpoch !== undefined ? { zkEpoch: n.zk.diskEpoch } : {}),
  };
}

/** The newest epoch of the failover point: its zxids' epochs and the survivors' accepted epochs. */
export function zookeeperPointEpoch(points: readonly { zkZxid?: string; zkEpoch?: string }[]): bigint | undefined {
  if (points.length === 0) return undefined;
  const epochs = points.flatMap((p) => [
    p.zkZxid ? BigInt(p.zkZxid) >> 32n : 0n,
    p.zkEpoch !== undefined ? BigInt(p.zkEpoch) : 0n,
  ]);
  return epochs.reduce((a, b) => (a > b ? a : b));
}

/**
 * A returning server that serves an ensemble the survivors do not hold, or whose data has an
 * epoch newer than the failover point's, ran a quorum of its own after the failover.
 */
export function zookeeperDivergence(
  n: NodeObservation,
  o: ClusterObservation,
  returningDc: string,
  pointEpoch: bigint | undefined,
): string[] {
  if (
    n.zk &&
    ['leader', 'follower'].includes(n.zk.mode) &&
    n.config?.ensemble !== undefined &&
    o.nodes.some(
      (x) => x.dc !== returningDc && x.config?.ensemble !== undefined && x.config.ensemble !== n.config!.ensemble,
    )
  ) {
    return [
      `ZooKeeper on ${n.name} serves its own quorum (${n.zk.mode}, zxid 0x${BigInt(n.zk.zxid ?? '0').toString(16)})`,
    ];
  }
  if (
    n.zk?.zxid &&
    pointEpoch !== undefined &&
    BigInt(n.zk.zxid) >> 32n > pointEpoch &&
    n.config?.ensemble !== undefined &&
    !o.nodes.some((x) => x.dc !== returningDc && x.config?.ensemble === n.config!.ensemble)
  ) {
    return [
      `ZooKeeper data on ${n.name} has epoch ${BigInt(n.zk.zxid) >> 32n}, newer than the failover point's ${pointEpoch}`,
    ];
  }
  return [];
}

/**
 * Where the topology's ZooKeeper ensemble disagrees with what a readable node's Exhibitor file
 * holds: a server id or address that differs, an address the topology does not have, and (a full
 * ensemble, before any failover) a server the file leaves out. One line per disagreement, naming
 * the topology's node, its value and the file's. Lost-DC nodes cannot be read, but the survivors'
 * files name them, so they are named too.
 */
export function zookeeperTopologyDisagreements(
  servers: readonly TopologyNode[],
  o: ClusterObservation,
  opts: { failedOver: boolean },
): string[] {
  const out: string[] = [];
  for (const n of o.nodes) {
    if (!n.roles.includes('exhibitor') || n.config?.ensemble === undefined) continue;
    const members = parseEnsemble(n.config.ensemble);
    const where = `${ENSEMBLE_KEY} on ${n.name}`;
    if (members === null) {
      out.push(`${n.name}: ${where} cannot be parsed: ${n.config.ensemble}`);
      continue;
    }
    for (const m of members) {
      const byAddress = servers.find((s) => s.address === m.address);
      const byId = servers.find((s) => s.zkId === m.id);
      if (!byAddress) {
        out.push(
          byId
            ? `${byId.name}: topology zkId ${byId.zkId} at ${byId.address}, ${where} says ${m.id}:${m.address}`
            : `${where} names ${m.id}:${m.address}, a server the topology does not have (zkId or address)`,
        );
      } else if (byAddress.zkId !== m.id) {
        out.push(`${byAddress.name}: topology zkId ${byAddress.zkId}, ${where} says ${m.id}:${m.address}`);
      }
    }
    if (!opts.failedOver)
      for (const s of servers)
        if (!members.some((m) => m.address === s.address))
          out.push(`${s.name}: topology zkId ${s.zkId} at ${s.address}, missing from ${where}`);
  }
  return out;
}
