/**
 * The Exhibitor stand-in run by dcos-exhibitor.service inside a lab machine: DC/OS's start script
 * (dcos/dcos packages/exhibitor/extra/start_exhibitor.py) plus the part of DC/OS's Exhibitor fork that matters
 * with a static ensemble (dcos/exhibitor exhibitor-core: state/MonitorRunningInstance.java, state/Checker.java,
 * processes/StandardProcessOperations.java, rest/ClusterResource.java, automanage/ClusterStatusTask.java).
 *
 *   node exhibitor.js [--dcos-version 2.1|2.2]          (default 2.2; only zoo.cfg's autopurge extras differ)
 *
 * Environment (the unit's EnvironmentFile=/opt/mesosphere/etc/exhibitor gives the first two, as in DC/OS):
 *   EXHIBITOR_BACKEND, EXHIBITOR_STATICENSEMBLE   read from the environment, like start_exhibitor.py
 *   DCFAIL_LAB_DETECTED_IP     this node's IP (stands for /opt/mesosphere/bin/detect_ip); when unset, the
 *                              command DCFAIL_LAB_DETECT_IP_CMD (default /opt/mesosphere/bin/detect_ip) is run
 *   DCFAIL_LAB_TIME_SCALE      scales every timer (lab/machines/timers.ts)
 *   DCFAIL_LAB_BIND_OWN_IP=1   loopback tests only: ZooKeeper and HTTP bind this node's IP instead of all
 *                              addresses, so several nodes share one host (see renderZooCfg)
 *   DCFAIL_LAB_MASTER_COUNT_FILE, DCFAIL_LAB_EXHIBITOR_VAR_DIR, DCFAIL_LAB_JAVA   path overrides (dcos-paths.ts)
 */
import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, request, type IncomingMessage, type ServerResponse } from 'node:http';
import { isIPv4 } from 'node:net';
import { pathToFileURL } from 'node:url';
import { labTimers, ZK_INIT_LIMIT, ZK_SYNC_LIMIT, ZK_TICK_MS, type Timers } from '../timers.js';
import {
  dcosPaths,
  EXHIBITOR_PORT,
  fourLetterWord,
  logLine,
  readMasterCount,
  ZK_CLIENT_PORT,
  ZK_CONNECT_PORT,
  ZK_ELECTION_PORT,
  type DcosPaths,
} from './dcos-paths.js';

export type DcosVersion = '2.1' | '2.2';

/** Exhibitor's instance states and codes (dcos/exhibitor state/InstanceStateTypes.java). */
export const INSTANCE_STATES = { LATENT: 0, DOWN: 1, NOT_SERVING: 2, SERVING: 3 } as const;
export type InstanceStateType = keyof typeof INSTANCE_STATES;
/** `name().toLowerCase().replace("_", " ")`: "latent", "down", "not serving", "serving". */
export const describeState = (s: InstanceStateType): string => s.toLowerCase().replace('_', ' ');

/** One row of `GET /exhibitor/v1/cluster/status` (dcos/exhibitor entities/ServerStatus.java, JSON keys in this order). */
export interface ServerStatus {
  code: number;
  description: string;
  hostname: string;
  isLeader: boolean;
}

export interface EnsembleMember {
  id: number;
  hostname: string;
}

/** ZooKeeper's JVM, as the lab runs it (SERVERS.md: about 70 MB per server with these flags). */
export const ZK_JVM_ARGS = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1'];
export const ZK_CLASSPATH = '/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar';
export const ZK_MAIN = 'org.apache.zookeeper.server.quorum.QuorumPeerMain';

/**
 * `EXHIBITOR_STATICENSEMBLE` = `id:host,...` (dcos/dcos gen/calc.py; Exhibitor's state/ServerList.java).
 * start_exhibitor.py takes `i.split(':')[1]` of each item as the master IPs.
 */
export function parseStaticEnsemble(value: string): EnsembleMember[] {
  return value.split(',').map((item) => {
    const [id, hostname, ...rest] = item.trim().split(':');
    if (!id || !/^\d+$/.test(id) || !hostname || rest.length > 0) throw new Error(`EXHIBITOR_STATICENSEMBLE: bad item '${item}' (expected id:ip)`);
    return { id: Number(id), hostname };
  });
}

/**
 * `zoo-cfg-extra` as start_exhibitor.py writes it into Exhibitor's defaults (dcos/dcos
 * packages/exhibitor/extra/start_exhibitor.py): 2.1.0 keeps 5 snapshots and purges every 6 h, 2.2 purges every hour.
 */
export function zooCfgExtra(version: DcosVersion): [string, string][] {
  const common: [string, string][] = [
    ['tickTime', String(ZK_TICK_MS)],
    ['initLimit', String(ZK_INIT_LIMIT)],
    ['syncLimit', String(ZK_SYNC_LIMIT)],
    ['quorumListenOnAllIPs', 'true'],
    ['maxClientCnxns', '0'],
  ];
  return version === '2.1'
    ? [...common, ['autopurge.snapRetainCount', '5'], ['autopurge.purgeInterval', '6']]
    : [...common, ['autopurge.purgeInterval', '1']];
}

/** Java's Properties.store escaping of a value: `:` `=` `#` `!` and backslash get a backslash. */
function escapeProperty(v: string): string {
  return v.replace(/[\\:=#!]/g, (c) => `\\${c}`);
}

/** Java's Date.toString() in UTC: `Mon Nov 30 23:59:00 UTC 2026`. */
function javaDate(d: Date): string {
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (n: number) => String(n).padStart(2, '0');
  return `${days[d.getUTCDay()]} ${months[d.getUTCMonth()]} ${p(d.getUTCDate())} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} UTC ${d.getUTCFullYear()}`;
}

/**
 * zoo.cfg as Exhibitor writes it before every ZooKeeper start (dcos/exhibitor
 * processes/StandardProcessOperations.java prepConfigFile + processes/Details.java): zoo-cfg-extra, dataDir,
 * dataLogDir, clientPort, one `server.N=host:2888:3888` per ensemble member, stored with Properties.store (a
 * comment and a date line, `:` escaped as `\:`; ZooKeeper reads it back with Properties.load).
 *
 * Two lab lines make Debian's ZooKeeper 3.8 behave as DC/OS's 3.4.14, which our tooling relies on:
 * `admin.enableServer=false` (3.4 has no admin server; 3.8's would take :8080) and
 * `4lw.commands.whitelist=srvr,mntr,ruok,stat,conf,cons,isro` (3.4 answers every four-letter word; 3.8 only srvr).
 *
 * `bindOwnIp` (DCFAIL_LAB_BIND_OWN_IP, loopback tests only, never in a machine): adds
 * `clientPortAddress=<ip>` and drops `quorumListenOnAllIPs`, so three nodes on 127.0.71.x do not fight for
 * 0.0.0.0:2181/3888.
 */
export function renderZooCfg(opts: {
  version: DcosVersion;
  ensemble: readonly EnsembleMember[];
  paths: Pick<DcosPaths, 'zkSnapshotDir' | 'zkTransactionsDir'>;
  selfIp: string;
  bindOwnIp: boolean;
  now?: Date;
}): string {
  const now = opts.now ?? new Date();
  const props: [string, string][] = [
    ...zooCfgExtra(opts.version).filter(([k]) => !(opts.bindOwnIp && k === 'quorumListenOnAllIPs')),
    ['dataDir', opts.paths.zkSnapshotDir],
    ['dataLogDir', opts.paths.zkTransactionsDir],
    ['clientPort', String(ZK_CLIENT_PORT)],
    ...opts.ensemble.map((m): [string, string] => [`server.${m.id}`, `${m.hostname}:${ZK_CONNECT_PORT}:${ZK_ELECTION_PORT}`]),
    ['admin.enableServer', 'false'],
    ['4lw.commands.whitelist', 'srvr,mntr,ruok,stat,conf,cons,isro'],
    ...(opts.bindOwnIp ? ([['clientPortAddress', opts.selfIp]] as [string, string][]) : []),
  ];
  return [`#Auto-generated by Exhibitor - ${javaDate(now)}`, `#${javaDate(now)}`, ...props.map(([k, v]) => `${k}=${escapeProperty(v)}`), ''].join('\n');
}

/**
 * Exhibitor's Checker.calculateState (dcos/exhibitor state/Checker.java): `ruok`; only on `imok`, `srvr`:
 * a line containing "not currently serving" is NOT_SERVING, a `Mode:` line is SERVING (leader when the mode is
 * leader or standalone); anything else, including no answer, is DOWN.
 */
export async function checkZooKeeper(host: string, timeoutMs: number): Promise<{ state: InstanceStateType; isLeader: boolean }> {
  let ruok: string;
  try {
    ruok = await fourLetterWord(host, ZK_CLIENT_PORT, 'ruok', timeoutMs);
  } catch {
    return { state: 'DOWN', isLeader: false };
  }
  if (ruok.trim() !== 'imok') return { state: 'DOWN', isLeader: false };
  let srvr: string;
  try {
    srvr = await fourLetterWord(host, ZK_CLIENT_PORT, 'srvr', timeoutMs);
  } catch {
    return { state: 'DOWN', isLeader: false };
  }
  for (const line of srvr.split('\n')) {
    if (line.includes('not currently serving')) return { state: 'NOT_SERVING', isLeader: false };
    if (line.toLowerCase().startsWith('mode')) {
      const mode = (line.split(':')[1] ?? '').trim().toLowerCase();
      return { state: 'SERVING', isLeader: mode === 'leader' || mode === 'standalone' };
    }
  }
  return { state: 'DOWN', isLeader: false };
}

function writeFileAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, path);
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const log = (msg: string) => logLine('exhibitor', msg);

/**
 * The node's IP: DC/OS runs /opt/mesosphere/bin/detect_ip (the ip-detect script) and exits 1 if it fails or
 * prints no IPv4 address (start_exhibitor.py invoke_detect_ip). The lab takes DCFAIL_LAB_DETECTED_IP when set,
 * else runs the same command.
 */
function detectIp(env: NodeJS.ProcessEnv): string {
  let ip = env['DCFAIL_LAB_DETECTED_IP']?.trim();
  if (!ip) {
    const cmd = env['DCFAIL_LAB_DETECT_IP_CMD'] || '/opt/mesosphere/bin/detect_ip';
    try {
      ip = execFileSync(cmd, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
    } catch (err) {
      log(`check_output exited with ${(err as Error).message}`);
      process.exit(1);
    }
  }
  if (!isIPv4(ip)) {
    log(`inet_aton exited with illegal IP address string. ${ip} is not a valid IPv4 address`);
    process.exit(1);
  }
  return ip;
}

/** What start_exhibitor.py decides before it execs Exhibitor: the ensemble and check-ms. Exits 1 as it does. */
function startScript(env: NodeJS.ProcessEnv, paths: DcosPaths, timers: Timers): { selfIp: string; ensemble: EnsembleMember[]; checkMs: number; masterCount: number } {
  const selfIp = detectIp(env);
  // "Make the zk conf directory (exhibitor assumes the dir exists)"; data dirs 0700, as upstream.
  mkdirSync(paths.zkConfDir, { recursive: true });
  mkdirSync(paths.zkSnapshotDir, { recursive: true, mode: 0o700 });
  mkdirSync(paths.zkTransactionsDir, { recursive: true, mode: 0o700 });
  chmodSync(`${paths.exhibitorVarDir}/zookeeper`, 0o700);

  let masterCount: number;
  try {
    masterCount = readMasterCount(paths.masterCountFile);
  } catch (err) {
    log(`ERROR: ${(err as Error).message}`);
    process.exit(1);
  }
  // check_ms = 30000, or 2000 when master_count is 1 (start_exhibitor.py); scaled by DCFAIL_LAB_TIME_SCALE.
  const checkMs = masterCount === 1 ? timers.exhibitorCheckMsSingle : timers.exhibitorCheckMsMulti;

  const backend = env['EXHIBITOR_BACKEND'];
  if (backend === undefined) {
    log('ERROR: "EXHIBITOR_BACKEND" must be set');
    process.exit(1);
  }
  let ensembleValue: string;
  if (backend === 'STATIC') {
    // "In case of a static Exhibitor backend ... check that the value for the hostname set by invoking the
    // ip-detect script is indeed included in the master list." (COPS-3485)
    const value = env['EXHIBITOR_STATICENSEMBLE'];
    if (value === undefined) {
      log('ERROR: "EXHIBITOR_STATICENSEMBLE" must be set');
      process.exit(1);
    }
    const masterIps = value.split(',').map((i) => i.split(':')[1]);
    if (!masterIps.includes(selfIp)) {
      log(`ERROR: ip-detect returned ${selfIp}. ${selfIp} is not in the configured list of masters.`);
      process.exit(1);
    }
    ensembleValue = value;
  } else if (masterCount === 1) {
    // A single master is always a static `1:<ip>` ensemble, whatever the backend (DCOS-6147).
    ensembleValue = `1:${selfIp}`;
  } else if (['AWS_S3', 'AZURE', 'GCE', 'ZK', 'SHARED_FS'].includes(backend)) {
    log(`ERROR: the lab reproduces only EXHIBITOR_BACKEND=STATIC, not ${backend}`);
    process.exit(1);
  } else {
    log(`ERROR: No known exhibitor backend: ${backend}`);
    process.exit(1);
  }
  let ensemble: EnsembleMember[];
  try {
    ensemble = parseStaticEnsemble(ensembleValue);
  } catch (err) {
    log(`ERROR: ${(err as Error).message}`);
    process.exit(1);
  }
  return { selfIp, ensemble, checkMs, masterCount };
}

/** The running Exhibitor: its monitor, its ZooKeeper child, its HTTP API. */
class Exhibitor {
  /** MonitorRunningInstance.currentInstanceState: null until the first pass (reported as LATENT). */
  private current: { state: InstanceStateType; timestampMs: number } | null = null;
  private currentIsLeader = false;
  private zk: ChildProcess | null = null;
  private passTimer: NodeJS.Timeout | null = null;
  private stopping = false;
  private readonly checkHost: string;

  constructor(
    private readonly version: DcosVersion,
    private readonly paths: DcosPaths,
    private readonly timers: Timers,
    private readonly selfIp: string,
    private readonly ensemble: readonly EnsembleMember[],
    private readonly checkMs: number,
    private readonly bindOwnIp: boolean,
  ) {
    // Checker talks to "localhost" (Checker.java); with DCFAIL_LAB_BIND_OWN_IP ZooKeeper listens on our IP only.
    this.checkHost = bindOwnIp ? selfIp : '127.0.0.1';
  }

  /**
   * MonitorRunningInstance.start(): RepeatingActivityImpl queues the first pass `check-ms` from now, and each
   * next one `check-ms` after the previous one finished. ZooKeeper is not started here: the first pass finds it
   * DOWN and starts it.
   */
  start(): void {
    this.schedulePass();
  }

  private schedulePass(): void {
    if (this.stopping) return;
    this.passTimer = setTimeout(() => {
      this.doWork()
        .catch((err: unknown) => log(`Unhandled exception in repeating activity (MonitorRunningInstance) - re-queueing: ${(err as Error).message}`))
        .finally(() => this.schedulePass());
    }, this.checkMs);
  }

  /**
   * MonitorRunningInstance.doWork. With a static config the server list and ZooKeeper config never change, so
   * the InstanceState equality reduces to the state: a changed state goes to handleServerListChange (restart
   * at once only when DOWN), an unchanged one to checkForRestart (restart a DOWN or NOT_SERVING ZooKeeper only
   * once it has been so for more than 2 x tickTime x max(initLimit, syncLimit)).
   */
  private async doWork(): Promise<void> {
    const { state, isLeader } = await checkZooKeeper(this.checkHost, this.timers.exhibitorZkTimeoutMs);
    if (this.stopping) return;
    const now = Date.now();
    this.currentIsLeader = isLeader;
    const local = this.current;
    if (local !== null && local.state === state) {
      // checkForRestart
      if (state === 'DOWN' || state === 'NOT_SERVING') {
        const elapsedMs = now - local.timestampMs;
        const downInstanceRestartMs = this.timers.exhibitorDeadZkRestartMs;
        if (elapsedMs > downInstanceRestartMs) {
          log(`Restarting down/not-serving ZooKeeper after ${elapsedMs} ms pause`);
          local.timestampMs = Date.now(); // restartZooKeeper: currentInstanceState.updateTimestampMs()
          await this.restartZooKeeper();
        } else {
          log(`ZooKeeper down/not-serving waiting ${elapsedMs} of ${downInstanceRestartMs} ms before restarting`);
        }
      }
      return;
    }
    // handleServerListChange
    this.current = { state, timestampMs: now };
    log(`State: ${describeState(state)}`);
    if (state === 'DOWN') await this.restartZooKeeper();
  }

  /**
   * KillRunningInstance(restart=true) (dcos/exhibitor state/KillRunningInstance.java,
   * processes/StandardProcessOperations.java killInstance/startInstance): kill whatever ZooKeeper runs
   * (`zkServer.sh stop`, a `kill -9`), rewrite myid and zoo.cfg from the ensemble, start ZooKeeper, whose
   * pid goes to zk.pid.
   */
  private async restartZooKeeper(): Promise<void> {
    log('Attempting to start/restart ZooKeeper');
    await this.killInstance();
    if (this.stopping) return;
    this.startInstance();
  }

  private async killInstance(): Promise<void> {
    const zk = this.zk;
    this.zk = null;
    if (zk === null || zk.exitCode !== null || zk.signalCode !== null) {
      log("jps didn't find instance - assuming ZK is not running");
      return;
    }
    const exited = new Promise<void>((resolve) => zk.once('exit', () => resolve()));
    // waitForKill runs `zkServer.sh stop`, which in ZooKeeper 3.4 is `$KILL -9 $(cat "$ZOOPIDFILE")` followed by
    // `rm "$ZOOPIDFILE"` (apache/zookeeper bin/zkServer.sh, branch-3.4): no clean shutdown.
    zk.kill('SIGKILL');
    await exited;
    rmSync(this.paths.zkPidFile, { force: true });
    log(`Kill attempted result: 0`);
  }

  private startInstance(): void {
    // prepConfigFile: myid in the data directory, then zoo.cfg.
    const us = this.ensemble.find((m) => m.hostname === this.selfIp);
    if (us) writeFileAtomic(`${this.paths.zkSnapshotDir}/myid`, `${us.id}\n`);
    writeFileAtomic(
      this.paths.zooCfg,
      renderZooCfg({ version: this.version, ensemble: this.ensemble, paths: this.paths, selfIp: this.selfIp, bindOwnIp: this.bindOwnIp }),
    );
    // cmdline[0] is the java binary and cmdline[-1] zoo.cfg: the 2.1.0 stashed-pid shortcut checks both.
    const zk = spawn(this.paths.java, [...ZK_JVM_ARGS, '-cp', ZK_CLASSPATH, ZK_MAIN, this.paths.zooCfg], {
      stdio: ['ignore', 'inherit', 'inherit'],
      env: { PATH: process.env['PATH'] ?? '/usr/bin:/bin', HOME: this.paths.exhibitorVarDir },
    });
    this.zk = zk;
    // zkServer.sh writes the pid with `echo -n $!` to ZOOPIDFILE: a fresh mtime at every start.
    if (zk.pid !== undefined) writeFileAtomic(this.paths.zkPidFile, String(zk.pid));
    log(`Process started via: ${this.paths.java} (pid ${zk.pid ?? '?'}, ${this.paths.zooCfg})`);
    // ProcessMonitor only logs the end of the process: Exhibitor neither exits nor restarts ZooKeeper here;
    // the next monitoring pass finds it DOWN.
    zk.on('exit', (code, signal) => log(`ZooKeeper exited (${signal ?? `code ${code}`})`));
  }

  /** ClusterResource.getStatus (`/exhibitor/v1/cluster/state`): this node's cached state. */
  stateJson(): { switches: Record<string, boolean>; state: number; description: string; isLeader: boolean } {
    const state = this.current?.state ?? 'LATENT';
    return {
      switches: { restarts: true, cleanup: true, backups: true },
      state: INSTANCE_STATES[state],
      description: describeState(state),
      isLeader: this.currentIsLeader,
    };
  }

  /**
   * ClusterResource.getClusterStatus / ClusterStatusTask: one row per ensemble member, in ensemble order. Our
   * own row comes from our cache; every other from that peer's `/exhibitor/v1/cluster/state` (its own cache),
   * asked now, side by side; a peer that does not answer is "down".
   */
  async clusterStatus(): Promise<ServerStatus[]> {
    return Promise.all(
      this.ensemble.map(async (m): Promise<ServerStatus> => {
        if (m.hostname === this.selfIp) {
          const s = this.stateJson();
          return { code: s.state, description: s.description, hostname: m.hostname, isLeader: s.isLeader };
        }
        const remote = await this.remoteState(m.hostname);
        if (remote === undefined) return { code: INSTANCE_STATES.DOWN, description: describeState('DOWN'), hostname: m.hostname, isLeader: false };
        return { code: remote.state, description: remote.description, hostname: m.hostname, isLeader: remote.isLeader };
      }),
    );
  }

  /** RemoteInstanceRequest: any failure gives "{}", which ClusterStatusTask reports as DOWN. */
  private remoteState(host: string): Promise<{ state: number; description: string; isLeader: boolean } | undefined> {
    return new Promise((resolve) => {
      let settled = false;
      const finish = (v: { state: number; description: string; isLeader: boolean } | undefined) => {
        if (settled) return;
        settled = true;
        clearTimeout(connectTimer);
        req.destroy();
        resolve(v);
      };
      const req = request({ host, port: EXHIBITOR_PORT, path: '/exhibitor/v1/cluster/state', method: 'GET', headers: { accept: 'application/json' } }, (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (body += c));
        res.on('end', () => {
          try {
            const v = JSON.parse(body) as { state?: unknown; description?: unknown; isLeader?: unknown };
            if (res.statusCode === 200 && typeof v.state === 'number' && typeof v.description === 'string' && typeof v.isLeader === 'boolean') {
              finish({ state: v.state, description: v.description, isLeader: v.isLeader });
            } else finish(undefined);
          } catch {
            finish(undefined);
          }
        });
      });
      // Connect timeout 10 s, then read timeout 3 s (RemoteConnectionConfiguration defaults).
      const connectTimer = setTimeout(() => finish(undefined), this.timers.exhibitorRemoteConnectTimeoutMs);
      req.on('socket', (sock) => {
        sock.once('connect', () => {
          clearTimeout(connectTimer);
          req.setTimeout(this.timers.exhibitorRemoteReadTimeoutMs, () => finish(undefined));
        });
      });
      req.on('error', () => finish(undefined));
      req.end();
    });
  }

  /** ClusterResource's `list`: the servers and the client port. */
  listJson(): { servers: string[]; port: number } {
    return { servers: this.ensemble.map((m) => m.hostname), port: ZK_CLIENT_PORT };
  }

  /** On SIGTERM: no more passes, ZooKeeper stopped (systemd would kill it with the unit's cgroup anyway). */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.passTimer) clearTimeout(this.passTimer);
    const zk = this.zk;
    if (zk && zk.exitCode === null && zk.signalCode === null) {
      const exited = new Promise<void>((resolve) => zk.once('exit', () => resolve()));
      zk.kill('SIGTERM');
      const t = setTimeout(() => zk.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(t);
    }
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

function main(): void {
  const versionArg = arg('dcos-version') ?? '2.2';
  if (versionArg !== '2.1' && versionArg !== '2.2') {
    log(`ERROR: --dcos-version ${versionArg}: expected 2.1 or 2.2`);
    process.exit(2);
  }
  const env = process.env;
  let timers: Timers;
  try {
    timers = labTimers(env);
  } catch (err) {
    log(`ERROR: ${(err as Error).message}`);
    process.exit(1);
  }
  const paths = dcosPaths(env);
  const bindOwnIp = env['DCFAIL_LAB_BIND_OWN_IP'] === '1';
  const { selfIp, ensemble, checkMs, masterCount } = startScript(env, paths, timers);
  log(
    `Exhibitor configured for static ZK ensemble ${ensemble.map((m) => `${m.id}:${m.hostname}`).join(',')}; ` +
      `hostname ${selfIp}, master_count ${masterCount}, check-ms ${checkMs}, DC/OS ${versionArg}`,
  );

  const exhibitor = new Exhibitor(versionArg, paths, timers, selfIp, ensemble, checkMs, bindOwnIp);
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '').split('?')[0];
    if (req.method !== 'GET') return sendJson(res, 405, { error: 'GET only' });
    if (path === '/exhibitor/v1/cluster/status') {
      exhibitor.clusterStatus().then(
        (s) => sendJson(res, 200, s),
        (err: unknown) => sendJson(res, 500, { error: (err as Error).message }),
      );
      return;
    }
    if (path === '/exhibitor/v1/cluster/state') return sendJson(res, 200, exhibitor.stateJson());
    if (path === '/exhibitor/v1/cluster/list') return sendJson(res, 200, exhibitor.listJson());
    sendJson(res, 404, { error: 'not found' });
  });
  server.on('error', (err) => {
    log(`ERROR: cannot serve on :${EXHIBITOR_PORT}: ${err.message}`);
    process.exit(1);
  });
  // Exhibitor's Jetty listens on every address (`--port 8181`); loopback tests bind the node's own IP.
  server.listen(EXHIBITOR_PORT, bindOwnIp ? selfIp : '0.0.0.0', () => {
    log(`serving /exhibitor/v1/cluster/{status,state,list} on ${bindOwnIp ? selfIp : '0.0.0.0'}:${EXHIBITOR_PORT}; first ZooKeeper check in ${checkMs} ms`);
    exhibitor.start();
  });

  let stopping = false;
  const onSignal = (sig: NodeJS.Signals) => {
    if (stopping) return;
    stopping = true;
    log(`received ${sig}, stopping ZooKeeper`);
    server.close();
    void exhibitor.stop().then(() => process.exit(0));
  };
  process.on('SIGTERM', () => onSignal('SIGTERM'));
  process.on('SIGINT', () => onSignal('SIGINT'));
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) main();
