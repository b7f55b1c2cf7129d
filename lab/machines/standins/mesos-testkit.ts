/**
 * Test support for the Mesos stand-ins (used by test/lab/machines/mesos-*.test.ts, not by the
 * machines): a real ZooKeeper (java QuorumPeerMain, standalone) and real master/agent processes on
 * loopback addresses, started from the compiled dist/ files.
 *
 * The test ZooKeeper runs with tickTime=500 (DC/OS: 2000) only so that a scaled Mesos session
 * (10 s x DCFAIL_LAB_TIME_SCALE) is not raised to ZooKeeper's minimum of 2 x tickTime.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ZkSession } from './mesos-zk.js';

const here = dirname(fileURLToPath(import.meta.url));
/** dist/lab/machines/standins when running compiled; the tests run the compiled stand-ins. */
function distFile(name: string): string {
  const inDist = here.includes(`${'/dist/'}`);
  const root = inDist ? resolve(here, '../../../..') : resolve(here, '../../..');
  return `${root}/dist/lab/machines/standins/${name}`;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export interface Proc {
  readonly child: ChildProcess;
  readonly output: string[];
  /** Resolves with the exit code (null when killed by a signal) and the signal. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  kill(signal?: NodeJS.Signals): void;
  text(): string;
}

function track(child: ChildProcess, label: string, echo: boolean): Proc {
  const output: string[] = [];
  const onData = (d: Buffer) => {
    for (const line of d.toString('utf8').split('\n')) {
      if (!line) continue;
      output.push(line);
      if (echo) process.stderr.write(`[${label}] ${line}\n`);
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((r) => child.on('exit', (code, signal) => r({ code, signal, at: Date.now() })));
  return {
    child,
    output,
    exited,
    kill: (signal: NodeJS.Signals = 'SIGKILL') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
    },
    text: () => output.join('\n'),
  };
}

export async function startZooKeeper(dir: string, address: string, port = 2181): Promise<Proc> {
  mkdirSync(`${dir}/data`, { recursive: true });
  writeFileSync(`${dir}/data/myid`, '1\n');
  writeFileSync(
    `${dir}/zoo.cfg`,
    [`tickTime=500`, `dataDir=${dir}/data`, `clientPort=${port}`, `clientPortAddress=${address}`, 'admin.enableServer=false', '4lw.commands.whitelist=srvr,mntr,ruok', 'maxSessionTimeout=60000', ''].join('\n'),
  );
  const child = spawn('java', ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-cp', '/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar', 'org.apache.zookeeper.server.quorum.QuorumPeerMain', `${dir}/zoo.cfg`], { stdio: ['ignore', 'pipe', 'pipe'] });
  const p = track(child, `zk ${address}`, false);
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    try {
      const s = await ZkSession.open(`${address}:${port}`, 4000, 1000);
      s.close();
      return p;
    } catch {
      await sleep(200);
    }
  }
  p.kill();
  throw new Error(`ZooKeeper on ${address}:${port} did not start:\n${p.text()}`);
}

export interface MasterSpec {
  readonly ip: string;
  readonly quorum: number;
  readonly workDir: string;
  readonly zk: string;
  readonly scale: number;
  readonly port?: number;
  readonly env?: Record<string, string>;
}

export function startMaster(spec: MasterSpec, echo = process.env.DCFAIL_TEST_ECHO === '1'): Proc {
  mkdirSync(spec.workDir, { recursive: true });
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    MESOS_QUORUM: String(spec.quorum),
    MESOS_IP: spec.ip,
    MESOS_PORT: String(spec.port ?? 5050),
    MESOS_HOSTNAME: spec.ip,
    MESOS_WORK_DIR: spec.workDir,
    MESOS_ZK: spec.zk,
    MESOS_REGISTRY_FETCH_TIMEOUT: '60secs',
    MESOS_REGISTRY_STORE_TIMEOUT: '60secs',
    DCFAIL_LAB_TIME_SCALE: String(spec.scale),
    DCFAIL_OVERLAY_CONFIG: `${spec.workDir}/no-overlay-config.json`,
    ...(process.env.DCFAIL_STANDIN_DEBUG ? { DCFAIL_STANDIN_DEBUG: process.env.DCFAIL_STANDIN_DEBUG } : {}),
    ...spec.env,
  };
  const child = spawn(process.execPath, [distFile('mesos-master.js')], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  return track(child, `master ${spec.ip}`, echo);
}

export function startAgent(opts: { ip: string; zk: string; workDir: string; scale: number; port?: number }, echo = process.env.DCFAIL_TEST_ECHO === '1'): Proc {
  const child = spawn(process.execPath, [distFile('mesos-agent.js'), '--ip', opts.ip, '--port', String(opts.port ?? 5051), '--zk', opts.zk, '--work-dir', opts.workDir], {
    env: { PATH: process.env.PATH, DCFAIL_LAB_TIME_SCALE: String(opts.scale) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  return track(child, `agent ${opts.ip}`, echo);
}

export interface HttpAnswer {
  readonly status: number;
  readonly location: string | null;
  readonly text: string;
}

export async function http(url: string, init: { method?: string; body?: unknown; timeoutMs?: number } = {}): Promise<HttpAnswer | undefined> {
  try {
    const res = await fetch(url, {
      method: init.method ?? (init.body !== undefined ? 'POST' : 'GET'),
      redirect: 'manual',
      signal: AbortSignal.timeout(init.timeoutMs ?? 3000),
      ...(init.body !== undefined ? { body: JSON.stringify(init.body), headers: { 'content-type': 'application/json' } } : {}),
    });
    return { status: res.status, location: res.headers.get('location'), text: await res.text() };
  } catch {
    return undefined;
  }
}

export async function getJson<T>(url: string): Promise<T | undefined> {
  const r = await http(url);
  if (!r || r.status !== 200) return undefined;
  return JSON.parse(r.text) as T;
}

export type Metrics = Record<string, number>;
export const metrics = (ip: string, port = 5050) => getJson<Metrics>(`http://${ip}:${port}/metrics/snapshot`);

export interface RawLog {
  pid: string;
  status: string;
  promised: number;
  begin: number;
  end: number;
  actions: { position: number; promised: number; performed?: number; learned?: boolean; type?: string; value?: string }[];
}
export const rawLog = (ip: string, which: 'registry' | 'overlay' = 'registry', port = 5050) => getJson<RawLog>(`http://${ip}:${port}/lab/log/${which}`);

export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 100): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
}

/** The children of a znode, read with a session of our own (closed afterwards). */
export async function zkChildren(servers: string, path: string): Promise<string[]> {
  const s = await ZkSession.open(servers, 4000, 3000);
  try {
    return (await s.children(path, 3000)).sort();
  } finally {
    s.close();
  }
}
