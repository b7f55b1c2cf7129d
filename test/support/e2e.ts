/**
 * Shared by the lab-backed end-to-end suites: the built dcfail binary run as an operator would,
 * topology copies, and data written and read back through real clients (etcd3, the native
 * ZooKeeper client) on any server with an address (the machines lab's masters). The machines lab
 * itself is driven from test/support/machines-e2e.ts.
 */
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { execa, type ResultPromise } from 'execa';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { repoRoot } from '../../lab/machines/lab.js';
import { PORTS } from '../../lab/machines/layout.js';
import { sleep } from '../../lab/machines/run.js';
import { openZk, type ZkSession } from '../../src/components/zookeeper/probe.js';
import { bundle } from '../../scripts/bundle.js';

/** Polls `fn` every `everyMs` until it returns a value (not undefined or false); throws after `timeoutMs` with the last error. */
export async function waitFor<T>(
  what: string,
  fn: () => Promise<T | undefined | false>,
  timeoutMs = 30_000,
  everyMs = 250,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
}

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
  return `exit ${r.exitCode} after ${secs(r.durationMs)}\n${describeFindings(r)}--- stdout\n${r.stdout.slice(-6000)}\n--- stderr\n${r.stderr.slice(-3000)}`;
}

/**
 * A status report's mode, hazards and notes first: its JSON opens with them, and the tail of a
 * long report (the nodes, the clusters) would cut them off.
 */
function describeFindings(r: RunResult): string {
  const j = r.json as { mode?: unknown; hazards?: unknown; notes?: unknown } | undefined;
  if (!j || (j.hazards === undefined && j.notes === undefined)) return '';
  return `--- findings\n${JSON.stringify({ mode: j.mode, hazards: j.hazards, notes: j.notes }).slice(0, 4000)}\n`;
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
const valueOf = (prefix: string, i: number) => `v:${prefix}:${i}:${'x'.repeat(i % 17)}`;

/** A server of the lab: its address is all the data helpers need. */
export type Addressed = { readonly address: string };

const etcdUrl = (n: Addressed) => `http://${n.address}:${PORTS.etcdClient}`;
const zkAddr = (n: Addressed) => `${n.address}:${PORTS.zkClient}`;

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
