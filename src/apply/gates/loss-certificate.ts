/**
 * The loss certificate, the first gate of a failover: the lost DC really is down. Several
 * independent signals, and a lost-DC node that answers as a cluster member is a hard refusal.
 */
import { CLUSTERS } from '../../core/clusters.js';
import { portOf, type ClusterObservation, type NodeObservation } from '../../observe/observe.js';
import { probeTcp } from '../../probes/tcp.js';
import { etcdFollowsLost, etcdMemberAnswers } from '../../components/etcd/judge.js';
import { mesosMemberAnswers } from '../../components/mesos/judge.js';
import { zookeeperMemberAnswers, zookeeperServesWithLost } from '../../components/zookeeper/judge.js';
import type { Topology } from '../../topology/model.js';

export interface LossEvidence {
  dc: string;
  attempts: number;
  /** Per node and check: what each attempt saw (`refused`, `timeout`, `open`, `ok`...). */
  checks: { node: string; check: string; results: string[] }[];
  /** Lost-DC nodes that answered as cluster members: a hard refusal. */
  answeringAsMembers: string[];
  survivors: { node: string; sane: boolean; why: string }[];
  verdict: 'down' | 'alive' | 'inconclusive';
  reasons: string[];
}

function memberAnswers(o: NodeObservation): string[] {
  const out: string[] = [];
  out.push(...etcdMemberAnswers(o));
  out.push(...zookeeperMemberAnswers(o));
  out.push(...mesosMemberAnswers(o));
  return out;
}

/**
 * Several independent signals that the DC is down: every configured check fails on every node
 * over the configured attempts; nothing of it answers as a cluster member; the survivors are
 * reachable and sane and see no leader among the lost members.
 */
export async function certifyLoss(t: Topology, lostDc: string, observation: ClusterObservation): Promise<LossEvidence> {
  const attempts = t.health.attempts;
  const lost = t.nodes.filter((n) => n.dc === lostDc);
  const checks: LossEvidence['checks'] = [];
  const reasons: string[] = [];
  // Nodes side by side, attempts one after the other (each attempt is a fresh look, later than
  // the one before): the certificate takes attempts x timeout, not that times the lost nodes.
  const perNode = await Promise.all(
    lost.map(async (n) => {
      const seen = observation.nodes.find((o) => o.name === n.name)?.ports;
      const clusters = t.health.checks.includes('tcp') ? CLUSTERS.filter((c) => n.roles.includes(c)) : [];
      const targets: { row: LossEvidence['checks'][number]; port: number; observed: string | undefined }[] = [
        ...(t.health.checks.includes('ssh')
          ? [{ row: { node: n.name, check: 'ssh', results: [] as string[] }, port: n.ssh.port, observed: seen?.ssh }]
          : []),
        ...clusters.map((c) => ({
          row: { node: n.name, check: `tcp:${c}`, results: [] as string[] },
          port: portOf(n, c),
          observed: seen?.[c],
        })),
      ];
      for (let a = 0; a < attempts; a += 1) {
        // The first attempt is the observation this run just made (the same TCP probes, with the
        // same timeout): a look of its own, taken moments before.
        await Promise.all(
          targets.map(async ({ row, port, observed }) =>
            row.results.push(
              a === 0 && observed !== undefined ? observed : (await probeTcp(n.address, port, t.health.timeoutMs)).kind,
            ),
          ),
        );
      }
      return targets.map((x) => x.row);
    }),
  );
  checks.push(...perNode.flat());
  const answering = observation.nodes.filter((o) => o.dc === lostDc).flatMap(memberAnswers);
  const anyOpen = checks.filter((c) => c.results.includes('open'));
  for (const c of anyOpen)
    reasons.push(
      `${c.node} ${c.check} answered on ${c.results.filter((r) => r === 'open').length} of ${attempts} attempts`,
    );

  const survivors = observation.nodes
    .filter((o) => o.dc !== lostDc && o.roles.length > 0)
    .map((o) => {
      const problems: string[] = [];
      if (!o.ssh.ok) problems.push(`SSH: ${o.ssh.error ?? 'unreachable'}`);
      if (o.config === null) problems.push('files unreadable');
      return { node: o.name, sane: problems.length === 0, why: problems.join('; ') || 'reachable, files readable' };
    });
  for (const s of survivors) if (!s.sane) reasons.push(`survivor ${s.node} is not sane: ${s.why}`);

  // The survivors must not follow a leader among the lost members.
  const lostNames = new Set(lost.map((n) => n.name));
  const etcdFollows = etcdFollowsLost(observation, lostNames, lostDc);
  for (const o of observation.nodes.filter((x) => x.dc !== lostDc)) {
    answering.push(...etcdFollows(o));
    answering.push(...zookeeperServesWithLost(o, lost, lostDc));
  }
  const verdict: LossEvidence['verdict'] =
    answering.length > 0 ? 'alive' : reasons.length > 0 ? 'inconclusive' : 'down';
  return {
    dc: lostDc,
    attempts,
    checks,
    answeringAsMembers: answering,
    survivors,
    verdict,
    reasons: [...answering, ...reasons],
  };
}
