/**
 * The hands of dcfail: one small interface for everything done on a node (or on the operator's
 * own machine). Runbooks and probes depend on this, never on ssh2 or execa.
 */
import type { Readable, Writable } from 'node:stream';
import type { TopologyNode } from '../topology/model.js';

/**
 * The outcome of one command. Success and failure share this shape (as execa's does): a non-zero
 * exit is a result to judge, not an exception. Only a transport failure (connection lost,
 * channel refused) throws.
 */
export interface ExecResult {
  /** The command's exit status; null when it was killed by a signal or timed out. */
  readonly exitCode: number | null;
  /** The signal that ended it (`KILL`, `TERM`, without `SIG`), when one did. */
  readonly signal: string | null;
  readonly stdout: string;
  readonly stderr: string;
  /** The command ran past `timeoutMs` and was killed; stdout/stderr hold what came before. */
  readonly timedOut: boolean;
  readonly durationMs: number;
}

export interface ExecOptions {
  /** Kill the command after this long; the result then has `timedOut: true`. */
  readonly timeoutMs?: number;
  /** Run as root through `sudo -n`. Defaults to the node's `ssh.sudo`. */
  readonly sudo?: boolean;
  /** Fed to the command's stdin, then EOF. Without it stdin is closed at once. */
  readonly stdin?: string;
  /** Kill the command once its stdout or stderr exceeds this (default EXEC_MAX_OUTPUT). */
  readonly maxOutputBytes?: number;
  /**
   * Streamed into the command's stdin as it comes, with back-pressure (never held whole), then EOF.
   * Not together with `stdin`.
   */
  readonly stdinFrom?: Readable;
  /**
   * The command's stdout goes here as it comes, with back-pressure, and is ended with it; the
   * result's stdout is then empty and `maxOutputBytes` bounds stderr only.
   */
  readonly stdoutTo?: Writable;
  /** Aborting kills the command; the result comes back as the command ends. */
  readonly signal?: AbortSignal;
}

/** An exec without its own timeout gets this one: nothing a node does may hold a run for ever. */
export const EXEC_DEFAULT_TIMEOUT_MS = 10 * 60_000;
/** An exec's output beyond this is refused (the command is killed): a node cannot exhaust our memory. */
export const EXEC_MAX_OUTPUT = 256 * 1024 * 1024;
/** Reads: regular files only, at most this many bytes, within this time. */
export const READ_MAX_BYTES = 1024 * 1024;
export const READ_TIMEOUT_MS = 30_000;

export interface ReadOptions {
  /** Read as root through `sudo -n`. Defaults to the node's `ssh.sudo`. */
  readonly sudo?: boolean;
  /** Refuse a file larger than this (default READ_MAX_BYTES). */
  readonly maxBytes?: number;
}

export interface WriteOptions {
  /**
   * Where to keep a copy of the file as it was before this write: the copy goes to
   * `<backupDir>/<real path>` (the tree is mirrored, so names cannot collide). A backup is never
   * overwritten: when that copy already exists the write fails (`backup-exists`) and nothing is
   * changed. Give each run and each step its own directory. Without it no backup is kept.
   */
  readonly backupDir?: string;
  /** Write as root through `sudo -n`. Defaults to the node's `ssh.sudo`. */
  readonly sudo?: boolean;
}

/**
 * What a write did. `changed: false` means the file already held exactly this content: nothing
 * was written and no backup taken, so a step can be re-run safely.
 */
export interface WriteResult {
  /** The file really written: the target after every symlink is followed. */
  readonly path: string;
  /** The backup taken, or null (no backupDir, the file did not exist, or nothing changed). */
  readonly backup: string | null;
  readonly changed: boolean;
}

/**
 * One node (or the local machine). Paths are absolute.
 *
 * `writeFileAtomic` guarantees: the file is replaced whole or not at all (temp file in the same
 * directory, fsync, rename); the old owner and mode are kept; a symlink is edited through (its
 * target is replaced, the link stays a link); on any failure the old file is intact and no temp
 * file is left.
 */
export interface Remote {
  /** The node's name in the topology (`local` for the operator's machine). */
  readonly node: string;
  readonly address: string;
  exec(command: string, opts?: ExecOptions): Promise<ExecResult>;
  /** The file's content (UTF-8), or null when it does not exist. */
  readFile(path: string, opts?: ReadOptions): Promise<string | null>;
  writeFileAtomic(path: string, content: string, opts?: WriteOptions): Promise<WriteResult>;
  close(): Promise<void>;
}

/**
 * Where the code that acts on nodes gets them: one Remote per node, kept for the run and closed
 * together at its end. Callers depend on this, not on a transport: `RemotePool` (ssh.ts) is the
 * one over SSH; a pool of LocalRemote (local.ts) serves a machine that is its own node.
 */
export interface Remotes {
  get(node: TopologyNode): Promise<Remote>;
  closeAll(): Promise<void>;
}
