/**
 * dcfail end to end on the machines lab (lab/README.md): real systemd machines with DC/OS's units,
 * paths and timers, dcfail run as an operator runs it (the built binary, over SSH, with the lab's
 * topology and known_hosts). One lab per file, on a lab instance and directory of its own.
 */
import { afterAll, beforeAll } from 'vitest';
import { execa } from 'execa';
import { mkdtempSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown, labExec, labUp, type Lab } from '../../lab/machines/lab.js';
import { machinePaths } from '../../lab/machines/machine.js';
import { nodesOf, PORTS, type MachineNode } from '../../lab/machines/layout.js';
import { fourLetter, httpJson, mesosMetrics } from '../../lab/machines/probes.js';
import { holdPathsOf, renderHoldDropIn } from '../../src/guard/render.js';
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

/** Every file of DC/OS a failover and a failback touch or rely on, per path: its type, mode, owner and content (base64) or link target. */
export async function dcosFiles(lab: Lab, node: string): Promise<Record<string, string>> {
  const roots = [
    '/opt/mesosphere/etc',
    '/opt/mesosphere/packages',
    '/opt/mesosphere/bin/detect_ip',
    '/opt/stratio/etcd/conf',
    '/etc/systemd/system/dcos.target',
    '/etc/systemd/system/dcos.target.wants',
    ...QUORUM_UNITS.map((u) => `/etc/systemd/system/${u}.service`),
  ];
  const out = await sh(
    lab,
    node,
    `find ${roots.join(' ')} \\( -type f -o -type l \\) -print | sort | while read -r f; do ` +
      `if [ -L "$f" ]; then printf '%s\\tlink %s\\n' "$f" "$(readlink "$f")"; ` +
      `else printf '%s\\tfile %s %s %s\\n' "$f" "$(stat -c '%a %U:%G' "$f")" "$(base64 -w0 "$f")"; fi; done`,
  );
  const files: Record<string, string> = {};
  for (const line of out.split('\n').filter((l) => l !== '')) {
    const i = line.indexOf('\t');
    files[line.slice(0, i)] = line.slice(i + 1);
  }
  return files;
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

/**
 * A fence hook for the DC that does what an IPMI power-off followed by a boot into quarantine does
 * (the loopback lab's fence does the same): the lab's own fence (a power cut through its CLI), then,
 * on the powered-off machines' disks, the hold of every quorum unit (the flag and drop-in dcfail's
 * quarantine writes): when their power comes back, systemd starts none of them. Returns its path.
 */
export async function writeFenceAndHold(lab: Lab): Promise<string> {
  const lines = [
    '#!/bin/sh',
    '# Generated by the machines e2e: power off, then hold the quorum units on the disks.',
    'set -e',
  ];
  lines.push(`${lab.dir}/bin/fence "$1"`, 'case "$1" in');
  for (const dc of [...new Set(lab.layout.nodes.map((n) => n.dc))]) {
    lines.push(`  ${dc})`);
    for (const n of nodesOf(lab.layout, dc)) {
      const root = machinePaths(lab.dir, n).root;
      for (const u of QUORUM_UNITS) {
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

export function mastersOf(lab: Lab, dc: 'madrid' | 'barcelona'): readonly MachineNode[] {
  return nodesOf(lab.layout, dc);
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
