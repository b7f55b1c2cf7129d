/**
 * Pure judgements over an observation: which configuration each node's files hold, the mode of
 * the whole (normal, failed-over, split-brain-risk, mixed), the live quorums and the hazards;
 * and the planning facts an online plan starts from. No I/O.
 */
import { CLUSTERS, CLUSTER_TITLE, clusterMembers, type ClusterName } from '../core/clusters.js';
import type { Finding } from '../core/safety.js';
import { companionFindings, companionViews } from '../core/companions.js';
import { faultToleranceOf, majorityOf } from '../core/quorum.js';
import { declaredConfig, offlineFacts, type ClusterFacts, type LiveFacts, type NodeConfig } from '../plan/facts.js';
import { failedOverConfig } from '../plan/failover.js';
import type { Topology } from '../topology/model.js';
import { mesosLeaderHazards, mesosQuorums, mesosRecoveredLeader, withMesosFacts } from '../components/mesos/judge.js';
import { withZookeeperFacts, zookeeperQuorums, zookeeperServing } from '../components/zookeeper/judge.js';
import {
  etcdLiveFacts,
  etcdMembershipNotes,
  etcdNodeNotes,
  etcdQuorums,
  withEtcdFacts,
} from '../components/etcd/judge.js';
import type { ClusterObservation, NodeObservation } from './observe.js';
import { parseEnsemble } from '../components/zookeeper/settings.js';

export type Mode = 'normal' | 'failed-over' | 'split-brain-risk' | 'mixed';
export type ConfigKind = 'declared' | 'failed-over' | 'other' | 'unknown';

export interface LiveCluster {
  cluster: ClusterName;
  members: string[];
  /** Nodes that serve as part of a quorum, grouped by the quorum they belong to. */
  quorums: { members: string[]; leader?: string }[];
  /** Freshness per member (etcd applied index, ZooKeeper zxid, Mesos registry version). */
  positions: Record<string, string>;
}

export interface StatusReport {
  cluster: string;
  observedAt: string;
  mode: Mode;
  hazards: Finding[];
  notes: Finding[];
  nodes: (NodeObservation & { configKind: ConfigKind })[];
  clusters: LiveCluster[];
  dcs: Record<string, { nodes: number; sshReachable: number }>;
  versions: Partial<Record<'etcd' | 'zookeeper' | 'mesos', string[]>>;
  /** Nodes of the lost DC that came back holding their old configuration. */
  returning: string[];
}

const FIELDS: (keyof NodeConfig)[] = ['masterCount', 'mesosQuorum', 'ensemble', 'etcdForceNewCluster'];

/** A value as what it means: the order of the ensemble's servers says nothing to ZooKeeper. */
function canonical(f: keyof NodeConfig, v: string | undefined): string | null {
  if (v === undefined) return null;
  if (f !== 'ensemble') return v;
  const members = parseEnsemble(v);
  return members === null
    ? v
    : members
        .map((m) => `${m.id}:${m.address}`)
        .sort()
        .join(',');
}

function sameConfig(a: NodeConfig, b: NodeConfig | undefined): boolean {
  return b !== undefined && FIELDS.every((f) => canonical(f, a[f]) === canonical(f, b[f]));
}

/** Which configuration a node's files hold: the topology's, the failed-over one, or neither. */
export function configKind(t: Topology, obs: NodeObservation): ConfigKind {
  if (obs.config === null) return 'unknown';
  if (sameConfig(obs.config, declaredConfig(t)[obs.name])) return 'declared';
  const over = failedOverConfig(offlineFacts(t), t.datacenters.main)[obs.name];
  if (over && sameConfig(obs.config, over)) return 'failed-over';
  return 'other';
}

/** How each component groups its live members into quorums (and where each one stands). */
const QUORUMS: Record<
  ClusterName,
  (members: NodeObservation[], positions: Record<string, string>, quorums: LiveCluster['quorums']) => void
> = { exhibitor: zookeeperQuorums, mesos: mesosQuorums, etcd: etcdQuorums };

function liveClusters(o: ClusterObservation): LiveCluster[] {
  const out: LiveCluster[] = [];
  for (const c of CLUSTERS) {
    const members = clusterMembers(o.nodes, c);
    if (members.length === 0) continue;
    const positions: Record<string, string> = {};
    const quorums: LiveCluster['quorums'] = [];
    QUORUMS[c](members, positions, quorums);
    out.push({ cluster: c, members: members.map((m) => m.name), quorums, positions });
  }
  return out;
}

export function judge(t: Topology, o: ClusterObservation): StatusReport {
  const nodes = o.nodes.map((n) => ({ ...n, configKind: configKind(t, n) }));
  const hazards: Finding[] = [];
  const notes: Finding[] = [];
  const main = t.datacenters.main;

  // Mode, from the files.
  const readable = nodes.filter((n) => n.configKind !== 'unknown');
  const survivorsFailedOver = nodes
    .filter((n) => n.dc !== main && n.roles.length > 0)
    .every((n) => n.configKind === 'failed-over');
  const mainNodes = nodes.filter((n) => n.dc === main);
  const anyActive = (n: NodeObservation) =>
    Object.values(n.units).some((u) => u === 'active') || CLUSTERS.some((c) => n.ports[c] === 'open');
  // Only after a failover do main nodes "return": before it, they are simply the cluster.
  let returning: string[] = [];
  let mode: Mode;
  if (readable.length > 0 && readable.every((n) => n.configKind === 'declared')) {
    mode = 'normal';
  } else if (survivorsFailedOver && mainNodes.every((n) => n.configKind === 'unknown' || n.configKind === 'declared')) {
    returning = mainNodes.filter((n) => n.configKind !== 'unknown' && anyActive(n)).map((n) => n.name);
    mode = returning.length > 0 ? 'split-brain-risk' : 'failed-over';
    if (returning.length > 0) {
      hazards.push({
        code: 'split-brain-risk',
        message: `${returning.join(', ')} of ${main} came back with the configuration from before the failover and run services: their majority can elect its own leaders. Quarantine them (dcfail failback does it first).`,
      });
    } else if (mainNodes.some((n) => n.configKind !== 'unknown')) {
      notes.push({
        code: 'returning-quiet',
        message: `${mainNodes
          .filter((n) => n.configKind !== 'unknown')
          .map((n) => n.name)
          .join(', ')} of ${main} are reachable with their old files and no service running: ready for failback`,
      });
    }
  } else {
    mode = 'mixed';
    for (const n of nodes) {
      if (n.configKind === 'other') {
        notes.push({
          code: 'config-disagrees',
          message: `${n.name}: files hold ${describe(n.config!)}, neither the topology's configuration nor the failed-over one`,
        });
      }
    }
  }

  // Live quorums.
  const clusters = liveClusters(o);
  for (const lc of clusters) {
    const title = CLUSTER_TITLE[lc.cluster];
    if (lc.quorums.length === 0) {
      hazards.push({
        code: 'no-quorum',
        cluster: lc.cluster,
        message: `${title} has no quorum: no leader among ${lc.members.join(', ')}`,
      });
    } else if (lc.quorums.length > 1) {
      mode = 'split-brain-risk';
      hazards.push({
        code: 'split-brain',
        cluster: lc.cluster,
        message: `${title} has ${lc.quorums.length} leaders: ${lc.quorums.map((q) => `{${q.members.join(', ')}} led by ${q.leader ?? '?'}`).join(' and ')}`,
      });
    } else if (lc.cluster === 'mesos') {
      hazards.push(...mesosLeaderHazards(o, lc.quorums[0]!.leader, title));
    }
  }
  if (mode === 'normal' || mode === 'failed-over') {
    for (const lc of clusters) {
      if (lc.quorums.length !== 1) continue;
      const f = faultTolerance(lc);
      if (!f) continue;
      // After a failover the survivors alone are the cluster: expected, a note.
      if (mode === 'normal') hazards.push(f);
      else notes.push(f);
    }
  }
  if (mode === 'mixed') {
    hazards.push({
      code: 'half-done',
      message:
        'files of both kinds: a failover or failback stopped halfway; run the same dcfail failback (or failover) again to continue',
    });
  }
  for (const n of nodes) {
    notes.push(...etcdNodeNotes(n));
    if (n.ssh.ok && n.config === null && n.roles.length > 0)
      notes.push({
        code: 'files-unreadable',
        message: `${n.name}: ${n.fileErrors.join('; ') || 'files unreadable'}: status undetermined`,
      });
    else for (const e of n.fileErrors) notes.push({ code: 'file-unreadable', message: `${n.name}: ${e}` });
  }
  if (mode === 'normal') notes.push(...etcdMembershipNotes(t, o));

  const dcs: StatusReport['dcs'] = {};
  for (const n of nodes) {
    const d = (dcs[n.dc] ??= { nodes: 0, sshReachable: 0 });
    d.nodes += 1;
    if (n.ssh.ok) d.sshReachable += 1;
  }
  for (const [dc, d] of Object.entries(dcs)) {
    if (d.sshReachable > 0) continue;
    const finding = { code: 'dc-unreachable', message: `${dc}: none of its ${d.nodes} nodes answers SSH` };
    // After a failover the lost main DC is expected to stay down: what would hurt is its return.
    if (mode === 'failed-over' && dc === main)
      notes.push({ ...finding, message: `${finding.message} (the DC the cluster failed over from)` });
    else hazards.push(finding);
  }
  const versions: StatusReport['versions'] = {};
  const add = (k: keyof StatusReport['versions'], v: string | undefined) => {
    if (v && !(versions[k] ??= []).includes(v)) versions[k]!.push(v);
  };
  for (const n of nodes) {
    add('etcd', n.etcd?.version);
    add('zookeeper', n.zk?.version);
    add('mesos', n.mesos?.version);
  }
  return {
    cluster: o.cluster,
    observedAt: o.observedAt,
    mode,
    hazards,
    notes,
    nodes,
    clusters,
    dcs,
    versions,
    returning,
  };
}

/** A cluster whose single quorum cannot lose one more member (when its size allows any loss at all). */
function faultTolerance(lc: LiveCluster): Finding | null {
  const total = lc.members.length;
  const up = lc.quorums[0]!.members.length;
  if (faultToleranceOf(total) < 1 || up - majorityOf(total) >= 1) return null;
  const down = lc.members.filter((m) => !lc.quorums[0]!.members.includes(m));
  return {
    code: 'no-fault-tolerance',
    cluster: lc.cluster,
    message: `${CLUSTER_TITLE[lc.cluster]}: ${up} of ${total} members up${down.length > 0 ? ` (${down.join(', ')} down)` : ''}: no fault tolerance left, losing one more stops it`,
  };
}

function describe(c: NodeConfig): string {
  return Object.entries(c)
    .filter(([k]) => FIELDS.includes(k as keyof NodeConfig))
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

/** True when the state is known well enough to judge: a node answered SSH, and every node that did had its files read. */
export function isDetermined(o: ClusterObservation): boolean {
  return o.nodes.some((n) => n.ssh.ok) && !o.nodes.some((n) => n.ssh.ok && n.config === null && n.roles.length > 0);
}

/**
 * The facts an online plan starts from: the topology's paths and units, with each reachable
 * node's files and live positions as observed. Unreachable nodes keep the topology's declared
 * configuration (an assumption the plan records). `original` is what a failback restores.
 */
export function factsFromObservation(
  t: Topology,
  o: ClusterObservation,
  original?: Record<string, NodeConfig>,
): ClusterFacts {
  const base = offlineFacts(t);
  const byName = new Map(o.nodes.map((n) => [n.name, n]));
  const live: LiveFacts = {
    zkServing: zookeeperServing(o),
    mesosLeader: mesosRecoveredLeader(o),
    etcd: etcdLiveFacts(o),
    active: Object.fromEntries(
      o.nodes.map((n) => [n.name, Object.fromEntries(Object.entries(n.units).map(([c, u]) => [c, u === 'active']))]),
    ),
  };
  return {
    ...base,
    mode: 'online',
    live,
    original: original ?? base.original,
    nodes: base.nodes.map((f) => {
      const n = byName.get(f.name);
      if (!n) return f;
      // A copy: the planner edits its nodes' settings as it plans, and `original` may hold the same values.
      const next = { ...f, config: { ...(n.config ?? f.config) } };
      withEtcdFacts(next, n);
      withZookeeperFacts(next, n);
      withMesosFacts(next, n, live.mesosLeader);
      return next;
    }),
  };
}

/**
 * The plan's words for the other quorum services on the masters (core/companions.ts) when
 * `lostDc` is lost: IAM down while failed over, Marathon and Metronome back with ZooKeeper.
 */
export function companionWarnings(o: ClusterObservation, lostDc: string): Finding[] {
  const masters = o.nodes.filter((n) => n.roles.includes('mesos'));
  return companionFindings(companionViews(masters), Object.fromEntries(masters.map((n) => [n.name, n.dc])), lostDc);
}
