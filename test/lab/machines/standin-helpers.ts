/**
 * Runs the compiled machine stand-ins (dist/lab/machines/standins/*.js) as real processes on loopback
 * addresses, each node with its own directories in place of DC/OS's paths. Build first (`npx tsc -p .`).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fourLetterWord } from '../../../lab/machines/standins/dcos-paths.js';

export const REPO = fileURLToPath(new URL('../../..', import.meta.url)).replace(/\/$/, '');
const STANDINS = join(REPO, 'dist/lab/machines/standins');

export function requireBuilt(): void {
  for (const f of ['exhibitor.js', 'mesos-prestart.js', 'dcos-paths.js']) {
    if (!existsSync(join(STANDINS, f))) throw new Error(`${join(STANDINS, f)} is missing: run \`npx tsc -p ${REPO}\` first`);
  }
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface NodeDirs {
  ip: string;
  root: string;
  varDir: string;
  bootstrapDir: string;
  masterCountFile: string;
  zooCfg: string;
  myid: string;
  zkPid: string;
}

/** A scratch root holding one directory per node and a shared master_count file. */
export function scratch(prefix: string, masterCount: number): { root: string; masterCountFile: string } {
  const root = mkdtempSync(join(tmpdir(), `${prefix}-`));
  const masterCountFile = join(root, 'master_count');
  writeFileSync(masterCountFile, `${masterCount}\n`);
  return { root, masterCountFile };
}

export function nodeDirs(root: string, masterCountFile: string, ip: string): NodeDirs {
  const nodeRoot = join(root, ip);
  mkdirSync(nodeRoot, { recursive: true });
  const varDir = join(nodeRoot, 'var-lib-dcos-exhibitor');
  return {
    ip,
    root: nodeRoot,
    varDir,
    bootstrapDir: join(nodeRoot, 'var-lib-dcos-bootstrap'),
    masterCountFile,
    zooCfg: join(varDir, 'conf', 'zoo.cfg'),
    myid: join(varDir, 'zookeeper', 'snapshot', 'myid'),
    zkPid: join(varDir, 'zk.pid'),
  };
}

/** The environment a node's stand-ins get in place of the machine's files. */
function nodeEnv(n: NodeDirs, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env['PATH'] ?? '/usr/bin:/bin',
    DCFAIL_LAB_DETECTED_IP: n.ip,
    DCFAIL_LAB_BIND_OWN_IP: '1',
    DCFAIL_LAB_LOCAL_ADDRESS: n.ip,
    DCFAIL_LAB_MASTER_COUNT_FILE: n.masterCountFile,
    DCFAIL_LAB_EXHIBITOR_VAR_DIR: n.varDir,
    DCFAIL_LAB_BOOTSTRAP_DIR: n.bootstrapDir,
    ...extra,
  };
}

export interface RunningExhibitor {
  dirs: NodeDirs;
  proc: ChildProcess;
  startedAt: number;
  /** Everything the stand-in (and its ZooKeeper) printed so far. */
  output(): string;
  exited: Promise<number | null>;
}

export function startExhibitor(dirs: NodeDirs, env: Record<string, string>, args: string[] = []): RunningExhibitor {
  let out = '';
  const proc = spawn(process.execPath, [join(STANDINS, 'exhibitor.js'), ...args], { env: nodeEnv(dirs, env), stdio: ['ignore', 'pipe', 'pipe'] });
  proc.stdout?.on('data', (b: Buffer) => (out += b.toString('utf8')));
  proc.stderr?.on('data', (b: Buffer) => (out += b.toString('utf8')));
  const exited = new Promise<number | null>((r) => proc.on('exit', (code) => r(code)));
  return { dirs, proc, startedAt: Date.now(), output: () => out, exited };
}

/** Stops a stand-in we started (by its pid) and waits for it. */
export async function stopExhibitor(e: RunningExhibitor): Promise<void> {
  if (e.proc.exitCode !== null || e.proc.signalCode !== null) return;
  e.proc.kill('SIGTERM');
  await Promise.race([e.exited, sleep(8000)]);
  if (e.proc.exitCode === null && e.proc.signalCode === null) e.proc.kill('SIGKILL');
}

/** Lines the stand-in logged itself (ZooKeeper's own lines left out). */
export function exhibitorLines(e: RunningExhibitor): string[] {
  return e.output().split('\n').filter((l) => / exhibitor\[\d+\] /.test(l));
}

/** The time (ms since epoch) of the first stand-in log line matching `re`, if any. */
export function loggedAt(e: RunningExhibitor, re: RegExp): number | undefined {
  const line = exhibitorLines(e).find((l) => re.test(l));
  return line === undefined ? undefined : Date.parse(line.slice(0, line.indexOf(' ')));
}

export function readIfExists(path: string): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

export async function ruok(ip: string): Promise<string | undefined> {
  try {
    return (await fourLetterWord(ip, 2181, 'ruok', 2000)).trim();
  } catch {
    return undefined;
  }
}

export async function zkMode(ip: string): Promise<string | undefined> {
  try {
    const r = await fourLetterWord(ip, 2181, 'srvr', 2000);
    return /^Mode: (.*)$/m.exec(r)?.[1] ?? r.trim();
  } catch {
    return undefined;
  }
}

export interface StatusRow {
  code: number;
  description: string;
  hostname: string;
  isLeader: boolean;
}

export async function clusterStatus(ip: string, path = '/exhibitor/v1/cluster/status'): Promise<StatusRow[]> {
  const r = await fetch(`http://${ip}:8181${path}`, { signal: AbortSignal.timeout(15_000) });
  if (r.status !== 200) throw new Error(`${path} on ${ip}: HTTP ${r.status}`);
  return (await r.json()) as StatusRow[];
}

export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** Polls until `fn` returns something other than undefined/false, or throws after `timeoutMs`. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, timeoutMs: number, everyMs = 50): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(everyMs);
  }
}

/** Runs the pre-start check once, as the unit's ExecStartPre would. */
export function runPrestart(dirs: NodeDirs, variant: string, env: Record<string, string> = {}): Promise<{ code: number | null; out: string }> {
  return new Promise((resolveRun) => {
    let out = '';
    const p = spawn(process.execPath, [join(STANDINS, 'mesos-prestart.js'), '--dcos-version', variant], { env: nodeEnv(dirs, env), stdio: ['ignore', 'pipe', 'pipe'] });
    p.stdout.on('data', (b: Buffer) => (out += b.toString('utf8')));
    p.stderr.on('data', (b: Buffer) => (out += b.toString('utf8')));
    p.on('exit', (code) => resolveRun({ code, out }));
  });
}
