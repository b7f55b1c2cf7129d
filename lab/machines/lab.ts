/**
 * The machines lab, as a programmatic API for tests, the demo and the bench; cli.ts wraps it for
 * `npm run lab -- ...`. Nothing here prints: progress goes to the optional `onProgress`.
 *
 *   const lab = await labUp({ masters: 3 });   // .lab/ (or $DCFAIL_LAB_DIR), healthy on return
 *   await powerOff('madrid'); await powerOn('madrid'); await partition('barcelona'); await heal();
 *   await labExec('master-1', ['systemctl', 'is-active', 'etcd']);
 *   await labDown();
 *
 * Every operation reads the lab's state from `<lab>/state.json` and writes it back, so a fence hook
 * run by dcfail (another process) and a test driving the same lab agree on what is powered.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, openSync, readdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import {
  DCS,
  labTopology,
  machinesLayout,
  nodesOf,
  PORTS,
  REPO_IN_MACHINE,
  renderFence,
  labInstance,
  resolveDc,
  zkUrl,
  type AgentNode,
  type DcosVersion,
  type MachineNode,
  type MachinesLayout,
  type MasterCount,
  UNITS,
} from './layout.js';
import { holdPathsOf, renderHoldDropIn } from '../../src/guard/render.js';
import { boot, execIn, isAlive, machinePaths, mountRoot, pid1Of, powerCut, provision, unmountRoot, waitBooted } from './machine.js';
import { agentNetUp, applyRules, netDown, netUp, startDelayers } from './net.js';
import { etcdHealthy, mesosLeaderState, zkMode } from './probes.js';
import { LabError, must, run, waitFor, type RunResult } from './run.js';
import { scaledTimers, timeScale } from './timers.js';
import { masterUnitInstall } from './units.js';

export { LabError };
export type { MachineNode, MachinesLayout, MasterCount, DcosVersion };

/** What the lab remembers between processes. */
export interface LabState {
  readonly layout: MachinesLayout;
  /** systemd-nspawn pid per machine name, for machines that are powered. */
  readonly nspawn: Record<string, number>;
  /** agent stand-in pid per DC. */
  readonly agents: Record<string, number>;
  readonly delayers: readonly number[];
  readonly partitioned: readonly string[];
  readonly poweredOff: readonly string[];
}

export interface LabOptions {
  /** The lab directory: `.lab/` in the repo root by default, or $DCFAIL_LAB_DIR. */
  readonly dir?: string;
  readonly onProgress?: (message: string) => void;
}

export interface LabUpOptions extends LabOptions {
  readonly masters?: MasterCount;
  readonly dcos?: DcosVersion;
  /** One-way delay of the link between the DCs (default 2 ms) and its jitter (default 0.5 ms). */
  readonly latencyMs?: number;
  readonly jitterMs?: number;
  /** Multiplies every stand-in timer (default: DCFAIL_LAB_TIME_SCALE, else 1 = DC/OS's values). */
  readonly timeScale?: number;
  /** How long to wait for every cluster to be ready (default 180 s). */
  readonly timeoutMs?: number;
}

export interface Lab {
  readonly dir: string;
  readonly layout: MachinesLayout;
  readonly topologyPath: string;
  /** How long `up` took, in ms. */
  readonly durationMs: number;
}

/** The checkout this module belongs to (the directory holding dcfail's package.json). */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = `${dir}/package.json`;
    if (existsSync(pkg) && (JSON.parse(readFileSync(pkg, 'utf8')) as { name?: string }).name === 'dcfail') return dir;
    const up = dirname(dir);
    if (up === dir) throw new LabError('cannot find the dcfail checkout above lab/');
    dir = up;
  }
}

const SAFE_DIR = /^\/[A-Za-z0-9._@+/-]+$/;

export function labDir(dir?: string): string {
  const d = resolve(dir ?? process.env['DCFAIL_LAB_DIR'] ?? `${repoRoot()}/.lab`);
  // The dir ends up in the topology (key paths, the fence hook): keep it a plain path.
  if (!SAFE_DIR.test(d)) throw new LabError(`lab dir '${d}' must be a plain absolute path ([A-Za-z0-9._@+/-])`);
  return d;
}

const statePath = (dir: string) => `${dir}/state.json`;

export function readState(dir?: string): LabState | undefined {
  const p = statePath(labDir(dir));
  if (!existsSync(p)) return undefined;
  return JSON.parse(readFileSync(p, 'utf8')) as LabState;
}

async function writeState(s: LabState): Promise<void> {
  const p = statePath(s.layout.dir);
  await writeFile(`${p}.tmp`, `${JSON.stringify(s, null, 2)}\n`);
  await rename(`${p}.tmp`, p);
}

function mustState(dir?: string): LabState {
  const s = readState(dir);
  if (!s) throw new LabError(`no lab in ${labDir(dir)}: run npm run lab -- up`);
  return s;
}

function linkDelayBinary(dir: string): string {
  return `${dir}/bin/link-delay`;
}

async function buildLinkDelay(dir: string): Promise<string> {
  const out = linkDelayBinary(dir);
  const src = `${repoRoot()}/lab/machines/link-delay.c`;
  await mkdir(dirname(out), { recursive: true });
  await must('cc', ['-O2', '-Wall', '-o', out, src, '-lnetfilter_queue'], { timeoutMs: 60_000 });
  return out;
}

function killPid(pid: number, signal: NodeJS.Signals = 'SIGTERM'): void {
  try {
    process.kill(-pid, signal);
  } catch {
    try {
      process.kill(pid, signal);
    } catch {
      /* gone */
    }
  }
}

/** Starts the DC's agent stand-in in its namespace (detached); returns its pid. */
function startAgent(layout: MachinesLayout, agent: AgentNode, repo: string): number {
  const dataDir = `${layout.dir}/agents/${agent.dc}`;
  const fd = openSync(`${layout.dir}/agents/${agent.dc}.log`, 'a');
  const child = spawn(
    'ip',
    [
      'netns',
      'exec',
      agent.netns,
      process.execPath,
      `${repo}/dist/lab/machines/standins/mesos-agent.js`,
      ...['--ip', agent.address, '--port', String(PORTS.agent), '--hostname', `agent-${agent.dc}`, '--work-dir', dataDir, '--zk', zkUrl(layout, '/mesos')],
    ],
    { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, DCFAIL_LAB_TIME_SCALE: String(layout.timeScale) } },
  );
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new LabError(`cannot start the agent stand-in of ${agent.dc}`);
  return child.pid;
}

const hasAgentStandin = (repo: string) => existsSync(`${repo}/dist/lab/machines/standins/mesos-agent.js`);

/** The lab dirs of every machines lab whose machines run on this host (from the nspawn processes' arguments). */
export function runningLabDirs(instance: number): string[] {
  const dirs = new Set<string>();
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let args: string[];
    try {
      args = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    if (!args[0]?.endsWith('systemd-nspawn') || !args.some((a) => a.startsWith(`--machine=dcfl${instance}m`))) continue;
    const d = args.find((a) => a.startsWith('--directory='))?.slice('--directory='.length);
    const m = d ? new RegExp(`^(.*)/machines/dcfl${instance}m\\d+/root$`).exec(d) : null;
    if (m?.[1] && existsSync(statePath(m[1]))) dirs.add(m[1]);
    else if (d) {
      // A machine of a lab whose state is gone: cut its power, nothing else knows it.
      const p1 = pid1Of(Number(pid));
      if (p1 !== undefined) killPid(p1, 'SIGKILL');
    }
  }
  return [...dirs];
}

/** Starts the machines' containers (returns at once with their nspawn pids). */
async function startMachines(layout: MachinesLayout, nodes: readonly MachineNode[], repo: string): Promise<Record<string, number>> {
  const pids: Record<string, number> = {};
  for (const n of nodes) {
    const p = machinePaths(layout.dir, n);
    await mountRoot(p);
    pids[n.machine] = boot(layout, n, p, repo);
  }
  return pids;
}

async function waitMachines(nodes: readonly MachineNode[], pids: Record<string, number>): Promise<void> {
  await Promise.all(nodes.map((n) => waitBooted(n, pids[n.machine]!)));
}

/** Every cluster ready: each ZooKeeper serving in the ensemble, each etcd healthy, one Mesos leader with its registrar recovered. */
export async function clustersReady(layout: MachinesLayout, nodes: readonly MachineNode[] = layout.nodes): Promise<string | true> {
  const modes = await Promise.all(nodes.map((n) => zkMode(n.address)));
  const leaders = modes.filter((m) => m === 'leader').length;
  const expectStandalone = nodes.length === 1;
  if (modes.some((m) => m === undefined) || (expectStandalone ? modes[0] !== 'standalone' : leaders !== 1)) {
    return `ZooKeeper: ${nodes.map((n, i) => `${n.name}=${modes[i] ?? 'not serving'}`).join(' ')}`;
  }
  const etcd = await Promise.all(nodes.map((n) => etcdHealthy(n.address)));
  if (etcd.some((h) => !h)) return `etcd: ${nodes.map((n, i) => `${n.name}=${etcd[i] ? 'healthy' : 'unhealthy'}`).join(' ')}`;
  const mesos = await Promise.all(nodes.map((n) => mesosLeaderState(n.address)));
  if (mesos.filter((s) => s === 'recovered leader').length !== 1) {
    return `Mesos: no elected master with a recovered registrar yet (${nodes.map((n, i) => `${n.name}: ${mesos[i]}`).join('; ')})`;
  }
  return true;
}

/** Waits until clustersReady holds (on `nodes`, default every master); on time-out, its last answer says what was missing. */
export async function untilClustersReady(
  layout: MachinesLayout,
  timeoutMs: number,
  everyMs = 1000,
  nodes: readonly MachineNode[] = layout.nodes,
): Promise<void> {
  await waitFor(
    'every cluster ready',
    async () => {
      const r = await clustersReady(layout, nodes);
      if (r !== true) throw new Error(r);
      return true;
    },
    timeoutMs,
    everyMs,
  );
}

export async function labUp(opts: LabUpOptions = {}): Promise<Lab> {
  const started = Date.now();
  const dir = labDir(opts.dir);
  const progress = opts.onProgress ?? (() => undefined);
  const repo = repoRoot();
  // One machines lab per instance (its addresses, bridges and machine names are fixed): take over from any other.
  const instance = labInstance();
  for (const other of runningLabDirs(instance)) {
    if (other !== dir) progress(`another machines lab is running in ${other}: taking it down`);
    await labDown({ dir: other });
  }
  if (readState(dir)) await labDown({ dir });
  await netDown(instance); // leftovers of a lab whose state was lost
  await rm(dir, { recursive: true, force: true });
  await mkdir(`${dir}/bin`, { recursive: true });
  await mkdir(`${dir}/agents`, { recursive: true });
  const layout = machinesLayout({
    dir,
    instance,
    masters: opts.masters ?? 3,
    dcos: opts.dcos ?? '2.2',
    latencyMs: opts.latencyMs ?? 2,
    jitterMs: opts.jitterMs ?? 0.5,
    timeScale: opts.timeScale ?? timeScale(),
  });
  const delay = await buildLinkDelay(dir);

  // Keys: the operator's (dcfail's) login key and, per machine, a host key of its own.
  await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'dcfail-lab', '-f', layout.identityFile]);
  await chmod(layout.identityFile, 0o600);
  const authorized = await readFile(`${layout.identityFile}.pub`, 'utf8');

  progress(`network: ${DCS.map((dc) => `${dc} ${nodesOf(layout, dc).map((n) => n.address).join(' ')}`).join('; ')}; link delay ${layout.latencyMs} ms`);
  await netUp(instance);
  const delayers = layout.latencyMs > 0 ? startDelayers(instance, delay, `${dir}/link-delay.log`, layout.latencyMs, layout.jitterMs) : [];
  await applyRules(instance, { partitioned: [], delayed: delayers.length > 0 });

  const units = masterUnitInstall({ version: layout.dcos, timers: scaledTimers(layout.timeScale), etcd: true });
  const knownHosts: string[] = [];
  for (const n of layout.nodes) {
    const p = machinePaths(dir, n);
    await mountRoot(p);
    const key = await provision(layout, n, p, units, authorized);
    knownHosts.push(`${n.address} ${key}`);
  }
  await writeFile(layout.knownHostsFile, `${knownHosts.join('\n')}\n`);
  await writeFile(`${dir}/bin/fence`, renderFence(layout, `${process.execPath} ${repo}/dist/lab/machines/cli.js`), { mode: 0o755 });
  await writeFile(layout.topologyPath, stringify(labTopology(layout)));

  progress(`booting ${layout.nodes.length} machines (systemd-nspawn, DC/OS ${layout.dcos} units, time scale ${layout.timeScale})`);
  const nspawn = await startMachines(layout, layout.nodes, repo);
  await writeState({ layout, nspawn, agents: {}, delayers, partitioned: [], poweredOff: [] });
  await waitMachines(layout.nodes, nspawn);
  const agents: Record<string, number> = {};
  for (const a of layout.agents) await agentNetUp(a);
  if (hasAgentStandin(repo)) for (const a of layout.agents) agents[a.dc] = startAgent(layout, a, repo);
  await writeState({ layout, nspawn, agents, delayers, partitioned: [], poweredOff: [] });
  progress(`booted in ${((Date.now() - started) / 1000).toFixed(1)} s; waiting for ZooKeeper (Exhibitor's first check), etcd and a recovered Mesos leader`);
  const timeoutMs = opts.timeoutMs ?? 180_000;
  await untilClustersReady(layout, timeoutMs - (Date.now() - started), 500);
  return { dir, layout, topologyPath: layout.topologyPath, durationMs: Date.now() - started };
}

export async function labDown(opts: LabOptions = {}): Promise<void> {
  const dir = labDir(opts.dir);
  const s = readState(dir);
  if (!s) return;
  await powerCut(
    Object.values(s.nspawn)
      .filter(isAlive)
      .map((nspawnPid) => ({ nspawnPid, pid1: pid1Of(nspawnPid) })),
  );
  for (const pid of [...Object.values(s.agents), ...s.delayers]) killPid(pid, 'SIGKILL');
  for (const n of s.layout.nodes) await unmountRoot(machinePaths(dir, n));
  await netDown(s.layout.instance, s.layout.agents);
  await rm(statePath(dir), { force: true });
}

/** Down, then up again with the same settings: fresh disks, fresh clusters. */
export async function labReset(opts: LabOptions = {}): Promise<Lab> {
  const s = mustState(opts.dir);
  const l = s.layout;
  return labUp({ ...opts, dir: l.dir, masters: l.masters, dcos: l.dcos, latencyMs: l.latencyMs, jitterMs: l.jitterMs, timeScale: l.timeScale });
}

function nodeByName(s: LabState, name: string): MachineNode {
  const n = s.layout.nodes.find((x) => x.name === name || x.address === name || x.machine === name);
  if (!n) throw new LabError(`no machine '${name}' in the lab (machines: ${s.layout.nodes.map((x) => x.name).join(', ')})`);
  return n;
}

/** Runs a command as root inside a machine; the exit code is the command's. */
export async function labExec(node: string, argv: readonly string[], opts: LabOptions & { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const s = mustState(opts.dir);
  const n = nodeByName(s, node);
  const nspawnPid = s.nspawn[n.machine];
  const pid1 = nspawnPid !== undefined && isAlive(nspawnPid) ? pid1Of(nspawnPid) : undefined;
  if (pid1 === undefined) throw new LabError(`${n.name} is powered off`);
  return execIn(pid1, argv, { ...(opts.input !== undefined ? { input: opts.input } : {}), timeoutMs: opts.timeoutMs ?? 60_000 });
}

/** A power cut of a whole DC: every machine (and its agent) stops at once; nothing is shut down cleanly. */
export async function powerOff(which: string, opts: LabOptions = {}): Promise<{ dc: string; machines: string[] }> {
  const s = mustState(opts.dir);
  const dc = resolveDc(which);
  const nodes = nodesOf(s.layout, dc);
  const cut = nodes.map((n) => s.nspawn[n.machine]).filter((p): p is number => p !== undefined && isAlive(p));
  // A dead machine says nothing: the FIN and RST segments a kernel sends as it tears a killed
  // process's sockets down would tell every peer at once (measured: a survivor's ZooKeeper stopped
  // following 0.66 s after the cut instead of after syncLimit x tickTime). The DC goes dark first,
  // and stays dark until it is powered on: its addresses time out, as a dead host's do.
  const poweredOff = [...new Set([...s.poweredOff, dc])];
  await applyRules(s.layout.instance, { partitioned: [...new Set([...s.partitioned, ...poweredOff])], delayed: s.delayers.length > 0 });
  const agent = s.agents[dc];
  if (agent !== undefined) killPid(agent, 'SIGKILL');
  await powerCut(cut.map((nspawnPid) => ({ nspawnPid, pid1: pid1Of(nspawnPid) })));
  const nspawn = { ...s.nspawn };
  for (const n of nodes) delete nspawn[n.machine];
  const agents = { ...s.agents };
  delete agents[dc];
  await writeState({ ...s, nspawn, agents, poweredOff });
  return { dc, machines: nodes.map((n) => n.name) };
}

/** Power back on: the machines boot with their disks as they are; dcos.target starts every unit. Nothing is fixed or masked by the lab. */
export async function powerOn(which: string, opts: LabOptions = {}): Promise<{ dc: string; machines: string[] }> {
  const s = mustState(opts.dir);
  const dc = resolveDc(which);
  const repo = repoRoot();
  const nodes = nodesOf(s.layout, dc).filter((n) => !(s.nspawn[n.machine] !== undefined && isAlive(s.nspawn[n.machine]!)));
  // Lit again (unless the test partitioned it): the machines boot onto their network.
  const dark = s.poweredOff.filter((d) => d !== dc);
  await applyRules(s.layout.instance, { partitioned: [...new Set([...s.partitioned, ...dark])], delayed: s.delayers.length > 0 });
  const pids = await startMachines(s.layout, nodes, repo);
  await writeState({ ...s, nspawn: { ...s.nspawn, ...pids } });
  await waitMachines(nodes, pids);
  const agents = { ...s.agents };
  const agent = s.layout.agents.find((a) => a.dc === dc);
  if (agent && hasAgentStandin(repo) && !(agents[dc] !== undefined && isAlive(agents[dc]!))) agents[dc] = startAgent(s.layout, agent, repo);
  await writeState({ ...s, nspawn: { ...s.nspawn, ...pids }, agents, poweredOff: dark });
  return { dc, machines: nodes.map((n) => n.name) };
}

/** Cuts the DC off from the other DC and from the host; its machines keep running. */
export async function partition(which: string, opts: LabOptions = {}): Promise<string> {
  const s = mustState(opts.dir);
  const dc = resolveDc(which);
  const partitioned = [...new Set([...s.partitioned, dc])];
  await applyRules(s.layout.instance, { partitioned: [...partitioned, ...s.poweredOff], delayed: s.delayers.length > 0 });
  await writeState({ ...s, partitioned });
  return dc;
}

export async function heal(opts: LabOptions = {}): Promise<void> {
  const s = mustState(opts.dir);
  await applyRules(s.layout.instance, { partitioned: [...s.poweredOff], delayed: s.delayers.length > 0 });
  await writeState({ ...s, partitioned: [] });
}

/**
 * Disk snapshots, for a test that starts many runs from one state: every machine's disk (its
 * overlay's upper layer) and every agent's work dir, copied to `<lab>/snapshots/<name>` while
 * **every machine is powered off** (nothing writes: the copy is the disks as a power cut left
 * them). `restoreDisks` puts them back, again with every machine off; `powerOn` then boots them as
 * a real machine boots the disks a power loss left. Sparse copies: etcd's preallocated WAL holds
 * the same bytes, its zeros as holes.
 */
function snapshotDir(dir: string, name: string): string {
  if (!/^[A-Za-z0-9._-]+$/.test(name)) throw new LabError(`snapshot name '${name}' must be [A-Za-z0-9._-]`);
  return `${dir}/snapshots/${name}`;
}

function mustBeAllOff(s: LabState, what: string): void {
  const on = s.layout.nodes.filter((n) => s.nspawn[n.machine] !== undefined && isAlive(s.nspawn[n.machine]!)).map((n) => n.name);
  const agents = Object.entries(s.agents).filter(([, pid]) => isAlive(pid)).map(([dc]) => `agent-${dc}`);
  if (on.length + agents.length > 0) throw new LabError(`${what}: every machine must be powered off first (powered: ${[...on, ...agents].join(', ')})`);
}

export async function snapshotDisks(name: string, opts: LabOptions = {}): Promise<void> {
  const s = mustState(opts.dir);
  mustBeAllOff(s, `snapshot '${name}'`);
  const snap = snapshotDir(s.layout.dir, name);
  await rm(snap, { recursive: true, force: true });
  await mkdir(`${snap}/machines`, { recursive: true });
  await mkdir(`${snap}/agents`, { recursive: true });
  for (const n of s.layout.nodes) await must('cp', ['-a', '--sparse=always', machinePaths(s.layout.dir, n).upper, `${snap}/machines/${n.machine}`], { timeoutMs: 300_000 });
  for (const a of s.layout.agents) {
    const d = `${s.layout.dir}/agents/${a.dc}`;
    if (existsSync(d)) await must('cp', ['-a', d, `${snap}/agents/${a.dc}`], { timeoutMs: 60_000 });
  }
}

export async function restoreDisks(name: string, opts: LabOptions = {}): Promise<void> {
  const s = mustState(opts.dir);
  mustBeAllOff(s, `restore '${name}'`);
  const snap = snapshotDir(s.layout.dir, name);
  if (!existsSync(`${snap}/machines`)) throw new LabError(`no snapshot '${name}' in ${s.layout.dir}`);
  for (const n of s.layout.nodes) {
    const p = machinePaths(s.layout.dir, n);
    // The overlay is mounted again at power-on, over the restored upper layer and an empty work dir.
    await unmountRoot(p);
    await rm(p.upper, { recursive: true, force: true });
    await rm(p.work, { recursive: true, force: true });
    await must('cp', ['-a', '--sparse=always', `${snap}/machines/${n.machine}`, p.upper], { timeoutMs: 300_000 });
  }
  for (const a of s.layout.agents) {
    const d = `${s.layout.dir}/agents/${a.dc}`;
    await rm(d, { recursive: true, force: true });
    if (existsSync(`${snap}/agents/${a.dc}`)) await must('cp', ['-a', `${snap}/agents/${a.dc}`, d], { timeoutMs: 60_000 });
  }
}

export interface MachineStatus {
  readonly name: string;
  readonly dc: string;
  readonly address: string;
  readonly machine: string;
  readonly powered: boolean;
  /** systemd's `is-system-running` inside the machine. */
  readonly system?: string;
  /** `systemctl is-active` of each DC/OS unit. */
  readonly units: Record<string, string>;
  readonly zookeeper?: string;
  readonly etcd?: boolean;
}

export interface LabStatus {
  readonly dir: string;
  readonly running: boolean;
  readonly masters?: number;
  readonly dcos?: string;
  readonly timeScale?: number;
  readonly latencyMs?: number;
  readonly partitioned: readonly string[];
  readonly poweredOff: readonly string[];
  readonly machines: readonly MachineStatus[];
  readonly topologyPath?: string;
}

export async function labStatus(opts: LabOptions = {}): Promise<LabStatus> {
  const dir = labDir(opts.dir);
  const s = readState(dir);
  if (!s) return { dir, running: false, partitioned: [], poweredOff: [], machines: [] };
  const unitNames = ['etcd', 'dcos-exhibitor', 'dcos-mesos-master'];
  const machines = await Promise.all(
    s.layout.nodes.map(async (n): Promise<MachineStatus> => {
      const nspawnPid = s.nspawn[n.machine];
      const pid1 = nspawnPid !== undefined && isAlive(nspawnPid) ? pid1Of(nspawnPid) : undefined;
      const base = { name: n.name, dc: n.dc, address: n.address, machine: n.machine };
      if (pid1 === undefined) return { ...base, powered: false, units: {} };
      const sys = await execIn(pid1, ['systemctl', 'is-system-running'], { timeoutMs: 5000 });
      const act = await execIn(pid1, ['systemctl', 'is-active', ...unitNames], { timeoutMs: 5000 });
      const states = act.stdout.trim().split('\n');
      const reachable = !s.partitioned.includes(n.dc);
      return {
        ...base,
        powered: true,
        system: sys.stdout.trim(),
        units: Object.fromEntries(unitNames.map((u, i) => [u, states[i] ?? 'unknown'])),
        ...(reachable ? { zookeeper: (await zkMode(n.address)) ?? 'not serving', etcd: await etcdHealthy(n.address) } : {}),
      };
    }),
  );
  return {
    dir,
    running: true,
    masters: s.layout.masters,
    dcos: s.layout.dcos,
    timeScale: s.layout.timeScale,
    latencyMs: s.layout.latencyMs,
    partitioned: s.partitioned,
    poweredOff: s.poweredOff,
    machines,
    topologyPath: s.layout.topologyPath,
  };
}

export { REPO_IN_MACHINE };

/**
 * A fence hook for the DC that does what an IPMI power-off followed by a boot into quarantine does
 * the lab's own fence (a power cut through its CLI), then,
 * on the powered-off machines' disks, the hold of every quorum unit (the flag and drop-in dcfail's
 * quarantine writes): when their power comes back, systemd starts none of them. Returns its path.
 */
export async function writeFenceAndHoldHook(lab: Lab): Promise<string> {
  const lines = [
    '#!/bin/sh',
    '# Generated by the machines lab: power off, then hold the quorum units on the disks.',
    'set -e',
  ];
  lines.push(`${lab.dir}/bin/fence "$1"`, 'case "$1" in');
  for (const dc of [...new Set(lab.layout.nodes.map((n) => n.dc))]) {
    lines.push(`  ${dc})`);
    for (const n of nodesOf(lab.layout, dc)) {
      const root = machinePaths(lab.dir, n).root;
      for (const u of Object.values(UNITS)) {
        const p = holdPathsOf(u, '/var/lib/dcfail/guard', '/etc/systemd/system');
        const dropIn = renderHoldDropIn(p);
        lines.push(
          `    mkdir -p '${root}/var/lib/dcfail/guard' '${root}${p.dropIn.slice(0, p.dropIn.lastIndexOf('/'))}'`,
          `    printf 'held by the fence\\n' > '${root}${p.flag}'`,
          `    printf '%s' '${dropIn.replaceAll("'", "'\\''")}' > '${root}${p.dropIn}'`,
        );
      }
    }
    lines.push('    ;;');
  }
  lines.push('esac', 'echo "fenced $1: powered off, quorum units held on its disks"', '');
  const path = `${lab.dir}/bin/fence-and-hold`;
  await mkdir(`${lab.dir}/bin`, { recursive: true });
  await writeFile(path, lines.join('\n'), { mode: 0o755 });
  return path;
}

