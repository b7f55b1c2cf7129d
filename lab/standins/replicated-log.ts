/**
 * The Mesos replicated log, reduced to the rules that decide whether a failover keeps or loses
 * the registry. A replica is EMPTY (it has no log: its disk was wiped, or it never joined),
 * STARTING (half-way through auto-initialisation) or VOTING (it holds the log and takes part in
 * quorum reads and writes).
 *
 * The rules, as Mesos' recovery protocol has them (src/log/recover.cpp):
 * - an EMPTY (or STARTING) replica becomes VOTING by catching up from at least `quorum` VOTING
 *   replicas;
 * - when every registered replica answers and none is VOTING, and they are at least `quorum`,
 *   the log auto-initialises in two phases: EMPTY -> STARTING, then STARTING -> VOTING once
 *   `quorum` replicas are STARTING or VOTING. All end up VOTING with an EMPTY registry. This is
 *   the data-loss trap: a failover that leaves only wiped replicas behind silently starts over;
 * - anything else (some VOTING, but fewer than `quorum`) waits. An EMPTY replica next to a lone
 *   VOTING one at quorum 2 stays EMPTY for ever.
 *
 * `decideRecovery` is pure; the file helpers below keep the log in one JSON file, written
 * atomically (a missing directory or file means EMPTY).
 */
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';

export type ReplicaStatus = 'EMPTY' | 'STARTING' | 'VOTING';

export interface RegistryEntry {
  readonly version: number;
  readonly data: unknown;
  readonly at: string;
}

export interface ReplicaLog {
  readonly status: ReplicaStatus;
  /** The registry version: 0 for an empty registry, +1 per write. */
  readonly version: number;
  readonly entries: readonly RegistryEntry[];
}

export const EMPTY_LOG: ReplicaLog = { status: 'EMPTY', version: 0, entries: [] };

/** What one peer answered (or that it did not answer). */
export type PeerView = { readonly kind: 'answered'; readonly address: string; readonly log: ReplicaLog } | { readonly kind: 'unreachable'; readonly address: string };

export type RecoveryDecision =
  | { readonly kind: 'already-voting' }
  | { readonly kind: 'catch-up'; readonly from: ReplicaLog; readonly voting: number }
  /** Phase 1 of auto-initialisation: every registered replica is EMPTY (or STARTING). */
  | { readonly kind: 'auto-initialize-start'; readonly empty: number }
  /** Phase 2: a quorum is STARTING (or already VOTING from it): become VOTING with an empty registry. */
  | { readonly kind: 'auto-initialize-finish'; readonly starting: number }
  | { readonly kind: 'wait'; readonly voting: number; readonly empty: number; readonly unreachable: number; readonly reason: string };

/**
 * What a replica that is not VOTING does next, given what the other registered replicas
 * answered. `peers` excludes the replica itself.
 */
export function decideRecovery(self: ReplicaLog, peers: readonly PeerView[], quorum: number): RecoveryDecision {
  if (self.status === 'VOTING') return { kind: 'already-voting' };
  const answered = peers.filter((p): p is Extract<PeerView, { kind: 'answered' }> => p.kind === 'answered');
  const voting = answered.filter((p) => p.log.status === 'VOTING');
  const starting = answered.filter((p) => p.log.status === 'STARTING').length;
  const unreachable = peers.length - answered.length;
  const empty = answered.length - voting.length - starting + (self.status === 'EMPTY' ? 1 : 0);
  if (voting.length >= quorum) {
    return { kind: 'catch-up', from: newest(voting.map((p) => p.log)), voting: voting.length };
  }
  if (self.status === 'STARTING') {
    // Only auto-initialised VOTING replicas (version 0) may count toward finishing phase 2.
    const freshVoting = voting.filter((p) => p.log.version === 0 && p.log.entries.length === 0).length;
    if (voting.length === freshVoting && starting + freshVoting + 1 >= quorum) return { kind: 'auto-initialize-finish', starting: starting + 1 };
  } else if (voting.length === 0 && unreachable === 0 && empty + starting >= quorum) {
    return { kind: 'auto-initialize-start', empty: empty + starting };
  }
  const reason =
    voting.length > 0
      ? `${voting.length} VOTING replica(s) answered, catching up needs ${quorum}`
      : unreachable > 0
        ? `${unreachable} registered replica(s) did not answer`
        : `only ${empty + starting} replica(s) registered, auto-initialisation needs ${quorum}`;
  return { kind: 'wait', voting: voting.length, empty, unreachable, reason };
}

/** The registry a quorum read returns: the highest version among the VOTING logs. */
export function newest(logs: readonly ReplicaLog[]): ReplicaLog {
  let best: ReplicaLog | undefined;
  for (const l of logs) if (!best || l.version > best.version) best = l;
  if (!best) throw new Error('newest() of no logs');
  return best;
}

/** The decision of a leader recovering its registrar: a quorum of VOTING replicas, itself included. */
export function canRecoverRegistrar(selfStatus: ReplicaStatus, votingPeers: number, quorum: number): boolean {
  return selfStatus === 'VOTING' && votingPeers + 1 >= quorum;
}

export function isReplicaLog(v: unknown): v is ReplicaLog {
  if (typeof v !== 'object' || v === null) return false;
  const o = v as Record<string, unknown>;
  return (o.status === 'EMPTY' || o.status === 'STARTING' || o.status === 'VOTING') && typeof o.version === 'number' && Array.isArray(o.entries);
}

export const LOG_FILE = 'log.json';

export async function readReplicaLog(dir: string): Promise<ReplicaLog> {
  let text: string;
  try {
    text = await readFile(`${dir}/${LOG_FILE}`, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return EMPTY_LOG;
    throw err;
  }
  const parsed: unknown = JSON.parse(text);
  if (!isReplicaLog(parsed)) throw new Error(`${dir}/${LOG_FILE}: not a replica log`);
  return parsed;
}

export async function writeReplicaLog(dir: string, log: ReplicaLog): Promise<void> {
  await mkdir(dir, { recursive: true });
  const tmp = `${dir}/.${LOG_FILE}.${process.pid}.tmp`;
  await writeFile(tmp, `${JSON.stringify(log, null, 1)}\n`, { mode: 0o644 });
  await rename(tmp, `${dir}/${LOG_FILE}`);
}
