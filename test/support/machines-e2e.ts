/**
 * dcfail end to end on the machines lab (lab/README.md): real systemd machines with DC/OS's units,
 * paths and timers, dcfail run as an operator runs it (the built binary, over SSH, with the lab's
 * topology and known_hosts). One lab per file, on a lab instance and directory of its own.
 */
import { afterAll, beforeAll } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { labDown, labExec, labUp, writeFenceAndHoldHook, type Lab } from '../../lab/machines/lab.js';
import { nodesOf, type MachineNode } from '../../lab/machines/layout.js';
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
