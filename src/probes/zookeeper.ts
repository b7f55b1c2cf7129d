/**
 * ZooKeeper probes. `srvr` tells mode and zxid; a server that lost its quorum answers "not
 * currently serving requests" (and still answers ruok with imok, so ruok is never used). A test
 * write goes through the native client, every call under a deadline: it retries for ever when no
 * server serves.
 */
import { createRequire } from 'node:module';
import { fourLetterWord } from './tcp.js';

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
export function parseSrvr(text: string): { mode: ZkMode; zxid?: string; version?: string } {
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

interface ZkClient {
  init(o: object): void;
  connect(o: object, cb: (err: unknown) => void): void;
  close(): void;
  mkdirp(path: string, cb: (err: unknown) => void): void;
  a_create(path: string, data: string, flags: number, cb: (rc: number, error: string, path: string) => void): void;
  a_set(path: string, data: string, version: number, cb: (rc: number, error: string, stat: unknown) => void): void;
  a_get(path: string, watch: boolean, cb: (rc: number, error: string, stat: unknown, data: Buffer | string | null) => void): void;
  a_exists(path: string, watch: boolean, cb: (rc: number, error: string, stat: unknown) => void): void;
  a_get_children(path: string, watch: boolean, cb: (rc: number, error: string, children: string[]) => void): void;
}

const require = createRequire(import.meta.url);

function deadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([p, new Promise<T>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)))]).finally(() => clearTimeout(timer));
}

/** Opens a native client session to `connect` (host:port,...); every call below has a deadline. */
export async function openZk(connect: string, timeoutMs: number): Promise<ZkSession> {
  const ZooKeeper = require('zookeeper') as { new (): ZkClient; constants: Record<string, number> };
  const zk = new ZooKeeper();
  zk.init({ connect, timeout: Math.max(timeoutMs, 4000), debug_level: 0, host_order_deterministic: false });
  const connected = new Promise<void>((resolve, reject) => zk.connect({}, (err) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve())));
  try {
    await deadline(connected, timeoutMs, `ZooKeeper ${connect}`);
  } catch (err) {
    zk.close();
    throw err;
  }
  return new ZkSession(zk, timeoutMs, ZooKeeper.constants);
}

export class ZkSession {
  constructor(
    private readonly zk: ZkClient,
    private readonly timeoutMs: number,
    private readonly constants: Record<string, number>,
  ) {}

  private call<T>(what: string, fn: (done: (rc: number, error: string, value: T) => void) => void): Promise<T> {
    return deadline(
      new Promise<T>((resolve, reject) => fn((rc, error, value) => (rc === 0 ? resolve(value) : reject(Object.assign(new Error(`${what}: ${error}`), { rc }))))),
      this.timeoutMs,
      what,
    );
  }

  mkdirp(path: string): Promise<void> {
    return deadline(new Promise<void>((resolve, reject) => this.zk.mkdirp(path, (err) => (err ? reject(err instanceof Error ? err : new Error(String(err))) : resolve()))), this.timeoutMs, `mkdirp ${path}`);
  }

  async put(path: string, data: string): Promise<void> {
    try {
      await this.call<unknown>(`set ${path}`, (cb) => this.zk.a_set(path, data, -1, cb));
    } catch (err) {
      if ((err as { rc?: number }).rc !== this.constants['ZNONODE']) throw err;
      await this.call<string>(`create ${path}`, (cb) => this.zk.a_create(path, data, 0, cb));
    }
  }

  async get(path: string): Promise<string | null> {
    try {
      const [, data] = await this.call<[unknown, Buffer | string | null]>(`get ${path}`, (cb) => this.zk.a_get(path, false, (rc, e, stat, d) => cb(rc, e, [stat, d])));
      return data === null ? '' : data.toString();
    } catch (err) {
      if ((err as { rc?: number }).rc === this.constants['ZNONODE']) return null;
      throw err;
    }
  }

  children(path: string): Promise<string[]> {
    return this.call<string[]>(`children ${path}`, (cb) => this.zk.a_get_children(path, false, cb));
  }

  close(): void {
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
