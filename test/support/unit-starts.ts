/**
 * How dcfail starts a unit as DC/OS runs it, on a machines lab: a held unit's start is refused at
 * once (real systemd skips it: ConditionResult=no), and a start the Mesos pre-start check refuses
 * (ZooKeeper not yet serving on the master; systemd retries after RestartSec=15 s) is waited for,
 * then every cluster is ready again.
 */
import { expect, it } from 'vitest';
import { untilClustersReady, labExec } from '../../lab/machines/lab.js';
import { holdUnit, liftHold, startUnit } from '../../src/apply/units.js';
import { RemotePool } from '../../src/remote/ssh.js';
import { loadTopology } from '../../src/topology/load.js';
import { nodeByName } from '../../src/topology/model.js';
import { sh, unitShow, type MachinesE2e } from './machines-e2e.js';
import { labDiagnostics } from './nothing-lost.js';

export function itStartsAsDcosRunsThem(e: MachinesE2e, topologyOf: () => string): void {
  it("starts as DC/OS runs them: a start the Mesos pre-start check refuses is waited for, a held unit's is refused at once", async () => {
    const lab = e.lab();
    const topology = topologyOf();
    expect(topology, 'a topology to start from').not.toBe('');
    const t = await loadTopology(topology);
    const m3 = nodeByName(t, 'master-3');
    const pool = new RemotePool();
    try {
      const remote = await pool.get(m3);
      // Held: real systemd skips the start (exit 0, inactive, ConditionResult=no): refused at once, not waited for.
      await holdUnit(remote, m3, 'dcos-mesos-master', 60_000);
      const t0 = Date.now();
      await expect(startUnit(remote, m3, 'start', 'dcos-mesos-master', 60_000, 180_000)).rejects.toThrow(
        /systemd does not start dcos-mesos-master: a start condition failed/,
      );
      e.log(`held dcos-mesos-master: start refused after ${Date.now() - t0} ms`);
      expect(Date.now() - t0).toBeLessThan(15_000);
      await liftHold(remote, m3, 'dcos-mesos-master', 60_000);

      // ZooKeeper down on master-3: its Mesos pre-start check (DC/OS 2.2: the local ZooKeeper's mode) fails the
      // start, systemd retries every 15 s; Exhibitor starts ZooKeeper 30 s after it starts. The start is a success.
      await sh(lab, 'master-3', 'systemctl stop dcos-mesos-master dcos-exhibitor');
      const start = labExec('master-3', ['systemctl', 'start', '--no-block', 'dcos-exhibitor'], { dir: lab.dir });
      const out = await e.timed('start of dcos-mesos-master refused by its pre-start check, then up', () =>
        startUnit(remote, m3, 'start', 'dcos-mesos-master', 60_000, 180_000),
      );
      expect((await start).exitCode).toBe(0);
      e.log(out);
      expect(out).toMatch(
        /^start dcos-mesos-master: refused at first \(exit \d+: .*\); up after \d+ s \(systemd retried it\)$/,
      );
      expect(await unitShow(lab, 'master-3', 'dcos-mesos-master')).toBe('active/running/yes');
      await untilClustersReady(lab.layout, 150_000, 1000).catch(async (err: unknown) => {
        e.log(await labDiagnostics(lab));
        throw err;
      });
    } finally {
      await pool.closeAll();
    }
  }, 400_000);
}
