/**
 * The one-shot check dcos-mesos-master.service runs as ExecStartPre (`/opt/mesosphere/bin/bootstrap
 * dcos-mesos-master` in DC/OS, whose first step on a master is `exhibitor.wait(master_count)`): exit 0 when
 * ZooKeeper is ready, exit 1 with one log line when it is not. systemd then fails the start and retries after
 * RestartSec=15.
 *
 *   node mesos-prestart.js --dcos-version 2.1|2.2
 *
 * 2.1  dcos/dcos packages/bootstrap/extra/dcos_internal_utils/exhibitor.py at tag 2.1.0 (and 1.10 to 2.0.5):
 *      the stashed-pid shortcut, else one GET of Exhibitor's cluster status: ready when the number of
 *      `serving` servers equals master_count and there is exactly one leader; then zk.pid's mtime is stashed.
 * 2.2  the same file from commit 6f1aea7d1 "Wait on ZooKeeper instead of Exhibitor during bootstrap" (tag 2.2.0,
 *      and backported to the 2.1 branch from 2.1.1): only the local ZooKeeper's `srvr` mode (standalone when
 *      master_count is 1, else leader or follower); Exhibitor's status is then read and logged, never failing.
 *
 * Environment: DCFAIL_LAB_LOCAL_ADDRESS (default 127.0.0.1, where DC/OS looks for ZooKeeper :2181 and
 * Exhibitor :8181; loopback tests give the node's IP), DCFAIL_LAB_MASTER_COUNT_FILE,
 * DCFAIL_LAB_EXHIBITOR_VAR_DIR, DCFAIL_LAB_BOOTSTRAP_DIR, DCFAIL_LAB_JAVA (dcos-paths.ts).
 */
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { get } from 'node:http';
import { dirname } from 'node:path';
import { pathToFileURL } from 'node:url';
import { dcosPaths, errnoCode, EXHIBITOR_PORT, fourLetterWord, logLine, readMasterCount, ZK_CLIENT_PORT, type DcosPaths } from './dcos-paths.js';

export type PrestartVariant = '2.1' | '2.2';
export interface PrestartResult {
  ready: boolean;
  /** The one line logged (the error when not ready). */
  line: string;
}

/**
 * No timeout on these, as upstream (a bare socket and `requests.get` without one): only local addresses are
 * asked. A long stall still ends: systemd's TimeoutStartSec (90 s default) kills the ExecStartPre.
 */
const NO_TIMEOUT_MS = 2 ** 31 - 1;

interface ExhibitorRow {
  hostname: string;
  description: string;
  isLeader: boolean;
}

/** `requests.get(EXHIBITOR_STATUS_URL)`: the status code and body, or the connection error. */
function getExhibitorStatus(host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = get({ host, port: EXHIBITOR_PORT, path: '/exhibitor/v1/cluster/status' }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (body += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
  });
}

function parseRows(body: string): ExhibitorRow[] {
  const data = JSON.parse(body) as unknown;
  if (!Array.isArray(data)) throw new Error(`unexpected Exhibitor status: ${body}`);
  return data.map((n: unknown) => {
    const o = n as Record<string, unknown>;
    // node['isLeader'], node['description'], node['hostname']: a missing key is a KeyError upstream.
    if (!('isLeader' in o) || !('description' in o) || !('hostname' in o)) throw new Error(`KeyError in Exhibitor status row ${JSON.stringify(n)}`);
    return { hostname: String(o['hostname']), description: String(o['description']), isLeader: Boolean(o['isLeader']) };
  });
}

/**
 * try_shortcut (tag 2.1.0): the stash holds zk.pid's mtime from the last successful wait; if zk.pid was not
 * rewritten since and the process at that pid is java running zoo.cfg (`cmd_line[0]` is the java binary,
 * `cmd_line[-1]` zoo.cfg, at least 3 arguments), ZooKeeper is assumed fine without asking anyone.
 */
function tryShortcut(paths: DcosPaths): { ok: boolean; why: string } {
  let stashed: string;
  try {
    stashed = readFileSync(paths.zkPidStash, 'utf8').trim();
  } catch {
    return { ok: false, why: `No zk.pid last mtime found at ${paths.zkPidStash}` };
  }
  let current: string;
  try {
    current = statSync(paths.zkPidFile, { bigint: true }).mtimeNs.toString();
  } catch {
    return { ok: false, why: `ZK pid file \`${paths.zkPidFile}\` does not exist.` };
  }
  if (stashed !== current) return { ok: false, why: 'zk.pid was written anew' };
  const pid = readFileSync(paths.zkPidFile, 'utf8').trim();
  let cmdLine: string[];
  try {
    cmdLine = readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').slice(0, -1);
  } catch {
    return { ok: false, why: `Process no longer running (couldn't read the cmdline at: ${pid})` };
  }
  if (cmdLine.length < 3) return { ok: false, why: 'Command line too short to be zookeeper started by exhibitor' };
  if (cmdLine[cmdLine.length - 1] !== paths.zooCfg || cmdLine[0] !== paths.java) {
    return { ok: false, why: "command line doesn't start with java and end with zookeeper.cfg" };
  }
  return { ok: true, why: "PID file hasn't been modified. ZK still seems to be at that PID." };
}

/** DC/OS <= 2.1.0: shortcut, else the Exhibitor cluster status must show master_count serving and one leader. */
async function wait21(paths: DcosPaths, clusterSize: number, host: string): Promise<PrestartResult> {
  const shortcut = tryShortcut(paths);
  if (shortcut.ok) return { ready: true, line: 'Shortcut succeeeded, assuming local zk is in good config state, not waiting for quorum.' };
  let response: { status: number; body: string };
  try {
    response = await getExhibitorStatus(host);
  } catch (err) {
    return { ready: false, line: `Could not connect to exhibitor: ${(err as Error).message}` };
  }
  const url = `http://${host}:${EXHIBITOR_PORT}/exhibitor/v1/cluster/status`;
  if (response.status !== 200) return { ready: false, line: `Could not get exhibitor status: ${url}, Status code: ${response.status}` };
  let rows: ExhibitorRow[];
  try {
    rows = parseRows(response.body); // a ValueError here is an uncaught traceback upstream: exit 1 as well
  } catch (err) {
    return { ready: false, line: (err as Error).message };
  }
  const serving = rows.filter((r) => r.description === 'serving').map((r) => r.hostname);
  const leaders = rows.filter((r) => r.isLeader).map((r) => r.hostname);
  if (serving.length !== clusterSize || leaders.length !== 1) {
    return { ready: false, line: `Expected ${clusterSize} servers and 1 leader, got ${serving.length} servers and ${leaders.length} leaders` };
  }
  // "Stash the PID so if there is a restart we can come up quickly without requiring a new zookeeper quorum."
  try {
    const mtime = statSync(paths.zkPidFile, { bigint: true }).mtimeNs.toString();
    mkdirSync(dirname(paths.zkPidStash), { recursive: true });
    writeFileSync(paths.zkPidStash, mtime, { mode: 0o600 });
  } catch {
    // get_zk_pid_mtime() returned None: nothing stashed, still ready.
  }
  return { ready: true, line: `Serving hosts: \`${serving.join(',')}\`, leader: \`${leaders.join(',')}\`` };
}

/** get_zookeeper_mode: `srvr` on the local ZooKeeper; "latent" when it answers that it is not serving. */
async function zookeeperMode(host: string): Promise<string> {
  const response = await fourLetterWord(host, ZK_CLIENT_PORT, 'srvr', NO_TIMEOUT_MS);
  const m = /^Mode: (.*)$/m.exec(response);
  if (m) {
    const mode = m[1] ?? '';
    if (mode === 'standalone' || mode === 'follower' || mode === 'leader') return mode;
    throw new Error(`Unexpected mode: ${mode} in ${JSON.stringify(response)}`);
  }
  if (response.trim() === 'This ZooKeeper instance is not currently serving requests') return 'latent';
  throw new Error(`Unexpected response: ${JSON.stringify(response)}`);
}

/** DC/OS 2.1.1+/2.2: the local ZooKeeper's mode decides; Exhibitor's status is only logged. */
async function wait22(clusterSize: number, host: string): Promise<PrestartResult> {
  let mode: string;
  try {
    mode = await zookeeperMode(host);
  } catch (err) {
    // Only ConnectionRefusedError is caught upstream; anything else is a traceback: exit 1 either way.
    if (errnoCode(err) === 'ECONNREFUSED') return { ready: false, line: 'ZooKeeper not running' };
    return { ready: false, line: (err as Error).message };
  }
  const desired = clusterSize === 1 ? ['standalone'] : ['follower', 'leader'];
  if (!desired.includes(mode)) return { ready: false, line: `ZooKeeper not in correct mode: ${mode}` };
  // "Check Exhibitor, but do not fail if it shows unexpected results"
  let summary: string;
  try {
    const r = await getExhibitorStatus(host);
    if (r.status !== 200) summary = `Could not get exhibitor status, Status code: ${r.status}`;
    else {
      const rows = parseRows(r.body);
      summary = `ZK servers: ${rows.filter((x) => x.description === 'serving').map((x) => x.hostname).join(',')} leaders: ${rows.filter((x) => x.isLeader).map((x) => x.hostname).join(',')}`;
    }
  } catch (err) {
    summary = `Could not read exhibitor status: ${(err as Error).message}`;
  }
  return { ready: true, line: `ZooKeeper OK: ${mode}; ${summary}` };
}

/** exhibitor.wait(master_count_filename) for the given DC/OS version. */
export async function prestartCheck(variant: PrestartVariant, env: NodeJS.ProcessEnv = process.env): Promise<PrestartResult> {
  const paths = dcosPaths(env);
  const host = env['DCFAIL_LAB_LOCAL_ADDRESS'] || '127.0.0.1';
  if (!existsSync(paths.masterCountFile)) return { ready: true, line: "master_count file doesn't exist, not waiting" };
  let clusterSize: number;
  try {
    clusterSize = readMasterCount(paths.masterCountFile);
  } catch (err) {
    return { ready: false, line: (err as Error).message };
  }
  return variant === '2.1' ? wait21(paths, clusterSize, host) : wait22(clusterSize, host);
}

async function main(): Promise<void> {
  const i = process.argv.indexOf('--dcos-version');
  const variant = i >= 0 ? process.argv[i + 1] : undefined;
  if (variant !== '2.1' && variant !== '2.2') {
    logLine('mesos-prestart', `usage: mesos-prestart --dcos-version 2.1|2.2 (got ${variant ?? 'nothing'})`);
    process.exit(2);
  }
  const r = await prestartCheck(variant);
  logLine('mesos-prestart', `${r.ready ? 'OK' : 'ERROR'} ${r.line}`);
  process.exit(r.ready ? 0 : 1);
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) void main();
