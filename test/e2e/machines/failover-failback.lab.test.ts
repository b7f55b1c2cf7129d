/**
 * dcfail on the machines lab: 3 masters, DC/OS 2.2 units, DC/OS's real timers (lab instance 5).
 * The nothing-lost scenario (test/support/nothing-lost.ts; its 5-master and DC/OS 2.1 variants are
 * nothing-lost-*.long.test.ts): data written and a continuous write load, madrid's power cut,
 * `dcfail failover --to secondary` as an operator runs it, writes and Mesos/overlay registrations
 * while failed over, madrid's power back (its units held), `dcfail failback` interrupted right after
 * its quarantine, madrid power-cycled while quarantined, the failback run again to its end: every
 * write and every acknowledged write of the load there, the Mesos registry and the overlay
 * allocations intact, every DC/OS file byte for byte as before, status normal. Then, on the same lab,
 * how dcfail starts a unit as DC/OS runs it.
 */
import { describe, expect, it } from 'vitest';
import { clustersReady, labExec } from '../../../lab/machines/lab.js';
import { holdUnit, liftHold, startUnit } from '../../../src/apply/units.js';
import { RemotePool } from '../../../src/remote/ssh.js';
import { loadTopology } from '../../../src/topology/load.js';
import { nodeByName } from '../../../src/topology/model.js';
import { waitFor } from '../../support/e2e.js';
import { sh, unitShow, useMachinesE2e } from '../../support/machines-e2e.js';
import { itNothingLost, labDiagnostics } from '../../support/nothing-lost.js';

const e = useMachinesE2e({ instance: 5, tag: 'm-lost', masters: 3, dcos: '2.2', label: 'machines e2e' });

describe('dcfail on the machines lab (3 masters, DC/OS 2.2, real timers)', () => {
  const scenario = itNothingLost(e);

  it("starts as DC/OS runs them: a start the Mesos pre-start check refuses is waited for, a held unit's is refused at once", async () => {
    const lab = e.lab();
    const topology = scenario.topology();
    expect(topology, 'the first test wrote the topology').not.toBe('');
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
      await waitFor(
        'every cluster ready',
        async () => {
          const r = await clustersReady(lab.layout);
          if (r !== true) throw new Error(r);
          return true;
        },
        150_000,
        1000,
      ).catch(async (err: unknown) => {
        e.log(await labDiagnostics(lab));
        throw err;
      });
    } finally {
      await pool.closeAll();
    }
  }, 400_000);
});
