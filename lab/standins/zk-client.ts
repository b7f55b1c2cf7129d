/**
 * A thin, deadline-bound wrapper over the native `zookeeper` npm client. The native client
 * retries for ever when no server serves and must never be touched after its session closed
 * (it segfaults), so every call here has a deadline and a closed session is marked dead.
 */
import { createRequire } from 'node:module';

interface NativeZk {
  on(event: 'connect' | 'connecting' | 'close', cb: (...args: unknown[]) => void): void;
  init(config: object): void;
  close(): void;
  create(path: string, data: string | Buffer, flags: number): Promise<string>;
  get(path: string, watch: boolean): Promise<[unknown, Buffer | string]>;
  get_children(path: string, watch: boolean): Promise<string[]>;
  set(path: string, data: string | Buffer, version: number): Promise<unknown>;
  mkdirp(path: string, cb: (err: Error | null) => void): void;
}
interface ZkConstants {
  ZOO_EPHEMERAL_SEQUENTIAL: number;
  ZOO_LOG_LEVEL_ERROR: number;
  ZNONODE: number;
}
type ZkCtor = (new (config: object) => NativeZk) & { constants: ZkConstants };

const require = createRequire(import.meta.url);
const ZooKeeper = require('zookeeper') as ZkCtor;

export class DeadlineError extends Error {}

export function withDeadline<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new DeadlineError(`${what}: no answer within ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

export class ZkSession {
  private readonly zk: NativeZk;
  /** The session is gone (expired or closed): never call the native client again. */
  closed = false;
  connected = false;

  private constructor(zk: NativeZk) {
    this.zk = zk;
  }

  /** Connects within `deadlineMs` or throws (and closes the half-open client). */
  static async open(connect: string, sessionTimeoutMs: number, deadlineMs: number): Promise<ZkSession> {
    const zk = new ZooKeeper({
      connect,
      timeout: sessionTimeoutMs,
      debug_level: ZooKeeper.constants.ZOO_LOG_LEVEL_ERROR,
      host_order_deterministic: false,
    });
    const s = new ZkSession(zk);
    const connected = new Promise<void>((resolve) => {
      zk.on('connect', () => {
        s.connected = true;
        resolve();
      });
    });
    zk.on('connecting', () => {
      s.connected = false;
    });
    zk.on('close', () => {
      s.connected = false;
      s.closed = true;
    });
    zk.init({});
    try {
      await withDeadline(connected, deadlineMs, `connect to ZooKeeper ${connect}`);
    } catch (err) {
      s.close();
      throw err;
    }
    return s;
  }

  private live(): NativeZk {
    if (this.closed) throw new Error('ZooKeeper session is closed');
    return this.zk;
  }

  createEphemeralSequential(path: string, data: string, ms: number): Promise<string> {
    return withDeadline(this.live().create(path, data, ZooKeeper.constants.ZOO_EPHEMERAL_SEQUENTIAL), ms, `create ${path}`);
  }

  mkdirp(path: string, ms: number): Promise<void> {
    const zk = this.live();
    const p = new Promise<void>((resolve, reject) => zk.mkdirp(path, (err) => (err ? reject(err) : resolve())));
    return withDeadline(p, ms, `mkdirp ${path}`);
  }

  children(path: string, ms: number): Promise<string[]> {
    return withDeadline(this.live().get_children(path, false), ms, `get_children ${path}`);
  }

  /** The node's data as a string; undefined when the node does not exist. */
  async getData(path: string, ms: number): Promise<string | undefined> {
    try {
      const [, data] = await withDeadline(this.live().get(path, false), ms, `get ${path}`);
      return Buffer.isBuffer(data) ? data.toString('utf8') : String(data ?? '');
    } catch (err) {
      if (err instanceof DeadlineError) throw err;
      if (/-101|no node/i.test(String((err as Error).message))) return undefined;
      throw err;
    }
  }

  setData(path: string, data: string, ms: number): Promise<unknown> {
    return withDeadline(this.live().set(path, data, -1), ms, `set ${path}`);
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.zk.close();
    } catch {
      // already closing
    }
  }
}
