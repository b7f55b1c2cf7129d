/**
 * The lab supports a failover done by hand, the way dcfail will do it: main is lost, the lone
 * barcelona master is reconfigured through its files (master_count 1, MESOS_QUORUM=1, a
 * one-server ensemble, etcd forced into a new cluster) and its services restarted through the
 * supervisor. This checks the stand-ins follow the files as DC/OS's services do.
 */
import { appendFile, readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { etcdctl, etcdEndpoints, isRecoveredLeader, mesosMetrics } from '../../lab/health.js';
import { killDc, labDown, labUp, serviceControl, unitLog, type Lab } from '../../lab/lab.js';
import { UNITS } from '../../lab/layout.js';
import { sleep, zkServing } from '../../lab/probes.js';
import { masterState, replicaLog, waitFor, writeRegistryEntry } from './helpers.js';

let lab: Lab;

beforeAll(async () => {
  lab = await labUp({ masters: 3 });
  console.log(`lab up (3 masters) took ${(lab.durationMs / 1000).toFixed(1)} s`);
});

afterAll(async () => {
  await labDown();
});

describe('a failover to barcelona done by hand', () => {
  it('the Exhibitor stand-in refuses to start when its node is not in the ensemble', { timeout: 30_000 }, async () => {
    const m3 = lab.nodes[2]!;
    // A leader that knows all three replicas: it sends the write to each of them.
    const leader = await waitFor('a recovered leader that knows every replica', async () => {
      for (const n of lab.nodes) {
        const m = await mesosMetrics(n);
        if (isRecoveredLeader(m) && m?.['registrar/log/ensemble_size'] === 3) return n;
      }
      return undefined;
    });
    const version = await writeRegistryEntry(leader, { app: 'pre-failover' });
    await waitFor('the write on barcelona\'s replica too', async () => ((await replicaLog(m3))?.version ?? 0) >= version || undefined);
    await killDc('main');
    for (const u of [UNITS.mesos, UNITS.exhibitor]) await serviceControl('stop', m3.name, u);
    await writeFile(m3.paths.exhibitorEnvFile, 'EXHIBITOR_BACKEND=STATIC\nEXHIBITOR_STATICENSEMBLE=1:127.0.10.1,2:127.0.10.2\n');
    await serviceControl('start', m3.name, UNITS.exhibitor);
    await waitFor('the refusal in the log', async () => (await readFile(unitLog(m3, UNITS.exhibitor), 'utf8')).includes('refusing to start ZooKeeper'));
    await serviceControl('stop', m3.name, UNITS.exhibitor);
  });

  it('master_count 1, quorum 1, a standalone ZooKeeper and a forced etcd cluster bring barcelona up with the registry', { timeout: 60_000 }, async () => {
    const m3 = lab.nodes[2]!;
    // The registry was written while all three replicas were up, so barcelona's replica has it.
    const log = JSON.parse(await readFile(`${m3.paths.replicatedLogDir}/log.json`, 'utf8')) as { status: string; version: number };
    expect(log.status).toBe('VOTING');
    await serviceControl('stop', m3.name, UNITS.etcd);
    // Writes go through the /opt/mesosphere/etc symlinks into the package files.
    await writeFile(m3.paths.masterCountFile, '1\n');
    const env = await readFile(m3.paths.mesosEnvFile, 'utf8');
    await writeFile(m3.paths.mesosEnvFile, env.replace(/^MESOS_QUORUM=\d+$/m, 'MESOS_QUORUM=1'));
    await writeFile(m3.paths.exhibitorEnvFile, 'EXHIBITOR_BACKEND=STATIC\nEXHIBITOR_STATICENSEMBLE=3:127.0.20.1\n');
    await appendFile(m3.paths.etcdEnvFile, 'ETCD_FORCE_NEW_CLUSTER=true\n');
    for (const u of [UNITS.etcd, UNITS.exhibitor, UNITS.mesos]) await serviceControl('start', m3.name, u);

    await waitFor('etcd writable in barcelona', async () => (await etcdctl(etcdEndpoints([m3]), ['put', '/dcfail-lab/failover', 'ok'], 3000)).ok, 30_000);
    expect((await zkServing(m3.address, 2181))?.mode).toBe('standalone');
    await waitFor('master-3 leading', async () => {
      const m = await mesosMetrics(m3);
      return isRecoveredLeader(m);
    }, 30_000);
    const state = await masterState(m3);
    expect(state?.registry.version).toBe(log.version);
    expect(state?.registry.entries.map((e) => e.data)).toContainEqual({ app: 'pre-failover' });
    expect(await writeRegistryEntry(m3, { app: 'after-failover' })).toBe(log.version + 1);
    await sleep(100);
  });
});
