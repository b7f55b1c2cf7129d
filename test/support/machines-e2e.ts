/**
 * dcfail end to end on the machines lab (lab/README.md): real systemd machines with DC/OS's units,
 * paths and timers, dcfail run as an operator runs it (the built binary, over SSH, with the lab's
 * topology and known_hosts). One lab per file, on a lab instance and directory of its own.
 */
import { afterAll, beforeAll } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown, labExec, labUp, writeFenceAndHoldHook, type Lab } from '../../lab/machines/lab.js';
import { nodesOf, PORTS, type MachineNode } from '../../lab/machines/layout.js';
import { fourLetter, httpJson, mesosMetrics } from '../../lab/machines/probes.js';
import { buildPrivately, REPO, secs } from './e2e.js';

/** The quorum units of a DC/OS master, as the lab installs them. */
export const QUORUM_UNITS = ['dcos-exhibitor', 'dcos-mesos-master', 'etcd'] as const;

export interface MachinesE2e {
  readonly lab: () => Lab;
  readonly dir: string;
  /** $DCFAIL_STATE_DIR of the runs: journals. */
  readonly state: string;
  readonly log: (msg: string) => void;
  /** Named durations, printed at the end. */
  readonly timings: Record<string, string>;
  /** Runs `fn`, records its duration under `name`, prints it. */
  readonly timed: <T>(name: string, fn: () => Promise<T>) => Promise<T>;
}

/**
 * A machines lab for the whole file: `instance` (0-9) and `.lab-<tag>` keep it apart from other
 * labs on the host; dcfail is built into `.lab-<tag>-build` (others rebuild the shared dist/ meanwhile).
 */
export function useMachinesE2e(opts: {
  instance: number;
  tag: string;
  masters: 3 | 5;
  dcos: '2.1' | '2.2';
  label: string;
  /**
   * The stand-ins' timers (lab/machines/timers.ts): 1, DC/OS's real values, unless the file checks the
   * order of events rather than their timing (status, preflight, resumption); the nothing-lost suites keep 1.
   */
  timeScale?: number;
}): MachinesE2e {
  process.env['DCFAIL_LAB_INSTANCE'] = String(opts.instance);
  const dir = `${REPO}/.lab-${opts.tag}`;
  process.env['DCFAIL_LAB_DIR'] = dir;
  const state = mkdtempSync(join(tmpdir(), `dcfail-${opts.tag}-state-`));
  process.env['DCFAIL_STATE_DIR'] = state;
  const t0 = Date.now();
  const log = (msg: string) => console.log(`[${opts.label} +${secs(Date.now() - t0)}] ${msg}`);
  const timings: Record<string, string> = {};
  let lab: Lab | undefined;
  const timed = async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    try {
      return await fn();
    } finally {
      timings[name] = secs(Date.now() - t);
      log(`${name}: ${timings[name]}`);
    }
  };
  beforeAll(async () => {
    // Side by side: the build goes to a directory of its own (`up` starts by emptying the lab dir).
    const [up] = await Promise.all([
      timed('lab up (fresh disks, every cluster ready)', () =>
        labUp({ masters: opts.masters, dcos: opts.dcos, dir, timeScale: opts.timeScale ?? 1, onProgress: log }),
      ),
      timed('dcfail built (beside the lab up)', () => buildPrivately(`${dir}-build`)),
    ]);
    lab = up;
  }, 420_000);
  afterAll(async () => {
    console.log(`[${opts.label}] timings: ${JSON.stringify(timings, null, 1)}`);
    await labDown({ dir });
  }, 120_000);
  return {
    lab: () => {
      if (!lab) throw new Error('the machines lab is not up');
      return lab;
    },
    dir,
    state,
    log,
    timings,
    timed,
  };
}

export async function sh(lab: Lab, node: string, script: string, timeoutMs = 60_000): Promise<string> {
  const r = await labExec(node, ['/bin/sh', '-c', script], { dir: lab.dir, timeoutMs });
  if (r.exitCode !== 0) throw new Error(`${node}: ${script}: exit ${r.exitCode}: ${r.stderr}`);
  return r.stdout;
}

/** What dcosFiles lists: the DC/OS paths a failover and a failback touch or rely on. */
const DCOS_FILES_SCRIPT =
  `find ${[
    '/opt/mesosphere/etc',
    '/opt/mesosphere/packages',
    '/opt/mesosphere/bin/detect_ip',
    '/opt/stratio/etcd/conf',
    '/etc/systemd/system/dcos.target',
    '/etc/systemd/system/dcos.target.wants',
    ...QUORUM_UNITS.map((u) => `/etc/systemd/system/${u}.service`),
  ].join(' ')} \\( -type f -o -type l \\) -print | sort | while read -r f; do ` +
  `if [ -L "$f" ]; then printf '%s\\tlink %s\\n' "$f" "$(readlink "$f")"; ` +
  `else printf '%s\\tfile %s %s %s\\n' "$f" "$(stat -c '%a %U:%G' "$f")" "$(sha256sum < "$f" | cut -d' ' -f1)"; fi; done`;

function parseDcosFiles(out: string): Record<string, string> {
  const files: Record<string, string> = {};
  for (const line of out.split('\n').filter((l) => l !== '')) {
    const i = line.indexOf('\t');
    files[line.slice(0, i)] = line.slice(i + 1);
  }
  return files;
}

/**
 * Every file of DC/OS a failover and a failback touch or rely on, per path: its type, mode, owner and content
 * (SHA-256: the whole tree in base64 can outgrow the 16 MiB the lab reads back from a machine) or link target.
 */
export async function dcosFiles(lab: Lab, node: string): Promise<Record<string, string>> {
  return parseDcosFiles(await sh(lab, node, DCOS_FILES_SCRIPT));
}

/** The hold files on a machine: flags under /var/lib/dcfail/guard and drop-ins named dcfail-hold.conf. */
export async function holdFiles(lab: Lab, node: string): Promise<{ flags: string[]; dropIns: string[] }> {
  const out = await sh(
    lab,
    node,
    'ls -1d /var/lib/dcfail/guard/hold.* 2>/dev/null; ls -1d /etc/systemd/system/*.d/dcfail-hold.conf 2>/dev/null; true',
  );
  const lines = out.split('\n').filter((l) => l !== '');
  return {
    flags: lines.filter((l) => l.includes('/hold.')).sort(),
    dropIns: lines.filter((l) => l.endsWith('.conf')).sort(),
  };
}

/** systemd's view of a unit: ActiveState, SubState and ConditionResult. */
export async function unitShow(lab: Lab, node: string, unit: string): Promise<string> {
  const out = await sh(lab, node, `systemctl show --property=ActiveState,SubState,ConditionResult ${unit}`);
  return out
    .trim()
    .split('\n')
    .map((l) => l.split('=')[1])
    .join('/');
}

/** The lab's fence hook that also holds the DC's quorum units on its disks (lab/machines/lab.ts). */
export const writeFenceAndHold = (lab: Lab): Promise<string> => writeFenceAndHoldHook(lab);

export function mastersOf(lab: Lab, dc: 'madrid' | 'barcelona'): readonly MachineNode[] {
  return nodesOf(lab.layout, dc);
}

// ---- m-badday ----
// Namespace imports, so that this section's names cannot meet another section's.
import * as badDayFs from 'node:fs/promises';
import * as badDayYaml from 'yaml';
import * as badDayProbes from '../../lab/machines/probes.js';

/**
 * A copy of the lab's topology, edited by `edit` (the parsed YAML), written into the lab dir as
 * `topology-<name>.yaml`; returns its path.
 */
export async function labTopologyCopy(
  lab: Lab,
  name: string,
  edit: (t: any) => void = () => undefined,
): Promise<string> {
  const t = badDayYaml.parse(await badDayFs.readFile(lab.topologyPath, 'utf8'));
  edit(t);
  const path = `${lab.dir}/topology-${name}.yaml`;
  await badDayFs.writeFile(path, badDayYaml.stringify(t, { lineWidth: 0 }));
  return path;
}

/** The failover marker on a machine (`/var/lib/dcfail/failover-marker.json`), parsed, or null when there is none. */
export async function markerOn(lab: Lab, node: string): Promise<any> {
  const out = await sh(lab, node, 'cat /var/lib/dcfail/failover-marker.json 2>/dev/null || true');
  return out.trim() === '' ? null : JSON.parse(out);
}

/** Writes `content` to `path` inside a machine as root (through a symlink, as `cat >` does). */
export async function writeIn(lab: Lab, node: string, path: string, content: string): Promise<void> {
  const r = await labExec(node, ['/bin/sh', '-c', 'mkdir -p "$(dirname "$1")" && cat > "$1"', 'write', path], {
    dir: lab.dir,
    input: content,
  });
  if (r.exitCode !== 0) throw new Error(`${node}: writing ${path}: exit ${r.exitCode}: ${r.stderr}`);
}

/**
 * Until no survivor's ZooKeeper serves as a quorum member and no survivor's etcd is healthy: after a
 * power cut they count the lost DC in until their own timeouts run out (ZooKeeper: syncLimit x
 * tickTime). Returns how long that took.
 */
export async function untilLossSettled(survivors: readonly MachineNode[], timeoutMs = 40_000): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    const modes = await Promise.all(survivors.map((n) => badDayProbes.zkMode(n.address)));
    const etcd = await Promise.all(survivors.map((n) => badDayProbes.etcdHealthy(n.address)));
    if (modes.every((m) => m !== 'leader' && m !== 'follower') && etcd.every((h) => !h)) return Date.now() - t0;
    if (Date.now() - t0 > timeoutMs)
      throw new Error(
        `the survivors still serve after ${timeoutMs} ms: ZooKeeper ${modes.join(', ')}, etcd ${etcd.join(', ')}`,
      );
    await new Promise((r) => setTimeout(r, 300));
  }
}

/** Whether any of `nodes` serves ZooKeeper as leader or follower (a member of a quorum). */
export async function answersAsZkMember(nodes: readonly MachineNode[]): Promise<boolean> {
  const modes = await Promise.all(nodes.map((n) => badDayProbes.zkMode(n.address)));
  return modes.some((m) => m === 'leader' || m === 'follower');
}

// ---- m-e2e ----
// Namespace imports, so that this section's names cannot meet another section's.
import * as mE2eExeca from 'execa';
import * as mE2eCrypto from 'node:crypto';
import * as mE2eFs from 'node:fs/promises';
import * as mE2ePath from 'node:path';
import * as mE2eYaml from 'yaml';
import * as mE2eProbes from '../../lab/machines/probes.js';
import * as mE2eLayout from '../../lab/machines/layout.js';
import * as mE2eLab from '../../lab/machines/lab.js';
import * as mE2eMachine from '../../lab/machines/machine.js';
import * as mE2eSupport from './e2e.js';

/**
 * A copy of the lab's topology (its fence hook as the lab writes it: a power cut of the DC, no hold),
 * edited by `edit`, written to `dir` as `<name>.yaml`: outside the lab dir, which a reset empties.
 */
export async function topologyFor(
  lab: Lab,
  dir: string,
  name: string,
  edit: (t: any) => void = () => undefined,
): Promise<string> {
  const t = mE2eYaml.parse(await mE2eFs.readFile(lab.topologyPath, 'utf8'));
  edit(t);
  await mE2eFs.mkdir(dir, { recursive: true });
  const path = mE2ePath.join(dir, `${name}.yaml`);
  await mE2eFs.writeFile(path, mE2eYaml.stringify(t, { lineWidth: 0 }));
  return path;
}

/** One entry of a machine's disk: type, mode, owner, and its content's hash or link target (whiteouts: the device). */
export interface DiskEntry {
  type: 'file' | 'dir' | 'link' | 'other';
  mode: number;
  uid: number;
  gid: number;
  sha256?: string;
  target?: string;
  rdev?: number;
}

/**
 * Every entry of a machine's disk (the upper layer of its overlay: everything the machine wrote
 * since `up`, deletions as whiteouts), except the paths `skip` names (relative to the disk's root).
 */
export async function diskSnapshot(
  lab: Lab,
  node: Pick<MachineNode, 'machine'>,
  skip: (rel: string) => boolean = () => false,
): Promise<Record<string, DiskEntry>> {
  const root = mE2eMachine.machinePaths(lab.dir, node).upper;
  const out: Record<string, DiskEntry> = {};
  const walk = async (dir: string): Promise<void> => {
    for (const name of (await mE2eFs.readdir(dir)).sort()) {
      const p = mE2ePath.join(dir, name);
      const rel = mE2ePath.relative(root, p);
      if (skip(rel)) continue;
      const st = await mE2eFs.lstat(p).catch(() => null);
      if (!st) continue;
      const base = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
      if (st.isSymbolicLink()) out[rel] = { type: 'link', ...base, target: await mE2eFs.readlink(p) };
      else if (st.isDirectory()) {
        out[rel] = { type: 'dir', ...base };
        await walk(p);
      } else if (st.isFile()) {
        out[rel] = {
          type: 'file',
          ...base,
          sha256: mE2eCrypto
            .createHash('sha256')
            .update(await mE2eFs.readFile(p))
            .digest('hex'),
        };
      } else out[rel] = { type: 'other', ...base, rdev: st.rdev };
    }
  };
  await walk(root);
  return out;
}

/** systemd's view of each quorum unit on a machine: state, main pid and automatic restarts (a start or a restart moves them). */
export async function quorumUnitStates(lab: Lab, node: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const u of QUORUM_UNITS)
    out[u] = (await sh(lab, node, `systemctl show --property=ActiveState,SubState,MainPID,NRestarts ${u}`))
      .trim()
      .split('\n')
      .sort()
      .join(' ');
  return out;
}

/** One etcd member's KV revision and raft position, as etcdctl reports them: any write through raft moves them. */
export async function etcdRaftPosition(address: string): Promise<string> {
  const r = await mE2eExeca.execa(
    'etcdctl',
    [
      `--endpoints=http://${address}:${mE2eLayout.PORTS.etcdClient}`,
      '--dial-timeout=1s',
      '--command-timeout=2s',
      'endpoint',
      'status',
      '-w',
      'json',
    ],
    { env: { ETCDCTL_API: '3' }, reject: false, timeout: 5000 },
  );
  const out = String(r.stdout);
  const f = (k: string) => new RegExp(`"${k}":(\\d+)`).exec(out)?.[1] ?? '?';
  return `revision ${f('revision')} raftIndex ${f('raftIndex')} raftTerm ${f('raftTerm')} applied ${f('raftAppliedIndex')} leader ${f('leader')}`;
}

/** After a power cut: until no survivor serves ZooKeeper nor has an etcd leader (they lost their quorum). */
export async function untilSurvivorsLostQuorum(survivors: readonly MachineNode[], timeoutMs = 40_000): Promise<number> {
  const t0 = Date.now();
  await mE2eSupport.waitFor(
    'the survivors to report no quorum',
    async () => {
      for (const n of survivors) {
        if (['leader', 'follower'].includes((await mE2eProbes.zkMode(n.address)) ?? '')) return false;
        if (await mE2eProbes.etcdHealthy(n.address)) return false;
      }
      return true;
    },
    timeoutMs,
    300,
  );
  return Date.now() - t0;
}

/** The one Mesos master among `nodes` elected with its registrar recovered, and the quorum it runs with (its /flags). */
export async function mesosRecovered(
  nodes: readonly MachineNode[],
  timeoutMs = 60_000,
): Promise<{ leader: MachineNode; quorum: number }> {
  const leader = await mE2eSupport.waitFor(
    `a recovered Mesos leader among ${nodes.map((n) => n.name).join(', ')}`,
    async () => {
      const up = await Promise.all(nodes.map((n) => mE2eProbes.mesosRecoveredLeader(n.address)));
      return up.filter(Boolean).length === 1 ? nodes[up.indexOf(true)] : undefined;
    },
    timeoutMs,
    500,
  );
  const flags = await mE2eProbes.httpJson<{ flags: { quorum: string } }>(
    `http://${leader.address}:${mE2eLayout.PORTS.mesos}/flags`,
  );
  return { leader, quorum: Number(flags?.flags.quorum) };
}

/**
 * A registry write: an agent `hostname` admitted by the recovered leader among `nodes` (the lab's
 * agent registration endpoint; Mesos stores the admission before it answers), then held by the
 * registry log of every one of `nodes` (the leader sends what it learned to every replica).
 */
export async function admitAgent(nodes: readonly MachineNode[], hostname: string, timeoutMs = 60_000): Promise<void> {
  const { leader } = await mesosRecovered(nodes, timeoutMs);
  const a = await mE2eProbes.httpGet(`http://${leader.address}:${mE2eLayout.PORTS.mesos}/lab/agents/register`, {
    method: 'POST',
    body: JSON.stringify({ hostname, port: mE2eLayout.PORTS.agent }),
    timeoutMs: 30_000,
  });
  if (a?.status !== 200) throw new Error(`${leader.name} did not admit ${hostname}: ${a?.status} ${a?.body}`);
  await mE2eSupport.waitFor(
    `the admission of ${hostname} in the registry log of ${nodes.map((n) => n.name).join(', ')}`,
    async () => {
      for (const n of nodes) {
        const log = await mE2eProbes.httpJson<{ actions: { type?: string; value?: string }[] }>(
          `http://${n.address}:${mE2eLayout.PORTS.mesos}/lab/log/registry`,
        );
        if (!log?.actions.some((x) => x.type === 'APPEND' && (x.value ?? '').includes(`"hostname":"${hostname}"`)))
          return false;
      }
      return true;
    },
    10_000,
    250,
  );
}

/** The hostnames of the agents the registry of the recovered leader among `nodes` holds, sorted, each once. */
export async function registryAgents(nodes: readonly MachineNode[]): Promise<string[]> {
  const { leader } = await mesosRecovered(nodes);
  const r = await mE2eProbes.httpJson<{ slaves?: { slaves: { info: { hostname: string } }[] } }>(
    `http://${leader.address}:${mE2eLayout.PORTS.mesos}/registrar(1)/registry`,
  );
  if (!r) throw new Error(`${leader.name}: no registry`);
  return [...new Set((r.slaves?.slaves ?? []).map((s) => s.info.hostname))].sort();
}

/** The files under `path` on a machine that contain `needle` (bytes, binary files included). */
export async function filesHolding(lab: Lab, node: string, needle: string, path: string): Promise<string[]> {
  const r = await mE2eLab.labExec(node, ['grep', '-rlaF', '--', needle, path], { dir: lab.dir });
  if (r.exitCode > 1) throw new Error(`${node}: grep ${path}: exit ${r.exitCode}: ${r.stderr}`);
  return r.stdout.split('\n').filter((l) => l !== '');
}

/** Whether a path exists on a machine. */
export async function existsOn(lab: Lab, node: string, path: string): Promise<boolean> {
  return (await mE2eLab.labExec(node, ['test', '-e', path], { dir: lab.dir })).exitCode === 0;
}

// ---- m-cmds ----

/** What one machine's servers say of themselves, read from the host without dcfail's code. */
export interface MachineTruth {
  name: string;
  /** ZooKeeper's `srvr`: its mode and zxid. */
  zk?: { mode: string; zxid: bigint };
  /** `etcdctl endpoint status`: ids as decimal strings, taken from the raw JSON text (uint64 does not fit a double). */
  etcd?: { memberId: string; leader: string; appliedIndex: bigint };
  /**
   * The Mesos master's `/metrics/snapshot` (elected; recovered: `registrar/registry_size_bytes` present) and,
   * on an elected master, the agents its `/registrar(1)/registry` knows (Mesos tells no replica's position).
   */
  mesos?: { elected: boolean; recovered: boolean; agents?: number };
}

async function zkTruthOf(address: string): Promise<MachineTruth['zk']> {
  const text = await fourLetter(address, 'srvr', 1500);
  const mode = text ? /^Mode: (\S+)$/m.exec(text)?.[1] : undefined;
  const zxid = text ? /^Zxid: (0x[0-9a-f]+)$/m.exec(text)?.[1] : undefined;
  return mode && zxid ? { mode, zxid: BigInt(zxid) } : undefined;
}

async function etcdTruthOf(address: string): Promise<MachineTruth['etcd']> {
  const r = await execa(
    'etcdctl',
    [
      `--endpoints=http://${address}:${PORTS.etcdClient}`,
      '--dial-timeout=1s',
      '--command-timeout=2s',
      'endpoint',
      'status',
      '-w',
      'json',
    ],
    { env: { ETCDCTL_API: '3' }, timeout: 4000, reject: false },
  );
  const field = (k: string) => new RegExp(`"${k}":(\\d+)`).exec(String(r.stdout))?.[1];
  const [memberId, leader, applied] = [field('member_id'), field('leader'), field('raftAppliedIndex')];
  return r.exitCode === 0 && memberId && leader && applied
    ? { memberId, leader, appliedIndex: BigInt(applied) }
    : undefined;
}

async function mesosTruthOf(address: string): Promise<MachineTruth['mesos']> {
  const m = await mesosMetrics(address, 1500);
  if (!m) return undefined;
  const elected = m['master/elected'] === 1;
  const recovered = elected && m['registrar/registry_size_bytes'] !== undefined;
  if (!elected) return { elected, recovered };
  const r = await httpJson<{
    master?: unknown;
    slaves?: { slaves?: { info: { id: { value: string } } }[] };
    unreachable?: { slaves?: { id: { value: string } }[] };
    gone?: { slaves?: { id: { value: string } }[] };
  }>(`http://${address}:${PORTS.mesos}/registrar(1)/registry`, 1500);
  if (!r || (r.master === undefined && r.slaves === undefined)) return { elected, recovered };
  const ids = new Set([
    ...(r.slaves?.slaves ?? []).map((s) => s.info.id.value),
    ...(r.unreachable?.slaves ?? []).map((s) => s.id.value),
    ...(r.gone?.slaves ?? []).map((s) => s.id.value),
  ]);
  return { elected, recovered, agents: ids.size };
}

/** Every server of each machine, in parallel: what status must agree with. A machine that is off answers nothing. */
export async function machinesTruth(nodes: readonly Pick<MachineNode, 'name' | 'address'>[]): Promise<MachineTruth[]> {
  return Promise.all(
    nodes.map(async (n) => {
      const [zk, etcd, mesos] = await Promise.all([
        zkTruthOf(n.address),
        etcdTruthOf(n.address),
        mesosTruthOf(n.address),
      ]);
      return { name: n.name, ...(zk ? { zk } : {}), ...(etcd ? { etcd } : {}), ...(mesos ? { mesos } : {}) };
    }),
  );
}

export type TruthCluster = 'exhibitor' | 'mesos' | 'etcd';

/** Every machine that claims to lead, per cluster (two or more: a split). A Mesos master that says it is elected leads, recovered or not. */
export function truthLeaderClaims(t: readonly MachineTruth[]): Record<TruthCluster, string[]> {
  return {
    exhibitor: t.filter((n) => n.zk?.mode === 'leader' || n.zk?.mode === 'standalone').map((n) => n.name),
    mesos: t.filter((n) => n.mesos?.elected).map((n) => n.name),
    etcd: t.filter((n) => n.etcd && n.etcd.leader === n.etcd.memberId).map((n) => n.name),
  };
}

/** The one leader of each cluster as the servers name it (absent: none, or more than one). */
export function truthLeaders(t: readonly MachineTruth[]): Partial<Record<TruthCluster, string>> {
  const out: Partial<Record<TruthCluster, string>> = {};
  for (const [c, names] of Object.entries(truthLeaderClaims(t)) as [TruthCluster, string[]][])
    if (names.length === 1) out[c] = names[0]!;
  return out;
}

/** Positions per cluster and machine as the servers report them: zxid, etcd's applied index, the agents the recovered Mesos leader's registry knows. */
export function truthPositions(t: readonly MachineTruth[]): Record<TruthCluster, Record<string, bigint>> {
  const out: Record<TruthCluster, Record<string, bigint>> = { exhibitor: {}, mesos: {}, etcd: {} };
  for (const n of t) {
    if (n.zk) out.exhibitor[n.name] = n.zk.zxid;
    if (n.mesos?.recovered && n.mesos.agents !== undefined) out.mesos[n.name] = BigInt(n.mesos.agents);
    if (n.etcd) out.etcd[n.name] = n.etcd.appliedIndex;
  }
  return out;
}

/**
 * Nothing status reports changed between two reads of the servers: the same leader claims, and the
 * same masters with a recovered registrar whose registry was read (an election, or a registrar
 * finishing its recovery, between them would leave a read in between unbounded by them).
 */
export function truthHeld(before: readonly MachineTruth[], after: readonly MachineTruth[]): boolean {
  const mesos = (t: readonly MachineTruth[]) => Object.keys(truthPositions(t).mesos).sort().join();
  return (
    JSON.stringify(truthLeaderClaims(before)) === JSON.stringify(truthLeaderClaims(after)) &&
    mesos(before) === mesos(after)
  );
}

// ---- m-kill9 ----
// (Imports of this section kept here, apart from the shared ones above.)
import { readState } from '../../lab/machines/lab.js';
import { isAlive, machinePaths } from '../../lab/machines/machine.js';

/** Whether a machine is powered now (the lab's state file, which a fence hook run by dcfail updates too). */
export function isPowered(lab: Lab, node: string): boolean {
  const s = readState(lab.dir);
  const n = lab.layout.nodes.find((x) => x.name === node);
  const pid = n ? s?.nspawn[n.machine] : undefined;
  return pid !== undefined && isAlive(pid);
}

/**
 * Runs a script over a machine's disk from the host, powered or not: chrooted into the root the
 * machine boots from (its overlay stays mounted after a power cut), so paths, users and tools are
 * the machine's. Read-only use: a powered-off machine's disk is read as it was left.
 */
export async function shOnDisk(lab: Lab, node: string, script: string): Promise<string> {
  const n = lab.layout.nodes.find((x) => x.name === node);
  if (!n) throw new Error(`no machine ${node}`);
  const root = machinePaths(lab.dir, n).root;
  const r = await execa('mountpoint', ['-q', root], { reject: false });
  if (r.exitCode !== 0) throw new Error(`${node}: its disk is not mounted at ${root}`);
  const out = await execa('chroot', [root, '/bin/sh', '-c', script], { reject: false, timeout: 60_000 });
  if (out.exitCode !== 0) throw new Error(`${node} (disk): ${script}: exit ${out.exitCode}: ${String(out.stderr)}`);
  return String(out.stdout);
}

/** dcosFiles of any machine: through the machine when it is powered, else read from its disk (same listing). */
export async function dcosFilesAnyPower(lab: Lab, node: string): Promise<Record<string, string>> {
  if (isPowered(lab, node)) return dcosFiles(lab, node);
  return parseDcosFiles(await shOnDisk(lab, node, DCOS_FILES_SCRIPT));
}

/** holdFiles of any machine: through the machine when it is powered, else read from its disk. */
export async function holdFilesAnyPower(lab: Lab, node: string): Promise<{ flags: string[]; dropIns: string[] }> {
  if (isPowered(lab, node)) return holdFiles(lab, node);
  const out = await shOnDisk(
    lab,
    node,
    'ls -1d /var/lib/dcfail/guard/hold.* 2>/dev/null; ls -1d /etc/systemd/system/*.d/dcfail-hold.conf 2>/dev/null; true',
  );
  const lines = out.split('\n').filter((l) => l !== '');
  return {
    flags: lines.filter((l) => l.includes('/hold.')).sort(),
    dropIns: lines.filter((l) => l.endsWith('.conf')).sort(),
  };
}
