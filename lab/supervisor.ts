/**
 * The lab's supervisor: a root daemon (started detached by `lab up`) that plays init for every
 * node. It runs each node's sshd, etcd, Exhibitor stand-in (with ZooKeeper as its child) and
 * Mesos master stand-in, restarts a crashed service after a short delay (systemd's
 * Restart=always, RestartSec=1) unless it is stopped, masked or on a node of a killed DC, and
 * answers the control socket (see protocol.ts) that labctl, lab.ts and the tests use.
 *
 *   node supervisor.js <labDir>
 *
 * Unit state that a real machine keeps on disk (masked; stopped) lives in each node's tree
 * (var/lib/lab/units.json), so it survives kill-dc and revive-dc. Like systemd, a power-on
 * (revive-dc) starts every unit that is not masked, whatever was stopped before.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { blackholedAmong, setBlackhole } from './blackhole.js';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Socket } from 'node:net';
import { UNITS, ALL_UNITS, type LabLayout, type LabNode } from './layout.js';
import type { KillResult, Request, Response, SupervisorStatus, UnitShow, UnitStatus } from './protocol.js';
import { holdPathsOf, renderHoldDropIn } from '../src/guard/render.js';

const RESTART_DELAY_MS = 1000;
const STOP_TIMEOUT_MS = 15_000;

function log(msg: string): void {
  process.stdout.write(`${new Date().toISOString()} supervisor: ${msg}\n`);
}

interface Unit {
  readonly node: LabNode;
  readonly name: string;
  child: ChildProcess | undefined;
  restartTimer: NodeJS.Timeout | undefined;
  restarts: number;
  /** Resolvers waiting for the current child to exit. */
  exitWaiters: (() => void)[];
}

interface PersistedUnitState {
  masked: boolean;
  stopped: boolean;
}

interface LabState {
  killedDcs: string[];
}

export class Supervisor {
  private readonly layout: LabLayout;
  private readonly units = new Map<string, Unit>();
  private readonly statePath: string;
  private state: LabState;
  private shuttingDown = false;
  /**
   * systemd's view of each unit's drop-ins: the paths of its `ConditionPathExists=!<path>` lines, read
   * at boot (the supervisor's start, a power-on) and at daemon-reload only, as systemd reads them.
   */
  private readonly conditions = new Map<string, string[]>();
  /** Whether the last start of each unit passed its conditions (systemd's ConditionResult). */
  private readonly conditionResult = new Map<string, boolean>();

  constructor(layout: LabLayout) {
    this.layout = layout;
    this.statePath = `${layout.dir}/state.json`;
    this.state = existsSync(this.statePath) ? (JSON.parse(readFileSync(this.statePath, 'utf8')) as LabState) : { killedDcs: [] };
    for (const node of layout.nodes) {
      for (const name of ALL_UNITS) {
        this.units.set(`${node.name}/${name}`, { node, name, child: undefined, restartTimer: undefined, restarts: 0, exitWaiters: [] });
      }
      this.daemonReload(node);
    }
  }

  // ---- drop-ins: the hold (ConditionPathExists=!<flag>) -------------------------------------

  /** Reads every unit's drop-ins of the node (`<root>/etc/systemd/system/<unit>.service.d/*.conf`). */
  private daemonReload(node: LabNode): void {
    for (const u of this.unitsOf([node])) {
      const dir = `${node.root}/etc/systemd/system/${u.name}.service.d`;
      const paths: string[] = [];
      let files: string[] = [];
      try {
        files = readdirSync(dir).filter((f) => f.endsWith('.conf')).sort();
      } catch {
        files = [];
      }
      for (const f of files) {
        for (const line of readFileSync(`${dir}/${f}`, 'utf8').split('\n')) {
          const m = /^ConditionPathExists=!(\/.+)$/.exec(line.trim());
          if (m) paths.push(m[1]!);
        }
      }
      this.conditions.set(`${node.name}/${u.name}`, paths);
    }
  }

  /** Evaluates the unit's conditions as a start does; false: systemd skips the start (the unit is held). */
  private conditionsPass(u: Unit): boolean {
    const ok = !(this.conditions.get(`${u.node.name}/${u.name}`) ?? []).some((p) => existsSync(p));
    this.conditionResult.set(`${u.node.name}/${u.name}`, ok);
    if (!ok) log(`${u.node.name}/${u.name}: start condition failed (held), not started`);
    return ok;
  }

  /** The lab fence's hold, out of band: the flag and the drop-in on the node's disk, then a reload. */
  private hold(u: Unit): void {
    const p = holdPathsOf(u.name, `${u.node.root}/var/lib/dcfail/guard`, `${u.node.root}/etc/systemd/system`);
    for (const [file, text] of [
      [p.flag, 'held by the lab fence\n'],
      [p.dropIn, renderHoldDropIn(p)],
    ] as const) {
      mkdirSync(file.slice(0, file.lastIndexOf('/')), { recursive: true, mode: 0o755 });
      writeFileSync(`${file}.tmp`, text, { mode: 0o644 });
      renameSync(`${file}.tmp`, file);
    }
    this.daemonReload(u.node);
  }

  // ---- persisted state ----------------------------------------------------------------------

  private unitStates(node: LabNode): Record<string, PersistedUnitState> {
    try {
      return JSON.parse(readFileSync(node.paths.unitStateFile, 'utf8')) as Record<string, PersistedUnitState>;
    } catch {
      return {};
    }
  }

  private persisted(u: Unit): PersistedUnitState {
    return this.unitStates(u.node)[u.name] ?? { masked: false, stopped: false };
  }

  private persist(u: Unit, patch: Partial<PersistedUnitState>): void {
    const all = this.unitStates(u.node);
    all[u.name] = { ...(all[u.name] ?? { masked: false, stopped: false }), ...patch };
    writeJsonAtomic(u.node.paths.unitStateFile, all);
  }

  private saveState(): void {
    writeJsonAtomic(this.statePath, this.state);
  }

  private isKilled(node: LabNode): boolean {
    return this.state.killedDcs.includes(node.dc);
  }

  // ---- processes ----------------------------------------------------------------------------

  private command(u: Unit): { file: string; args: string[] } {
    const p = u.node.paths;
    const dist = `${this.layout.repoRoot}/dist/lab`;
    switch (u.name) {
      case UNITS.sshd:
        return { file: '/usr/sbin/sshd', args: ['-D', '-e', '-f', p.sshdConfig] };
      case UNITS.etcd:
        // Configured only by its env file, as the etcd unit's EnvironmentFile= does.
        return { file: '/bin/sh', args: ['-c', 'set -a; . "$0"; set +a; exec /usr/bin/etcd', p.etcdEnvFile] };
      case UNITS.exhibitor:
        return {
          file: this.layout.nodeBinary,
          args: [`${dist}/standins/exhibitor.js`, '--env-file', p.exhibitorEnvFile, '--address', u.node.address, '--zk-data-dir', p.zkDataDir, '--conf-dir', p.zkConfDir],
        };
      case UNITS.mesos:
        return {
          file: this.layout.nodeBinary,
          args: [
            `${dist}/standins/mesos-master.js`,
            '--env-file',
            p.mesosEnvFile,
            '--master-count-file',
            p.masterCountFile,
            '--exhibitor-env-file',
            p.exhibitorEnvFile,
            '--work-dir',
            p.mesosWorkDir,
          ],
        };
      default:
        throw new Error(`unknown unit ${u.name}`);
    }
  }

  private spawnUnit(u: Unit): void {
    if (u.child) return;
    clearTimeout(u.restartTimer);
    u.restartTimer = undefined;
    const { file, args } = this.command(u);
    mkdirSync(u.node.paths.logDir, { recursive: true });
    const out = openSync(`${u.node.paths.logDir}/${u.name}.log`, 'a');
    const child = spawn(file, args, {
      cwd: u.node.root,
      detached: true, // its own process group: stop and kill reach its children (ZooKeeper under Exhibitor)
      stdio: ['ignore', out, out],
      env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/root', LANG: 'C.UTF-8' },
    });
    closeSync(out);
    u.child = child;
    log(`${u.node.name}/${u.name}: started pid ${child.pid}`);
    child.on('exit', (code, signal) => {
      if (u.child === child) u.child = undefined;
      const waiters = u.exitWaiters;
      u.exitWaiters = [];
      for (const w of waiters) w();
      log(`${u.node.name}/${u.name}: pid ${child.pid} exited (${signal ?? `code ${code}`})`);
      this.maybeRestart(u);
    });
    child.on('error', (err) => log(`${u.node.name}/${u.name}: spawn failed: ${err.message}`));
  }

  private maybeRestart(u: Unit): void {
    if (this.shuttingDown || u.child || u.restartTimer) return;
    const s = this.persisted(u);
    if (s.masked || s.stopped || this.isKilled(u.node)) return;
    u.restartTimer = setTimeout(() => {
      u.restartTimer = undefined;
      const again = this.persisted(u);
      if (this.shuttingDown || again.masked || again.stopped || this.isKilled(u.node)) return;
      if (!this.conditionsPass(u)) return;
      u.restarts += 1;
      this.spawnUnit(u);
    }, RESTART_DELAY_MS);
  }

  private waitExit(u: Unit, timeoutMs: number): Promise<boolean> {
    if (!u.child) return Promise.resolve(true);
    return new Promise((resolve) => {
      const t = setTimeout(() => resolve(false), timeoutMs);
      u.exitWaiters.push(() => {
        clearTimeout(t);
        resolve(true);
      });
    });
  }

  private async stopUnit(u: Unit): Promise<void> {
    clearTimeout(u.restartTimer);
    u.restartTimer = undefined;
    const child = u.child;
    if (!child?.pid) return;
    signalGroup(child.pid, 'SIGTERM');
    if (!(await this.waitExit(u, STOP_TIMEOUT_MS))) {
      log(`${u.node.name}/${u.name}: did not stop within ${STOP_TIMEOUT_MS} ms, killing`);
      killTree([child.pid]);
      await this.waitExit(u, 5000);
    }
  }

  private unitsOf(nodes: readonly LabNode[]): Unit[] {
    return [...this.units.values()].filter((u) => nodes.includes(u.node));
  }

  /** Power-on: every unit that is not masked starts, as systemd does at boot. */
  private powerOn(node: LabNode): void {
    this.daemonReload(node);
    for (const u of this.unitsOf([node])) {
      const s = this.persisted(u);
      if (s.stopped) this.persist(u, { stopped: false });
      if (u.name === UNITS.sshd || (!s.masked && this.conditionsPass(u))) this.spawnUnit(u);
    }
  }

  /** Power loss: SIGKILL every process of these nodes at once, children and ssh sessions included. */
  private powerOff(nodes: readonly LabNode[]): number {
    const units = this.unitsOf(nodes);
    for (const u of units) {
      clearTimeout(u.restartTimer);
      u.restartTimer = undefined;
    }
    const pids = units.map((u) => u.child?.pid).filter((p): p is number => p !== undefined);
    return killTree(pids);
  }

  // ---- DC kill / revive ---------------------------------------------------------------------

  private blackhole(addresses: readonly string[], on: boolean): { ok: boolean; detail: string } {
    return setBlackhole(addresses, on);
  }

  private blackholedAddresses(): string[] {
    return blackholedAmong(this.layout.nodes.map((n) => n.address));
  }

  private killDc(dc: string): KillResult {
    const nodes = this.layout.nodes.filter((n) => n.dc === dc);
    if (nodes.length === 0) throw new Error(`no datacenter '${dc}' in this lab`);
    if (!this.state.killedDcs.includes(dc)) this.state.killedDcs.push(dc);
    this.saveState();
    // The link goes first, so that peers see no FIN or RST: a dead WAN link, not a clean close.
    const bh = this.blackhole(
      nodes.map((n) => n.address),
      true,
    );
    const killed = this.powerOff(nodes);
    log(`kill-dc ${dc}: ${killed} process(es) killed; ${bh.detail}`);
    return { killed, unreachable: bh.ok ? 'blackholed' : 'refused', detail: bh.detail };
  }

  private reviveDc(dc: string): void {
    const nodes = this.layout.nodes.filter((n) => n.dc === dc);
    if (nodes.length === 0) throw new Error(`no datacenter '${dc}' in this lab`);
    this.blackhole(
      nodes.map((n) => n.address),
      false,
    );
    this.state.killedDcs = this.state.killedDcs.filter((d) => d !== dc);
    this.saveState();
    for (const n of nodes) this.powerOn(n);
    log(`revive-dc ${dc}: powered on ${nodes.map((n) => n.name).join(', ')}`);
  }

  // ---- control ------------------------------------------------------------------------------

  private unit(nodeRef: string, unitName: string): Unit {
    const node = this.layout.nodes.find((n) => n.name === nodeRef || n.address === nodeRef);
    if (!node) throw new Error(`no node '${nodeRef}' in this lab`);
    const u = this.units.get(`${node.name}/${unitName}`);
    if (!u || unitName === UNITS.sshd) throw new Error(`Unit ${unitName}.service not found.`);
    return u;
  }

  async handle(req: Request): Promise<unknown> {
    switch (req.op) {
      case 'ping':
        return { pid: process.pid };
      case 'status':
        return this.status();
      case 'start': {
        const u = this.unit(req.node, req.unit);
        this.assertUp(u);
        if (this.persisted(u).masked) throw new Error(`Failed to start ${u.name}.service: Unit ${u.name}.service is masked.`);
        this.persist(u, { stopped: false });
        // As systemd: a start whose condition fails succeeds and leaves the unit inactive.
        if (!u.child && !this.conditionsPass(u)) return { active: false };
        this.spawnUnit(u);
        return { active: true };
      }
      case 'stop': {
        const u = this.unit(req.node, req.unit);
        this.assertUp(u);
        this.persist(u, { stopped: true });
        await this.stopUnit(u);
        return { active: false };
      }
      case 'restart': {
        const u = this.unit(req.node, req.unit);
        this.assertUp(u);
        if (this.persisted(u).masked) throw new Error(`Failed to restart ${u.name}.service: Unit ${u.name}.service is masked.`);
        this.persist(u, { stopped: true });
        await this.stopUnit(u);
        this.persist(u, { stopped: false });
        if (!this.conditionsPass(u)) return { active: false };
        this.spawnUnit(u);
        return { active: true };
      }
      case 'mask': {
        // Like `systemctl mask`: the unit cannot start any more; a running one keeps running.
        const u = this.unit(req.node, req.unit);
        this.persist(u, { masked: true });
        return { masked: true };
      }
      case 'unmask': {
        const u = this.unit(req.node, req.unit);
        this.persist(u, { masked: false });
        return { masked: false };
      }
      case 'is-active': {
        const u = this.unit(req.node, req.unit);
        return { active: u.child !== undefined, masked: this.persisted(u).masked };
      }
      case 'show': {
        const u = this.unit(req.node, req.unit);
        const pending = u.child === undefined && u.restartTimer !== undefined;
        const show: UnitShow = {
          load: this.persisted(u).masked ? 'masked' : 'loaded',
          active: u.child !== undefined ? 'active' : pending ? 'activating' : 'inactive',
          sub: u.child !== undefined ? 'running' : pending ? 'auto-restart' : 'dead',
          condition: this.conditionResult.get(`${u.node.name}/${u.name}`) === false ? 'no' : 'yes',
        };
        return show;
      }
      case 'hold': {
        const u = this.unit(req.node, req.unit);
        this.hold(u);
        return {};
      }
      case 'daemon-reload': {
        const node = this.layout.nodes.find((n) => n.name === req.node);
        if (!node) throw new Error(`no node ${req.node}`);
        this.daemonReload(node);
        return {};
      }
      case 'kill-dc':
        return this.killDc(req.dc);
      case 'revive-dc':
        this.reviveDc(req.dc);
        return {};
      case 'shutdown':
        return this.shutdown();
      default: {
        const never: never = req;
        throw new Error(`unknown op ${JSON.stringify(never)}`);
      }
    }
  }

  private assertUp(u: Unit): void {
    if (this.isKilled(u.node)) throw new Error(`${u.node.name} is down (its datacenter ${u.node.dc} was killed)`);
  }

  status(): SupervisorStatus {
    const units: UnitStatus[] = [...this.units.values()].map((u) => {
      const s = this.persisted(u);
      return {
        node: u.node.name,
        dc: u.node.dc,
        unit: u.name,
        active: u.child !== undefined,
        pid: u.child?.pid,
        masked: s.masked,
        held: (this.conditions.get(`${u.node.name}/${u.name}`) ?? []).some((f) => existsSync(f)),
        stopped: s.stopped,
        restarts: u.restarts,
      };
    });
    return { pid: process.pid, killedDcs: this.state.killedDcs, blackholed: this.blackholedAddresses(), units };
  }

  /** Everything off: Mesos first with SIGTERM (its ZooKeeper session closes), then SIGKILL for the rest. */
  async shutdown(): Promise<{ killed: number }> {
    this.shuttingDown = true;
    const mesos = [...this.units.values()].filter((u) => u.name === UNITS.mesos && u.child);
    await Promise.all(
      mesos.map(async (u) => {
        if (u.child?.pid) signalGroup(u.child.pid, 'SIGTERM');
        await this.waitExit(u, 2000);
      }),
    );
    const killed = this.powerOff(this.layout.nodes);
    await Promise.all([...this.units.values()].map((u) => this.waitExit(u, 5000)));
    this.blackhole(
      this.layout.nodes.map((n) => n.address),
      false,
    );
    return { killed };
  }

  start(): void {
    mkdirSync('/run/sshd', { recursive: true, mode: 0o755 });
    // Rules left by a supervisor that died: the state file says which DCs are still down.
    const down = this.layout.nodes.filter((n) => this.isKilled(n)).map((n) => n.address);
    const up = this.layout.nodes.filter((n) => !this.isKilled(n)).map((n) => n.address);
    this.blackhole(up, false);
    if (down.length > 0) this.blackhole(down, true);
    for (const node of this.layout.nodes) if (!this.isKilled(node)) this.powerOn(node);
  }
}

function signalGroup(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(-pid, sig);
  } catch {
    try {
      process.kill(pid, sig);
    } catch {
      // gone already
    }
  }
}

/** Every descendant of these pids (by parent pid, so setsid'd ssh sessions are found too). */
export function descendantsOf(roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const list = children.get(ppid) ?? [];
      list.push(Number(entry));
      children.set(ppid, list);
    } catch {
      // exited meanwhile
    }
  }
  const out: number[] = [];
  const queue = [...roots];
  while (queue.length > 0) {
    const p = queue.shift()!;
    for (const c of children.get(p) ?? []) {
      out.push(c);
      queue.push(c);
    }
  }
  return out;
}

/** SIGKILL the roots, their process groups and every descendant, all in one go. Returns how many. */
function killTree(roots: readonly number[]): number {
  const all = [...new Set([...roots, ...descendantsOf(roots)])];
  for (const pid of roots) signalGroup(pid, 'SIGKILL');
  for (const pid of all) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // gone already
    }
  }
  return all.length;
}

function writeJsonAtomic(path: string, value: unknown): void {
  mkdirSync(path.slice(0, path.lastIndexOf('/')), { recursive: true });
  const tmp = `${path}.${process.pid}.tmp`;
  writeFileSync(tmp, `${JSON.stringify(value, null, 2)}\n`, { mode: 0o644 });
  renameSync(tmp, path);
}

async function main(): Promise<void> {
  const dir = process.argv[2];
  if (!dir) throw new Error('usage: supervisor.js <labDir>');
  const layout = JSON.parse(readFileSync(`${dir}/lab.json`, 'utf8')) as LabLayout;
  const sup = new Supervisor(layout);
  rmSync(layout.socketPath, { force: true });
  const server = createServer((sock: Socket) => {
    let buf = '';
    sock.on('data', (d) => {
      buf += d.toString('utf8');
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      const line = buf.slice(0, nl);
      buf = '';
      let req: Request;
      try {
        req = JSON.parse(line) as Request;
      } catch {
        sock.end(`${JSON.stringify({ ok: false, error: 'bad request' } satisfies Response)}\n`);
        return;
      }
      sup.handle(req).then(
        (result) => {
          sock.end(`${JSON.stringify({ ok: true, result } satisfies Response)}\n`);
          if (req.op === 'shutdown') {
            server.close();
            rmSync(layout.socketPath, { force: true });
            rmSync(layout.supervisorPidFile, { force: true });
            log('shut down');
            setTimeout(() => process.exit(0), 100);
          }
        },
        (err: unknown) => sock.end(`${JSON.stringify({ ok: false, error: (err as Error).message } satisfies Response)}\n`),
      );
    });
    sock.on('error', () => undefined);
  });
  process.on('SIGTERM', () => {
    void sup.shutdown().then(() => {
      rmSync(layout.socketPath, { force: true });
      process.exit(0);
    });
  });
  server.listen(layout.socketPath, () => {
    writeFileSync(layout.supervisorPidFile, `${process.pid}\n`);
    log(`listening on ${layout.socketPath} (pid ${process.pid})`);
    sup.start();
  });
}

main().catch((err: unknown) => {
  log(`fatal: ${(err as Error).stack ?? String(err)}`);
  process.exit(1);
});
