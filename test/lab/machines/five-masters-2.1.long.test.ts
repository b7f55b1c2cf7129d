/**
 * Five masters with DC/OS 2.1's units (real timers): dcos-exhibitor has no ExecStartPost there, so
 * its restart returns at once; the Mesos pre-start check reads Exhibitor's cluster status and needs
 * every one of master_count servers serving; a power cut of the main DC leaves the two secondary
 * masters without any quorum, and its return brings every service back from the disks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { untilClustersReady, labDown, labUp, powerOff, powerOn, type Lab } from '../../../lab/machines/lab.js';
import { nodesOf, PORTS } from '../../../lab/machines/layout.js';
import { etcdHealthy, httpJson, zkMode } from '../../../lab/machines/probes.js';
import { waitFor } from '../../../lab/machines/run.js';
import { journalTimes, machineNowUs, sh } from './support.js';

const DIR = `${process.cwd()}/.lab-test-five`;
const o = { dir: DIR };
let lab: Lab;
const addr = (name: string) => lab.layout.nodes.find((n) => n.name === name)!.address;

async function ready(): Promise<void> {
  await untilClustersReady(lab.layout, 180_000, 1000);
}

beforeAll(async () => {
  lab = await labUp({ masters: 5, dcos: '2.1', dir: DIR, timeScale: 1 });
}, 240_000);

afterAll(async () => {
  await labDown(o);
}, 60_000);

describe('five masters, DC/OS 2.1 units (real timers)', () => {
  it('lays out 3 masters in madrid and 2 in barcelona, MESOS_QUORUM 3, master_count 5', async () => {
    expect(nodesOf(lab.layout, 'madrid').map((n) => n.name)).toEqual(['master-1', 'master-2', 'master-3']);
    expect(nodesOf(lab.layout, 'barcelona').map((n) => n.name)).toEqual(['master-4', 'master-5']);
    const r = await sh('master-4', 'cat /opt/mesosphere/etc/master_count; grep ^MESOS_QUORUM= /opt/mesosphere/etc/mesos-master', o);
    expect(r.stdout).toBe('5\nMESOS_QUORUM=3\n');
  });

  it('the 2.1 pre-start check reads Exhibitor\'s cluster status: with one ZooKeeper of five down, a restarted Mesos master is refused until all five serve', async () => {
    // 2.1's dcos-exhibitor has no ExecStartPost: the restart returns at once, before ZooKeeper serves.
    const t0 = Date.now();
    expect((await sh('master-1', 'systemctl restart dcos-exhibitor', o)).exitCode).toBe(0);
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(await zkMode(addr('master-1'))).toBeUndefined();
    expect((await sh('master-5', 'systemctl stop dcos-exhibitor', o)).exitCode).toBe(0);
    await waitFor('master-1 ZooKeeper serving again', async () => ['leader', 'follower'].includes((await zkMode(addr('master-1'))) ?? ''), 60_000, 1000);
    // Exhibitor's status (its own cache, refreshed every check-ms) must show master-5 down before the check reads it.
    await waitFor('Exhibitor to see master-5 down', async () => {
      const s = await httpJson<{ hostname: string; description: string }[]>(`http://${addr('master-1')}:${PORTS.exhibitor}/exhibitor/v1/cluster/status`, 15_000);
      return s?.find((x) => x.hostname === addr('master-5'))?.description !== 'serving';
    }, 90_000, 2000);
    const since = await machineNowUs('master-1', o);
    const r = await sh('master-1', 'systemctl restart dcos-mesos-master', { ...o, timeoutMs: 60_000 });
    expect(r.exitCode).not.toBe(0);
    expect((await sh('master-1', 'systemctl is-active dcos-mesos-master', o)).stdout.trim()).toBe('activating');
    expect((await journalTimes('master-1', 'dcos-mesos-master.service', 'Control process exited', since, o)).length).toBeGreaterThanOrEqual(1);
    // master-5 back: once Exhibitor's status shows five serving, a retry (every 15 s) passes on its own.
    expect((await sh('master-5', 'systemctl start dcos-exhibitor', o)).exitCode).toBe(0);
    await waitFor('master-1 Mesos active on its own', async () => (await sh('master-1', 'systemctl is-active dcos-mesos-master', o)).exitCode === 0, 150_000, 2000);
    await ready();
  }, 400_000);

  it('a power cut of madrid leaves barcelona\'s two masters without any quorum; power-on brings every service back from the disks', async () => {
    await powerOff('madrid', o);
    const barcelona = nodesOf(lab.layout, 'barcelona');
    await waitFor('barcelona ZooKeeper without quorum', async () => (await Promise.all(barcelona.map((n) => zkMode(n.address)))).every((m) => m === undefined), 60_000, 1000);
    expect((await Promise.all(barcelona.map((n) => etcdHealthy(n.address)))).some(Boolean)).toBe(false);
    await powerOn('madrid', o);
    await ready();
  }, 400_000);
});
