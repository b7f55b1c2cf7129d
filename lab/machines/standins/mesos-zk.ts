/**
 * A thin, deadline-bound wrapper over the native `zookeeper` npm client, for the Mesos stand-ins
 * (copied from the old lab's zk-client.ts and extended). The native client retries for ever when no
 * server serves and must never be touched after its session closed (it segfaults), so every call
 * here has a deadline and a closed session is marked dead.
 *
 * Exiting the process without calling close() leaves the session open on the server until it
 * expires: the native addon's destructor does not call zookeeper_close (node_modules/zookeeper
 * src/node-zk.cpp, `~ZooKeeper() { //realClose (); }`), and the OS only closes the socket. That is
 * what Mesos does on SIGTERM (its ephemeral znodes linger for the session timeout), so the stand-ins
 * never call close() on their way out. test/lab/machines/mesos-election.test.ts checks it.
 */
import { createRequire } from 'node:module';

interface NativeZk {
  on(event: 'connect' | 'connecting' | 'close', cb: (...args: unknown[]) => void): void;
  init(config: object): void;
  close(): void;
  create(path: string, data: string | Buffer, flags: number): Promise<string>;
  get(path: string, watch: boolean): Promise<[unknown, Buffer | string]>;
  get_children(path: string, watch: boolean): Promise<string[]>;
  mkdirp(path: string, cb: (err: Error | null) => void): void;
}
interface ZkConstants {
  ZOO_EPHEMERAL_SEQUENTIAL: number;
  ZOO_LOG_LEVEL_ERROR: number;
}
type ZkCtor = (new (config: object) => NativeZk) & { constants: ZkConstants };

const require = createRequire(import.meta.url);
const ZooKeeper = require('zookeeper') as ZkCtor;

/** The native addon's own give-up rule, lifted (see ZkSession.open); int32 in the addon. */
const NO_RESPONSE_LIMIT = 2 ** 31 - 1;

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

/** `zk://h1:2181,h2:2181/mesos` -> servers and path (src/zookeeper/url.cpp accepts this form). */
export function parseZkUrl(url: string): { servers: string; path: string } {
  const m = /^zk:\/\/([^/]+)(\/.*)?$/.exec(url.trim());
  if (!m || !m[1]) throw new Error(`'${url}': expected zk://host:port[,host:port...]/path`);
  const path = (m[2] ?? '/').replace(/\/+$/, '') || '/';
  return { servers: m[1], path };
}

export class ZkSession {
  private readonly zk: NativeZk;
  /** The session is gone (expired or closed): never call the native client again. */
  closed = false;
  connected = false;
  /** When the client last lost its connection (undefined while connected). */
  disconnectedSince: number | undefined;

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
      // The addon closes a session as expired after 10 reads in a row that brought no whole
      // packet (src/node-zk.cpp zk_io_cb, responseCounterLimit), which a slow or loaded link
      // causes; Mesos' C client has no such rule (src/zookeeper/zookeeper.cpp): the server decides.
      response_counter_limit: NO_RESPONSE_LIMIT,
    });
    const s = new ZkSession(zk);
    const connected = new Promise<void>((resolve) => {
      zk.on('connect', () => {
        s.connected = true;
        s.disconnectedSince = undefined;
        resolve();
      });
    });
    zk.on('connecting', () => {
      if (s.connected) s.disconnectedSince = Date.now();
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

  /**
   * Mesos' Group expires a session locally when it stayed disconnected for the session timeout
   * (apache/mesos src/zookeeper/group.cpp, GroupProcess::timedout): the server has expired it by
   * then. The native client only learns of the expiry when it reconnects, so callers ask here.
   */
  locallyExpired(sessionTimeoutMs: number, now = Date.now()): boolean {
    return this.closed || (this.disconnectedSince !== undefined && now - this.disconnectedSince >= sessionTimeoutMs);
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

  /** The children's names; [] when the node does not exist. */
  async children(path: string, ms: number): Promise<string[]> {
    try {
      return await withDeadline(this.live().get_children(path, false), ms, `get_children ${path}`);
    } catch (err) {
      if (err instanceof DeadlineError) throw err;
      if (/-101|no node/i.test(String((err as Error).message))) return [];
      throw err;
    }
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

  /** Closes the session (its ephemeral znodes go at once). Only for a session given up locally. */
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

/** The sequence number of a sequential znode name (`json.info_0000000003` -> 3, `0000000007` -> 7). */
export function sequenceOf(name: string): number {
  const m = /(\d{10})$/.exec(name);
  return m ? Number(m[1]) : Number.NaN;
}
