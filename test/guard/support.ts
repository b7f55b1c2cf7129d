/**
 * Helpers for the guard's machines-lab tests: the guard's description of a lab master, its install through
 * labExec, unit and journal reads. (The failover itself is dcfail's own: `dcfail failover` in guard.lab.test.ts.)
 */
import { labExec, type LabOptions } from '../../lab/machines/lab.js';
import { PORTS, type MachineNode, type MachinesLayout } from '../../lab/machines/layout.js';
import { GUARD_SCRIPT } from '../../src/guard/script.js';
import {
  guardInstall,
  renderInstallScript,
  type GuardInstall,
  type GuardNodeSpec,
  type GuardUnit,
  type WhenUnsure,
} from '../../src/guard/render.js';

const GUARD_UNITS: readonly GuardUnit[] = [
  { unit: 'dcos-exhibitor', cluster: 'exhibitor' },
  { unit: 'dcos-mesos-master', cluster: 'mesos' },
  { unit: 'etcd', cluster: 'etcd' },
];

function nodeOf(layout: MachinesLayout, name: string): MachineNode {
  const n = layout.nodes.find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
}

/** The guard's description of a lab master: the lab's curl, its etcd peer URL, the other DC's masters. */
export function labGuardSpec(layout: MachinesLayout, name: string, whenUnsure: WhenUnsure): GuardNodeSpec {
  const n = nodeOf(layout, name);
  const other = layout.nodes.filter((x) => x.dc !== n.dc);
  return {
    node: n.name,
    address: n.address,
    dc: n.dc,
    otherDc: other[0]!.dc,
    otherMasters: other.map((x) => x.address),
    etcdPeerUrl: `http://${n.address}:${PORTS.etcdPeer}`,
    whenUnsure,
    units: GUARD_UNITS,
    curl: '/usr/bin/curl',
  };
}

export async function sh(node: string, script: string, o: LabOptions & { timeoutMs?: number }) {
  return labExec(node, ['sh', '-c', script], o);
}

/** Runs the install script on the node; returns its output ("changed <path>" lines or "unchanged"). */
export async function installGuard(
  layout: MachinesLayout,
  name: string,
  whenUnsure: WhenUnsure,
  o: LabOptions,
  install?: GuardInstall,
): Promise<string> {
  const inst = install ?? guardInstall(labGuardSpec(layout, name, whenUnsure), GUARD_SCRIPT);
  const r = await labExec(name, ['sh', '-s'], { ...o, input: renderInstallScript(inst), timeoutMs: 60_000 });
  if (r.exitCode !== 0) throw new Error(`guard install on ${name}: ${r.stderr}`);
  return r.stdout;
}

export async function removeDropIns(name: string, o: LabOptions): Promise<void> {
  const files = GUARD_UNITS.map((u) => `/etc/systemd/system/${u.unit}.service.d/dcfail-guard.conf`).join(' ');
  const r = await sh(name, `rm -f ${files} && systemctl daemon-reload`, o);
  if (r.exitCode !== 0) throw new Error(r.stderr);
}

export async function isActive(name: string, unit: string, o: LabOptions): Promise<string> {
  return (await labExec(name, ['systemctl', 'is-active', unit], o)).stdout.trim();
}

export async function nowSec(name: string, o: LabOptions): Promise<number> {
  return Number((await labExec(name, ['date', '+%s'], o)).stdout.trim());
}

/** The journal's current position on the node, for reading only what comes after it. */
export async function journalCursor(name: string, o: LabOptions): Promise<{ cursor: string }> {
  const r = await labExec(name, ['journalctl', '-n', '0', '--show-cursor', '--no-pager'], o);
  const m = /-- cursor: (\S+)/.exec(r.stdout);
  if (!m) throw new Error(`no journal cursor on ${name}: ${r.stdout} ${r.stderr}`);
  return { cursor: m[1]! };
}

/** The guard's log lines of a unit since a machine time (seconds) or after a journal cursor. */
export async function guardLines(
  name: string,
  unit: string,
  since: number | { cursor: string },
  o: LabOptions,
): Promise<string[]> {
  const from = typeof since === 'number' ? ['--since', `@${since}`] : [`--after-cursor=${since.cursor}`];
  const r = await labExec(name, ['journalctl', '-u', unit, ...from, '-o', 'cat', '--no-pager'], o);
  return r.stdout.split('\n').filter((l) => l.includes('dcfail-guard['));
}

/**
 * Microseconds the unit spent between leaving `inactive` and its main process (its ExecStartPre lines), at its
 * last start. Without any ExecStartPre systemd leaves `inactive` just after forking the main process, so the
 * difference is slightly negative: 0.
 */
export async function preStartUs(name: string, unit: string, o: LabOptions): Promise<number | undefined> {
  const r = await labExec(
    name,
    ['systemctl', 'show', unit, '-p', 'InactiveExitTimestampMonotonic', '-p', 'ExecMainStartTimestampMonotonic'],
    o,
  );
  const v = Object.fromEntries(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => l.split('=') as [string, string]),
  );
  const a = Number(v['InactiveExitTimestampMonotonic']);
  const b = Number(v['ExecMainStartTimestampMonotonic']);
  return a > 0 && b > 0 ? Math.max(0, b - a) : undefined;
}
