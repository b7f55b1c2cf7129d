/**
 * The floor: the failover's and the failback's edits and restarts done by hand, as root inside the
 * lab's machines (no ssh, no checks between steps), with everything in parallel that the services
 * allow. What is left is what DC/OS's units themselves need (Exhibitor's ExecStartPost waiting for
 * ZooKeeper, Mesos' pre-start check and RestartSec, etcd's learner catch-up).
 *
 * Failover, on the survivors:
 * - fence hook: in parallel with the rest (the services do not wait for it); or, for the
 *   "floor after the fence" figure, first, followed by the same check dcfail and the playbook make
 *   (every port of the lost DC fails a TCP connect within the topology's health timeout);
 * - ZooKeeper: ensemble + master_count on every survivor, restart Exhibitor (it returns once
 *   ZooKeeper answers);
 * - Mesos: MESOS_QUORUM, restart right after (earlier, its pre-start check fails and systemd
 *   retries only 15 s later);
 * - etcd, in parallel with both: stop the survivors, force a new cluster on the first, start it,
 *   drop the force line; every other survivor: data aside, `member add --learner` (retried until
 *   etcd accepts it), join config, start, `member promote` (retried until caught up).
 *
 * Failback, the returning masters held (the fence's flags on their disks):
 * - every master's files back to the whole cluster (ensemble, master_count, MESOS_QUORUM);
 * - on each returning master: its Mesos logs (registry and overlay) replaced by the survivor
 *   leader's copy (taken with the survivors' Mesos masters stopped), its etcd data aside, `member add --learner`, join config, hold lifted, start,
 *   promote, one member at a time;
 * - Exhibitor restarted on every master in parallel, then the Mesos master on every master.
 */
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { execFile } from 'node:child_process';
import { connect } from 'node:net';
import { promisify } from 'node:util';
import { labExec } from '../lab/machines/lab.js';
import { DCOS_PATHS, PORTS, UNITS, type MachineNode, type MachinesLayout } from '../lab/machines/layout.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A command as root inside a machine; throws on a non-zero exit. */
async function inside(layout: MachinesLayout, n: MachineNode, script: string, input?: string): Promise<string> {
  const r = await labExec(n.name, ['/bin/sh', '-c', script], {
    dir: layout.dir,
    timeoutMs: 300_000,
    ...(input !== undefined ? { input } : {}),
  });
  if (r.exitCode !== 0)
    throw new Error(`${n.name}: ${script.slice(0, 80)}: exit ${r.exitCode}: ${r.stderr.slice(0, 300)}`);
  return r.stdout;
}

/** `KEY=value` set (or removed, value null) in an env file; DC/OS's files are links into the config package. */
function setEnvScript(file: string, changes: Record<string, string | null>): string {
  const parts: string[] = [];
  for (const [k, v] of Object.entries(changes)) {
    parts.push(`sed -i --follow-symlinks '/^${k}=/d' ${file}`);
    if (v !== null) parts.push(`printf '%s\\n' '${k}=${v}' >> ${file}`);
  }
  return parts.join(' && ');
}

export function tcpOpen(address: string, port: number, timeoutMs: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: address, port });
    const t = setTimeout(() => {
      s.destroy();
      resolve(false);
    }, timeoutMs);
    s.on('connect', () => {
      clearTimeout(t);
      s.destroy();
      resolve(true);
    });
    s.on('error', () => {
      clearTimeout(t);
      resolve(false);
    });
  });
}

function etcdClient(nodes: readonly MachineNode[]): Etcd3 {
  return new Etcd3({
    hosts: nodes.map((n) => `http://${n.address}:${PORTS.etcdClient}`),
    faultHandling: { host: () => noop, global: noop },
    defaultCallOptions: () => ({ deadline: new Date(Date.now() + 1000) }),
  });
}

async function retry<T>(budgetMs: number, fn: () => Promise<T>): Promise<T> {
  const end = Date.now() + budgetMs;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      if (Date.now() > end) throw err;
      await sleep(100);
    }
  }
}

async function waitOpen(address: string, port: number, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!(await tcpOpen(address, port, 300))) {
    if (Date.now() > deadline) throw new Error(`${address}:${port} not open within ${withinMs} ms`);
    await sleep(50);
  }
}

/** The lost DC's ports all fail within timeoutMs, probed in parallel; throws if one answers. */
async function verifyDcDown(layout: MachinesLayout, lostDc: string, timeoutMs: number): Promise<void> {
  const ports = [PORTS.ssh, PORTS.etcdClient, PORTS.zkClient, PORTS.mesos];
  const targets = layout.nodes
    .filter((n) => n.dc === lostDc)
    .flatMap((n) => ports.map((p) => ({ address: n.address, port: p })));
  const open = (
    await Promise.all(
      targets.map(async (x) => ((await tcpOpen(x.address, x.port, timeoutMs)) ? `${x.address}:${x.port}` : null)),
    )
  ).filter((x) => x !== null);
  if (open.length > 0) throw new Error(`${lostDc} still answers on ${open.join(', ')}`);
}

const peerUrl = (n: MachineNode) => `http://${n.address}:${PORTS.etcdPeer}`;
const ensembleOf = (ns: readonly MachineNode[]) => ns.map((n) => `${n.zkId}:${n.address}`).join(',');
const majority = (n: number) => Math.floor(n / 2) + 1;

/** Adds `joiner` to the etcd cluster of `members` as a learner, starts it with `beforeStart` run first, promotes it. */
async function joinEtcd(
  layout: MachinesLayout,
  members: MachineNode[],
  joiner: MachineNode,
  beforeStart = '',
): Promise<void> {
  await inside(
    layout,
    joiner,
    `if [ -e ${DCOS_PATHS.etcdDataDir} ]; then mv ${DCOS_PATHS.etcdDataDir} ${DCOS_PATHS.etcdDataDir}.floor-$(date +%s%N); fi`,
  );
  const c = etcdClient(members);
  try {
    const added = await retry(30_000, () => c.cluster.memberAdd({ peerURLs: [peerUrl(joiner)], isLearner: true }));
    const all = [...members, joiner];
    await inside(
      layout,
      joiner,
      `${setEnvScript(DCOS_PATHS.etcdEnvFile, {
        ETCD_INITIAL_CLUSTER: all.map((m) => `${m.name}=${peerUrl(m)}`).join(','),
        ETCD_INITIAL_CLUSTER_STATE: 'existing',
      })}${beforeStart ? ` && ${beforeStart}` : ''} && systemctl start ${UNITS.etcd}`,
    );
    await retry(120_000, () => c.cluster.memberPromote({ ID: added.member.ID }));
    members.push(joiner);
  } finally {
    c.close();
  }
}

export async function floorFailover(
  layout: MachinesLayout,
  lostDc: string,
  fenceHook: string,
  opts: { fenceFirst?: { healthTimeoutMs: number } } = {},
): Promise<void> {
  const s = layout.nodes.filter((n) => n.dc !== lostDc);
  if (opts.fenceFirst) {
    await run(fenceHook, [lostDc]);
    await verifyDcDown(layout, lostDc, opts.fenceFirst.healthTimeoutMs);
  }
  const fence = opts.fenceFirst ? Promise.resolve() : run(fenceHook, [lostDc]);
  const zkAndMesos = Promise.all(
    s.map(async (n) => {
      await inside(
        layout,
        n,
        [
          setEnvScript(DCOS_PATHS.exhibitorEnvFile, { EXHIBITOR_STATICENSEMBLE: ensembleOf(s) }),
          `printf '%s\\n' ${s.length} > ${DCOS_PATHS.masterCountFile}`,
          setEnvScript(DCOS_PATHS.mesosEnvFile, { MESOS_QUORUM: String(majority(s.length)) }),
        ].join(' && '),
      );
      // Exhibitor's restart returns once ZooKeeper answers (its ExecStartPost); restarted before that, the
      // Mesos master's pre-start check would fail and systemd would retry it only 15 s later.
      await inside(layout, n, `systemctl restart ${UNITS.exhibitor}`);
      await inside(layout, n, `systemctl restart ${UNITS.mesos}`);
    }),
  );
  const etcd = (async () => {
    const [seed, ...rest] = s;
    await Promise.all(s.map((n) => inside(layout, n, `systemctl stop ${UNITS.etcd}`)));
    await inside(
      layout,
      seed!,
      `${setEnvScript(DCOS_PATHS.etcdEnvFile, { ETCD_FORCE_NEW_CLUSTER: 'true' })} && systemctl start ${UNITS.etcd}`,
    );
    // The unit's start returns once etcd is up (Type=notify), after it read its configuration.
    await waitOpen(seed!.address, PORTS.etcdClient, 60_000);
    await inside(layout, seed!, setEnvScript(DCOS_PATHS.etcdEnvFile, { ETCD_FORCE_NEW_CLUSTER: null }));
    const members = [seed!];
    for (const r of rest) await joinEtcd(layout, members, r);
  })();
  await Promise.all([fence, zkAndMesos, etcd]);
}

/** The Mesos master among `nodes` that says it is elected. */
async function mesosLeaderOf(layout: MachinesLayout, nodes: readonly MachineNode[]): Promise<MachineNode> {
  return retry(60_000, async () => {
    for (const n of nodes) {
      const out = await inside(layout, n, `curl -s -m 2 http://${n.address}:${PORTS.mesos}/metrics/snapshot || true`);
      if (/"master\/elected":\s*1(\.0)?[,}]/.test(out)) return n;
    }
    throw new Error('no elected Mesos master');
  });
}

export async function floorFailback(layout: MachinesLayout, returningDc: string): Promise<void> {
  const all = layout.nodes;
  const back = all.filter((n) => n.dc === returningDc);
  const survivors = all.filter((n) => n.dc !== returningDc);
  const mesosLogs = [`${DCOS_PATHS.mesosWorkDir}/replicated_log`, `${DCOS_PATHS.mesosWorkDir}/overlay_replicated_log`];
  const leader = await mesosLeaderOf(layout, survivors);
  // The leader's copy of both logs (its host's replicas hold every learned entry), once, as a tar in
  // base64, taken with the survivors' Mesos masters stopped (the logs must not move while copied).
  await Promise.all(survivors.map((n) => inside(layout, n, `systemctl stop ${UNITS.mesos}`)));
  const copy = await inside(
    layout,
    leader,
    `tar -C ${DCOS_PATHS.mesosWorkDir} -cf - replicated_log overlay_replicated_log | base64 -w0`,
  );
  const files = [
    setEnvScript(DCOS_PATHS.exhibitorEnvFile, { EXHIBITOR_STATICENSEMBLE: ensembleOf(all) }),
    `printf '%s\\n' ${all.length} > ${DCOS_PATHS.masterCountFile}`,
    setEnvScript(DCOS_PATHS.mesosEnvFile, { MESOS_QUORUM: String(majority(all.length)) }),
  ].join(' && ');
  await Promise.all([
    ...survivors.map((n) => inside(layout, n, files)),
    ...back.map((n) =>
      inside(
        layout,
        n,
        `${files} && for d in ${mesosLogs.join(' ')}; do if [ -e "$d" ]; then mv "$d" "$d.floor-$(date +%s%N)"; fi; done && base64 -d | tar -C ${DCOS_PATHS.mesosWorkDir} -xf - && rm -f /var/lib/dcfail/guard/hold.dcos-exhibitor /var/lib/dcfail/guard/hold.dcos-mesos-master`,
        copy,
      ),
    ),
  ]);
  const etcd = (async () => {
    const members = [...survivors];
    for (const r of back) await joinEtcd(layout, members, r, 'rm -f /var/lib/dcfail/guard/hold.etcd');
  })();
  const zkAndMesos = (async () => {
    await Promise.all(all.map((n) => inside(layout, n, `systemctl restart ${UNITS.exhibitor}`)));
    await Promise.all(all.map((n) => inside(layout, n, `systemctl restart ${UNITS.mesos}`)));
  })();
  await Promise.all([etcd, zkAndMesos]);
}
