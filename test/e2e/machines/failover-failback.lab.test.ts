/**
 * The first run of dcfail itself on the machines lab: 3 masters, DC/OS 2.2 units, DC/OS's real
 * timers (lab instance 5). Data written, madrid's power cut, `dcfail failover --to secondary` as an
 * operator runs it (the built binary over SSH, the lab's topology and known_hosts, a fence hook),
 * madrid's power back (its units held: nothing of it starts), `dcfail failback` interrupted right
 * after its quarantine, madrid power-cycled while quarantined (its units stay down: the hold is a
 * drop-in and a flag on its disk), the failback run again to its end: every write there, every
 * DC/OS file byte for byte as before, status normal.
 */
import { describe, expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { clustersReady, labExec, powerOff, powerOn } from '../../../lab/machines/lab.js';
import { holdUnit, liftHold, startUnit } from '../../../src/apply/units.js';
import { RemotePool } from '../../../src/remote/ssh.js';
import { loadTopology } from '../../../src/topology/load.js';
import { nodeByName } from '../../../src/topology/model.js';
import { zkMode, etcdHealthy } from '../../../lab/machines/probes.js';
import { sleep } from '../../../lab/machines/run.js';
import {
  dcfail,
  describeRun,
  errorCode,
  expectedKeys,
  expectedZnodes,
  newestJournal,
  readEtcdKeys,
  readZnodes,
  spawnDcfail,
  waitFor,
  writeEtcdKeys,
  writeZnodes,
  type RunResult,
} from '../../support/e2e.js';
import {
  dcosFiles,
  holdFiles,
  mastersOf,
  QUORUM_UNITS,
  sh,
  unitShow,
  useMachinesE2e,
  writeFenceAndHold,
} from '../../support/machines-e2e.js';

const e = useMachinesE2e({ instance: 5, tag: 'i11-path-e2e', masters: 3, dcos: '2.2', label: 'machines e2e' });
const N = 2000;
let topology = '';
const KEYS = '/e2e-machines/';
const ZNODES = '/e2e-machines';

/** A failover, retried while the survivors still see madrid's ZooKeeper for a moment after the cut. */
async function failover(topology: string): Promise<RunResult> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await dcfail(['failover', '--to', 'secondary', '--yes', '--json', '-t', topology]);
    if (r.exitCode !== 3 || errorCode(r) !== 'lost-dc-alive' || Date.now() > deadline) return r;
    await sleep(2000);
  }
}

/** Every quorum unit of madrid is down, and systemd skipped its start because a condition failed (the hold). */
async function expectMadridHeld(label: string): Promise<void> {
  const lab = e.lab();
  for (const n of mastersOf(lab, 'madrid')) {
    for (const u of QUORUM_UNITS)
      expect(await unitShow(lab, n.name, u), `${label}: ${n.name} ${u}`).toBe('inactive/dead/no');
    expect(await zkMode(n.address), `${label}: ZooKeeper on ${n.name}`).toBeUndefined();
    expect(await etcdHealthy(n.address), `${label}: etcd on ${n.name}`).toBe(false);
  }
}

describe('dcfail on the machines lab (3 masters, DC/OS 2.2, real timers)', () => {
  it('fails over after a power cut of madrid and back, madrid power-cycled while quarantined, losing nothing', async () => {
    const lab = e.lab();
    const all = lab.layout.nodes;
    const [m1, m2, m3] = all;
    const madrid = mastersOf(lab, 'madrid').map((n) => n.name);

    // The lab's topology, its fence hook powering off and holding the DC's units on their disks.
    topology = `${lab.dir}/topology-e2e.yaml`;
    const t = parse(await readFile(lab.topologyPath, 'utf8')) as { hooks: { fence: Record<string, string> } };
    const fence = await writeFenceAndHold(lab);
    t.hooks.fence = { madrid: `${fence} madrid`, barcelona: `${fence} barcelona` };
    await writeFile(topology, stringify(t));

    await e.timed(`write ${N} etcd keys and ${N} znodes`, async () => {
      await writeEtcdKeys(all, KEYS, N);
      await writeZnodes(all, ZNODES, N);
    });
    const filesBefore = Object.fromEntries(
      await Promise.all(all.map(async (n) => [n.name, await dcosFiles(lab, n.name)])),
    );
    expect(Object.keys(filesBefore[m1!.name]!).length).toBeGreaterThanOrEqual(9);

    await e.timed('power cut of madrid', () => powerOff('madrid', { dir: lab.dir }));

    const fo = await e.timed('dcfail failover --to secondary', () => failover(topology));
    expect(fo.exitCode, describeRun(fo)).toBe(0);
    e.log(`failover: ${fo.json?.steps?.length} steps, time to recovery ${fo.json?.timeToRecoveryMs} ms`);
    expect(await readEtcdKeys(m3!, KEYS, false), 'etcd on the survivor').toEqual(expectedKeys(KEYS, N));
    expect(await readZnodes([m3!], ZNODES), 'ZooKeeper on the survivor').toEqual(expectedZnodes(ZNODES, N));
    const st1 = await dcfail(['status', '--json', '-t', topology]);
    e.log(`status after the failover: exit ${st1.exitCode}, mode ${st1.json?.mode}`);
    expect(st1.json?.mode, describeRun(st1)).toBe('failed-over');

    // madrid's power comes back: its disks hold the fence's hold; systemd starts none of its quorum units.
    await e.timed('power-on of madrid', () => powerOn('madrid', { dir: lab.dir }));
    await sleep(20_000); // beyond every RestartSec (5, 10, 15 s): nothing retries a skipped start
    await expectMadridHeld('after power-on');

    // Lift the fence's hold by hand (the units stay inactive: nothing starts them), so that what holds
    // madrid from now on is what the failback's quarantine writes itself.
    for (const n of madrid) {
      await sh(
        lab,
        n,
        'rm -f /var/lib/dcfail/guard/hold.* /etc/systemd/system/*.d/dcfail-hold.conf && systemctl daemon-reload',
      );
      expect(await holdFiles(lab, n)).toEqual({ flags: [], dropIns: [] });
    }

    // The failback, stopped (Ctrl-C) once its quarantine is verified.
    const quarantined = madrid.length * QUORUM_UNITS.length;
    const first = await e.timed('dcfail failback up to its quarantine, then Ctrl-C', async () => {
      const child = spawnDcfail(['failback', '--yes', '--json', '-t', topology]);
      await waitFor(
        'the quarantine verified',
        async () => {
          const j = await newestJournal().catch(() => undefined);
          const done = (j?.runbook === 'failback' ? j.steps : []).filter(
            (s: { id: string; status: string }) => s.id.startsWith('quarantine:verify') && s.status === 'done',
          );
          if (done.length < quarantined && child.exitCode === null) throw new Error(`${done.length} verified`);
          return true;
        },
        240_000,
        200,
      );
      child.kill('SIGINT');
      return child;
    });
    e.log(`first failback: exit ${first.exitCode}`);
    expect(first.exitCode, `${String(first.stdout).slice(-3000)}\n${String(first.stderr).slice(-2000)}`).toBe(130);
    const j1 = await newestJournal();
    expect(j1.outcome).toBe('interrupted');
    for (const n of madrid) {
      const h = await holdFiles(lab, n);
      expect(h.flags.map((f) => f.split('/').at(-1))).toEqual(QUORUM_UNITS.map((u) => `hold.${u}`).sort());
      expect(h.dropIns).toHaveLength(QUORUM_UNITS.length);
      expect(await sh(lab, n, 'cat /var/lib/dcfail/guard/hold.etcd')).toMatch(/held by dcfail/);
    }

    // A power cycle of madrid while quarantined: it comes back with every quorum unit down.
    await e.timed('power cycle of madrid while quarantined', async () => {
      await powerOff('madrid', { dir: lab.dir });
      await powerOn('madrid', { dir: lab.dir });
    });
    await sleep(20_000);
    await expectMadridHeld('after a power cycle during the failback');

    const fb = await e.timed('dcfail failback, run again to its end', () =>
      dcfail(['failback', '--yes', '--json', '-t', topology]),
    );
    expect(fb.exitCode, describeRun(fb)).toBe(0);
    e.log(`failback: ${fb.json?.steps?.length} steps`);

    const st2 = await dcfail(['status', '--json', '-t', topology]);
    expect(st2.exitCode, describeRun(st2)).toBe(0);
    expect(st2.json?.mode).toBe('normal');
    await waitFor(
      'every cluster ready',
      async () => {
        const r = await clustersReady(lab.layout);
        if (r !== true) throw new Error(r);
        return true;
      },
      120_000,
      1000,
    );

    // Nothing lost: every member's own copy, every ZooKeeper server's.
    for (const n of all) {
      expect(await readEtcdKeys(n, KEYS, true), `etcd on ${n.name}`).toEqual(expectedKeys(KEYS, N));
      expect(await readZnodes([n], ZNODES), `ZooKeeper on ${n.name}`).toEqual(expectedZnodes(ZNODES, N));
    }
    // Every DC/OS file byte for byte as before; what dcfail leaves are the inert drop-ins (no flag).
    for (const n of all) {
      expect(await dcosFiles(lab, n.name), `DC/OS files on ${n.name}`).toEqual(filesBefore[n.name]);
      const h = await holdFiles(lab, n.name);
      expect(h.flags, `hold flags on ${n.name}`).toEqual([]);
      expect(h.dropIns).toHaveLength(madrid.includes(n.name) ? QUORUM_UNITS.length : 0);
      for (const u of QUORUM_UNITS) expect(await unitShow(lab, n.name, u), `${n.name} ${u}`).toBe('active/running/yes');
    }
    expect(m2).toBeDefined();
  }, 900_000);

  it("starts as DC/OS runs them: a start the Mesos pre-start check refuses is waited for, a held unit's is refused at once", async () => {
    const lab = e.lab();
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
      );
    } finally {
      await pool.closeAll();
    }
  }, 400_000);
});
