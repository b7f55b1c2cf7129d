/**
 * ZooKeeper probes. `srvr` tells mode and zxid; a server that lost its quorum answers "not
 * currently serving requests" (and still answers ruok with imok, so ruok is never used). A test
 * write goes through the native client, every call under a deadline: it retries for ever when no
 * server serves.
 */
import { createRequire } from 'node:module';
import { fourLetterWord } from '../../probes/tcp.js';

export type ZkMode = 'leader' | 'follower' | 'standalone' | 'observer' | 'not-serving' | 'down';

export interface ZkServerStatus {
  address: string;
  port: number;
  mode: ZkMode;
  /** Decimal string (zxids are 64-bit). */
  zxid?: string;
  version?: string;
  error?: string;
}

/** Parses a `srvr` reply. */
function parseSrvr(text: string): { mode: ZkMode; zxid?: string; version?: string } {
  if (/not currently serving requests/i.test(text)) return { mode: 'not-serving' };
  const mode = /^Mode:\s*(\w+)/m.exec(text)?.[1]?.toLowerCase();
  const zxid = /^Zxid:\s*(0x[0-9a-f]+)/im.exec(text)?.[1];
  const version = /^Zookeeper version:\s*([^\s,-]+)/m.exec(text)?.[1];
  const known: ZkMode[] = ['leader', 'follower', 'standalone', 'observer'];
  return {
    mode: known.includes(mode as ZkMode) ? (mode as ZkMode) : 'not-serving',
    ...(zxid ? { zxid: BigInt(zxid).toString() } : {}),
    ...(version ? { version } : {}),
  };
}

export async function probeZkServer(address: string, port: number, timeoutMs: number): Promise<ZkServerStatus> {
  try {
    const reply = await fourLetterWord(address, port, 'srvr', timeoutMs);
    if (reply.trim() === '') return { address, port, mode: 'not-serving', error: 'empty srvr reply' };
    return { address, port, ...parseSrvr(reply) };
  } catch (err) {
    return { address, port, mode: 'down', error: (err as NodeJS.ErrnoException).code ?? (err as Error).message };
  }
}

/** How long a server takes to notice a lost leader or lost followers: syncLimit ticks of tickTime. */
export interface ZkTimers {
  tickTimeMs: number;
  syncLimit: number;
}

/**
 * Parses a `conf` reply (`tickTime=2000`, `syncLimit=5`, one setting a line). Untrusted text: only
 * small positive integers are taken, anything else is no answer.
 */
export function parseZkConf(text: string): ZkTimers | undefined {
  const int = (key: string): number | undefined => {
    const v = new RegExp(`^${key}=(\\d{1,7})\\s*$`, 'm').exec(text)?.[1];
    return v !== undefined && Number(v) > 0 ? Number(v) : undefined;
  };
  const tickTimeMs = int('tickTime');
  const syncLimit = int('syncLimit');
  return tickTimeMs !== undefined && syncLimit !== undefined ? { tickTimeMs, syncLimit } : undefined;
}

/** A server's own tickTime and syncLimit (`conf`), or undefined when it does not say. */
export async function probeZkTimers(address: string, port: number, timeoutMs: number): Promise<ZkTimers | undefined> {
  try {
    return parseZkConf(await fourLetterWord(address, port, 'conf', timeoutMs));
  } catch {
    return undefined;
  }
}

/**
 * The highest zxid named by the data dir's files (`log.<hex>`, `snapshot.<hex>`), from a
 * listing of its `version-2` directories. A lower bound of what the server holds: usable to
 * rank servers that are not serving.
 */
export function zxidFromFileNames(names: readonly string[]): string | undefined {
  let best: bigint | undefined;
  for (const n of names) {
    const m = /(?:^|\/)(?:log|snapshot)\.([0-9a-f]+)$/i.exec(n.trim());
    if (!m) continue;
    const v = BigInt(`0x${m[1]}`);
    if (best === undefined || v > best) best = v;
  }
  return best?.toString();
}

interface NativeZk {
  on(event: 'connect' | 'connecting' | 'close', cb: (...args: unknown[]) => void): void;
  init(config: object): void;
  close(): void;
  create(path: string, data: string | Buffer, flags: number): Promise<string>;
  get(path: string, watch: boolean): Promise<[unknown, Buffer | string | null]>;
  set(path: string, data: string | Buffer, version: number): Promise<unknown>;
  get_children(path: string, watch: boolean): Promise<string[]>;
  mkdirp(path: string, cb: (err: Error | null) => void): void;
}
type ZkCtor = (new (config: object) => NativeZk) & { constants: Record<string, number> };

const require = createRequire(import.meta.url);

function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    p,
    new Promise<T>(
      (_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)),
    ),
  ]).finally(() => clearTimeout(timer));
}

function rcOf(err: unknown): number | undefined {
  const e = err as { rc?: number; code?: number };
  return typeof e?.rc === 'number' ? e.rc : typeof e?.code === 'number' ? e.code : undefined;
}

/**
 * Opens a native client session to `connect` (host:port,...). Every call below has a deadline;
 * the native client must never be used after its session closed (it would crash), so a closed
 * session refuses further calls.
 */
export async function openZk(connect: string, timeoutMs: number): Promise<ZkSession> {
  const ZooKeeper = require('zookeeper') as ZkCtor;
  const zk = new ZooKeeper({
    connect,
    timeout: Math.max(timeoutMs, 4000),
    debug_level: ZooKeeper.constants['ZOO_LOG_LEVEL_ERROR'],
    host_order_deterministic: false,
    // The addon's own rule (src/node-zk.cpp zk_io_cb): 10 reads in a row without a whole packet
    // close the session as expired. An answer that trickles in over a slow WAN link does that;
    // the probe's own deadline bounds every call instead.
    response_counter_limit: 2 ** 31 - 1,
  });
  const session = new ZkSession(zk, timeoutMs, ZooKeeper.constants);
  const connected = new Promise<void>((resolve) => zk.on('connect', () => resolve()));
  zk.on('close', () => {
    session.closed = true;
  });
  zk.init({});
  try {
    await deadline(connected, timeoutMs, `ZooKeeper ${connect}`);
  } catch (err) {
    session.close();
    throw err;
  }
  return session;
}

export class ZkSession {
  closed = false;

  constructor(
    private readonly zk: NativeZk,
    private readonly timeoutMs: number,
    private readonly constants: Record<string, number>,
  ) {}

  private call<T>(what: string, fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new Error(`${what}: the ZooKeeper session is closed`));
    return deadline(fn(), this.timeoutMs, what);
  }

  mkdirp(path: string): Promise<void> {
    return this.call(
      `mkdirp ${path}`,
      () => new Promise<void>((resolve, reject) => this.zk.mkdirp(path, (err) => (err ? reject(err) : resolve()))),
    );
  }

  async put(path: string, data: string): Promise<void> {
    try {
      await this.call(`set ${path}`, () => this.zk.set(path, data, -1));
    } catch (err) {
      if (rcOf(err) !== this.constants['ZNONODE'] && !/no node/i.test(String((err as Error).message))) throw err;
      await this.call(`create ${path}`, () => this.zk.create(path, data, 0));
    }
  }

  async get(path: string): Promise<string | null> {
    try {
      const [, data] = await this.call(`get ${path}`, () => this.zk.get(path, false));
      return data === null ? '' : data.toString();
    } catch (err) {
      if (rcOf(err) === this.constants['ZNONODE'] || /no node/i.test(String((err as Error).message))) return null;
      throw err;
    }
  }

  children(path: string): Promise<string[]> {
    return this.call(`children ${path}`, () => this.zk.get_children(path, false));
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.zk.close();
  }
}

/** A test write under /dcfail and its read-back: the ensemble serves writes. */
export async function zkTestWrite(connect: string, path: string, value: string, timeoutMs: number): Promise<void> {
  const s = await openZk(connect, timeoutMs);
  try {
    await s.mkdirp(path.slice(0, path.lastIndexOf('/')) || '/');
    await s.put(path, value);
    const got = await s.get(path);
    if (got !== value) throw new Error(`read back ${JSON.stringify(got)} from ${path}, wrote ${JSON.stringify(value)}`);
  } finally {
    s.close();
  }
}
