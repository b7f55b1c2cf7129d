/**
 * The floor: the failover's edits and restarts done directly, as root on the lab's trees and
 * through the lab's supervisor (no ssh, no checks), with everything in parallel that the
 * services allow. What is left is what the services themselves need.
 *
 * - fence hook: in parallel with the rest (the services do not wait for it); or, for the
 *   "floor after the fence" figure, first, followed by the same check dcfail and the playbook make
 *   (every port of the lost DC fails a TCP connect within the topology's health timeout), and
 *   only then the rest: what any runbook that fences before it changes anything pays;
 * - ZooKeeper: ensemble + master_count on every survivor, restart Exhibitor;
 * - Mesos: MESOS_QUORUM, restart at once (DC/OS's pre-start check, which the lab's stand-in
 *   enforces, makes the master wait until ZooKeeper serves with master_count servers);
 * - etcd, in parallel with both: stop the survivors, force a new cluster on the first, start it,
 *   drop the force line; every other survivor: data aside, `member add --learner` (retried until
 *   etcd accepts it), join config, start, `member promote` (retried until caught up).
 */
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { execFile } from 'node:child_process';
import { readFile, rename, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { serviceControl } from '../lab/lab.js';
import { PORTS, type LabLayout, type LabNode } from '../lab/layout.js';
import { tcpProbe } from '../lab/probes.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function setEnv(file: string, changes: Record<string, string | null>): Promise<void> {
  const lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '');
  const out: string[] = [];
  const seen = new Set<string>();
  for (const l of lines) {
    const key = /^([A-Z_0-9]+)=/.exec(l)?.[1];
    if (key !== undefined && key in changes) {
      seen.add(key);
      const v = changes[key];
      if (v !== null && v !== undefined) out.push(`${key}=${v}`);
    } else out.push(l);
  }
  for (const [k, v] of Object.entries(changes)) if (!seen.has(k) && v !== null) out.push(`${k}=${v}`);
  await writeFile(file, `${out.join('\n')}\n`);
}

function etcdClient(nodes: readonly LabNode[]): Etcd3 {
  return new Etcd3({
    hosts: nodes.map((n) => `http://${n.address}:2379`),
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
      await sleep(50);
    }
  }
}

async function waitOpen(address: string, port: number, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while ((await tcpProbe(address, port, 200)) !== 'open') {
    if (Date.now() > deadline) throw new Error(`${address}:${port} not open within ${withinMs} ms`);
    await sleep(20);
  }
}

/** The lost DC's ports all fail within timeoutMs, probed in parallel; throws if one answers. */
async function verifyDcDown(layout: LabLayout, lostDc: string, timeoutMs: number): Promise<void> {
  const ports = [PORTS.ssh, PORTS.etcdClient, PORTS.zkClient, PORTS.mesos];
  const targets = layout.nodes
    .filter((n) => n.dc === lostDc)
    .flatMap((n) => ports.map((p) => ({ address: n.address, port: p })));
  const open = (
    await Promise.all(
      targets.map(async (x) =>
        (await tcpProbe(x.address, x.port, timeoutMs)) === 'open' ? `${x.address}:${x.port}` : null,
      ),
    )
  ).filter((x) => x !== null);
  if (open.length > 0) throw new Error(`${lostDc} still answers on ${open.join(', ')}`);
}

export async function floorFailover(
  layout: LabLayout,
  lostDc: string,
  opts: { fenceFirst?: { healthTimeoutMs: number } } = {},
): Promise<void> {
  const dir = layout.dir;
  const s = layout.nodes.filter((n) => n.dc !== lostDc);
  const ensemble = s.map((n) => `${n.zkId}:${n.address}`).join(',');
  const quorum = Math.floor(s.length / 2) + 1;
  const ctl = (
    action: 'start' | 'stop' | 'restart',
    n: LabNode,
    unit: 'etcd' | 'dcos-exhibitor' | 'dcos-mesos-master',
  ) => serviceControl(action, n.name, unit, { dir });

  if (opts.fenceFirst) {
    await run(`${dir}/bin/fence`, [lostDc]);
    await verifyDcDown(layout, lostDc, opts.fenceFirst.healthTimeoutMs);
  }
  const fence = opts.fenceFirst ? Promise.resolve() : run(`${dir}/bin/fence`, [lostDc]);
  const zkAndMesos = Promise.all(
    s.map(async (n) => {
      await Promise.all([
        setEnv(n.paths.exhibitorEnvFile, { EXHIBITOR_STATICENSEMBLE: ensemble }),
        writeFile(n.paths.masterCountFile, `${s.length}\n`),
        setEnv(n.paths.mesosEnvFile, { MESOS_QUORUM: String(quorum) }),
      ]);
      await Promise.all([ctl('restart', n, 'dcos-exhibitor'), ctl('restart', n, 'dcos-mesos-master')]);
    }),
  );
  const etcd = (async () => {
    const [seed, ...rest] = s;
    await Promise.all(s.map((n) => ctl('stop', n, 'etcd')));
    await setEnv(seed!.paths.etcdEnvFile, { ETCD_FORCE_NEW_CLUSTER: 'true' });
    await ctl('start', seed!, 'etcd');
    // The service needs the force line until it has read it: the supervisor's start returns
    // before etcd has, so wait for etcd's client port (bound after its configuration is read).
    await waitOpen(seed!.address, PORTS.etcdClient, 30_000);
    await setEnv(seed!.paths.etcdEnvFile, { ETCD_FORCE_NEW_CLUSTER: null });
    const members = [seed!];
    for (const r of rest) {
      const peer = `http://${r.address}:2380`;
      await rename(r.paths.etcdDataDir, `${r.paths.etcdDataDir}.floor-${Date.now()}`).catch(() => undefined);
      const c = etcdClient([seed!]);
      try {
        const added = await retry(30_000, () => c.cluster.memberAdd({ peerURLs: [peer], isLearner: true }));
        members.push(r);
        await setEnv(r.paths.etcdEnvFile, {
          ETCD_INITIAL_CLUSTER: members.map((m) => `${m.name}=http://${m.address}:2380`).join(','),
          ETCD_INITIAL_CLUSTER_STATE: 'existing',
        });
        await ctl('start', r, 'etcd');
        await retry(60_000, () => c.cluster.memberPromote({ ID: added.member.ID }));
      } finally {
        c.close();
      }
    }
  })();
  await Promise.all([fence, zkAndMesos, etcd]);
}
