/**
 * One replica of a Mesos replicated log: its on-disk state and its answers to the Paxos messages,
 * rule for rule from apache/mesos src/log/replica.cpp (ReplicaProcess) and src/log/leveldb.cpp
 * (what a restart restores). Everything here is synchronous on purpose: a libprocess actor handles
 * one message at a time, and a synchronous handler in Node is just as atomic.
 *
 * On disk (our own format; Mesos uses LevelDB with the same two kinds of record):
 *   <dir>/LOCK                          the pid of the process that has it open (LevelDB's lock, see heldBy)
 *   <dir>/METADATA                      {"status":"VOTING","promised":3}
 *   <dir>/positions/<20-digit pos>.json one Action per position:
 *       {"position":4,"promised":3,"performed":3,"learned":true,"type":"APPEND","value":"..."}
 * Every file is written to a temporary name, fsync'd, renamed over the old one, and the directory
 * fsync'd: a crash leaves the old record or the new one, never half of one. The files carry no
 * host identity, so a byte copy of the directory is the same replica, promise included (as a copy
 * of Mesos' LevelDB directory is).
 */
import { closeSync, fsyncSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, writeFileSync, writeSync } from 'node:fs';

/** src/messages/log.proto Metadata.Status (RECOVERING: catching up, not yet allowed to vote). */
export type ReplicaStatus = 'EMPTY' | 'STARTING' | 'VOTING' | 'RECOVERING';

export interface Metadata {
  readonly status: ReplicaStatus;
  readonly promised: number;
}

/** src/messages/log.proto Action, reduced to NOP and APPEND (the lab never truncates). */
export interface Action {
  readonly position: number;
  readonly promised: number;
  readonly performed?: number;
  readonly learned?: boolean;
  readonly type?: 'NOP' | 'APPEND';
  /** APPEND's bytes, as a UTF-8 string. */
  readonly value?: string;
}

export type ReplyType = 'ACCEPT' | 'REJECT' | 'IGNORED';

export interface RecoverResponse {
  readonly status: ReplicaStatus;
  readonly begin?: number;
  readonly end?: number;
}

export interface PromiseRequest {
  readonly proposal: number;
  /** Set: an explicit promise for one position; unset: the implicit promise of an election. */
  readonly position?: number;
}

export interface PromiseResponse {
  readonly type: ReplyType;
  readonly okay: boolean;
  readonly proposal: number;
  readonly position?: number;
  readonly action?: Action;
}

export interface WriteRequest {
  readonly proposal: number;
  readonly position: number;
  readonly learned?: boolean;
  readonly type: 'NOP' | 'APPEND';
  readonly value?: string;
}

export interface WriteResponse {
  readonly type: ReplyType;
  readonly okay: boolean;
  readonly proposal: number;
  readonly position: number;
}

const METADATA = 'METADATA';
const POSITIONS = 'positions';
const LOCK = 'LOCK';

/**
 * LevelDB's LOCK (util/env_posix.cc LockFile): a process that has the database open holds it, a
 * second one's open fails with "IO error: lock <dir>/LOCK: Resource temporarily unavailable", and
 * the lock goes with the process. Node has no fcntl lock, so the holder's pid is written in LOCK:
 * held while that pid lives as a process of ours (a master or the log tool). The file itself stays,
 * as LevelDB's does, and is copied with the directory.
 */
function heldBy(dir: string): number | undefined {
  let text: string;
  try {
    text = readFileSync(`${dir}/${LOCK}`, 'utf8').trim();
  } catch {
    return undefined;
  }
  const pid = Number(text);
  if (!/^\d+$/.test(text) || pid === process.pid) return undefined;
  let cmdline: string;
  try {
    cmdline = readFileSync(`/proc/${pid}/cmdline`, 'utf8');
  } catch {
    return undefined;
  }
  return /mesos-(master|log)\.js/.test(cmdline) ? pid : undefined;
}

export function positionFile(position: number): string {
  return `${String(position).padStart(20, '0')}.json`;
}

/** Writes `text` to `dir/name` atomically and durably (temp file, fsync, rename, fsync of the directory). */
function writeAtomic(dir: string, name: string, text: string): void {
  const tmp = `${dir}/.${name}.${process.pid}.tmp`;
  writeFileSync(tmp, text, { mode: 0o644 });
  const fd = openSync(tmp, 'r+');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, `${dir}/${name}`);
  const dfd = openSync(dir, 'r');
  try {
    fsyncSync(dfd);
  } finally {
    closeSync(dfd);
  }
}

function isStatus(v: unknown): v is ReplicaStatus {
  return v === 'EMPTY' || v === 'STARTING' || v === 'VOTING' || v === 'RECOVERING';
}

function parseAction(text: string, file: string): Action {
  const o = JSON.parse(text) as Record<string, unknown>;
  if (typeof o.position !== 'number' || typeof o.promised !== 'number') throw new Error(`${file}: not an action record`);
  return o as unknown as Action;
}

export class Replica {
  readonly dir: string;
  private metadata: Metadata;
  private readonly actions = new Map<number, Action>();
  /** No truncation in the lab: the log always begins at 0. */
  readonly begin = 0;
  private endPos = 0;

  private constructor(dir: string, metadata: Metadata) {
    this.dir = dir;
    this.metadata = metadata;
  }

  /**
   * Opens (creating if need be) the replica in `dir`. A missing METADATA is an EMPTY replica that
   * promised nothing, as LevelDBStorage::restore starts from (src/log/leveldb.cpp). An unreadable
   * record is fatal, as ReplicaProcess::restore exits on it ("Failed to recover the log").
   */
  static open(dir: string): Replica {
    mkdirSync(`${dir}/${POSITIONS}`, { recursive: true });
    if (heldBy(dir) !== undefined) throw new Error(`IO error: lock ${dir}/${LOCK}: Resource temporarily unavailable`);
    writeAtomic(dir, LOCK, `${process.pid}\n`);
    let metadata: Metadata = { status: 'EMPTY', promised: 0 };
    let text: string | undefined;
    try {
      text = readFileSync(`${dir}/${METADATA}`, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
    if (text !== undefined) {
      const o = JSON.parse(text) as Record<string, unknown>;
      if (!isStatus(o.status) || typeof o.promised !== 'number') throw new Error(`${dir}/${METADATA}: not a replica metadata record`);
      metadata = { status: o.status, promised: o.promised };
    } else {
      writeAtomic(dir, METADATA, `${JSON.stringify(metadata)}\n`);
    }
    const r = new Replica(dir, metadata);
    for (const f of readdirSync(`${dir}/${POSITIONS}`)) {
      if (!/^\d{20}\.json$/.test(f)) continue;
      const a = parseAction(readFileSync(`${dir}/${POSITIONS}/${f}`, 'utf8'), f);
      r.actions.set(a.position, a);
      r.endPos = Math.max(r.endPos, a.position);
    }
    return r;
  }

  /** Lets the database go (LevelDB: the lock is released when the DB is deleted); the LOCK file stays. */
  close(): void {
    writeAtomic(this.dir, LOCK, '');
  }

  get status(): ReplicaStatus {
    return this.metadata.status;
  }
  get promised(): number {
    return this.metadata.promised;
  }
  /** The last position written (0 for an empty log). */
  get end(): number {
    return this.endPos;
  }

  read(position: number): Action | undefined {
    return this.actions.get(position);
  }

  /** Every stored action, by position (for the lab's raw-log endpoint and the tests). */
  all(): Action[] {
    return [...this.actions.values()].sort((a, b) => a.position - b.position);
  }

  /** A position is missing when it is a hole or not learned (ReplicaProcess::missing). */
  missing(from: number, to: number): number[] {
    const out: number[] = [];
    for (let p = Math.max(from, this.begin); p <= to; p++) if (!this.actions.get(p)?.learned) out.push(p);
    return out;
  }

  /** ReplicaProcess::update: persists the status, keeping the promise. */
  updateStatus(status: ReplicaStatus): void {
    this.persistMetadata({ status, promised: this.metadata.promised });
  }

  private persistMetadata(m: Metadata): void {
    writeAtomic(this.dir, METADATA, `${JSON.stringify(m)}\n`);
    this.metadata = m;
  }

  /** ReplicaProcess::persist: one action, durably; it updates the end of the log. */
  persist(action: Action): void {
    writeAtomic(`${this.dir}/${POSITIONS}`, positionFile(action.position), `${JSON.stringify(action)}\n`);
    this.actions.set(action.position, action);
    this.endPos = Math.max(this.endPos, action.position);
  }

  /** ReplicaProcess::recover: the status, and for a VOTING replica its begin and end. */
  onRecover(): RecoverResponse {
    return this.status === 'VOTING' ? { status: this.status, begin: this.begin, end: this.end } : { status: this.status };
  }

  /** ReplicaProcess::promise (src/log/replica.cpp), rule for rule. */
  onPromise(req: PromiseRequest): PromiseResponse {
    // Not VOTING: the request is ignored (and the proposer told so).
    if (this.status !== 'VOTING') return { type: 'IGNORED', okay: false, proposal: req.proposal };
    if (req.position !== undefined) {
      const action = this.read(req.position);
      if (action === undefined) {
        // The position is implicitly promised: no promise to a lower or equal proposal.
        if (req.proposal <= this.promised) return { type: 'REJECT', okay: false, proposal: this.promised };
        this.persist({ position: req.position, promised: req.proposal });
        return { type: 'ACCEPT', okay: true, proposal: req.proposal, position: req.position };
      }
      if (req.proposal <= action.promised) return { type: 'REJECT', okay: false, proposal: action.promised };
      this.persist({ ...action, promised: req.proposal });
      // The original action goes back, so the proposer can keep a performed or learned value.
      return { type: 'ACCEPT', okay: true, proposal: req.proposal, action };
    }
    // Implicit promise (election): given only once per proposal number, and it returns the end.
    if (req.proposal <= this.promised) return { type: 'REJECT', okay: false, proposal: this.promised };
    this.persistMetadata({ status: this.status, promised: req.proposal });
    return { type: 'ACCEPT', okay: true, proposal: req.proposal, position: this.end };
  }

  /**
   * ReplicaProcess::write (src/log/replica.cpp). Returns undefined when the replica sends no reply
   * at all: a write to a position it has already LEARNED is dropped silently, so a learned position
   * is never overwritten by a write (MESOS-1271).
   */
  onWrite(req: WriteRequest): WriteResponse | undefined {
    if (this.status !== 'VOTING') return { type: 'IGNORED', okay: false, proposal: req.proposal, position: req.position };
    const action = this.read(req.position);
    const written = (promised: number): Action => ({
      position: req.position,
      promised,
      performed: req.proposal,
      ...(req.learned ? { learned: true } : {}),
      type: req.type,
      ...(req.type === 'APPEND' ? { value: req.value ?? '' } : {}),
    });
    if (action === undefined) {
      if (req.proposal < this.promised) return { type: 'REJECT', okay: false, proposal: this.promised, position: req.position };
      this.persist(written(this.promised));
      return { type: 'ACCEPT', okay: true, proposal: req.proposal, position: req.position };
    }
    if (req.proposal < action.promised) return { type: 'REJECT', okay: false, proposal: action.promised, position: req.position };
    if (action.learned) return undefined;
    this.persist(written(action.promised));
    return { type: 'ACCEPT', okay: true, proposal: req.proposal, position: req.position };
  }

  /**
   * ReplicaProcess::learned: the learned action is persisted as it comes, whatever the status and
   * whatever the position held before (replica.cpp has no check here: a learned notice from a
   * coordinator DOES replace a divergent learned value at that position).
   */
  onLearned(action: Action): void {
    if (!action.learned) throw new Error(`learned notice for position ${action.position} is not learned`);
    this.persist(action);
  }
}
