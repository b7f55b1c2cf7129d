/**
 * A Mesos master stand-in: no Mesos binary can be had here, so this process behaves toward
 * ZooKeeper, its files and its replicated log as a real master does, so that a wrong failover or
 * failback fails in the lab as it would in production.
 *
 *   node mesos-master.js --env-file F --master-count-file F --exhibitor-env-file F [--work-dir D] [--zk-port 2181]
 *
 * - reads MESOS_QUORUM (and MESOS_IP, MESOS_PORT, MESOS_WORK_DIR, MESOS_HOSTNAME,
 *   MESOS_REGISTRY_FETCH_TIMEOUT) from the env file, master_count from its file, and its
 *   ZooKeeper ensemble from EXHIBITOR_STATICENSEMBLE;
 * - before starting, waits until the number of serving ZooKeeper servers equals master_count
 *   (mode standalone when that is 1), as DC/OS's pre-start check does; nothing listens meanwhile;
 * - registers its replica under /mesos/log_replicas/ and contends under /mesos with an
 *   ephemeral sequential json.info_ znode (MasterInfo JSON); the lowest sequence leads;
 * - keeps its replicated log in <work_dir>/replicated_log/ (see replicated-log.ts for the rules);
 * - as leader, recovers the registrar from a quorum of VOTING replicas within the registry fetch
 *   timeout, else logs "Failed to recover registrar" and exits 1 (the supervisor restarts it);
 * - serves what dcfail reads as Mesos serves it: `/metrics/snapshot` with Mesos' own metric names
 *   (`registrar/registry_size_bytes` only once the registrar recovered), `/flags` (`quorum`),
 *   `/registrar(1)/registry` (each registry write shows as an admitted agent `lab-S<version>`),
 *   `POST /api/v1 GET_HEALTH` (503 until recovered);
 * - a leader that loses its ZooKeeper session or its leadership exits 1, as Mesos does.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { parseEnsemble, parseEnvFile } from '../layout.js';
import { httpJson, httpRequest, sleep, zkServing } from '../probes.js';
import {
  canRecoverRegistrar,
  decideRecovery,
  isReplicaLog,
  newest,
  readReplicaLog,
  writeReplicaLog,
  type PeerView,
  type ReplicaLog,
} from './replicated-log.js';
import { ZkSession } from './zk-client.js';

const VERSION = '1.11.0-dcfail-lab';
const TICK_MS = 500;
const ZK_OP_MS = 1500;
const PEER_MS = 1000;

function log(msg: string): void {
  process.stdout.write(`${new Date().toISOString()} mesos-master[${process.pid}] ${msg}\n`);
}

function fatal(msg: string): never {
  log(`F ${msg}`);
  process.exit(1);
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

/** `10secs`, `500ms`, `2mins` or plain milliseconds. */
export function parseDuration(s: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*(ms|secs?|s|mins?|m)?$/.exec(s.trim());
  if (!m) throw new Error(`bad duration '${s}'`);
  const n = Number(m[1]);
  const unit = m[2] ?? 'ms';
  if (unit === 'ms') return n;
  if (unit.startsWith('s')) return n * 1000;
  return n * 60_000;
}

interface Config {
  readonly ip: string;
  readonly port: number;
  readonly hostname: string;
  readonly quorum: number;
  readonly masterCount: number;
  readonly workDir: string;
  readonly ensemble: readonly { id: number; address: string }[];
  readonly zkPort: number;
  readonly fetchTimeoutMs: number;
  /** How long a registry write keeps trying for a quorum of acks (Mesos' --registry_store_timeout). */
  readonly storeTimeoutMs: number;
  readonly sessionTimeoutMs: number;
}

function readConfig(): Config {
  const envFile = arg('env-file');
  const countFile = arg('master-count-file');
  const exhibitorFile = arg('exhibitor-env-file');
  if (!envFile || !countFile || !exhibitorFile) fatal('usage: mesos-master --env-file F --master-count-file F --exhibitor-env-file F');
  const env = parseEnvFile(readFileSync(envFile, 'utf8'));
  const get = (k: string) => env.get(k) ?? process.env[k];
  const quorum = Number(get('MESOS_QUORUM'));
  if (!Number.isInteger(quorum) || quorum < 1) fatal(`${envFile}: MESOS_QUORUM is missing or not a positive number`);
  const masterCount = Number(readFileSync(countFile, 'utf8').trim());
  if (!Number.isInteger(masterCount) || masterCount < 1) fatal(`${countFile}: not a number of masters`);
  const ensembleValue = parseEnvFile(readFileSync(exhibitorFile, 'utf8')).get('EXHIBITOR_STATICENSEMBLE');
  if (!ensembleValue) fatal(`${exhibitorFile}: EXHIBITOR_STATICENSEMBLE is missing`);
  const ip = get('MESOS_IP') ?? fatal('MESOS_IP is not set');
  const workDir = get('MESOS_WORK_DIR') ?? arg('work-dir') ?? fatal('MESOS_WORK_DIR is not set');
  return {
    ip,
    port: Number(get('MESOS_PORT') ?? 5050),
    hostname: get('MESOS_HOSTNAME') ?? ip,
    quorum,
    masterCount,
    workDir,
    ensemble: parseEnsemble(ensembleValue),
    zkPort: Number(arg('zk-port') ?? 2181),
    fetchTimeoutMs: parseDuration(get('MESOS_REGISTRY_FETCH_TIMEOUT') ?? '10secs'),
    storeTimeoutMs: parseDuration(get('MESOS_REGISTRY_STORE_TIMEOUT') ?? '20secs'),
    sessionTimeoutMs: parseDuration(get('MESOS_ZK_SESSION_TIMEOUT') ?? '4secs'),
  };
}

/** DC/OS's pre-start check: as many serving ZooKeeper servers as master_count. */
async function waitForZooKeeper(cfg: Config): Promise<void> {
  let last = '';
  for (;;) {
    const states = await Promise.all(cfg.ensemble.map((s) => zkServing(s.address, cfg.zkPort, 1000)));
    const serving = states.filter((s) => s !== undefined);
    const ok = serving.length === cfg.masterCount && (cfg.masterCount !== 1 || serving[0]?.mode === 'standalone');
    if (ok) {
      log(`pre-start: ${serving.length} ZooKeeper server(s) serving, master_count is ${cfg.masterCount}: starting`);
      return;
    }
    const msg = `pre-start: ${serving.length} ZooKeeper server(s) serving (${states.map((s) => s?.mode ?? 'down').join(',')}), waiting for master_count ${cfg.masterCount}`;
    if (msg !== last) log(msg);
    last = msg;
    await sleep(250);
  }
}

interface MasterInfo {
  id: string;
  ip: number;
  port: number;
  pid: string;
  hostname: string;
  version: string;
  address: { hostname: string; ip: string; port: number };
}

function ipToUint32(ip: string): number {
  // MasterInfo.ip is the address in network byte order read as a little-endian uint32.
  const b = ip.split('.').map(Number);
  return ((b[3]! << 24) >>> 0) + (b[2]! << 16) + (b[1]! << 8) + b[0]!;
}

class Master {
  private readonly cfg: Config;
  private readonly info: MasterInfo;
  private readonly logDir: string;
  private replica: ReplicaLog;
  private zk: ZkSession | undefined;
  private replicaZnode: string | undefined;
  private infoZnode: string | undefined;
  private publishedStatus: string | undefined;
  private zkFailingSince: number | undefined;
  /** The current leader's MasterInfo, when known. */
  private leader: MasterInfo | undefined;
  private elected = false;
  private electedAt = 0;
  private recovered = false;
  private recoveringSince: number | undefined;
  private peers: string[] = [];
  private lastWait = '';
  private writeChain: Promise<unknown> = Promise.resolve();

  constructor(cfg: Config, replica: ReplicaLog) {
    this.cfg = cfg;
    this.replica = replica;
    this.logDir = `${cfg.workDir}/replicated_log`;
    const address = `${cfg.ip}:${cfg.port}`;
    this.info = {
      id: `${cfg.ip.replace(/\./g, '-')}-${cfg.port}-${Date.now()}`,
      ip: ipToUint32(cfg.ip),
      port: cfg.port,
      pid: `master@${address}`,
      hostname: cfg.hostname,
      version: VERSION,
      address: { hostname: cfg.hostname, ip: cfg.ip, port: cfg.port },
    };
  }

  private get self(): string {
    return `${this.cfg.ip}:${this.cfg.port}`;
  }

  async run(): Promise<void> {
    log(`replica status ${this.replica.status}, registry version ${this.replica.version}, quorum ${this.cfg.quorum}`);
    for (;;) {
      try {
        await this.tick();
      } catch (err) {
        log(`W ${(err as Error).message}`);
      }
      await sleep(TICK_MS);
    }
  }

  private async connect(): Promise<void> {
    const connect = this.cfg.ensemble.map((s) => `${s.address}:${this.cfg.zkPort}`).join(',');
    const zk = await ZkSession.open(connect, this.cfg.sessionTimeoutMs, 3000);
    try {
      await zk.mkdirp('/mesos/log_replicas', ZK_OP_MS);
      this.replicaZnode = await zk.createEphemeralSequential('/mesos/log_replicas/replica_', this.replicaData(), ZK_OP_MS);
      this.publishedStatus = this.replica.status;
      this.infoZnode = await zk.createEphemeralSequential('/mesos/json.info_', JSON.stringify(this.info), ZK_OP_MS);
    } catch (err) {
      zk.close();
      throw err;
    }
    this.zk = zk;
    log(`registered in ZooKeeper: ${this.replicaZnode}, ${this.infoZnode}`);
  }

  shutdown(): void {
    this.zk?.close();
  }

  private replicaData(): string {
    return JSON.stringify({ address: this.self, status: this.replica.status });
  }

  private async tick(): Promise<void> {
    if (!this.zk || this.zk.closed) {
      if (this.zk?.closed) {
        log('ZooKeeper session expired');
        if (this.elected) fatal('Lost leadership (ZooKeeper session expired); committing suicide!');
        this.zk = undefined;
        this.leader = undefined;
      }
      await this.connect();
    }
    const zk = this.zk!;
    try {
      await this.observe(zk);
      this.zkFailingSince = undefined;
    } catch (err) {
      const now = Date.now();
      this.zkFailingSince ??= now;
      if (now - this.zkFailingSince > this.cfg.sessionTimeoutMs) {
        if (this.elected) fatal(`Lost leadership (ZooKeeper unreachable for ${now - this.zkFailingSince} ms); committing suicide!`);
        if (this.leader) log(`no leader known: ZooKeeper unreachable (${(err as Error).message})`);
        this.leader = undefined;
      }
      return;
    }
    await this.recoverReplica();
    if (this.replica.status !== this.publishedStatus && this.replicaZnode) {
      await zk.setData(this.replicaZnode, this.replicaData(), ZK_OP_MS);
      this.publishedStatus = this.replica.status;
    }
    if (this.elected && !this.recovered) await this.recoverRegistrar();
  }

  /** Leader detection and the replica list, from ZooKeeper. */
  private async observe(zk: ZkSession): Promise<void> {
    const children = await zk.children('/mesos', ZK_OP_MS);
    const contenders = children.filter((c) => c.startsWith('json.info_')).sort((a, b) => seq(a) - seq(b));
    const mine = this.infoZnode?.split('/').pop();
    if (mine && !contenders.includes(mine)) {
      // Our ephemeral node is gone: the session was lost behind our back.
      if (this.elected) fatal('Lost leadership (our json.info znode is gone); committing suicide!');
      zk.close();
      return;
    }
    const first = contenders[0];
    let leader: MasterInfo | undefined;
    if (first) {
      const data = await zk.getData(`/mesos/${first}`, ZK_OP_MS);
      if (data) leader = JSON.parse(data) as MasterInfo;
    }
    const electedNow = first !== undefined && first === mine;
    if (this.elected && !electedNow) fatal('Lost leadership; committing suicide!');
    if (electedNow && !this.elected) {
      log(`Elected as the leading master (${mine})`);
      this.recoveringSince = Date.now();
      this.electedAt = Date.now();
    }
    if (!electedNow && leader && leader.pid !== this.leader?.pid) log(`The newly elected leader is ${leader.pid}`);
    this.elected = electedNow;
    this.leader = leader;

    const replicas = await zk.children('/mesos/log_replicas', ZK_OP_MS);
    const addresses = new Set<string>();
    for (const r of replicas) {
      const data = await zk.getData(`/mesos/log_replicas/${r}`, ZK_OP_MS);
      if (!data) continue;
      try {
        const a = (JSON.parse(data) as { address?: string }).address;
        if (a && a !== this.self) addresses.add(a);
      } catch {
        // not ours
      }
    }
    this.peers = [...addresses].sort();
  }

  private async askPeers(): Promise<PeerView[]> {
    return Promise.all(
      this.peers.map(async (address): Promise<PeerView> => {
        const body = await httpJson(`http://${address}/replica/log`, PEER_MS);
        return isReplicaLog(body) ? { kind: 'answered', address, log: body } : { kind: 'unreachable', address };
      }),
    );
  }

  private async recoverReplica(): Promise<void> {
    if (this.replica.status === 'VOTING') return;
    const peers = await this.askPeers();
    const d = decideRecovery(this.replica, peers, this.cfg.quorum);
    switch (d.kind) {
      case 'already-voting':
        return;
      case 'catch-up':
        this.replica = { status: 'VOTING', version: d.from.version, entries: d.from.entries };
        await writeReplicaLog(this.logDir, this.replica);
        log(`Replica caught up from ${d.voting} VOTING replicas: now VOTING at registry version ${this.replica.version}`);
        return;
      case 'auto-initialize-start':
        this.replica = { status: 'STARTING', version: 0, entries: [] };
        await writeReplicaLog(this.logDir, this.replica);
        log(`W !!! All ${d.empty} registered replicas are EMPTY: AUTO-INITIALIZING the replicated log (phase 1, STARTING). The registry starts EMPTY: anything these masters held before is LOST. !!!`);
        return;
      case 'auto-initialize-finish':
        this.replica = { status: 'VOTING', version: 0, entries: [] };
        await writeReplicaLog(this.logDir, this.replica);
        log(`W !!! Replicated log AUTO-INITIALIZED with an EMPTY registry (${d.starting} replicas STARTING): now VOTING at version 0 !!!`);
        return;
      case 'wait': {
        const msg = `Replica is EMPTY and waits: ${d.reason} (quorum ${this.cfg.quorum})`;
        if (msg !== this.lastWait) log(msg);
        this.lastWait = msg;
        return;
      }
      default: {
        const never: never = d;
        throw new Error(`unknown decision ${JSON.stringify(never)}`);
      }
    }
  }

  private async recoverRegistrar(): Promise<void> {
    const since = this.recoveringSince ?? Date.now();
    const peers = await this.askPeers();
    const voting = peers.filter((p): p is Extract<PeerView, { kind: 'answered' }> => p.kind === 'answered' && p.log.status === 'VOTING');
    if (canRecoverRegistrar(this.replica.status, voting.length, this.cfg.quorum)) {
      const registry = newest([this.replica, ...voting.map((p) => p.log)]);
      if (registry.version > this.replica.version) {
        this.replica = { status: 'VOTING', version: registry.version, entries: registry.entries };
        await writeReplicaLog(this.logDir, this.replica);
      }
      // Bring lagging VOTING replicas up to date, as a Paxos read does.
      await Promise.all(voting.filter((p) => p.log.version < registry.version).map((p) => this.sendAppend(p.address, this.replica)));
      this.recovered = true;
      log(`Recovered registrar from ${voting.length + 1} VOTING replicas: registry version ${this.replica.version}, ${this.replica.entries.length} entries`);
      return;
    }
    if (Date.now() - since > this.cfg.fetchTimeoutMs) {
      fatal(
        `Failed to recover registrar: Failed to perform fetch within ${this.cfg.fetchTimeoutMs / 1000}secs ` +
          `(own replica ${this.replica.status}, ${voting.length} VOTING peer(s) of ${this.peers.length}, quorum ${this.cfg.quorum})`,
      );
    }
  }

  private async sendAppend(address: string, l: ReplicaLog): Promise<boolean> {
    const r = await httpRequest(`http://${address}/replica/append`, { body: { version: l.version, entries: l.entries }, timeoutMs: PEER_MS });
    return r.kind === 'response' && r.status === 200;
  }

  /**
   * A quorum write: the new registry must be stored by `quorum` VOTING replicas, this one
   * included. As Mesos' log writer does, it keeps asking the replicas it knows of (the list
   * follows ZooKeeper's, refreshed by the tick) until a quorum has acked or the store timeout
   * passes; the caller then aborts.
   */
  private appendEntry(data: unknown): Promise<{ ok: true; version: number } | { ok: false; acks: number }> {
    const run = async () => {
      const version = this.replica.version + 1;
      const next: ReplicaLog = { status: 'VOTING', version, entries: [...this.replica.entries, { version, data, at: new Date().toISOString() }] };
      const own = await writeReplicaLog(this.logDir, next).then(
        () => true,
        () => false,
      );
      if (own) this.replica = next;
      const acked = new Set<string>();
      const deadline = Date.now() + this.cfg.storeTimeoutMs;
      for (;;) {
        const pending = this.peers.filter((p) => !acked.has(p));
        const answers = await Promise.all(pending.map(async (p) => ((await this.sendAppend(p, next)) ? p : null)));
        for (const a of answers) if (a) acked.add(a);
        const n = (own ? 1 : 0) + acked.size;
        if (n >= this.cfg.quorum) return { ok: true as const, version };
        if (!own || Date.now() >= deadline) return { ok: false as const, acks: n };
        await sleep(200);
      }
    };
    const p = this.writeChain.then(run, run);
    this.writeChain = p.catch(() => undefined);
    return p;
  }

  /**
   * The registry as Mesos' `/registrar(1)/registry` shows it (src/master/registry.proto): this
   * master's info and one admitted agent per registry write, `lab-S<version>`.
   */
  private registry(): Record<string, unknown> {
    return {
      master: { info: this.info },
      slaves: {
        slaves: this.replica.entries.map((e) => ({
          info: { hostname: 'dcfail-lab-agent', port: 5051, id: { value: `lab-S${e.version}` }, checkpoint: true },
        })),
      },
    };
  }

  // ---- HTTP -------------------------------------------------------------------------------

  async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', `http://${this.self}`);
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const json = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, { 'content-type': 'application/json', ...headers });
      res.end(`${JSON.stringify(body)}\n`);
    };
    const redirect = (to: string) => {
      res.writeHead(307, { location: to });
      res.end();
    };
    const leaderUrl = () => (this.leader ? `http://${this.leader.address.ip}:${this.leader.address.port}` : undefined);

    if (req.method === 'GET' && path === '/master/health') return json(200, { healthy: true });
    if (req.method === 'GET' && (path === '/metrics/snapshot' || path === '/master/metrics/snapshot')) {
      // Only metrics Mesos has. `registrar/log/recovered` is the log replica's own recovery (1 on
      // every VOTING replica, src/log/log.cpp `_recovered`); `registrar/registry_size_bytes` is
      // left out until the registrar recovered (src/master/registrar.cpp `_registry_size_bytes`).
      const m: Record<string, number> = {
        'master/elected': this.elected ? 1 : 0,
        'master/uptime_secs': process.uptime(),
        'registrar/log/recovered': this.replica.status === 'VOTING' ? 1 : 0,
        'registrar/log/ensemble_size': this.peers.length + 1,
      };
      if (this.elected && this.recovered) m['registrar/registry_size_bytes'] = Buffer.byteLength(JSON.stringify(this.registry()));
      return json(200, m);
    }
    if (req.method === 'GET' && path === '/flags') {
      // src/master/http.cpp `flags`: every flag as a string.
      return json(200, {
        flags: {
          quorum: String(this.cfg.quorum),
          work_dir: this.cfg.workDir,
          hostname: this.cfg.hostname,
          ip: this.cfg.ip,
          port: String(this.cfg.port),
          registry: 'replicated_log',
          registry_fetch_timeout: `${this.cfg.fetchTimeoutMs}ms`,
          registry_store_timeout: `${this.cfg.storeTimeoutMs}ms`,
          zk_session_timeout: `${this.cfg.sessionTimeoutMs}ms`,
        },
      });
    }
    if (req.method === 'GET' && path === '/version') return json(200, { version: VERSION, build_user: 'dcfail-lab' });
    if (req.method === 'GET' && path === '/registrar(1)/registry') {
      // Every master answers (no redirect); `{}` until its registrar recovered (src/master/registrar.cpp `getRegistry`).
      return json(200, this.elected && this.recovered ? this.registry() : {});
    }
    if (path === '/api/v1') {
      // src/master/http.cpp `api`: a follower redirects, a leader answers 503 until it recovered.
      if (!this.elected) {
        const to = leaderUrl();
        return to ? redirect(`${to}/api/v1`) : json(503, { error: 'no leading master' });
      }
      if (!this.recovered) {
        res.writeHead(503, { 'content-type': 'text/plain; charset=utf-8' });
        res.end('Master has not finished recovery');
        return;
      }
      if (req.method !== 'POST') return json(405, { error: 'expected POST' });
      const body = (await readBody(req)) as { type?: string };
      if (body.type === 'GET_HEALTH') return json(200, { type: 'GET_HEALTH', get_health: { healthy: true } });
      return json(400, { error: `unsupported call type in the lab stand-in: ${String(body.type)}` });
    }
    if (req.method === 'GET' && path === '/replica/log') {
      return json(200, { ...this.replica, address: this.self });
    }
    if (req.method === 'POST' && path === '/replica/append') {
      const body = await readBody(req);
      if (this.replica.status !== 'VOTING') return json(409, { error: 'replica is EMPTY: it does not vote' });
      if (!isReplicaLog({ ...(body as object), status: 'VOTING' })) return json(400, { error: 'expected { version, entries }' });
      const b = body as { version: number; entries: ReplicaLog['entries'] };
      if (b.version < this.replica.version) return json(409, { error: `stale write: version ${b.version} < ${this.replica.version}` });
      this.replica = { status: 'VOTING', version: b.version, entries: b.entries };
      await writeReplicaLog(this.logDir, this.replica);
      return json(200, { version: this.replica.version });
    }
    if (req.method === 'GET' && (path === '/master/redirect' || path === '/redirect')) {
      const to = leaderUrl();
      return to ? redirect(to) : json(503, { error: 'no leading master' });
    }
    if (req.method === 'GET' && (path === '/master/state' || path === '/state' || path === '/master/state.json')) {
      if (!this.elected) {
        const to = leaderUrl();
        return to ? redirect(`${to}${url.pathname}`) : json(503, { error: 'no leading master' });
      }
      // The leader answers before its registrar recovered, as Mesos' does (no recovery check).
      return json(200, {
        version: VERSION,
        id: this.info.id,
        pid: this.info.pid,
        hostname: this.info.hostname,
        leader: this.info.pid,
        leader_info: this.info,
        elected_time: this.electedAt / 1000,
        cluster: 'dcfail-lab',
        // Lab only (dcfail never reads it): the stand-in's registry log, for the lab's own tests.
        registry: { version: this.replica.version, entries: this.replica.entries },
      });
    }
    if (req.method === 'POST' && path === '/registry/entries') {
      if (!this.elected) {
        const to = leaderUrl();
        return to ? redirect(`${to}/registry/entries`) : json(503, { error: 'no leading master' });
      }
      if (!this.recovered) return json(503, { error: 'Master has not finished recovery' });
      const body = await readBody(req);
      const r = await this.appendEntry(body);
      if (r.ok) return json(200, { version: r.version });
      json(503, { error: `registry write reached ${r.acks} VOTING replicas, quorum is ${this.cfg.quorum}` });
      // A registrar that cannot store its registry aborts, as Mesos does.
      setTimeout(() => fatal(`Registrar aborting: failed to update registry (${r.acks} acks, quorum ${this.cfg.quorum})`), 50);
      return;
    }
    return json(404, { error: `no route ${req.method} ${path}` });
  }
}

function seq(name: string): number {
  return Number(name.slice(name.lastIndexOf('_') + 1));
}

function readBody(req: IncomingMessage): Promise<unknown> {
  return new Promise((resolve) => {
    let s = '';
    req.setEncoding('utf8');
    req.on('data', (d: string) => (s += d));
    req.on('end', () => {
      try {
        resolve(s === '' ? {} : JSON.parse(s));
      } catch {
        resolve(s);
      }
    });
  });
}

async function main(): Promise<void> {
  const cfg = readConfig();
  log(`starting: ${cfg.ip}:${cfg.port}, quorum ${cfg.quorum}, master_count ${cfg.masterCount}, work_dir ${cfg.workDir}`);
  let master: Master | undefined;
  process.on('SIGTERM', () => {
    log('received SIGTERM, exiting');
    // Closing the session removes our ephemeral znodes now rather than at session expiry.
    master?.shutdown();
    setTimeout(() => process.exit(0), 100);
  });
  await waitForZooKeeper(cfg);
  const replica = await readReplicaLog(`${cfg.workDir}/replicated_log`);
  master = new Master(cfg, replica);
  const m = master;
  const server = createServer((req, res) => {
    m.handle(req, res).catch((err: unknown) => {
      log(`W request failed: ${(err as Error).message}`);
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(cfg.port, cfg.ip, () => resolve());
  });
  log(`listening on http://${cfg.ip}:${cfg.port}`);
  await m.run();
}

main().catch((err: unknown) => fatal(`${(err as Error).stack ?? String(err)}`));
