/**
 * The machines-lab cycles, with DC/OS's real timers: madrid's power is cut, then dcfail (failover,
 * then failback), the floor (the same edits and restarts by hand, in parallel, on the same
 * machines), or the Ansible playbook brings the clusters back; the independent poller (poller.ts,
 * a child process) says when all three serve. Every cycle starts from `labReset` (fresh disks);
 * the fence hook powers the DC off and holds its quorum units on its disks, so that when its power
 * comes back nothing of it starts until a failback lifts the holds.
 */
import { spawn } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { createInterface } from 'node:readline';
import { parse, stringify } from 'yaml';
import { labReset, powerOff, powerOn, writeFenceAndHoldHook, type Lab } from '../lab/machines/lab.js';
import type { MachineNode, MachinesLayout } from '../lab/machines/layout.js';
import { httpJson, zkMode } from '../lab/machines/probes.js';
import { floorFailback, floorFailover, tcpOpen } from './floor.js';
import type { PollResult, PollSpec } from './poller.js';

export const REPO = new URL('../..', import.meta.url).pathname.replace(/\/$/, '');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function failoverSpec(layout: MachinesLayout, lostDc: string): PollSpec {
  const s = layout.nodes.filter((n) => n.dc !== lostDc);
  return {
    etcd: s.map((n) => `http://${n.address}:2379`),
    zk: s.map((n) => ({ host: n.address, port: 2181 })),
    mesos: s.map((n) => ({ host: n.address, port: 5050 })),
    deadlineMs: 300_000,
  };
}

/** Failback is done when the full cluster serves: every member voting, every ZooKeeper server, every replica. */
function failbackSpec(layout: MachinesLayout): PollSpec {
  const all = layout.nodes;
  return {
    etcd: all.map((n) => `http://${n.address}:2379`),
    etcdMembers: all.length,
    zk: all.map((n) => ({ host: n.address, port: 2181 })),
    mesos: all.map((n) => ({ host: n.address, port: 5050 })),
    mesosVoting: all.length,
    deadlineMs: 420_000,
  };
}

export interface Poller {
  result: Promise<PollResult>;
  stop: () => void;
}

/** Starts the poller child and resolves once it runs. */
async function startPoller(spec: PollSpec): Promise<Poller> {
  const child = spawn(process.execPath, [`${REPO}/dist/bench/poller.js`, JSON.stringify(spec)], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const lines = createInterface({ input: child.stdout! });
  let ready!: () => void;
  const isReady = new Promise<void>((r) => (ready = r));
  const result = new Promise<PollResult>((resolve) => {
    lines.on('line', (l) => {
      if (l === 'ready') ready();
      else if (l.startsWith('{')) resolve(JSON.parse(l) as PollResult);
    });
    child.on('exit', () => {
      ready();
      resolve({
        ok: false,
        since: { etcd: null, zookeeper: null, mesos: null },
        allAt: null,
        probes: { etcd: 0, zookeeper: 0, mesos: 0 },
        last: { etcd: 'poller exited', zookeeper: '', mesos: '' },
      });
    });
  });
  await isReady;
  return { result, stop: () => child.kill('SIGKILL') };
}

/** When all three serve: the latest start of the three current serving streaks. */
function servingAt(r: PollResult): number | null {
  if (!r.ok || r.since.etcd === null || r.since.zookeeper === null || r.since.mesos === null) return null;
  return Math.max(r.since.etcd, r.since.zookeeper, r.since.mesos);
}

export interface ProcessRun {
  exitCode: number | null;
  stdout: string;
  stderr: string;
  spawnedAt: number;
  exitedAt: number;
}

function runProcess(
  cmd: string,
  args: string[],
  opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs?: number } = {},
): Promise<ProcessRun> {
  const spawnedAt = Date.now();
  return new Promise((resolve) => {
    const child = spawn(cmd, args, {
      env: opts.env ?? process.env,
      cwd: opts.cwd ?? REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 300_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ exitCode: code, stdout, stderr, spawnedAt, exitedAt: Date.now() });
    });
  });
}

export interface JournalStepLite {
  id: string;
  node: string | null;
  status: string;
  ms: number;
}
export interface JournalLite {
  runId: string;
  startedAt: string;
  confirmedAt?: string;
  finishedAt?: string;
  outcome?: string;
  timeToRecoveryMs?: number;
  steps: JournalStepLite[];
}

async function latestJournal(stateDir: string, after: number): Promise<JournalLite | null> {
  const dir = `${stateDir}/runs`;
  const runs = await readdir(dir).catch(() => [] as string[]);
  let best: JournalLite | null = null;
  for (const r of runs) {
    const j = await readFile(`${dir}/${r}/journal.json`, 'utf8').then(
      (t) => JSON.parse(t) as JournalLite,
      () => null,
    );
    if (!j || Date.parse(j.startedAt) < after - 1000) continue;
    if (!best || Date.parse(j.startedAt) > Date.parse(best.startedAt)) best = j;
  }
  return best;
}

/**
 * Waits until the kill took effect as an operator would see it: the lost DC's ports do not
 * answer, and the survivors lost their quorums (ZooKeeper not serving, no Mesos leader). Every
 * tool starts from this same state.
 */
async function waitDcDown(layout: MachinesLayout, lost: readonly MachineNode[]): Promise<void> {
  const survivors = layout.nodes.filter((n) => !lost.includes(n));
  // A survivor's ZooKeeper stops serving within syncLimit x tickTime (10 s) of the cut.
  for (let i = 0; i < 600; i += 1) {
    const [ports, zk, mesos] = await Promise.all([
      Promise.all(lost.map((n) => tcpOpen(n.address, 2181, 300))),
      Promise.all(survivors.map((n) => zkMode(n.address, 500))),
      Promise.all(
        survivors.map((n) => httpJson<Record<string, number>>(`http://${n.address}:5050/metrics/snapshot`, 500)),
      ),
    ]);
    if (ports.every((x) => !x) && zk.every((z) => z === undefined) && mesos.every((m) => m?.['master/elected'] !== 1))
      return;
    await sleep(100);
  }
  throw new Error('the survivors still serve 60 s after the main DC lost its power');
}

async function waitSshUp(nodes: readonly MachineNode[]): Promise<void> {
  for (let i = 0; i < 600; i += 1) {
    const r = await Promise.all(nodes.map((n) => tcpOpen(n.address, 22, 300)));
    if (r.every((x) => x)) return;
    await sleep(100);
  }
}

/** A fresh lab whose topology's fence hook also holds the fenced DC's quorum units on its disks. */
async function freshLab(layout: MachinesLayout): Promise<{ lab: Lab; topology: string; fence: string }> {
  const lab = await labReset({ dir: layout.dir });
  const fence = await writeFenceAndHoldHook(lab);
  const t = parse(await readFile(lab.topologyPath, 'utf8')) as { hooks: { fence: Record<string, string> } };
  t.hooks.fence = Object.fromEntries(Object.keys(t.hooks.fence).map((dc) => [dc, `${fence} ${dc}`]));
  const topology = `${lab.dir}/topology-bench.yaml`;
  await writeFile(topology, stringify(t));
  return { lab, topology, fence };
}

const survivorDc = (layout: MachinesLayout) => layout.nodes.at(-1)!.dc;
const lostOf = (layout: MachinesLayout) => layout.nodes.filter((n) => n.dc !== survivorDc(layout));

export interface CycleFigures {
  /** Poller's "all serve" minus the start mark (confirmation for dcfail, spawn for the others). */
  ttrMs: number | null;
  /** The tool's own wall time (process spawn to exit; the floor: start to last call returned). */
  wallMs: number;
  /** dcfail only: its own figure, start to confirmation (lock, observation, loss certificate, plan). */
  preConfirmMs?: number;
  selfReportedMs?: number;
  steps?: JournalStepLite[];
  exitCode?: number | null;
  error?: string;
}

function dcfailEnv(stateDir: string): NodeJS.ProcessEnv {
  return { ...process.env, DCFAIL_STATE_DIR: stateDir, DCFAIL_OPERATOR: 'bench' };
}

async function measureDcfail(
  topology: string,
  args: string[],
  spec: PollSpec,
  stateDir: string,
): Promise<CycleFigures> {
  const poller = await startPoller(spec);
  const started = Date.now();
  const r = await runProcess(process.execPath, [`${REPO}/dist/bin/dcfail.js`, ...args, '-t', topology], {
    env: dcfailEnv(stateDir),
    timeoutMs: 900_000,
  });
  const j = await latestJournal(stateDir, started);
  const timeout = setTimeout(() => poller.stop(), 30_000);
  const res = await poller.result;
  clearTimeout(timeout);
  poller.stop();
  const at = servingAt(res);
  const confirmed = j?.confirmedAt ? Date.parse(j.confirmedAt) : NaN;
  const out: CycleFigures = {
    ttrMs: at !== null && Number.isFinite(confirmed) ? at - confirmed : null,
    wallMs: r.exitedAt - r.spawnedAt,
    exitCode: r.exitCode,
    ...(j?.confirmedAt ? { preConfirmMs: confirmed - Date.parse(j.startedAt) } : {}),
    ...(j?.timeToRecoveryMs !== undefined ? { selfReportedMs: j.timeToRecoveryMs } : {}),
    ...(j ? { steps: j.steps } : {}),
  };
  if (r.exitCode !== 0)
    out.error = `dcfail ${args[0]} exited ${r.exitCode}: ${(r.stderr || r.stdout).trim().split('\n').slice(-3).join(' / ')}`;
  else if (at === null) out.error = `the poller never saw all three serve (last: ${JSON.stringify(res.last)})`;
  return out;
}

export async function dcfailCycle(
  layout: MachinesLayout,
  stateDir: string,
): Promise<{ failover: CycleFigures; failback: CycleFigures }> {
  const { topology } = await freshLab(layout);
  const lost = lostOf(layout);
  const lostDc = lost[0]!.dc;
  await powerOff(lostDc, { dir: layout.dir });
  await waitDcDown(layout, lost);
  const failover = await measureDcfail(
    topology,
    ['failover', '--to', 'secondary', '--yes'],
    failoverSpec(layout, lostDc),
    stateDir,
  );
  if (failover.error) return { failover, failback: { ttrMs: null, wallMs: NaN, error: 'skipped: failover failed' } };
  await powerOn(lostDc, { dir: layout.dir });
  await waitSshUp(lost);
  const failback = await measureDcfail(topology, ['failback', '--yes'], failbackSpec(layout), stateDir);
  return { failover, failback };
}

/** The floor's failover and, from the state it leaves, its failback: the same edits and restarts by hand, in parallel. */
export async function floorCycle(
  layout: MachinesLayout,
  opts: Parameters<typeof floorFailover>[3] & { failback?: boolean } = {},
): Promise<{ failover: CycleFigures; failback?: CycleFigures }> {
  const { fence } = await freshLab(layout);
  const lost = lostOf(layout);
  const lostDc = lost[0]!.dc;
  await powerOff(lostDc, { dir: layout.dir });
  await waitDcDown(layout, lost);
  const failover = await floorTimed(failoverSpec(layout, lostDc), () => floorFailover(layout, lostDc, fence, opts));
  if (!opts.failback || failover.error) return { failover };
  // The fence's power-off left the DC dark: its power comes back, its quorum units held on its disks.
  await powerOn(lostDc, { dir: layout.dir });
  await waitSshUp(lost);
  const failback = await floorTimed(failbackSpec(layout), () => floorFailback(layout, lostDc));
  return { failover, failback };
}

async function floorTimed(spec: PollSpec, fn: () => Promise<void>): Promise<CycleFigures> {
  const poller = await startPoller(spec);
  const t0 = Date.now();
  let error: string | undefined;
  await fn().catch((e: Error) => (error = `floor: ${e.message}`));
  const wallMs = Date.now() - t0;
  const res = await poller.result;
  poller.stop();
  const at = servingAt(res);
  return {
    ttrMs: at === null ? null : at - t0,
    wallMs,
    ...(error
      ? { error }
      : at === null
        ? { error: `the poller never saw all three serve (last: ${JSON.stringify(res.last)})` }
        : {}),
  };
}

export async function commandCycle(
  layout: MachinesLayout,
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
): Promise<CycleFigures> {
  await freshLab(layout);
  const lost = lostOf(layout);
  await powerOff(lost[0]!.dc, { dir: layout.dir });
  await waitDcDown(layout, lost);
  const poller = await startPoller(failoverSpec(layout, lost[0]!.dc));
  const r = await runProcess(cmd, args, { env, timeoutMs: 900_000 });
  const timeout = setTimeout(() => poller.stop(), 30_000);
  const res = await poller.result;
  clearTimeout(timeout);
  poller.stop();
  const at = servingAt(res);
  const out: CycleFigures = {
    ttrMs: at === null ? null : at - r.spawnedAt,
    wallMs: r.exitedAt - r.spawnedAt,
    exitCode: r.exitCode,
  };
  if (r.exitCode !== 0)
    out.error = `${cmd} exited ${r.exitCode}: ${(r.stdout + r.stderr).trim().split('\n').slice(-6).join(' / ')}`;
  else if (at === null) out.error = `the poller never saw all three serve (last: ${JSON.stringify(res.last)})`;
  return out;
}
