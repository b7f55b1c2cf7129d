/**
 * The safety core: pure rules that decide whether a failover may be planned at all. No I/O, no
 * clock; everything it needs comes in as arguments, so tests can enumerate it exhaustively.
 */
import { CLUSTERS, CLUSTER_TITLE, clusterMembers, type ClusterName } from './clusters.js';
import { faultToleranceOf, holdsMajority, isEvenSplit, majorityOf } from './quorum.js';

/** A refusal or a warning: a stable code for machines and one sentence for people. */
export interface Finding {
  code: string;
  message: string;
  cluster?: ClusterName;
}

export interface SafetyNode {
  readonly name: string;
  readonly dc: string;
  readonly roles: readonly string[];
}

export interface SafetyInput {
  readonly main: string;
  readonly secondary: string;
  readonly nodes: readonly SafetyNode[];
}

/** How one cluster sits across the two DCs, and what it becomes once `lostDc` is gone. */
export interface ClusterSplit {
  cluster: ClusterName;
  members: number;
  inMain: number;
  inSecondary: number;
  /** Members outside the lost DC: the target membership after a failover. */
  survivors: string[];
}

export type FailoverVerdict =
  /** The lost DC holds a minority everywhere: the rest keeps its quorum, nothing to do. */
  | { kind: 'no-action'; splits: ClusterSplit[]; warnings: Finding[] }
  /** Quorum is lost: the survivors must be reconfigured. */
  | { kind: 'failover'; splits: ClusterSplit[]; warnings: Finding[] }
  | { kind: 'refused'; splits: ClusterSplit[]; refusals: Finding[]; warnings: Finding[] };

function splitOf(input: SafetyInput, cluster: ClusterName, lostDc: string): ClusterSplit {
  const members = clusterMembers(input.nodes, cluster);
  return {
    cluster,
    members: members.length,
    inMain: members.filter((n) => n.dc === input.main).length,
    inSecondary: members.filter((n) => n.dc === input.secondary).length,
    survivors: members.filter((n) => n.dc !== lostDc).map((n) => n.name),
  };
}

/** Rules that hold for the topology itself, whichever DC is lost. */
export function topologyRefusals(input: SafetyInput): Finding[] {
  const refusals: Finding[] = [];
  for (const cluster of CLUSTERS) {
    const s = splitOf(input, cluster, input.main);
    if (s.members === 0) continue;
    const title = CLUSTER_TITLE[cluster];
    if (isEvenSplit(s.inMain, s.inSecondary)) {
      refusals.push({
        code: 'even-split',
        cluster,
        message: `${title} is split evenly (${s.inMain} in ${input.main}, ${s.inSecondary} in ${input.secondary}): neither DC can hold a majority`,
      });
    } else if (!holdsMajority(s.inMain, s.members)) {
      refusals.push({
        code: 'main-not-majority',
        cluster,
        message: `${title}: the main DC ${input.main} holds ${s.inMain} of ${s.members} members, not a strict majority (${majorityOf(s.members)}); swap main and secondary in the topology or move members`,
      });
    }
  }
  return refusals;
}

/** Warnings about the topology in peacetime: even clusters, clusters without fault tolerance. */
export function topologyWarnings(input: SafetyInput): Finding[] {
  const warnings: Finding[] = [];
  for (const cluster of CLUSTERS) {
    const s = splitOf(input, cluster, input.main);
    if (s.members === 0) continue;
    const title = CLUSTER_TITLE[cluster];
    if (s.members % 2 === 0) {
      warnings.push({
        code: 'even-cluster',
        cluster,
        message: `${title} has ${s.members} members: an even size tolerates no more failures than ${s.members - 1}`,
      });
    }
    if (s.inSecondary === 0) {
      warnings.push({
        code: 'no-member-in-secondary',
        cluster,
        message: `${title} has no member in ${input.secondary}: it cannot fail over there`,
      });
    }
  }
  return warnings;
}

/**
 * May the cluster be failed over away from `lostDc`? The rules:
 * - the main DC holds a strict majority of every cluster (else the topology is mislabelled);
 * - losing the secondary DC needs no action: the main DC keeps every quorum;
 * - losing the main DC needs at least one member of every cluster in the secondary DC.
 */
export function assessFailover(input: SafetyInput, lostDc: string): FailoverVerdict {
  const splits = CLUSTERS.map((c) => splitOf(input, c, lostDc)).filter((s) => s.members > 0);
  const refusals = topologyRefusals(input);
  const warnings: Finding[] = [];
  if (refusals.length > 0) return { kind: 'refused', splits, refusals, warnings };
  if (lostDc === input.secondary) {
    return { kind: 'no-action', splits, warnings };
  }
  for (const s of splits) {
    const title = CLUSTER_TITLE[s.cluster];
    const n = s.survivors.length;
    if (n === 0) {
      refusals.push({
        code: 'no-survivor',
        cluster: s.cluster,
        message: `${title} has no member in ${input.secondary}: nothing to fail over to`,
      });
      continue;
    }
    if (n % 2 === 0) {
      warnings.push({
        code: 'even-target',
        cluster: s.cluster,
        message: `${title} will run ${n} members in ${input.secondary}: an even size needs all ${majorityOf(n)} of them for quorum`,
      });
    }
    if (faultToleranceOf(n) === 0) {
      warnings.push({
        code: 'no-redundancy',
        cluster: s.cluster,
        message: `${title} will have no redundancy in ${input.secondary} (${n} member${n === 1 ? '' : 's'}, quorum ${majorityOf(n)}): losing one more member stops it`,
      });
    }
  }
  if (refusals.length > 0) return { kind: 'refused', splits, refusals, warnings };
  warnings.unshift(FORCED_FAILOVER_WARNING(lostDc));
  return { kind: 'failover', splits, warnings };
}

/** Said in plain words in every failover plan. */
function FORCED_FAILOVER_WARNING(lostDc: string): Finding {
  return {
    code: 'forced-failover-data-loss',
    message: `This is a forced recovery from quorum loss: writes that were committed only in ${lostDc} (acknowledged by its members alone) are not on the survivors and will be gone. The freshest survivor seeds each cluster.`,
  };
}
