/**
 * What the Exhibitor stand-in and the Mesos pre-start check share: DC/OS's paths (each overridable by an
 * environment variable, so the stand-ins can run outside a machine in tests), ZooKeeper's four-letter words
 * over a plain socket, and the reading of `master_count`.
 *
 * Inside a machine nothing is overridden: the paths are DC/OS's own.
 */
import { connect } from 'node:net';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

/** DC/OS's ZooKeeper client, peer and election ports and Exhibitor's HTTP port (dcos/dcos start_exhibitor.py). */
export const ZK_CLIENT_PORT = 2181;
export const ZK_CONNECT_PORT = 2888;
export const ZK_ELECTION_PORT = 3888;
export const EXHIBITOR_PORT = 8181;

export interface DcosPaths {
  /** /opt/mesosphere/etc/master_count (dcos/dcos gen/dcos-config.yaml `/etc_master/master_count`). */
  masterCountFile: string;
  /** /var/lib/dcos/exhibitor: Exhibitor's home (dcos/dcos start_exhibitor.py). */
  exhibitorVarDir: string;
  /** <var>/conf: `zookeeper-config-directory`, where zoo.cfg is written. */
  zkConfDir: string;
  /** <var>/conf/zoo.cfg. */
  zooCfg: string;
  /** <var>/zookeeper/snapshot: `zookeeper-data-directory` (dataDir; myid lives here). */
  zkSnapshotDir: string;
  /** <var>/zookeeper/transactions: `zookeeper-log-directory` (dataLogDir). */
  zkTransactionsDir: string;
  /** <var>/zk.pid: `zookeeper-pid-path`, written at every ZooKeeper start. */
  zkPidFile: string;
  /**
   * /var/lib/dcos/bootstrap/exhibitor_pid_stat: where DC/OS <= 2.1.0's bootstrap stashes zk.pid's mtime
   * (dcos/dcos packages/bootstrap/extra/dcos_internal_utils/exhibitor.py at tag 2.1.0).
   */
  zkPidStash: string;
  /**
   * The java binary ZooKeeper runs with. DC/OS: /opt/mesosphere/active/java/usr/java/bin/java (checked by the
   * 2.1.0 stashed-pid shortcut); the lab: the machine's /usr/bin/java.
   */
  java: string;
}

/**
 * DC/OS's paths, each overridable (tests only):
 * DCFAIL_LAB_MASTER_COUNT_FILE, DCFAIL_LAB_EXHIBITOR_VAR_DIR, DCFAIL_LAB_BOOTSTRAP_DIR, DCFAIL_LAB_JAVA.
 */
export function dcosPaths(env: NodeJS.ProcessEnv = process.env): DcosPaths {
  const varDir = env['DCFAIL_LAB_EXHIBITOR_VAR_DIR'] || '/var/lib/dcos/exhibitor';
  const bootstrapDir = env['DCFAIL_LAB_BOOTSTRAP_DIR'] || '/var/lib/dcos/bootstrap';
  return {
    masterCountFile: env['DCFAIL_LAB_MASTER_COUNT_FILE'] || '/opt/mesosphere/etc/master_count',
    exhibitorVarDir: varDir,
    zkConfDir: join(varDir, 'conf'),
    zooCfg: join(varDir, 'conf', 'zoo.cfg'),
    zkSnapshotDir: join(varDir, 'zookeeper', 'snapshot'),
    zkTransactionsDir: join(varDir, 'zookeeper', 'transactions'),
    zkPidFile: join(varDir, 'zk.pid'),
    zkPidStash: join(bootstrapDir, 'exhibitor_pid_stat'),
    java: env['DCFAIL_LAB_JAVA'] || '/usr/bin/java',
  };
}

/**
 * `int(open(master_count).read().strip())`, as start_exhibitor.py and the bootstrap read it. Throws on a missing
 * file or a value that is not an integer (upstream: a Python traceback and exit 1).
 */
export function readMasterCount(path: string): number {
  const raw = readFileSync(path, 'utf8').trim();
  if (!/^[+-]?\d+$/.test(raw)) throw new Error(`${path}: invalid literal for int(): '${raw}'`);
  return Number(raw);
}

/**
 * Sends a four-letter word and reads until the server closes the connection, as Exhibitor's FourLetterWord and
 * the bootstrap's get_zookeeper_mode do. Rejects with the socket error (`ECONNREFUSED` when nothing listens) or
 * on `timeoutMs` without an answer.
 */
export function fourLetterWord(host: string, port: number, word: string, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host, port });
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (err: Error | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(Buffer.concat(chunks).toString('utf8'));
    };
    const timer = setTimeout(() => done(Object.assign(new Error(`${word} to ${host}:${port}: timed out after ${timeoutMs} ms`), { code: 'ETIMEDOUT' })), timeoutMs);
    sock.on('connect', () => sock.write(`${word}\n`));
    sock.on('data', (b: Buffer) => chunks.push(b));
    sock.on('end', () => done(undefined));
    sock.on('error', (err) => done(err));
  });
}

/** The error code of a socket error (`ECONNREFUSED`, ...), if any. */
export function errnoCode(err: unknown): string | undefined {
  return typeof err === 'object' && err !== null && 'code' in err && typeof (err as { code: unknown }).code === 'string'
    ? (err as { code: string }).code
    : undefined;
}

/** One log line on stdout (systemd puts it in the journal), prefixed like the other lab stand-ins. */
export function logLine(who: string, msg: string): void {
  process.stdout.write(`${new Date().toISOString()} ${who}[${process.pid}] ${msg}\n`);
}
