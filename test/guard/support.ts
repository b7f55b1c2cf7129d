/**
 * Helpers for the guard's machines-lab tests: the guard's description of a lab master, its install through
 * labExec, unit and journal reads, and a manual failover.
 *
 * `manualFailover` MIRRORS DCFAIL'S FAILOVER PLAN for the 3-master lab (src/plan/failover.ts, `plan failover
 * --to secondary --offline --assume-down main`): on the survivor master-3, first the guard's failover state
 * (published before any change, as src/guard/README.md asks dcfail to do), then master_count 1 and the
 * ensemble `3:<ip>` and an Exhibitor restart (ZooKeeper standalone), MESOS_QUORUM=1 and a Mesos restart, and
 * for etcd: stop, ETCD_FORCE_NEW_CLUSTER=true, start, removal of the force line. Keep it in step with the plan.
 */
import { labExec, type LabOptions } from '../../lab/machines/lab.js';
import {
  DCOS_PATHS,
  nodesOf,
  PORTS,
  SECONDARY_DC,
  type MachineNode,
  type MachinesLayout,
} from '../../lab/machines/layout.js';
import { etcdHealthy, zkMode } from '../../lab/machines/probes.js';
import { waitFor } from '../../lab/machines/run.js';
import { GUARD_SCRIPT } from '../../src/guard/script.js';
import {
  guardInstall,
  publishStateCommand,
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

/** Mirrors dcfail's failover plan on the lab's survivor (see the header). */
export async function manualFailover(layout: MachinesLayout, o: LabOptions, run = 'lab-manual'): Promise<void> {
  const survivors = nodesOf(layout, SECONDARY_DC);
  if (survivors.length !== 1) throw new Error('manualFailover mirrors the 3-master plan only');
  const s = survivors[0]!;
  const step = async (what: string, script: string, timeoutMs = 120_000) => {
    const r = await sh(s.name, `set -e\n${script}`, { ...o, timeoutMs });
    if (r.exitCode !== 0) throw new Error(`manual failover, ${what}: ${r.stderr}`);
  };
  // 0. The guard's evidence, before the first change.
  await step('publish', publishStateCommand({ kind: 'failed-over', dc: 'madrid', run }));
  // 1. ZooKeeper: ensemble of the survivor, master_count follows; Exhibitor restarts (2.2 waits for ZooKeeper).
  await step(
    'zookeeper',
    [
      `printf '1\\n' > ${DCOS_PATHS.masterCountFile}`,
      `sed 's/^EXHIBITOR_STATICENSEMBLE=.*/EXHIBITOR_STATICENSEMBLE=${s.zkId}:${s.address}/' ${DCOS_PATHS.exhibitorEnvFile} > /tmp/exh && cat /tmp/exh > ${DCOS_PATHS.exhibitorEnvFile}`,
      'systemctl restart dcos-exhibitor',
    ].join('\n'),
  );
  await waitFor(
    'ZooKeeper standalone on the survivor',
    async () => (await zkMode(s.address)) === 'standalone',
    60_000,
    250,
  );
  // 2. Mesos: quorum 1, restart.
  await step(
    'mesos',
    `sed 's/^MESOS_QUORUM=.*/MESOS_QUORUM=1/' ${DCOS_PATHS.mesosEnvFile} > /tmp/mm && cat /tmp/mm > ${DCOS_PATHS.mesosEnvFile}\nsystemctl restart dcos-mesos-master || true`,
  );
  // 3. etcd: stop, force a new one-member cluster, start, remove the force line.
  await step(
    'etcd force',
    `systemctl stop etcd\necho ETCD_FORCE_NEW_CLUSTER=true >> ${DCOS_PATHS.etcdEnvFile}\nsystemctl start etcd`,
  );
  await waitFor('etcd healthy on the survivor', () => etcdHealthy(s.address), 60_000, 250);
  await step(
    'etcd unforce',
    `grep -v '^ETCD_FORCE_NEW_CLUSTER=' ${DCOS_PATHS.etcdEnvFile} > /tmp/ee || true\ncat /tmp/ee > ${DCOS_PATHS.etcdEnvFile}`,
  );
}
