/**
 * The ssh2 transport: one connection per node, opened on first use (in parallel, within a
 * concurrency bound) and reused by every later step. Host keys are always checked against the
 * node's known_hosts file; an unknown, changed or revoked key is a refusal.
 */
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { performance } from 'node:perf_hooks';
import ssh2, { type Client as SshClient, type ClientChannel, type ConnectConfig } from 'ssh2';

const { Client, utils: sshUtils } = ssh2;
import { DcfailError, OperationError, UserError } from '../errors.js';
import type { TopologyNode } from '../topology/model.js';
import type { SshConfig } from '../topology/schema.js';
import {
  hostKeyRefusal,
  parseKnownHosts,
  preferredHostKeyAlgorithms,
  verifyHostKey,
  type KnownHostEntry,
} from './known-hosts.js';
import { buildExecLine } from './shell.js';
import {
  EXEC_DEFAULT_TIMEOUT_MS,
  EXEC_MAX_OUTPUT,
  READ_MAX_BYTES,
  READ_TIMEOUT_MS,
  type ExecOptions,
  type ExecResult,
  type ReadOptions,
  type Remote,
  type Remotes,
  type WriteOptions,
  type WriteResult,
} from './types.js';
import {
  checkReadSize,
  contentDigest,
  isAbsentRead,
  parseWriteResult,
  renderReadCommand,
  renderWriteScript,
} from './write-script.js';

/** The part of a topology node the transport needs. */
export type SshTarget = Pick<TopologyNode, 'name' | 'address'> & { readonly ssh: SshConfig };

export interface RemotePoolOptions {
  /** At most this many connections are being opened at once. */
  readonly concurrency?: number;
  readonly keepaliveIntervalMs?: number;
  /** Keepalives unanswered before the connection counts as dead. */
  readonly keepaliveCountMax?: number;
  /** ssh-agent socket; defaults to `SSH_AUTH_SOCK`. null: never use an agent. */
  readonly agentSocket?: string | null;
  /** For `~/` in identityFile and knownHostsFile; defaults to the user's home. */
  readonly homeDir?: string;
}

export type OpenOutcome =
  | { readonly kind: 'open'; readonly node: string; readonly remote: Remote }
  | { readonly kind: 'failed'; readonly node: string; readonly error: DcfailError };

/**
 * Connections by node name. `get` connects once and hands the same connection to every caller;
 * a connection that drops is forgotten, so the next `get` reconnects.
 */
export class RemotePool implements Remotes {
  private readonly connections = new Map<string, Promise<SshRemote>>();
  private readonly limit: Semaphore;
  private readonly files = new Map<string, Promise<Buffer>>();
  private readonly options: Required<Omit<RemotePoolOptions, 'agentSocket'>> & { agentSocket: string | null };
  /** Connections attempted so far (successful or not): shows the reuse to tests and `--verbose`. */
  connectAttempts = 0;
  /** The most connections ever being opened at the same time (never above `concurrency`). */
  peakOpening = 0;
  private opening = 0;

  constructor(options: RemotePoolOptions = {}) {
    this.options = {
      concurrency: options.concurrency ?? 16,
      keepaliveIntervalMs: options.keepaliveIntervalMs ?? 5000,
      keepaliveCountMax: options.keepaliveCountMax ?? 3,
      agentSocket: options.agentSocket === undefined ? process.env['SSH_AUTH_SOCK'] || null : options.agentSocket,
      homeDir: options.homeDir ?? homedir(),
    };
    this.limit = new Semaphore(this.options.concurrency);
  }

  /** The node's connection, opened if need be. Throws RefusedError (host key), UserError (key files) or OperationError. */
  get(node: SshTarget): Promise<Remote> {
    let pending = this.connections.get(node.name);
    if (!pending) {
      pending = this.limit.run(async () => {
        this.opening += 1;
        this.peakOpening = Math.max(this.peakOpening, this.opening);
        try {
          return await this.connect(node);
        } finally {
          this.opening -= 1;
        }
      });
      this.connections.set(node.name, pending);
      // A failed connect is not cached: the next get tries again.
      pending.catch(() => {
        if (this.connections.get(node.name) === pending) this.connections.delete(node.name);
      });
    }
    return pending;
  }

  /** Opens every node's connection in parallel (within the bound); one outcome per node, in order. */
  async openAll(nodes: readonly SshTarget[]): Promise<OpenOutcome[]> {
    return Promise.all(
      nodes.map(async (node): Promise<OpenOutcome> => {
        try {
          return { kind: 'open', node: node.name, remote: await this.get(node) };
        } catch (error) {
          if (error instanceof DcfailError) return { kind: 'failed', node: node.name, error };
          throw error;
        }
      }),
    );
  }

  /** Node names with a live (or opening) connection. */
  openNodes(): string[] {
    return [...this.connections.keys()];
  }

  async closeAll(): Promise<void> {
    const all = [...this.connections.values()];
    this.connections.clear();
    await Promise.all(all.map(async (p) => (await p.catch(() => null))?.close()));
  }

  private async connect(node: SshTarget): Promise<SshRemote> {
    const { ssh } = node;
    const knownHostsFile = this.expandHome(ssh.knownHostsFile);
    const knownHosts = parseKnownHosts(
      (await this.readLocalFile(knownHostsFile, 'known_hosts file', node)).toString('utf8'),
    );
    let privateKey: Buffer | undefined;
    if (ssh.identityFile !== undefined) {
      const keyFile = this.expandHome(ssh.identityFile);
      privateKey = await this.readLocalFile(keyFile, 'identity file', node);
      const parsed = sshUtils.parseKey(privateKey);
      // The parser's message says what is wrong (e.g. a passphrase) without quoting the key.
      if (parsed instanceof Error)
        throw new UserError('ssh-identity', `${node.name}: cannot use identity file ${keyFile}: ${parsed.message}`);
    }
    const agent = this.options.agentSocket ?? undefined;
    if (privateKey === undefined && agent === undefined) {
      throw new UserError(
        'ssh-identity',
        `${node.name}: no SSH key: set ssh.identityFile in the topology or run an ssh-agent (SSH_AUTH_SOCK)`,
      );
    }
    this.connectAttempts += 1;
    const client = await openClient(node, {
      knownHosts,
      knownHostsFile,
      privateKey,
      agent,
      keepaliveIntervalMs: this.options.keepaliveIntervalMs,
      keepaliveCountMax: this.options.keepaliveCountMax,
    });
    const remote = new SshRemote(node, client, () => {
      // Forget a dropped connection (only if it is still the one we hold).
      const current = this.connections.get(node.name);
      if (current)
        void current.then(
          (r) => r === remote && this.connections.delete(node.name),
          () => undefined,
        );
    });
    return remote;
  }

  private expandHome(path: string): string {
    return path === '~'
      ? this.options.homeDir
      : path.startsWith('~/')
        ? `${this.options.homeDir}/${path.slice(2)}`
        : path;
  }

  private readLocalFile(path: string, what: string, node: SshTarget): Promise<Buffer> {
    let pending = this.files.get(path);
    if (!pending) {
      pending = readFile(path).catch((err: NodeJS.ErrnoException) => {
        this.files.delete(path);
        throw new UserError('ssh-config', `${node.name}: cannot read ${what} ${path}: ${err.code ?? err.message}`, [], {
          cause: err,
        });
      });
      this.files.set(path, pending);
    }
    return pending;
  }
}

interface ClientOptions {
  readonly knownHosts: readonly KnownHostEntry[];
  readonly knownHostsFile: string;
  readonly privateKey: Buffer | undefined;
  readonly agent: string | undefined;
  readonly keepaliveIntervalMs: number;
  readonly keepaliveCountMax: number;
}

/** How long `close` waits for the server to acknowledge the end of the session. */
const CLOSE_GRACE_MS = 2000;

/** ssh2's socket: private, and its `destroy()` does nothing once `end()` has been called. */
function socketOf(client: SshClient): { destroy(): void } | undefined {
  return (client as unknown as { _sock?: { destroy(): void } })._sock;
}

function describe(node: SshTarget): string {
  return `${node.name} (${node.address}:${node.ssh.port})`;
}

/** Connects and authenticates; the host key is judged before any credential is sent. */
function openClient(node: SshTarget, o: ClientOptions): Promise<SshClient> {
  const { ssh } = node;
  const who = describe(node);
  return new Promise((resolve, reject) => {
    const client = new Client();
    let refusal: DcfailError | null = null;
    let settled = false;
    const settle = (error: DcfailError | null) => {
      if (settled) return;
      settled = true;
      client.removeListener('ready', onReady);
      if (error) {
        client.end();
        reject(error);
      } else {
        resolve(client);
      }
    };
    const onReady = () => settle(null);
    client.on('ready', onReady);
    // Always listen: an error after ready would otherwise crash the process.
    client.on('error', (err: Error & { level?: string; code?: string }) => {
      if (settled) return;
      settle(refusal ?? connectError(node, who, err, o));
    });
    client.on('close', () =>
      settle(refusal ?? new OperationError('ssh-connect', `${who}: connection closed during the SSH handshake`)),
    );
    const config: ConnectConfig = {
      host: node.address,
      port: ssh.port,
      username: ssh.user,
      readyTimeout: ssh.connectTimeoutMs,
      keepaliveInterval: o.keepaliveIntervalMs,
      keepaliveCountMax: o.keepaliveCountMax,
      algorithms: { serverHostKey: preferredHostKeyAlgorithms(o.knownHosts, node.address, ssh.port) as never },
      hostVerifier: (key: Buffer) => {
        const verdict = verifyHostKey(o.knownHosts, node.address, ssh.port, key);
        if (verdict.kind === 'trusted') return true;
        refusal = hostKeyRefusal(verdict, key, {
          node: node.name,
          host: node.address,
          port: ssh.port,
          knownHostsFile: o.knownHostsFile,
        });
        return false;
      },
    };
    if (o.privateKey) config.privateKey = o.privateKey;
    if (o.agent) config.agent = o.agent;
    try {
      client.connect(config);
    } catch (err) {
      settle(
        new OperationError('ssh-connect', `${who}: cannot start an SSH connection: ${(err as Error).message}`, [], {
          cause: err,
        }),
      );
    }
  });
}

function connectError(
  node: SshTarget,
  who: string,
  err: Error & { level?: string; code?: string },
  o: ClientOptions,
): OperationError {
  const opts = { cause: err };
  if (err.level === 'client-authentication') {
    const tried = [o.privateKey ? 'identity file' : null, o.agent ? 'ssh-agent' : null].filter(Boolean).join(' and ');
    return new OperationError(
      'ssh-auth',
      `${who}: authentication as '${node.ssh.user}' failed (tried ${tried})`,
      [],
      opts,
    );
  }
  if (err.level === 'client-timeout') {
    return new OperationError(
      'ssh-connect',
      `${who}: no SSH handshake within ${node.ssh.connectTimeoutMs} ms (host down or filtered?)`,
      [],
      opts,
    );
  }
  const causes: Record<string, string> = {
    ECONNREFUSED: 'connection refused (is sshd running on that port?)',
    EHOSTUNREACH: 'host unreachable',
    ENETUNREACH: 'network unreachable',
    ETIMEDOUT: 'connection timed out',
    ENOTFOUND: 'host name not found',
    EAI_AGAIN: 'host name lookup failed',
    ECONNRESET: 'connection reset by the server',
  };
  const cause = (err.code && causes[err.code]) ?? err.message;
  return new OperationError('ssh-connect', `${who}: SSH connection failed: ${cause}`, [], opts);
}

/** One node over one ssh2 connection. */
class SshRemote implements Remote {
  readonly node: string;
  readonly address: string;
  private isClosed = false;
  /** Why the connection failed after it was up (ssh2's 'Keepalive timeout', a socket error), for the messages. */
  private dropReason: string | undefined;

  constructor(
    private readonly target: SshTarget,
    private readonly client: SshClient,
    onDrop: () => void,
  ) {
    this.node = target.name;
    this.address = target.address;
    client.on('error', (err: Error) => {
      this.dropReason ??= err.message;
    });
    client.on('close', () => {
      this.isClosed = true;
      this.dropReason ??= 'closed by the server or the network';
      onDrop();
    });
  }

  /** ` (the connection dropped: <why>)` once it has, else nothing. */
  private dropped(): string {
    return this.dropReason === undefined ? '' : ` (the connection dropped: ${this.dropReason})`;
  }

  private get who(): string {
    return describe(this.target);
  }

  exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const timeoutMs = opts.timeoutMs ?? EXEC_DEFAULT_TIMEOUT_MS;
    const line = buildExecLine(command, { sudo: opts.sudo ?? this.target.ssh.sudo, timeoutMs });
    return this.run(line, opts, timeoutMs, opts.maxOutputBytes ?? EXEC_MAX_OUTPUT);
  }

  async readFile(path: string, opts: ReadOptions = {}): Promise<string | null> {
    const max = opts.maxBytes ?? READ_MAX_BYTES;
    const result = await this.exec(renderReadCommand(path, max), {
      sudo: opts.sudo,
      timeoutMs: READ_TIMEOUT_MS,
      maxOutputBytes: max + 1,
    });
    if (result.exitCode === 0) return checkReadSize(result.stdout, max, this.who, path);
    if (result.timedOut)
      throw new OperationError('remote-read', `${this.who}: reading ${path} timed out after ${READ_TIMEOUT_MS} ms`);
    if (isAbsentRead(result)) return null;
    throw new OperationError(
      'remote-read',
      `${this.who}: cannot read ${path}: ${result.stderr.trim() || `exit ${result.exitCode ?? result.signal}`}`,
    );
  }

  async writeFileAtomic(path: string, content: string, opts: WriteOptions = {}): Promise<WriteResult> {
    const script = renderWriteScript({ target: path, backupDir: opts.backupDir ?? null, ...contentDigest(content) });
    const result = await this.exec(script, { sudo: opts.sudo, stdin: content });
    return parseWriteResult(result, this.who, path);
  }

  /**
   * Ends the session. A host that lost its power never acknowledges the end (no FIN, no RST), and
   * ssh2 stops its keepalive once the session is ended: the socket would wait for TCP to give up,
   * minutes later, and with it every caller (a `status --watch` frame). So the socket is destroyed
   * after a short grace.
   */
  close(): Promise<void> {
    if (this.isClosed) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => socketOf(this.client)?.destroy(), CLOSE_GRACE_MS);
      this.client.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
      this.client.end();
    });
  }

  private run(line: string, opts: ExecOptions, timeoutMs: number, maxOutput: number): Promise<ExecResult> {
    const { stdin, stdinFrom, stdoutTo, signal: abort } = opts;
    const started = performance.now();
    return new Promise((resolve, reject) => {
      if (this.isClosed) {
        reject(new OperationError('ssh-exec', `${this.who}: the SSH connection is closed${this.dropped()}`));
        return;
      }
      this.client.exec(line, (err: Error | undefined, channel: ClientChannel) => {
        if (err) {
          reject(
            new OperationError('ssh-exec', `${this.who}: cannot run a command: ${err.message}${this.dropped()}`, [], {
              cause: err,
            }),
          );
          return;
        }
        const out: Buffer[] = [];
        const errOut: Buffer[] = [];
        let exitCode: number | null = null;
        let signal: string | null = null;
        let hasExited = false;
        let timedOut = false;
        let settled = false;
        let outBytes = 0;
        let errBytes = 0;
        let overflow = false;
        const finish = () => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          if (overflow) {
            reject(
              new OperationError(
                'ssh-exec',
                `${this.who}: the command's output exceeded ${maxOutput} bytes (its size cap); it was killed`,
              ),
            );
            return;
          }
          if (!hasExited && !timedOut) {
            reject(
              new OperationError(
                'ssh-exec',
                `${this.who}: the connection closed before the command finished; its outcome is unknown`,
              ),
            );
            return;
          }
          resolve({
            exitCode,
            signal,
            stdout: Buffer.concat(out).toString('utf8'),
            stderr: Buffer.concat(errOut).toString('utf8'),
            timedOut,
            durationMs: Math.round(performance.now() - started),
          });
        };
        // Past the cap: kill the remote command (the remote timeout wrapper goes with it) and stop reading.
        const cut = () => {
          overflow = true;
          try {
            channel.signal('KILL');
          } catch {
            /* the channel is gone already */
          }
          channel.close();
          finish();
        };
        // Streamed stdout: piped with back-pressure (the remote command waits while the reader is
        // slow), nothing kept here.
        if (stdoutTo) channel.pipe(stdoutTo);
        else
          channel.on('data', (chunk: Buffer) => {
            if (overflow) return;
            outBytes += chunk.length;
            if (outBytes > maxOutput) cut();
            else out.push(chunk);
          });
        channel.stderr.on('data', (chunk: Buffer) => {
          if (overflow) return;
          errBytes += chunk.length;
          if (errBytes > maxOutput) cut();
          else errOut.push(chunk);
        });
        channel.on('exit', (code: number | null, sig?: string) => {
          hasExited = true;
          exitCode = typeof code === 'number' ? code : null;
          signal = sig ? sig.replace(/^SIG/, '') : null;
        });
        const kill = () => {
          try {
            channel.signal('KILL');
          } catch {
            /* the channel is gone already */
          }
          channel.close();
        };
        const onAbort = () => kill();
        channel.on('close', () => {
          abort?.removeEventListener('abort', onAbort);
          finish();
        });
        channel.on('error', () => undefined); // surfaced through close
        const timer = setTimeout(() => {
          // The remote `timeout` wrapper kills the command itself (see buildExecLine).
          timedOut = true;
          channel.close();
          finish();
        }, timeoutMs);
        if (abort?.aborted) kill();
        else abort?.addEventListener('abort', onAbort, { once: true });
        if (stdinFrom) {
          // A broken source ends the command's input; the command judges what it got.
          stdinFrom.on('error', () => channel.end());
          stdinFrom.pipe(channel);
        } else channel.end(stdin === undefined ? undefined : Buffer.from(stdin, 'utf8'));
      });
    });
  }
}

/** Runs at most `max` tasks at once. */
class Semaphore {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly max: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.active >= this.max) await new Promise<void>((r) => this.waiting.push(r));
    this.active += 1;
    try {
      return await task();
    } finally {
      this.active -= 1;
      this.waiting.shift()?.();
    }
  }
}
