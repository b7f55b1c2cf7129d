/**
 * The local two-DC lab, as a programmatic API for tests, the demo and the benchmarks; lab/cli.ts
 * wraps it for `npm run lab -- ...`.
 *
 *   const lab = await labUp({ masters: 3 });   // .lab/ (or $DCFAIL_LAB_DIR), healthy on return
 *   await killDc('madrid'); await reviveDc('madrid'); await labReset(); await labDown();
 *
 * Every node is a loopback address (main 127.0.10.x, secondary 127.0.20.x) with its own tree
 * under <lab>/nodes/<name>/ standing in for its disk. A detached root supervisor
 * (supervisor.ts) runs the nodes' processes; this module talks to it over its socket. Nothing
 * here prints: progress goes to the optional `onProgress` callback.
 */
import { execFile, spawn } from 'node:child_process';
import { chmod, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { existsSync, openSync, closeSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { setBlackhole } from './blackhole.js';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { checkHealth, type Health } from './health.js';
import {
  CONFIG_PACKAGE,
  labLayout,
  labTopology,
  MAIN_DC,
  renderEtcdEnv,
  renderExhibitorEnv,
  renderLabctl,
  renderFence,
  renderMasterCount,
  renderMesosEnv,
  renderSshdConfig,
  SECONDARY_DC,
  type LabLayout,
  type LabNode,
  type MasterCount,
  type UnitName,
} from './layout.js';
import { sleep } from './probes.js';
import { sendRequest, type KillResult, type Request, type SupervisorStatus, type UnitAction } from './protocol.js';

export type { LabLayout, LabNode, MasterCount, Health, KillResult, SupervisorStatus };

const run = promisify(execFile);

export interface LabOptions {
  /** The lab directory: default `.lab/` in the repo root, or $DCFAIL_LAB_DIR. */
  readonly dir?: string;
  readonly onProgress?: (message: string) => void;
}

export interface LabUpOptions extends LabOptions {
  readonly masters?: MasterCount;
  /** How long to wait for every cluster to be healthy (default 90 s). */
  readonly timeoutMs?: number;
}

export interface Lab {
  readonly topologyPath: string;
  readonly dir: string;
  readonly nodes: readonly LabNode[];
  readonly layout: LabLayout;
  /** How long `up` (or `reset`) took, in ms. */
  readonly durationMs: number;
}

export class LabError extends Error {}

const SAFE_PATH = /^\/[A-Za-z0-9._@+/-]+$/;

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

export function labDir(dir?: string): string {
  const d = resolve(dir ?? process.env.DCFAIL_LAB_DIR ?? `${repoRoot()}/.lab-loopback`);
  // The lab dir ends up in command templates and remote paths: keep it plain.
  if (!SAFE_PATH.test(d)) throw new LabError(`lab dir ${d}: use a plain absolute path (letters, digits, . _ @ + - /)`);
  return d;
}

/** The layout of the lab in `dir` as `up` wrote it. */
export function readLayout(dir?: string): LabLayout {
  const d = labDir(dir);
  const file = `${d}/lab.json`;
  if (!existsSync(file)) throw new LabError(`no lab in ${d} (run \`npm run lab -- up\`)`);
  return JSON.parse(readFileSync(file, 'utf8')) as LabLayout;
}

export function nodesOfDc(layout: LabLayout, dc: string): LabNode[] {
  const name = dc === 'main' ? MAIN_DC : dc === 'secondary' ? SECONDARY_DC : dc;
  const nodes = layout.nodes.filter((n) => n.dc === name);
  if (nodes.length === 0) throw new LabError(`no datacenter '${dc}' in the lab (expected ${MAIN_DC}, ${SECONDARY_DC}, main or secondary)`);
  return nodes;
}

function dcName(dc: string): string {
  return dc === 'main' ? MAIN_DC : dc === 'secondary' ? SECONDARY_DC : dc;
}

// ---- up ---------------------------------------------------------------------------------------

export async function labUp(opts: LabUpOptions = {}): Promise<Lab> {
  const t0 = Date.now();
  const progress = opts.onProgress ?? (() => undefined);
  const dir = labDir(opts.dir);
  const root = repoRoot();
  checkPrerequisites(root);
  if (await isSupervisorAlive(dir)) {
    progress(`a lab is running in ${dir}: bringing it down first`);
    await labDown({ dir });
  }
  const layout = labLayout({ dir, masters: opts.masters ?? 3, repoRoot: root, nodeBinary: process.execPath });
  progress(`writing ${layout.masters} nodes under ${layout.nodesDir}`);
  await writeLab(layout);
  await startSupervisor(layout);
  progress('supervisor started; waiting for etcd, ZooKeeper and Mesos to be healthy');
  await waitHealthy(layout, opts.timeoutMs ?? 90_000, progress);
  progress('healthy; taking the data snapshot for `lab reset`');
  await stopSupervisor(layout);
  await rm(layout.snapshotDir, { recursive: true, force: true });
  await run('cp', ['-a', layout.nodesDir, layout.snapshotDir]);
  await startSupervisor(layout);
  await waitHealthy(layout, opts.timeoutMs ?? 90_000, progress);
  return { topologyPath: layout.topologyPath, dir, nodes: layout.nodes, layout, durationMs: Date.now() - t0 };
}

function checkPrerequisites(root: string): void {
  const missing: string[] = [];
  for (const f of ['/usr/bin/etcd', '/usr/bin/etcdctl', '/usr/sbin/sshd', '/usr/share/java/zookeeper.jar', '/usr/bin/sudo']) {
    if (!existsSync(f)) missing.push(f);
  }
  if (missing.length > 0) throw new LabError(`missing ${missing.join(', ')}: run \`npm run lab:deps\``);
  if (!existsSync(`${root}/dist/lab/supervisor.js`)) throw new LabError(`${root}/dist/lab/supervisor.js is missing: build first (npx tsc -p .)`);
  if (process.getuid?.() !== 0) throw new LabError('the lab runs real servers on loopback addresses and port 22: run it as root');
}

async function writeFile0644(path: string, text: string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, text, { mode: 0o644 });
  await chmod(path, 0o644);
}

async function writeLab(layout: LabLayout): Promise<void> {
  const { dir } = layout;
  await mkdir(dir, { recursive: true });
  for (const f of ['nodes', 'snapshot', 'state.json', 'topology.yaml', 'lab.json', 'known_hosts', 'authorized_keys', 'id_ed25519', 'id_ed25519.pub', 'bin', 'supervisor.log']) {
    await rm(`${dir}/${f}`, { recursive: true, force: true });
  }
  const keygen = (file: string, comment: string) => run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', comment, '-f', file]);
  await Promise.all(layout.nodes.map((n) => mkdir(dirname(n.paths.sshHostKey), { recursive: true })));
  await Promise.all([keygen(layout.identityFile, 'dcfail-lab'), ...layout.nodes.map((n) => keygen(n.paths.sshHostKey, `root@${n.name}`))]);
  await chmod(layout.identityFile, 0o600);

  const knownHosts: string[] = [];
  for (const node of layout.nodes) {
    const p = node.paths;
    // DC/OS keeps these in a package and links them into /opt/mesosphere/etc.
    await writeFile0644(`${p.packageEtc}/master_count`, renderMasterCount(layout));
    await writeFile0644(`${p.packageEtc}/mesos-master`, renderMesosEnv(layout, node));
    await writeFile0644(`${p.packageEtc}/exhibitor`, renderExhibitorEnv(layout));
    await mkdir(dirname(p.masterCountFile), { recursive: true });
    await symlink(`${p.packageEtc}/master_count`, p.masterCountFile);
    await symlink(`${p.packageEtc}/mesos-master`, p.mesosEnvFile);
    await symlink(`${p.packageEtc}/exhibitor`, p.exhibitorEnvFile);
    await writeFile0644(p.etcdEnvFile, renderEtcdEnv(layout, node));
    await writeFile0644(p.sshdConfig, renderSshdConfig(layout, node));
    await mkdir(p.replicatedLogDir, { recursive: true });
    await mkdir(`${p.zkDataDir}/snapshot`, { recursive: true });
    await mkdir(`${p.zkDataDir}/transactions`, { recursive: true });
    await mkdir(p.zkConfDir, { recursive: true });
    await mkdir(dirname(p.etcdDataDir), { recursive: true });
    await mkdir(p.logDir, { recursive: true });
    await mkdir(dirname(p.unitStateFile), { recursive: true });
    const pub = (await readFile(`${p.sshHostKey}.pub`, 'utf8')).trim().split(/\s+/);
    knownHosts.push(`${node.address} ${pub[0]} ${pub[1]}`);
  }
  await writeFile0644(layout.knownHostsFile, `${knownHosts.join('\n')}\n`);
  await writeFile0644(layout.authorizedKeysFile, await readFile(`${layout.identityFile}.pub`, 'utf8'));
  await mkdir(dirname(layout.labctl), { recursive: true });
  await writeFile(layout.labctl, renderLabctl(layout), { mode: 0o755 });
  await chmod(layout.labctl, 0o755);
  const fence = `${dirname(layout.labctl)}/fence`;
  await writeFile(fence, renderFence(layout), { mode: 0o755 });
  await chmod(fence, 0o755);
  const header = [
    '# Written by `npm run lab -- up`: the topology of the local two-DC lab.',
    `# ${layout.masters} masters on loopback addresses; each node's files live under ${layout.nodesDir}/<name>.`,
    '',
  ].join('\n');
  await writeFile0644(layout.topologyPath, header + stringify(labTopology(layout), { lineWidth: 0 }));
  await writeFile0644(`${dir}/lab.json`, `${JSON.stringify(layout, null, 2)}\n`);
}

// ---- supervisor -------------------------------------------------------------------------------

async function isSupervisorAlive(dir: string): Promise<boolean> {
  try {
    const r = await sendRequest(`${dir}/supervisor.sock`, { op: 'ping' }, 2000);
    return r.ok;
  } catch {
    return false;
  }
}

async function startSupervisor(layout: LabLayout): Promise<void> {
  const out = openSync(layout.supervisorLog, 'a');
  const child = spawn(layout.nodeBinary, [`${layout.repoRoot}/dist/lab/supervisor.js`, layout.dir], {
    detached: true,
    stdio: ['ignore', out, out],
    cwd: layout.dir,
  });
  closeSync(out);
  child.unref();
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (await isSupervisorAlive(layout.dir)) return;
    if (child.exitCode !== null) break;
    await sleep(50);
  }
  throw new LabError(`the lab supervisor did not start (see ${layout.supervisorLog})`);
}

async function stopSupervisor(layout: LabLayout): Promise<void> {
  const pid = readPid(layout);
  try {
    await request(layout, { op: 'shutdown' });
  } catch {
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGTERM');
      } catch {
        // not running
      }
    }
  }
  if (pid !== undefined) {
    const deadline = Date.now() + 20_000;
    while (Date.now() < deadline && isAlive(pid)) await sleep(50);
  }
}

function readPid(layout: LabLayout): number | undefined {
  try {
    return Number(readFileSync(layout.supervisorPidFile, 'utf8').trim()) || undefined;
  } catch {
    return undefined;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function request(layout: LabLayout, req: Request): Promise<unknown> {
  let res;
  try {
    res = await sendRequest(layout.socketPath, req);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ECONNREFUSED' || code === 'ENOENT') throw new LabError(`the lab supervisor is not running in ${layout.dir} (run \`npm run lab -- up\`)`, { cause: err });
    throw err;
  }
  if (!res.ok) throw new LabError(res.error);
  return res.result;
}

export async function waitHealthy(layout: LabLayout, timeoutMs: number, progress: (m: string) => void = () => undefined, nodes: readonly LabNode[] = layout.nodes): Promise<Health> {
  const deadline = Date.now() + timeoutMs;
  let last: Health | undefined;
  let lastMsg = '';
  while (Date.now() < deadline) {
    last = await checkHealth(nodes);
    if (last.healthy) return last;
    const msg = [last.etcd, last.zookeeper, last.mesos].filter((c) => !c.ok).map((c) => c.detail).join('; ');
    if (msg !== lastMsg) progress(`waiting: ${msg}`);
    lastMsg = msg;
    await sleep(500);
  }
  const why = last ? [last.etcd, last.zookeeper, last.mesos].map((c) => c.detail).join('; ') : 'no health check ran';
  throw new LabError(`the lab did not become healthy within ${timeoutMs} ms: ${why} (logs: ${layout.nodesDir}/*/var/log/)`);
}

// ---- down, reset, status ----------------------------------------------------------------------

/** Stops every process of the lab and lifts its iptables rules. Leaves the files (logs) in place. */
export async function labDown(opts: LabOptions = {}): Promise<void> {
  const dir = labDir(opts.dir);
  if (!existsSync(`${dir}/lab.json`)) return;
  const layout = readLayout(dir);
  await stopSupervisor(layout);
  // A supervisor that was killed leaves its services behind: sweep them and the lab's rules.
  const strays = killStrays(layout);
  setBlackhole(
    layout.nodes.map((n) => n.address),
    false,
  );
  if (strays > 0) opts.onProgress?.(`killed ${strays} stray process(es) of the lab`);
}

/** Processes that belong to this lab: run from a node's tree, or naming the lab dir on their command line. */
function killStrays(layout: LabLayout): number {
  let n = 0;
  const ancestors = new Set<number>();
  for (let pid = process.pid; pid > 1; ) {
    ancestors.add(pid);
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      pid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
    } catch {
      break;
    }
  }
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || ancestors.has(Number(entry))) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      const cmd = readFileSync(`/proc/${entry}/cmdline`, 'utf8');
      // Whole arguments only: `.lab` must not match `.lab-exec`'s supervisor.
      const args = cmd.split('\0');
      const isSupervisor = args.some((a, i) => a.endsWith('supervisor.js') && args[i + 1] === layout.dir);
      if (cwd.startsWith(`${layout.nodesDir}/`) || cmd.includes(`${layout.dir}/nodes/`) || isSupervisor) {
        process.kill(Number(entry), 'SIGKILL');
        n += 1;
      }
    } catch {
      // gone, or not ours to read
    }
  }
  return n;
}

/** Back to the state right after `up`: stop everything, restore the data snapshot, start, wait healthy. */
export async function labReset(opts: LabOptions & { timeoutMs?: number } = {}): Promise<Lab> {
  const t0 = Date.now();
  const layout = readLayout(opts.dir);
  if (!existsSync(layout.snapshotDir)) throw new LabError(`no snapshot in ${layout.dir}: run \`lab up\` first`);
  await stopSupervisor(layout);
  await rm(layout.nodesDir, { recursive: true, force: true });
  await rm(`${layout.dir}/state.json`, { force: true });
  await run('cp', ['-a', layout.snapshotDir, layout.nodesDir]);
  await startSupervisor(layout);
  await waitHealthy(layout, opts.timeoutMs ?? 60_000, opts.onProgress);
  return { topologyPath: layout.topologyPath, dir: layout.dir, nodes: layout.nodes, layout, durationMs: Date.now() - t0 };
}

export interface LabStatus {
  readonly dir: string;
  readonly running: boolean;
  readonly supervisor: SupervisorStatus | undefined;
  /** Health of the nodes that are not in a killed DC. */
  readonly health: Health | undefined;
}

export async function labStatus(opts: LabOptions = {}): Promise<LabStatus> {
  const dir = labDir(opts.dir);
  if (!existsSync(`${dir}/lab.json`) || !(await isSupervisorAlive(dir))) return { dir, running: false, supervisor: undefined, health: undefined };
  const layout = readLayout(dir);
  const supervisor = (await request(layout, { op: 'status' })) as SupervisorStatus;
  const alive = layout.nodes.filter((n) => !supervisor.killedDcs.includes(n.dc));
  const health = alive.length > 0 ? await checkHealth(alive) : undefined;
  return { dir, running: true, supervisor, health };
}

// ---- DC failure -------------------------------------------------------------------------------

/** SIGKILL every process of the DC's nodes at once and make their addresses unreachable. */
export async function killDc(dc: string, opts: LabOptions = {}): Promise<KillResult> {
  const layout = readLayout(opts.dir);
  nodesOfDc(layout, dc);
  return (await request(layout, { op: 'kill-dc', dc: dcName(dc) })) as KillResult;
}

/** Power the DC's machines back on with their old files: sshd and every unmasked service start. */
export async function reviveDc(dc: string, opts: LabOptions = {}): Promise<void> {
  const layout = readLayout(opts.dir);
  nodesOfDc(layout, dc);
  await request(layout, { op: 'revive-dc', dc: dcName(dc) });
}

// ---- helpers for tests --------------------------------------------------------------------------

/** Service control straight through the supervisor (what labctl does, without ssh). */
export async function serviceControl(action: UnitAction, node: string, unit: UnitName, opts: LabOptions = {}): Promise<boolean> {
  const layout = readLayout(opts.dir);
  const r = (await request(layout, { op: action, node, unit })) as { active?: boolean };
  return r.active ?? true;
}

/** ssh arguments that log in to a node as the lab user, host key checked against the lab's known_hosts. */
export function sshArgs(layout: LabLayout, node: LabNode, connectTimeoutS = 3): string[] {
  return [
    '-i',
    layout.identityFile,
    '-o',
    `UserKnownHostsFile=${layout.knownHostsFile}`,
    '-o',
    'StrictHostKeyChecking=yes',
    '-o',
    'IdentitiesOnly=yes',
    '-o',
    'BatchMode=yes',
    '-o',
    `ConnectTimeout=${connectTimeoutS}`,
    '-o',
    'LogLevel=ERROR',
    '-p',
    '22',
    `dcfail@${node.address}`,
  ];
}

/** Runs a command on a node over ssh (as the lab user); never throws. */
export async function sshRun(layout: LabLayout, node: LabNode, command: string, timeoutMs = 10_000): Promise<{ exitCode: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run('ssh', [...sshArgs(layout, node), command], { timeout: timeoutMs });
    return { exitCode: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code?: number | string; stdout?: string; stderr?: string };
    return { exitCode: typeof e.code === 'number' ? e.code : 255, stdout: e.stdout ?? '', stderr: e.stderr ?? String(err) };
  }
}

/** The node's log file of a unit. */
export function unitLog(node: LabNode, unit: UnitName | 'sshd'): string {
  return `${node.paths.logDir}/${unit}.log`;
}

export { CONFIG_PACKAGE };
