/**
 * Shared by the lab-backed end-to-end suites (issue 4): the built dcfail binary run as an
 * operator would, a faster copy of the lab topology, data written and read back through real
 * clients (etcd3, the native ZooKeeper client, the Mesos stand-in's registry), and the end state
 * of a run captured in a form two runs can be compared by.
 */
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { execa, type ResultPromise } from 'execa';
import { afterAll, beforeAll, expect } from 'vitest';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { lstat, mkdir, readdir, readFile, readlink, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { parse, stringify } from 'yaml';
import { isRecoveredLeader, mesosMetrics } from '../../lab/health.js';
import { labDown, labUp, repoRoot, type Lab, type LabNode } from '../../lab/lab.js';
import { sendRequest, type SupervisorStatus } from '../../lab/protocol.js';
import { PORTS } from '../../lab/layout.js';
import { httpJson, sleep } from '../../lab/probes.js';
import { openZk, type ZkSession } from '../../src/components/zookeeper/probe.js';
import { masterState, mesosUrl, replicaLog, waitFor, writeRegistryEntry } from '../lab/helpers.js';
import { etcdTruth, waitForForeignLab, zkTruth } from './server-truth.js';
import { bundle } from '../../scripts/bundle.js';

export { waitFor };

export const REPO = repoRoot();
export const FIXTURES = `${REPO}/fixtures/e2e`;

/** The binary the suite runs: the `dcfail` bin (`dist/bin/dcfail.js`), or this suite's own build (see buildPrivately). */
let bin = `${REPO}/dist/bin/dcfail.js`;

/**
 * Compiles and bundles the checkout into `<labDir>/dist` (as `npm run build` does) and runs that binary from then on: other engineers
 * rebuild the shared dist/ while this suite runs, and a half-written module fails to import.
 * The lab dir lies inside the repo (node_modules resolves) and is git-ignored.
 */
export async function buildPrivately(labDirPath: string): Promise<number> {
  const t0 = Date.now();
  // Only src/: a type error someone is fixing elsewhere (bench/, scripts/) is not ours to trip on.
  const config = `${labDirPath}/tsconfig.e2e.json`;
  await mkdir(labDirPath, { recursive: true });
  await writeFile(
    config,
    JSON.stringify({
      extends: `${REPO}/tsconfig.json`,
      compilerOptions: { rootDir: REPO, outDir: `${labDirPath}/dist` },
      include: [`${REPO}/src/**/*.ts`],
    }),
  );
  const r = await execa(process.execPath, [`${REPO}/node_modules/typescript/bin/tsc`, '-p', config], {
    cwd: REPO,
    reject: false,
  });
  if (existsSync(`${labDirPath}/dist/src/main.js`)) await bundle(`${labDirPath}/dist`);
  bin = `${labDirPath}/dist/bin/dcfail.js`;
  if (!existsSync(bin))
    throw new Error(`building dcfail into ${labDirPath}/dist failed:\n${String(r.stdout)}${String(r.stderr)}`);
  if (r.exitCode !== 0)
    console.warn(`tsc reported errors (the build is used anyway):\n${String(r.stdout).slice(0, 2000)}`);
  return Date.now() - t0;
}

// ---- the binary ---------------------------------------------------------------------------------

export interface RunResult {
  exitCode: number;
  stdout: string;
  stderr: string;
  durationMs: number;
  /** stdout parsed, for --json runs. */
  json: any;
}

function parseJson(text: string): any {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Starts the built binary (the caller may kill it); env inherits DCFAIL_STATE_DIR. */
export function spawnDcfail(args: readonly string[]): ResultPromise<{ reject: false; all: false }> {
  return execa(process.execPath, [bin, ...args], { reject: false, all: false, env: { DCFAIL_OPERATOR: 'e2e-test' } });
}

/** Runs the built binary to its end. */
export async function dcfail(args: readonly string[]): Promise<RunResult> {
  const t0 = Date.now();
  const r = await spawnDcfail(args);
  return {
    exitCode: r.exitCode ?? -1,
    stdout: String(r.stdout),
    stderr: String(r.stderr),
    durationMs: Date.now() - t0,
    json: parseJson(String(r.stdout)),
  };
}

export function describeRun(r: RunResult): string {
  return `exit ${r.exitCode} after ${secs(r.durationMs)}\n--- stdout\n${r.stdout.slice(-6000)}\n--- stderr\n${r.stderr.slice(-3000)}`;
}

export const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** The code a refused or failed run reports (--json): the thrown error's, or the failed run's. */
export function errorCode(r: RunResult): string | undefined {
  return r.json?.error?.code;
}

export function failoverArgs(topology: string, extra: readonly string[] = []): string[] {
  return ['failover', '--to', 'secondary', '--yes', '-t', topology, '--verify-timeout', '30000', ...extra];
}

export function failbackArgs(topology: string, extra: readonly string[] = []): string[] {
  return ['failback', '--yes', '-t', topology, '--verify-timeout', '30000', ...extra];
}

/**
 * Right after `kill-dc` the survivors' ZooKeeper may still claim to serve for a few seconds: the
 * loss certificate waits for them within its budget, else refuses (exit 3, loss-settling, "wait N s
 * and run again"); retry while it does (or refuses lost-dc-alive), bounded.
 */
export async function runFailover(topology: string, extra: readonly string[] = [], json = true): Promise<RunResult> {
  const deadline = Date.now() + 40_000;
  for (;;) {
    const r = await dcfail(failoverArgs(topology, [...extra, ...(json ? ['--json'] : [])]));
    const code = json
      ? errorCode(r)
      : /lost-dc-alive|is not down/.test(r.stderr)
        ? 'lost-dc-alive'
        : /loss-settling|still counts? it in/.test(r.stderr)
          ? 'loss-settling'
          : undefined;
    if (r.exitCode !== 3 || (code !== 'lost-dc-alive' && code !== 'loss-settling') || Date.now() > deadline) return r;
    await sleep(1000);
  }
}

/** The journal of the newest run in $DCFAIL_STATE_DIR. */
export async function newestJournal(): Promise<any> {
  const dir = join(process.env['DCFAIL_STATE_DIR']!, 'runs');
  const runs = (await readdir(dir)).sort();
  return JSON.parse(await readFile(join(dir, runs.at(-1)!, 'journal.json'), 'utf8'));
}

// ---- topology copies ------------------------------------------------------------------------------

/**
 * A copy of the lab topology with shorter timeouts (the suite runs many failovers), edited by
 * `edit`, written next to the other copies of this suite.
 */
export async function topologyCopy(
  lab: Lab,
  dir: string,
  name: string,
  edit: (t: any) => void = () => undefined,
): Promise<string> {
  const t = parse(await readFile(lab.topologyPath, 'utf8'));
  t.health = { ...t.health, timeoutMs: 700, attempts: 2 };
  t.ssh = { ...t.ssh, connectTimeoutMs: 1000 };
  edit(t);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${name}.yaml`);
  await writeFile(path, stringify(t, { lineWidth: 0 }));
  return path;
}

// ---- the lab ------------------------------------------------------------------------------------

export const mainNodes = (lab: Lab) => lab.nodes.filter((n) => n.dc === 'madrid');
export const secondaryNodes = (lab: Lab) => lab.nodes.filter((n) => n.dc === 'barcelona');
/** A server of either lab (loopback or machines): its address is all the data helpers need. */
export type Addressed = Pick<LabNode, 'address'>;

const etcdUrl = (n: Addressed) => `http://${n.address}:${PORTS.etcdClient}`;
const zkAddr = (n: Addressed) => `${n.address}:${PORTS.zkClient}`;

/** After kill-dc: until no survivor serves ZooKeeper or follows an etcd leader (they lost quorum). */
export async function waitSurvivorsLostQuorum(survivors: readonly LabNode[]): Promise<number> {
  const t0 = Date.now();
  await waitFor(
    'the survivors to report no quorum',
    async () => {
      for (const n of survivors) {
        const zk = await zkTruth(n);
        if (zk && ['leader', 'follower'].includes(zk.mode)) return false;
        const e = await etcdTruth(n);
        if (e && e.leader !== '0') return false;
      }
      return true;
    },
    30_000,
    300,
  );
  return Date.now() - t0;
}

// ---- etcd -----------------------------------------------------------------------------------------

function etcdClient(nodes: readonly Addressed[], timeoutMs = 5000): Etcd3 {
  return new Etcd3({
    hosts: nodes.map(etcdUrl),
    dialTimeout: timeoutMs,
    faultHandling: { host: () => noop, global: noop },
    defaultCallOptions: () => ({ deadline: new Date(Date.now() + timeoutMs) }),
  });
}

const keyOf = (prefix: string, i: number) => `${prefix}${String(i).padStart(5, '0')}`;
export const valueOf = (prefix: string, i: number) => `v:${prefix}:${i}:${'x'.repeat(i % 17)}`;

/** `count` quorum writes (each put is acknowledged by a majority), 100 in flight at a time. */
export async function writeEtcdKeys(nodes: readonly Addressed[], prefix: string, count: number): Promise<void> {
  const c = etcdClient(nodes);
  try {
    for (let i = 0; i < count; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, count - i) }, (_, j) =>
          c.put(keyOf(prefix, i + j)).value(valueOf(prefix, i + j)),
        ),
      );
    }
  } finally {
    c.close();
  }
}

/** Every key under `prefix` as this one member holds it (serializable: its own copy, no leader needed). */
export async function readEtcdKeys(
  node: Addressed,
  prefix: string,
  serializable = true,
): Promise<Record<string, string>> {
  const c = etcdClient([node]);
  try {
    return await c.getAll().prefix(prefix).serializable(serializable).strings();
  } finally {
    c.close();
  }
}

export function expectedKeys(prefix: string, count: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < count; i++) out[keyOf(prefix, i)] = valueOf(prefix, i);
  return out;
}

/** etcd's member list (ids left out: they differ from run to run), sorted by name. */
export async function etcdMembers(
  nodes: readonly Addressed[],
): Promise<{ name: string; peerURLs: string[]; isLearner: boolean }[]> {
  const c = etcdClient(nodes);
  try {
    const r = await c.cluster.memberList({});
    return r.members
      .map((m) => ({
        name: m.name,
        peerURLs: [...m.peerURLs].sort(),
        isLearner: Boolean((m as { isLearner?: boolean }).isLearner),
      }))
      .sort((a, b) => a.name.localeCompare(b.name));
  } finally {
    c.close();
  }
}

// ---- ZooKeeper --------------------------------------------------------------------------------------

async function withZk<T>(nodes: readonly Addressed[], fn: (s: ZkSession) => Promise<T>): Promise<T> {
  const s = await openZk(nodes.map(zkAddr).join(','), 10_000);
  try {
    return await fn(s);
  } finally {
    s.close();
  }
}

/** `count` znodes under `parent` (ZooKeeper writes go through its leader and a quorum), 100 in flight. */
export async function writeZnodes(nodes: readonly Addressed[], parent: string, count: number): Promise<void> {
  await withZk(nodes, async (s) => {
    await s.mkdirp(parent);
    for (let i = 0; i < count; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, count - i) }, (_, j) =>
          s.put(`${parent}/${keyOf('n', i + j)}`, valueOf(parent, i + j)),
        ),
      );
    }
  });
}

/** Every child of `parent` with its data, as the server(s) in `nodes` hold it; null: no such parent. */
export async function readZnodes(nodes: readonly Addressed[], parent: string): Promise<Record<string, string> | null> {
  return withZk(nodes, async (s) => {
    if ((await s.get(parent)) === null) return null;
    const names = (await s.children(parent)).sort();
    const out: Record<string, string> = {};
    for (let i = 0; i < names.length; i += 200) {
      const chunk = names.slice(i, i + 200);
      const values = await Promise.all(chunk.map((c) => s.get(`${parent}/${c}`)));
      chunk.forEach((c, j) => (out[c] = values[j] ?? '<gone>'));
    }
    return out;
  });
}

export function expectedZnodes(parent: string, count: number): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < count; i++) out[keyOf('n', i)] = valueOf(parent, i);
  return out;
}

// ---- Mesos ------------------------------------------------------------------------------------------

/** The one recovered leader among `nodes`, or undefined. */
export async function mesosLeader(nodes: readonly LabNode[]): Promise<LabNode | undefined> {
  const leaders: LabNode[] = [];
  for (const n of nodes) {
    const m = await mesosMetrics(n);
    if (isRecoveredLeader(m)) leaders.push(n);
  }
  return leaders.length === 1 ? leaders[0] : undefined;
}

/**
 * A registry write that every replica of `nodes` holds, as the tests that read it back after a
 * loss assume. A Mesos write returns once a quorum has it; the leader sends it to the replicas it
 * knows of, so first wait until it knows of all of `nodes` (right after an election it may not
 * yet), then check that each of them stored it.
 */
export async function writeRegistry(nodes: readonly LabNode[], data: unknown): Promise<number> {
  const leader = await waitFor(
    'a recovered Mesos leader that knows every replica',
    async () => {
      const l = await mesosLeader(nodes);
      return l && ((await mesosMetrics(l))?.['registrar/log/ensemble_size'] ?? 0) >= nodes.length ? l : undefined;
    },
    30_000,
  );
  const version = await writeRegistryEntry(leader, data);
  await waitFor(
    `registry version ${version} on every replica`,
    async () => {
      const logs = await Promise.all(nodes.map((n) => replicaLog(n)));
      return logs.every((l) => l !== undefined && l.version >= version) ? true : undefined;
    },
    10_000,
  );
  return version;
}

export interface MesosView {
  leader: string;
  quorum: number;
  version: number;
  entries: unknown[];
}

export async function mesosView(nodes: readonly LabNode[]): Promise<MesosView> {
  const leader = await waitFor('a recovered Mesos leader', () => mesosLeader(nodes), 30_000);
  const st = await waitFor("the leader's /master/state", () => masterState(leader), 10_000);
  return {
    leader: leader.name,
    quorum: Number((await httpJson<{ flags: { quorum: string } }>(mesosUrl(leader, '/flags'), 1000))?.flags.quorum),
    version: st.registry.version,
    entries: st.registry.entries.map((e) => e.data),
  };
}

// ---- files and units ----------------------------------------------------------------------------

export interface FileFacts {
  type: 'file' | 'dir' | 'link';
  mode: number;
  uid: number;
  gid: number;
  sha256?: string;
  target?: string;
}

/**
 * Every entry under `root` with its type, mode, owner and content hash (links: their target),
 * except the paths `skip` names (relative to root).
 */
export async function treeSnapshot(
  root: string,
  skip: (rel: string) => boolean = () => false,
): Promise<Record<string, FileFacts>> {
  const out: Record<string, FileFacts> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const e of (await readdir(dir)).sort()) {
      const p = join(dir, e);
      const rel = relative(root, p);
      if (skip(rel)) continue;
      const st = await lstat(p).catch(() => null);
      if (!st) continue;
      const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      if (st.isSymbolicLink()) out[rel] = { type: 'link', ...base, target: await readlink(p) };
      else if (st.isDirectory()) {
        out[rel] = { type: 'dir', ...base };
        await walk(p);
      } else
        out[rel] = {
          type: 'file',
          ...base,
          sha256: createHash('sha256')
            .update(await readFile(p))
            .digest('hex'),
        };
    }
  };
  await walk(root);
  return out;
}

/** Lifts the holds of a loopback lab node (what the lab's fence hook set): its units may start again. */
export async function liftLabHolds(node: { root: string }): Promise<void> {
  await rm(`${node.root}/var/lib/dcfail/guard`, { recursive: true, force: true });
}

/** Every unit of every node as the lab's supervisor sees it (pid and restarts included). */
export async function unitStates(
  dir: string,
): Promise<
  Record<
    string,
    { active: boolean; masked: boolean; held: boolean; stopped: boolean; pid: number | undefined; restarts: number }
  >
> {
  // Straight from the supervisor: labStatus() also runs the lab's health check, which writes to etcd.
  const res = await sendRequest(`${dir}/supervisor.sock`, { op: 'status' });
  if (!res.ok) throw new Error(`lab supervisor status: ${res.error}`);
  const st = { supervisor: res.result as SupervisorStatus };
  const out: Record<
    string,
    { active: boolean; masked: boolean; held: boolean; stopped: boolean; pid: number | undefined; restarts: number }
  > = {};
  for (const u of st.supervisor?.units ?? [])
    out[`${u.node}/${u.unit}`] = {
      active: u.active,
      masked: u.masked,
      held: u.held,
      stopped: u.stopped,
      pid: u.pid,
      restarts: u.restarts,
    };
  return out;
}

/** The DC/OS files dcfail edits, as each node holds them now. */
export async function configFiles(nodes: readonly LabNode[]): Promise<Record<string, Record<string, string>>> {
  const out: Record<string, Record<string, string>> = {};
  for (const n of nodes) {
    const p = n.paths;
    out[n.name] = {
      master_count: await readFile(p.masterCountFile, 'utf8'),
      'mesos-master': await readFile(p.mesosEnvFile, 'utf8'),
      exhibitor: await readFile(p.exhibitorEnvFile, 'utf8'),
      'etcd.conf': await readFile(p.etcdEnvFile, 'utf8'),
    };
  }
  return out;
}

/** The failover marker on a node (what failback restores from), without the run's own id and time. */
export async function markerOf(n: LabNode): Promise<{ lostDc: string; original: unknown } | null> {
  const path = `${n.root}/var/lib/dcfail/failover-marker.json`;
  if (!existsSync(path)) return null;
  const m = JSON.parse(await readFile(path, 'utf8'));
  return { lostDc: m.lostDc, original: m.original };
}

/** One member's raft position and KV revision, as etcdctl reports it: any write through raft moves them. */
export async function etcdRaftState(n: LabNode): Promise<string> {
  const r = await execa(
    'etcdctl',
    [`--endpoints=${etcdUrl(n)}`, '--dial-timeout=1s', '--command-timeout=2s', 'endpoint', 'status', '-w', 'json'],
    { env: { ETCDCTL_API: '3' }, reject: false, timeout: 5000 },
  );
  const out = String(r.stdout);
  const f = (k: string) => new RegExp(`"${k}":(\\d+)`).exec(out)?.[1] ?? '?';
  return `revision ${f('revision')} raftIndex ${f('raftIndex')} raftTerm ${f('raftTerm')} applied ${f('raftAppliedIndex')} leader ${f('leader')}`;
}

/** The files as `lab up` wrote them (the snapshot `reset` restores), per node. */
export async function declaredFiles(
  labDirPath: string,
  nodes: readonly LabNode[],
): Promise<Record<string, Record<string, string>>> {
  const snap = (p: string) =>
    p
      .replace(`${labDirPath}/nodes/`, `${labDirPath}/snapshot/`)
      .replace('/opt/mesosphere/etc/', '/opt/mesosphere/packages/dcos-config--setup_lab/etc/');
  const out: Record<string, Record<string, string>> = {};
  for (const n of nodes) {
    const p = n.paths;
    out[n.name] = {
      master_count: await readFile(snap(p.masterCountFile), 'utf8'),
      'mesos-master': await readFile(snap(p.mesosEnvFile), 'utf8'),
      exhibitor: await readFile(snap(p.exhibitorEnvFile), 'utf8'),
      'etcd.conf': await readFile(snap(p.etcdEnvFile), 'utf8'),
    };
  }
  return out;
}

/** Every member holds every key and znode of each set (its own copy: serializable etcd reads, one ZooKeeper server per session). */
export async function expectEverywhere(
  nodes: readonly LabNode[],
  sets: readonly { prefix: string; count: number }[],
): Promise<void> {
  for (const n of nodes) {
    for (const { prefix, count } of sets) {
      const want = expectedKeys(`${prefix}/`, count);
      // A member that just caught up may lag by a few entries: give it a moment before judging.
      await waitFor(
        `${count} etcd keys under ${prefix}/ on ${n.name}`,
        async () => JSON.stringify(await readEtcdKeys(n, `${prefix}/`)) === JSON.stringify(want),
        20_000,
        500,
      ).catch(() => undefined);
      expect(await readEtcdKeys(n, `${prefix}/`), `etcd keys under ${prefix}/ on ${n.name}`).toEqual(want);
      const wantZ = expectedZnodes(prefix, count);
      await waitFor(
        `${count} znodes under ${prefix} on ${n.name}`,
        async () => JSON.stringify(await readZnodes([n], prefix)) === JSON.stringify(wantZ),
        20_000,
        500,
      ).catch(() => undefined);
      expect(await readZnodes([n], prefix), `znodes under ${prefix} on ${n.name}`).toEqual(wantZ);
    }
  }
}

// ---- the set-up every e2e suite shares ------------------------------------------------------------

export interface E2eLab {
  /** This suite's state dir ($DCFAIL_STATE_DIR: journals, locks, saved plans). */
  readonly state: string;
  /** Where this suite writes its topology copies. */
  readonly topos: string;
  readonly dir: string;
  log(message: string): void;
}

/**
 * Written once for every lab-backed e2e suite: its own lab dir (`<repo>/.lab-<tag>`), a private
 * state dir and build of dcfail, and a fast topology copy; the lab comes up before the first test
 * (after any other suite's lab went down), is handed to `up`, and goes down after the last test.
 * Call it at the top level of the file, after setting DCFAIL_LAB_NET.
 */
export function useE2eLab(
  opts: { tag: string; masters: 3 | 5; label: string; fastName?: string },
  up: (lab: Lab, fast: string) => void,
): E2eLab {
  const dir = `${REPO}/.lab-${opts.tag}`;
  process.env['DCFAIL_LAB_DIR'] = dir;
  const state = mkdtempSync(join(tmpdir(), `dcfail-${opts.tag}-state-`));
  process.env['DCFAIL_STATE_DIR'] = state;
  const topos = mkdtempSync(join(tmpdir(), `dcfail-${opts.tag}-topo-`));
  const log = (m: string) => console.log(`[${opts.label}] ${m}`);
  beforeAll(async () => {
    await waitForForeignLab(log);
    const lab = await labUp({ masters: opts.masters, dir });
    log(`${opts.masters}-master lab up in ${secs(lab.durationMs)} (state dir ${state})`);
    log(`dcfail built into ${dir}/dist in ${secs(await buildPrivately(dir))}`);
    up(lab, await topologyCopy(lab, topos, opts.fastName ?? 'fast'));
  }, 300_000);
  afterAll(async () => {
    await labDown({ dir });
  }, 120_000);
  return { state, topos, dir, log };
}
