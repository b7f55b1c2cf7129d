/**
 * The Mesos master stand-in of the machines lab (run by dcos-mesos-master.service):
 *
 *   /usr/bin/node /opt/dcfail-lab/dist/lab/machines/standins/mesos-master.js
 *
 * Configured only by its environment, as the unit gives it (EnvironmentFile=/opt/mesosphere/etc/
 * mesos-master and /etc/dcfail-lab/lab.env): MESOS_QUORUM, MESOS_IP, MESOS_PORT (5050),
 * (or MESOS_IP_DISCOVERY_COMMAND), MESOS_HOSTNAME (default MESOS_IP: DC/OS sets MESOS_HOSTNAME_LOOKUP=false), MESOS_WORK_DIR,
 * MESOS_ZK, MESOS_REGISTRY_FETCH_TIMEOUT / MESOS_REGISTRY_STORE_TIMEOUT (DC/OS: 60secs),
 * MESOS_ZK_SESSION_TIMEOUT (10secs), MESOS_LOG_AUTO_INITIALIZE (true), MESOS_CLUSTER,
 * DCFAIL_LAB_TIME_SCALE (multiplies every duration), DCFAIL_OVERLAY_CONFIG (the overlay module's
 * master.json; default /opt/mesosphere/etc/overlay/config/master.json, else DC/OS's defaults).
 *
 * What it reproduces, rule by rule (see lab/machines/MESOS.md): election through ZooKeeper
 * (src/master/contender/zookeeper.cpp, src/master/detector/zookeeper.cpp), the registrar's
 * recovery after election (src/master/registrar.cpp, src/master/master.cpp), the registry's
 * replicated log and the overlay module's (replicated-log.ts, mesos-overlay.ts), and the HTTP
 * answers dcfail reads (src/master/http.cpp). It never closes its ZooKeeper sessions: on SIGTERM
 * (Node's default action: die by the signal, no JS runs) its znodes linger until they expire, as
 * Mesos' do. Any fatal error exits 1; systemd restarts it (Restart=always, RestartSec=15).
 */
import { execSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { labTimers, timeScale } from '../timers.js';
import { DCOS_DEFAULT_OVERLAY, OverlayManager, type NetworkConfig } from './mesos-overlay.js';
import { parseZkUrl, sequenceOf, ZkSession } from './mesos-zk.js';
import { Aborted, ReplicatedLog } from './replicated-log.js';

const VERSION = '1.11.0';

function log(msg: string): void {
  process.stdout.write(`${new Date().toISOString()} mesos-master[${process.pid}] ${msg}\n`);
}

/** LOG(FATAL)/EXIT(EXIT_FAILURE): Mesos dies; systemd restarts it. */
function fatal(msg: string): never {
  log(`F ${msg}`);
  process.exit(1);
}

/** stout's Duration::parse: `60secs`, `1mins`, `500ms`, `2hrs`... */
export function parseMesosDuration(s: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ns|us|ms|secs|mins|hrs|days|weeks)\s*$/.exec(s);
  if (!m) throw new Error(`invalid duration '${s}'`);
  const unit: Record<string, number> = { ns: 1e-6, us: 1e-3, ms: 1, secs: 1e3, mins: 60e3, hrs: 3600e3, days: 86400e3, weeks: 604800e3 };
  return Number(m[1]) * (unit[m[2] ?? 'ms'] ?? 1);
}

/** stout's `operator<<(Duration)`: the largest unit below the value (`1mins`, `6secs`, `500ms`). */
export function formatMesosDuration(ms: number): string {
  const fmt = (n: number) => String(Number(n.toPrecision(15)));
  if (ms < 1) return `${fmt(ms * 1000)}us`;
  if (ms < 1000) return `${fmt(ms)}ms`;
  if (ms < 60_000) return `${fmt(ms / 1000)}secs`;
  if (ms < 3_600_000) return `${fmt(ms / 60_000)}mins`;
  if (ms < 86_400_000) return `${fmt(ms / 3_600_000)}hrs`;
  return `${fmt(ms / 86_400_000)}days`;
}

export interface MasterConfig {
  readonly ip: string;
  readonly port: number;
  readonly hostname: string;
  readonly quorum: number;
  readonly workDir: string;
  readonly zk: string;
  readonly zkServers: string;
  readonly zkPath: string;
  readonly fetchMs: number;
  readonly storeMs: number;
  readonly sessionMs: number;
  readonly autoInitialize: boolean;
  readonly cluster: string | undefined;
  readonly overlay: NetworkConfig;
  readonly overlayLogDir: string;
  /** --domain (DC/OS: MESOS_DOMAIN, exported by start_mesos.sh from detect_fault_domain). */
  readonly domain: unknown;
}

export function readConfig(env: NodeJS.ProcessEnv = process.env): MasterConfig {
  const need = (k: string) => env[k] ?? fatal(`${k} is not set (EnvironmentFile=/opt/mesosphere/etc/mesos-master)`);
  const scale = timeScale(env);
  const t = labTimers(env);
  // A duration from the environment, in force at the lab's time scale.
  const dur = (k: string, dflt: number) => (env[k] ? Math.max(1, Math.round(parseMesosDuration(env[k] ?? '') * scale)) : dflt);
  const quorum = Number(need('MESOS_QUORUM'));
  if (!Number.isInteger(quorum) || quorum < 1) fatal(`MESOS_QUORUM='${env.MESOS_QUORUM}': expected a positive integer`);
  // --ip, else --ip_discovery_command (DC/OS: MESOS_IP_DISCOVERY_COMMAND=/opt/mesosphere/bin/detect_ip
  // in /opt/mesosphere/environment; src/master/main.cpp runs it and uses its output).
  const discovery = env.MESOS_IP_DISCOVERY_COMMAND;
  const ip = env.MESOS_IP ?? (discovery ? execSync(discovery, { encoding: 'utf8', shell: '/bin/sh' }).trim() : need('MESOS_IP'));
  const zk = need('MESOS_ZK');
  const { servers, path } = parseZkUrl(zk);
  const workDir = need('MESOS_WORK_DIR');
  const overlayFile = env.DCFAIL_OVERLAY_CONFIG ?? '/opt/mesosphere/etc/overlay/config/master.json';
  let overlay = DCOS_DEFAULT_OVERLAY;
  let overlayLogDir = workDir;
  if (existsSync(overlayFile)) {
    const o = JSON.parse(readFileSync(overlayFile, 'utf8')) as { replicated_log_dir?: string; network?: NetworkConfig };
    if (o.network) overlay = { vtep_subnet: o.network.vtep_subnet, vtep_mac_oui: o.network.vtep_mac_oui, overlays: o.network.overlays.filter((x) => x.subnet) };
    if (o.replicated_log_dir) overlayLogDir = o.replicated_log_dir;
  }
  return {
    ip,
    port: Number(env.MESOS_PORT ?? 5050),
    hostname: env.MESOS_HOSTNAME ?? ip,
    quorum,
    workDir,
    zk,
    zkServers: servers,
    zkPath: path,
    fetchMs: dur('MESOS_REGISTRY_FETCH_TIMEOUT', t.mesosRegistryFetchMs),
    storeMs: dur('MESOS_REGISTRY_STORE_TIMEOUT', t.mesosRegistryStoreMs),
    sessionMs: dur('MESOS_ZK_SESSION_TIMEOUT', t.mesosZkSessionMs),
    autoInitialize: (env.MESOS_LOG_AUTO_INITIALIZE ?? 'true') !== 'false',
    cluster: env.MESOS_CLUSTER,
    overlay,
    overlayLogDir: overlayLogDir.replace(/\/+$/, ''),
    domain: env.MESOS_DOMAIN ? (JSON.parse(env.MESOS_DOMAIN) as unknown) : undefined,
  };
}

/** MasterInfo as Mesos writes it into its json.info_ znode (JSON::protobuf(MasterInfo)). */
interface MasterInfo {
  id: string;
  ip: number;
  port: number;
  pid: string;
  hostname: string;
  version: string;
  address: { hostname: string; ip: string; port: number };
  domain?: unknown;
}

/** MasterInfo.ip: the IPv4 address in network byte order read as a host (little-endian) uint32. */
function ipToNetworkOrderUint32(ip: string): number {
  const b = ip.split('.').map(Number);
  return (((b[3] ?? 0) << 24) >>> 0) + ((b[2] ?? 0) << 16) + ((b[1] ?? 0) << 8) + (b[0] ?? 0);
}

interface Scalar {
  name: string;
  type: 'SCALAR';
  scalar: { value: number };
}
interface SlaveInfo {
  hostname: string;
  port: number;
  id: { value: string };
  checkpoint: boolean;
  resources?: Scalar[];
  domain?: unknown;
}
/** The registry (src/master/registry.proto), reduced: the master and the admitted agents. */
interface Registry {
  master?: { info: MasterInfo };
  slaves?: { slaves: { info: SlaveInfo }[] };
}

class Master {
  private readonly cfg: MasterConfig;
  private readonly info: MasterInfo;
  private readonly registryLog: ReplicatedLog;
  private readonly overlayLog: ReplicatedLog;
  private readonly overlay: OverlayManager;
  private readonly pollMs: number;
  private readonly startTime = Date.now() / 1000;
  private session: ZkSession | undefined;
  private infoZnode: string | undefined;
  leader: MasterInfo | undefined;
  /** The znode `leader` was read from (its data never changes: read once). */
  private leaderZnode: string | undefined;
  elected = false;
  private electedTime: number | undefined;
  /**
   * The registry the registrar holds: the fetched one from the fetch on, then each stored one
   * (registrar.cpp `_recover` sets it before the Recover store, `_update` after each store).
   */
  private registry: Registry | undefined;
  /** The registrar recovered: the Recover operation (this MasterInfo) was stored (registrar.cpp `__recover`). */
  private recovered = false;
  private registryBytes = 0;
  private updates: Promise<unknown> = Promise.resolve();
  private nextAgent = 0;
  /** Agents that (re-)registered with this master since it was elected. */
  private readonly connected = new Set<string>();

  constructor(cfg: MasterConfig) {
    this.cfg = cfg;
    const t = labTimers();
    this.pollMs = t.labZkPollMs;
    const address = `${cfg.ip}:${cfg.port}`;
    this.info = {
      id: randomUUID(),
      ip: ipToNetworkOrderUint32(cfg.ip),
      port: cfg.port,
      pid: `master@${address}`,
      hostname: cfg.hostname,
      version: VERSION,
      address: { hostname: cfg.hostname, ip: cfg.ip, port: cfg.port },
      ...(cfg.domain !== undefined ? { domain: cfg.domain } : {}),
    };
    const common = {
      ip: cfg.ip,
      port: cfg.port,
      quorum: cfg.quorum,
      zkServers: cfg.zkServers,
      recoverRetryMs: t.mesosLogRecoverRetryMs,
      recoverRoundMs: t.mesosLogRecoverRoundMs,
      nackRetryMs: t.mesosLogNackRetryMs,
      pollMs: t.labZkPollMs,
      log,
    };
    // src/master/main.cpp: Log(quorum, work_dir/replicated_log, zk servers, zk_session_timeout,
    // zk path/log_replicas, log_auto_initialize, "registrar/").
    this.registryLog = new ReplicatedLog({
      ...common,
      id: 'log-replica(1)',
      dir: `${cfg.workDir}/replicated_log`,
      groupPath: `${cfg.zkPath === '/' ? '' : cfg.zkPath}/log_replicas`,
      sessionTimeoutMs: cfg.sessionMs,
      autoInitialize: cfg.autoInitialize,
    });
    // overlay/master.cpp: Log(MESOS_QUORUM, replicated_log_dir/overlay_replicated_log, zk servers,
    // session_timeout (10 s), zk path/overlay_log_replicas, auto-initialize true, "overlay/master/").
    this.overlayLog = new ReplicatedLog({
      ...common,
      id: 'log-replica(2)',
      dir: `${cfg.overlayLogDir}/overlay_replicated_log`,
      groupPath: `${cfg.zkPath === '/' ? '' : cfg.zkPath}/overlay_log_replicas`,
      sessionTimeoutMs: t.overlayZkSessionMs,
      autoInitialize: true,
    });
    this.overlay = new OverlayManager(this.overlayLog, cfg.overlay, t.overlayLogTimeoutMs, t.overlayManagerRestartMs, log);
  }

  start(): void {
    this.registryLog.start();
    this.overlayLog.start();
    void this.electionLoop();
  }

  // ---- election (src/master/contender/zookeeper.cpp, detector/zookeeper.cpp, master.cpp) ----

  private async electionLoop(): Promise<void> {
    const path = this.cfg.zkPath;
    const child = (n: string) => `${path === '/' ? '' : path}/${n}`;
    for (;;) {
      try {
        if (this.session?.locallyExpired(this.cfg.sessionMs)) {
          // The contender's session is gone: a leader dies, a follower contends again.
          if (this.elected) fatal('Lost candidacy as a leader... committing suicide! (ZooKeeper session expired)');
          log('W ZooKeeper session expired: lost candidacy as a follower, contending again');
          this.session.close();
          this.session = undefined;
          this.leader = undefined;
          this.leaderZnode = undefined;
        }
        if (!this.session) {
          const s = await ZkSession.open(this.cfg.zkServers, this.cfg.sessionMs, this.cfg.sessionMs);
          await s.mkdirp(path, this.cfg.sessionMs);
          this.infoZnode = await s.createEphemeralSequential(child('json.info_'), JSON.stringify(this.info), this.cfg.sessionMs);
          this.session = s;
          log(`Contending for leadership: ${this.infoZnode}`);
        }
        if (this.session.connected) await this.detect(this.session, child);
      } catch (err) {
        log(`W ZooKeeper: ${(err as Error).message}`);
        await new Promise((r) => setTimeout(r, this.pollMs * 5));
      }
      await new Promise((r) => setTimeout(r, this.pollMs));
    }
  }

  private async detect(s: ZkSession, child: (n: string) => string): Promise<void> {
    const names = (await s.children(this.cfg.zkPath, this.cfg.sessionMs)).filter((n) => n.startsWith('json.info_'));
    names.sort((a, b) => sequenceOf(a) - sequenceOf(b));
    const mine = this.infoZnode?.split('/').pop();
    if (mine && !names.includes(mine)) {
      // Our candidacy znode is gone (session lost behind our back).
      if (this.elected) fatal('Lost candidacy as a leader... committing suicide!');
      log('W Lost candidacy as a follower... contending again');
      s.close();
      this.session = undefined;
      return;
    }
    const first = names[0];
    let leader: MasterInfo | undefined;
    if (first && first === this.leaderZnode) leader = this.leader;
    else if (first) {
      const data = await s.getData(child(first), this.cfg.sessionMs);
      if (data) leader = JSON.parse(data) as MasterInfo;
    }
    this.leaderZnode = leader ? first : undefined;
    const electedNow = first !== undefined && first === mine;
    // src/master/master.cpp Master::detected.
    if (this.elected && !electedNow) fatal(leader ? 'Conceded leadership to another master... committing suicide!' : 'Lost leadership... committing suicide!');
    if (!electedNow && leader?.pid !== this.leader?.pid) log(leader ? `The newly elected leader is ${leader.pid} with id ${leader.id}` : 'No master is currently leading');
    this.leader = leader;
    if (electedNow && !this.elected) {
      this.elected = true;
      this.electedTime = Date.now() / 1000;
      log('Elected as the leading master!');
      void this.recoverRegistrar();
    }
  }

  // ---- the registrar (src/master/registrar.cpp, src/master/master.cpp) ----

  private async recoverRegistrar(): Promise<void> {
    log('Recovering from registrar');
    const fetchAc = new AbortController();
    const ft = setTimeout(() => fetchAc.abort(`Failed to perform fetch within ${formatMesosDuration(this.cfg.fetchMs)}`), this.cfg.fetchMs);
    let registry: Registry;
    try {
      const value = await this.registryLog.fetch(fetchAc.signal);
      registry = value ? (JSON.parse(value) as Registry) : {};
    } catch (err) {
      fatal(`Recovery failed: Failed to recover registrar: ${err instanceof Aborted ? err.message : (err as Error).message}`);
    } finally {
      clearTimeout(ft);
    }
    log(`Successfully fetched the registry (${Buffer.byteLength(JSON.stringify(registry))}B)`);
    // From here the size gauge and /registrar(1)/registry show the fetched registry.
    this.registry = registry;
    this.registryBytes = Buffer.byteLength(JSON.stringify(registry));
    // The Recover operation: store the registry with our MasterInfo, under the store timeout.
    const next: Registry = { ...registry, master: { info: this.info } };
    const r = await this.storeRegistry(next);
    if (r !== true) fatal(`Recovery failed: Failed to recover registrar: Failed to persist MasterInfo: ${r}`);
    this.registry = next;
    this.registryBytes = Buffer.byteLength(JSON.stringify(next));
    this.recovered = true;
    this.nextAgent = next.slaves?.slaves.length ?? 0;
    log(`Successfully recovered registrar; ${next.slaves?.slaves.length ?? 0} agent(s) in the registry`);
  }

  /** One registry store under --registry_store_timeout: true, or why it failed. */
  private async storeRegistry(next: Registry): Promise<true | string> {
    const ac = new AbortController();
    const t = setTimeout(() => ac.abort(`Failed to perform store within ${formatMesosDuration(this.cfg.storeMs)}`), this.cfg.storeMs);
    try {
      return (await this.registryLog.store(JSON.stringify(next), ac.signal)) ? true : 'version mismatch';
    } catch (err) {
      return err instanceof Aborted ? err.message : (err as Error).message;
    } finally {
      clearTimeout(t);
    }
  }

  /** Admits an agent (a registry write); a failed write aborts the master, as the registrar does. */
  private admit(req: { hostname: string; port: number; agentId?: string; resources?: Scalar[]; domain?: unknown }): Promise<{ id: string; reregistered: boolean }> {
    const run = async () => {
      const reg = this.recovered ? this.registry : undefined;
      if (!reg) throw new Error('registrar not recovered');
      const slaves = reg.slaves?.slaves ?? [];
      if (req.agentId && slaves.some((s) => s.info.id.value === req.agentId)) {
        this.connected.add(req.agentId);
        return { id: req.agentId, reregistered: true };
      }
      const id = req.agentId ?? `${this.info.id}-S${this.nextAgent++}`;
      const next: Registry = { ...reg, slaves: { slaves: [...slaves, { info: { hostname: req.hostname, port: req.port, id: { value: id }, checkpoint: true, ...(req.resources ? { resources: req.resources } : {}), ...(req.domain !== undefined ? { domain: req.domain } : {}) } }] } };
      const r = await this.storeRegistry(next);
      if (r !== true) fatal(`Registrar aborting: Failed to update registry: ${r}`);
      this.registry = next;
      this.registryBytes = Buffer.byteLength(JSON.stringify(next));
      this.connected.add(id);
      log(`Admitted agent ${id} (${req.hostname}) to the registry`);
      return { id, reregistered: req.agentId !== undefined };
    };
    const p = this.updates.then(run, run);
    this.updates = p.catch(() => undefined);
    return p;
  }

  // ---- HTTP (src/master/http.cpp and the libprocess endpoints) ----

  private flags(): Record<string, string> {
    const c = this.cfg;
    return {
      cluster: c.cluster ?? '',
      hostname: c.hostname,
      hostname_lookup: 'false',
      ip: c.ip,
      log_auto_initialize: String(c.autoInitialize),
      port: String(c.port),
      quorum: String(c.quorum),
      registry: 'replicated_log',
      registry_fetch_timeout: formatMesosDuration(c.fetchMs),
      registry_store_timeout: formatMesosDuration(c.storeMs),
      registry_strict: 'false',
      work_dir: c.workDir,
      zk: c.zk,
      zk_session_timeout: formatMesosDuration(c.sessionMs),
    };
  }

  private metrics(): Record<string, number> {
    const m: Record<string, number> = {
      'master/elected': this.elected ? 1 : 0,
      'master/uptime_secs': Date.now() / 1000 - this.startTime,
      'registrar/log/recovered': this.registryLog.recovered ? 1 : 0,
      'registrar/log/ensemble_size': this.registryLog.members.length,
      'overlay/master/log/recovered': this.overlayLog.recovered ? 1 : 0,
      'overlay/master/log/ensemble_size': this.overlayLog.members.length,
      'overlay/master/recovering': this.overlay.recovering ? 1 : 0,
    };
    // The gauge exists only once the registrar fetched the registry (registrar.cpp `_registry_size_bytes`).
    if (this.registry) m['registrar/registry_size_bytes'] = this.registryBytes;
    return m;
  }

  private state(): Record<string, unknown> {
    const slaves = this.registry?.slaves?.slaves ?? [];
    const agent = (s: { info: SlaveInfo }) => slaveJson(s.info, this.connected.has(s.info.id.value));
    return {
      version: VERSION,
      build_user: 'dcfail-lab',
      start_time: this.startTime,
      ...(this.electedTime !== undefined ? { elected_time: this.electedTime } : {}),
      id: this.info.id,
      pid: this.info.pid,
      hostname: this.info.hostname,
      ...(this.cfg.cluster ? { cluster: this.cfg.cluster } : {}),
      ...(this.cfg.domain !== undefined ? { domain: this.cfg.domain } : {}),
      activated_slaves: slaves.filter((s) => this.connected.has(s.info.id.value)).length,
      deactivated_slaves: 0,
      ...(this.leader ? { leader: this.leader.pid, leader_info: this.leader } : {}),
      flags: this.flags(),
      slaves: slaves.filter((s) => this.connected.has(s.info.id.value)).map(agent),
      recovered_slaves: slaves.filter((s) => !this.connected.has(s.info.id.value)).map(agent),
      frameworks: [],
      completed_frameworks: [],
      unregistered_frameworks: [],
    };
  }

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${this.cfg.ip}:${this.cfg.port}`);
    const path = url.pathname;
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      const text = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, { 'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json', ...headers });
      res.end(text);
    };
    /** Master::Http::redirect: 307 to the leader, protocol-relative; 503 without a leader. */
    const redirect = () => {
      const l = this.leader;
      if (!l) return send(503, 'No leader elected');
      const base = `//${l.hostname}:${l.port}`;
      if (path === '/redirect' || path === '/master/redirect') return send(307, '', { location: base });
      if (path.startsWith('/redirect/') || path.startsWith('/master/redirect/')) return send(404, '');
      return send(307, '', { location: `${base}${path}${url.search}` });
    };
    const m = req.method ?? 'GET';

    // The replicas' wire (lab protocol): POST /log-replica(N)/<op>.
    const rep = /^\/(log-replica\([12]\))\/(recover|promise|write|learned)$/.exec(path);
    if (rep && m === 'POST') {
      const lg = rep[1] === this.registryLog.opts.id ? this.registryLog : this.overlayLog;
      const body = await readBody(req);
      return send(200, { reply: lg.handle(rep[2] ?? '', body) ?? null });
    }

    if (m === 'GET' && path === '/metrics/snapshot') return send(200, this.metrics());
    if (m === 'GET' && path === '/master/health') return send(200, '');
    if (m === 'GET' && path === '/flags') return send(200, { flags: this.flags() });
    if (m === 'GET' && path === '/version') return send(200, { version: VERSION, build_user: 'dcfail-lab' });
    if (m === 'GET' && (path === '/master/slaves' || path === '/master/slaves.json')) {
      if (!this.elected) return redirect();
      const all = this.registry?.slaves?.slaves ?? [];
      return send(200, {
        slaves: all.filter((x) => this.connected.has(x.info.id.value)).map((x) => slaveJson(x.info, true)),
        recovered_slaves: all.filter((x) => !this.connected.has(x.info.id.value)).map((x) => slaveJson(x.info, false)),
      });
    }
    if (m === 'GET' && (path === '/redirect' || path === '/master/redirect')) return redirect();
    if (m === 'GET' && path === '/registrar(1)/registry') return send(200, this.registry ?? {});
    if (m === 'GET' && (path === '/master/state' || path === '/master/state.json')) {
      // No recovery check here: the leader answers before its registrar recovered.
      if (!this.elected) return redirect();
      return send(200, this.state());
    }
    if (path === '/api/v1') {
      if (!this.elected) return redirect();
      if (!this.recovered) return send(503, 'Master has not finished recovery');
      if (m !== 'POST') return send(405, '', { allow: 'POST' });
      const body = (await readBody(req)) as { type?: string };
      if (body.type === 'GET_HEALTH') return send(200, { type: 'GET_HEALTH', get_health: { healthy: true } });
      if (body.type === 'GET_FLAGS') return send(200, { type: 'GET_FLAGS', get_flags: { flags: Object.entries(this.flags()).map(([name, value]) => ({ name, value })) } });
      return send(400, `Unsupported call type in the lab stand-in: ${String(body.type)}`);
    }
    if (m === 'GET' && path === '/overlay-master/state') {
      // A terminated libprocess process has no routes: 404 until the supervisor restarts it.
      if (this.overlay.terminated) return send(404, '');
      return send(200, this.overlay.view());
    }

    // ---- lab-only endpoints (not Mesos; dcfail never reads them) ----
    if (m === 'POST' && path === '/lab/agents/register') {
      // An agent's (re-)registration: it goes to the leader; the registry write admits it.
      if (!this.elected) return redirect();
      if (!this.recovered) return send(503, 'Master has not finished recovery');
      const b = (await readBody(req)) as { hostname?: string; port?: number; agent_id?: string; resources?: Scalar[]; domain?: unknown };
      if (typeof b.hostname !== 'string') return send(400, 'hostname expected');
      const r = await this.admit({
        hostname: b.hostname,
        port: b.port ?? 5051,
        ...(b.agent_id ? { agentId: b.agent_id } : {}),
        ...(Array.isArray(b.resources) ? { resources: b.resources } : {}),
        ...(b.domain !== undefined ? { domain: b.domain } : {}),
      });
      return send(200, { agent_id: r.id, reregistered: r.reregistered, master: this.info.pid });
    }
    if (m === 'POST' && path === '/lab/overlay/register') {
      // The overlay agent's RegisterAgentMessage: no leadership check, as in overlay/master.cpp.
      const b = (await readBody(req)) as { ip?: string };
      if (typeof b.ip !== 'string') return send(400, 'ip expected');
      const r = await this.overlay.register(b.ip);
      return r.kind === 'ok' ? send(200, { agent: r.agent }) : send(503, { dropped: r.reason });
    }
    if (m === 'GET' && path === '/lab/log/registry') return send(200, this.registryLog.dump());
    if (m === 'GET' && path === '/lab/log/overlay') return send(200, this.overlayLog.dump());
    return send(404, '');
  }
}

/** An agent as /master/state and /master/slaves list it (src/master/http.cpp, reduced). */
function slaveJson(info: SlaveInfo, active: boolean): Record<string, unknown> {
  const res: Record<string, number> = { cpus: 0, mem: 0, disk: 0, gpus: 0 };
  for (const r of info.resources ?? []) res[r.name] = (res[r.name] ?? 0) + r.scalar.value;
  return {
    id: info.id.value,
    hostname: info.hostname,
    port: info.port,
    pid: `slave(1)@${info.hostname}:${info.port}`,
    attributes: {},
    resources: res,
    used_resources: { cpus: 0, mem: 0, disk: 0, gpus: 0 },
    active,
    ...(info.domain !== undefined ? { domain: info.domain } : {}),
  };
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (s += d));
    req.on('end', () => {
      try {
        resolve(s === '' ? {} : (JSON.parse(s) as unknown));
      } catch {
        resolve({});
      }
    });
  });
}

async function main(): Promise<void> {
  const cfg = readConfig();
  log(`Starting Mesos master stand-in ${VERSION} at ${cfg.ip}:${cfg.port}, quorum ${cfg.quorum}, zk ${cfg.zk}, work_dir ${cfg.workDir}`);
  const master = new Master(cfg);
  const server = createServer((req, res) => {
    master.handle(req, res).catch((err: unknown) => {
      log(`W request ${req.method} ${req.url} failed: ${(err as Error).message}`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  // libprocess keeps one socket per peer for as long as both live (3rdparty/libprocess/src/process.cpp,
  // SocketManager): a message to a live peer is never lost to an idle timeout. Node's server closes
  // an idle keep-alive socket after 5 s, and a client (fetch) that sends on it just then loses that
  // message (the promise or write of a replicated-log round, which then waits for its timeout).
  // No idle timeout here: the client closes its idle sockets itself, without that race.
  server.keepAliveTimeout = 0;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, cfg.ip, () => resolve());
  });
  // Mesos binds its port first (libprocess), then starts the log and contends.
  master.start();
}

main().catch((err: unknown) => fatal(`${(err as Error).stack ?? String(err)}`));
