/**
 * The loss certificate, the first gate of a failover: the lost DC really is down. Several
 * independent signals, and a lost-DC node that answers as a cluster member is a hard refusal.
 * A survivor that still counts the lost DC in while no probe reaches it is settling (settling.ts):
 * the certificate looks at it again within its time budget, and says how long to wait if that is
 * not enough.
 */
import { CLUSTERS } from '../../core/clusters.js';
import { portOf, type ClusterObservation, type NodeObservation } from '../../observe/observe.js';
import { probeTcp } from '../../probes/tcp.js';
import { etcdFollowsLost, etcdMemberAnswers } from '../../components/etcd/judge.js';
import { mesosMemberAnswers } from '../../components/mesos/judge.js';
import { zookeeperMemberAnswers, zookeeperServesWithLost } from '../../components/zookeeper/judge.js';
import { probeEtcdMember } from '../../components/etcd/observe.js';
import { probeZookeeperServer } from '../../components/zookeeper/observe.js';
import { probeZkTimers, type ZkTimers } from '../../components/zookeeper/probe.js';
import type { Topology, TopologyNode } from '../../topology/model.js';
import {
  etcdWindow,
  judgeSettling,
  settlingLines,
  shouldLookAgain,
  zookeeperWindow,
  type LostView,
  type SettleJudgement,
  type SettleWindow,
  type ViewSample,
} from './settling.js';

/** The probes' own latency and the ticks the services' timers count in (settling.ts). */
const SETTLE_MARGIN_MS = 2000;
/** Between two looks at a settling survivor. */
const LOOK_EVERY_MS = 1000;

export interface LossEvidence {
  dc: string;
  attempts: number;
  /** Per node and check: what each attempt saw (`refused`, `timeout`, `open`, `ok`...). */
  checks: { node: string; check: string; results: string[] }[];
  /** Lost-DC nodes that answered as cluster members: a hard refusal. */
  answeringAsMembers: string[];
  survivors: { node: string; sane: boolean; why: string }[];
  /**
   * `settling`: the only doubt is survivors that still count the lost DC in while no probe reaches
   * it, within the time their own timers take to notice (`settling` says who and how long to wait).
   */
  verdict: 'down' | 'alive' | 'inconclusive' | 'settling';
  reasons: string[];
  /** Survivors still settling at the last look, and how long to wait (ms) until they surely noticed. */
  settling: { node: string; cluster: string; message: string; waitMs: number; window: string }[];
  /** When the first look (the observation) ended: the lost DC was silent by then. */
  firstLookAt: string;
  /** The looks at the survivors that counted the lost DC in: when (ms after the first), how many views. */
  looks: { afterMs: number; views: number }[];
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
  const answering = observation.nodes.filter((o) => o.dc === lostDc).flatMap(memberAnswers);
  // The survivors are looked at again while the lost DC's checks run: both take the same budget.
  // (A lost DC that answers as a member is refused anyway: no look again, no wait.)
  const settling = settleSurvivors(t, lostDc, lost, observation, answering.length === 0);
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

  // The survivors must not follow a leader among the lost members; right after the loss they may,
  // until their own timers notice (settling.ts): look again while they settle, within the budget.
  const settle = await settling;
  if (settle.judgement.kind === 'still-counts-lost') answering.push(...settlingLines(settle.judgement, lostDc));
  // Settling is a doubt only while the lost DC is silent; when it answers as a member, what the
  // survivors see of it is more of the same evidence.
  const settlingReasons =
    settle.judgement.kind === 'settling' && answering.length === 0 ? settlingLines(settle.judgement, lostDc) : [];
  if (settle.judgement.kind === 'settling' && answering.length > 0)
    answering.push(...settle.judgement.waiting.map((w) => w.view.message));
  const verdict: LossEvidence['verdict'] =
    answering.length > 0
      ? 'alive'
      : reasons.length > 0
        ? 'inconclusive'
        : settlingReasons.length > 0
          ? 'settling'
          : 'down';
  return {
    dc: lostDc,
    attempts,
    checks,
    answeringAsMembers: answering,
    survivors,
    verdict,
    reasons: [...answering, ...reasons, ...settlingReasons],
    settling:
      settlingReasons.length > 0 && settle.judgement.kind === 'settling'
        ? settle.judgement.waiting.map((w) => ({
            node: w.view.node,
            cluster: w.view.cluster,
            message: w.view.message,
            waitMs: w.ms,
            window: w.window.why,
          }))
        : [],
    firstLookAt: observation.observedAt,
    looks: settle.samples.map((x) => ({ afterMs: x.atMs - settle.silentByMs, views: x.views.length })),
  };
}

/** What a survivor's services say of the lost DC: a ZooKeeper or etcd that still counts it in. */
function lostViewsOf(
  observation: ClusterObservation,
  lost: readonly TopologyNode[],
  lostDc: string,
): (o: NodeObservation) => LostView[] {
  const etcdFollows = etcdFollowsLost(observation, new Set(lost.map((n) => n.name)), lostDc);
  return (o) => [
    ...zookeeperServesWithLost(o, lost, lostDc).map((message) => ({
      node: o.name,
      cluster: 'exhibitor' as const,
      message,
    })),
    ...etcdFollows(o).map((message) => ({ node: o.name, cluster: 'etcd' as const, message })),
  ];
}

/**
 * The first look is the observation (the lost DC silent by its end); while a survivor settles,
 * its services are asked again every second, until it noticed, or it is past its window (it
 * reaches the lost DC: split brain), or the certificate's budget (attempts x timeout from the
 * first look) is spent.
 */
async function settleSurvivors(
  t: Topology,
  lostDc: string,
  lost: readonly TopologyNode[],
  observation: ClusterObservation,
  lookAgain: boolean,
): Promise<{ judgement: SettleJudgement; samples: ViewSample[]; silentByMs: number }> {
  const silentByMs = Date.parse(observation.observedAt);
  const budgetEndMs = lookAgain ? silentByMs + t.health.attempts * t.health.timeoutMs : silentByMs;
  const viewsOf = lostViewsOf(observation, lost, lostDc);
  const survivors = observation.nodes.filter((o) => o.dc !== lostDc);
  const samples: ViewSample[] = [{ atMs: silentByMs, views: survivors.flatMap(viewsOf) }];
  // Each settling ZooKeeper's own timers, asked while it still serves (`conf` answers only then).
  const zkTimers = new Map<string, ZkTimers | undefined>();
  await Promise.all(
    [...new Set(samples[0]!.views.filter((v) => v.cluster === 'exhibitor').map((v) => v.node))].map(async (name) => {
      const n = t.nodes.find((x) => x.name === name)!;
      zkTimers.set(name, await probeZkTimers(n.address, n.services.exhibitor.zkClientPort, t.health.timeoutMs));
    }),
  );
  const windowOf = (v: LostView): SettleWindow =>
    v.cluster === 'exhibitor'
      ? zookeeperWindow(zkTimers.get(v.node))
      : etcdWindow(observation.nodes.find((o) => o.name === v.node)?.etcdEnv?.electionTimeoutMs);
  const judgeNow = () => judgeSettling({ silentByMs, samples, windowOf, marginMs: SETTLE_MARGIN_MS });
  let judgement = judgeNow();
  while (shouldLookAgain(judgement, Date.now(), budgetEndMs)) {
    await new Promise((r) => setTimeout(r, Math.min(LOOK_EVERY_MS, Math.max(0, budgetEndMs - Date.now()))));
    const atMs = Date.now();
    const names = [...new Set(samples.at(-1)!.views.map((v) => v.node))];
    const again = await Promise.all(
      names.map(async (name) => {
        const n = t.nodes.find((x) => x.name === name)!;
        const before = survivors.find((o) => o.name === name)!;
        const clusters = new Set(
          samples
            .at(-1)!
            .views.filter((v) => v.node === name)
            .map((v) => v.cluster),
        );
        const [zk, etcd] = await Promise.all([
          clusters.has('exhibitor') ? probeZookeeperServer(n, t.health.timeoutMs) : before.zk,
          clusters.has('etcd') ? probeEtcdMember(n, t.health.timeoutMs) : before.etcd,
        ]);
        // Only what was asked again counts: a view not asked again has settled or was never there.
        return viewsOf({ ...before, ...(zk ? { zk } : {}), ...(etcd ? { etcd } : {}) }).filter((v) =>
          clusters.has(v.cluster),
        );
      }),
    );
    samples.push({ atMs, views: again.flat() });
    judgement = judgeNow();
  }
  return { judgement, samples, silentByMs };
}
