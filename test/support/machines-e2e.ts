/**
 * dcfail end to end on the machines lab (lab/README.md): real systemd machines with DC/OS's units,
 * paths and timers, dcfail run as an operator runs it (the built binary, over SSH, with the lab's
 * topology and known_hosts). One lab per file, on a lab instance and directory of its own.
 */
import { afterAll, beforeAll } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown, labExec, labUp, type Lab } from '../../lab/machines/lab.js';
import { machinePaths } from '../../lab/machines/machine.js';
import { nodesOf, type MachineNode } from '../../lab/machines/layout.js';
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

// ---- m-kill9 ----
// (Imports of this section kept here, apart from the shared ones above.)
import { execa } from 'execa';
import { readState } from '../../lab/machines/lab.js';
import { isAlive } from '../../lab/machines/machine.js';

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
  const roots = [
    '/opt/mesosphere/etc',
    '/opt/mesosphere/packages',
    '/opt/mesosphere/bin/detect_ip',
    '/opt/stratio/etcd/conf',
    '/etc/systemd/system/dcos.target',
    '/etc/systemd/system/dcos.target.wants',
    ...QUORUM_UNITS.map((u) => `/etc/systemd/system/${u}.service`),
  ];
  const out = await shOnDisk(
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
