/** The 5-master lab (3 in madrid, 2 in barcelona). */
import { readFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTopologyText } from '../../src/topology/load.js';
import { checkHealth, checkZooKeeper, etcdctl, etcdEndpoints, mesosMetrics, isRecoveredLeader } from '../../lab/health.js';
import { killDc, labDown, labUp, reviveDc, type Lab } from '../../lab/lab.js';
import { PORTS } from '../../lab/layout.js';
import { tcpProbe } from '../../lab/probes.js';
import { waitFor, writeRegistryEntry } from './helpers.js';

let lab: Lab;

beforeAll(async () => {
  lab = await labUp({ masters: 5 });
  console.log(`lab up (5 masters) took ${(lab.durationMs / 1000).toFixed(1)} s`);
});

afterAll(async () => {
  await labDown();
});

describe('lab up, 5 masters', () => {
  it('is healthy, 3 + 2, quorum 3', async () => {
    const h = await checkHealth(lab.nodes);
    expect(h, JSON.stringify(h)).toMatchObject({ healthy: true });
    const t = parseTopologyText(await readFile(lab.topologyPath, 'utf8'));
    expect(t.nodes.map((n) => `${n.name}@${n.address}/${n.dc}`)).toEqual([
      'master-1@127.0.10.1/madrid',
      'master-2@127.0.10.2/madrid',
      'master-3@127.0.10.3/madrid',
      'master-4@127.0.20.1/barcelona',
      'master-5@127.0.20.2/barcelona',
    ]);
    const n = lab.nodes[4]!;
    expect((await readFile(n.paths.masterCountFile, 'utf8')).trim()).toBe('5');
    expect(await readFile(n.paths.mesosEnvFile, 'utf8')).toMatch(/^MESOS_QUORUM=3$/m);
    expect(await readFile(n.paths.exhibitorEnvFile, 'utf8')).toMatch(/^EXHIBITOR_STATICENSEMBLE=1:127\.0\.10\.1,2:127\.0\.10\.2,3:127\.0\.10\.3,4:127\.0\.20\.1,5:127\.0\.20\.2$/m);
  });

  it('losing the secondary DC keeps every quorum in main', { timeout: 60_000 }, async () => {
    const main = lab.nodes.filter((n) => n.dc === 'madrid');
    await killDc('secondary');
    for (const n of lab.nodes.filter((x) => x.dc === 'barcelona')) expect(['refused', 'timeout']).toContain(await tcpProbe(n.address, PORTS.etcdClient));
    await waitFor('etcd writable in main', async () => (await etcdctl(etcdEndpoints(main), ['put', '/dcfail-lab/five', 'x'], 4000)).ok, 20_000);
    expect((await checkZooKeeper(main)).ok).toBe(true);
    const leader = await waitFor('a recovered Mesos leader in main', async () => {
      for (const n of main) {
        const m = await mesosMetrics(n);
        if (isRecoveredLeader(m)) return n;
      }
      return undefined;
    }, 40_000);
    expect(await writeRegistryEntry(leader, { app: 'five' })).toBeGreaterThan(0);
    await reviveDc('secondary');
    await waitFor('all healthy', async () => (await checkHealth(lab.nodes)).healthy, 50_000);
  });
});
