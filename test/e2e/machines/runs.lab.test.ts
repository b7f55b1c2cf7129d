/**
 * dcfail's decisions around a failover on the machines lab (3 masters, DC/OS 2.2 units, lab
 * instance 8): it refuses while main is alive without touching a byte; lets only one of two
 * concurrent runs in; detects a returning DC that ran on its own and refuses the failback until
 * told to discard its writes; stops accurately on a unit that does not start and continues once it
 * is fixed.
 *
 * Time scale 0.25 (every stand-in timer and unit RestartSec x 0.25; ZooKeeper's tickTime and
 * syncLimit and etcd's own timers stay real): these tests check the order of events and what dcfail
 * decides, not how long DC/OS takes, and the file must fit its CI budget. The nothing-lost suites
 * run at DC/OS's real timers.
 *
 * One lab for the file, and no reset between tests: each test starts from the state the one before
 * left (written data, madrid's power, the failover), as the comments at each step say:
 *   1. normal, data written -> failovers refused (main alive)
 *   2. madrid powered off -> two concurrent failovers, one gets in: failed over
 *   3. madrid powered on, unfenced and unheld, cut off from barcelona: it runs on its own; the link
 *      back -> failback refused, then --discard-divergent: normal
 *   4. madrid powered off, a unit of the survivor broken -> the failover stops there; fixed, it completes
 */
import { describe, expect, it } from 'vitest';
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  clustersReady,
  untilClustersReady,
  heal,
  labExec,
  partition,
  powerOff,
  powerOn,
} from '../../../lab/machines/lab.js';
import { DCOS_PATHS } from '../../../lab/machines/layout.js';
import { sleep } from '../../../lab/machines/run.js';
import {
  dcfail,
  describeRun,
  errorCode,
  etcdMembers,
  expectedKeys,
  expectedZnodes,
  failbackArgs,
  failoverArgs,
  FIXTURES,
  newestJournal,
  readEtcdKeys,
  readZnodes,
  runFailover,
  secs,
  spawnDcfail,
  waitFor,
  writeEtcdKeys,
  writeZnodes,
} from '../../support/e2e.js';
import {
  admitAgent,
  diskSnapshot,
  etcdRaftPosition,
  existsOn,
  filesHolding,
  mastersOf,
  mesosRecovered,
  quorumUnitStates,
  registryAgents,
  sh,
  topologyFor,
  untilSurvivorsLostQuorum,
  useMachinesE2e,
} from '../../support/machines-e2e.js';

const e = useMachinesE2e({
  instance: 8,
  tag: 'm-e2e-runs',
  masters: 3,
  dcos: '2.2',
  label: 'e2e runs',
  timeScale: 0.25,
});
const TOPOS = mkdtempSync(join(tmpdir(), 'dcfail-m-e2e-runs-topo-'));
const PRE = '/e2e/pre';
const OVER = '/e2e/over';
const N = 200;
/** The registry's agents after the pre-failover write (test 1), for the end of the divergence test. */
let agentsBefore: string[] = [];
/** The lab's topology, its fence hook a power cut of the DC (the lab's): nothing holds madrid when its power comes back. */
let topology = '';

async function status(): Promise<{ code: number; report: any }> {
  const r = await dcfail(['status', '-t', topology, '--json']);
  return { code: r.exitCode, report: r.json };
}

async function powerOffMadrid(): Promise<void> {
  const lab = e.lab();
  await e.timed('power cut of madrid', () => powerOff('madrid', { dir: lab.dir }));
  const ms = await untilSurvivorsLostQuorum(mastersOf(lab, 'barcelona'));
  e.log(`power cut of madrid: the survivor reported no quorum after ${secs(ms)}`);
}

async function everyClusterReady(timeoutMs: number): Promise<void> {
  await untilClustersReady(e.lab().layout, timeoutMs, 500);
}

describe('no failover while main is alive', () => {
  it(
    'is refused (exit 3, lost-dc-alive) and changes nothing: every file, mode, owner and unit as before',
    { timeout: 180_000 },
    async () => {
      const lab = e.lab();
      const all = lab.layout.nodes;
      topology = await topologyFor(lab, TOPOS, 'e2e');
      // The data the later tests look for (the divergence test reads it back after its failback).
      await e.timed(`write ${N} etcd keys, ${N} znodes and a registry entry`, async () => {
        await Promise.all([writeEtcdKeys(all, `${PRE}/`, N), writeZnodes(all, PRE, N)]);
        await admitAgent(all, 'e2e-pre');
      });
      // Every agent stand-in registered too: the registry from before, to compare the end of the divergence test with.
      const standins = lab.layout.agents.map((a) => `agent-${a.dc}`);
      agentsBefore = await waitFor(
        'the registry to hold every agent stand-in',
        async () => {
          const agents = await registryAgents(all);
          return standins.every((a) => agents.includes(a)) ? agents : undefined;
        },
        30_000,
        500,
      );
      expect(agentsBefore).toContain('e2e-pre');

      // dcfail's own state dir (the run lock, taken and released) and the services' logs may change.
      const skip = (rel: string) => rel === 'var/log' || rel === 'var/lib/dcfail';
      const snapshot = () => Promise.all(all.map((n) => diskSnapshot(lab, n, skip)));
      // Right after the writes the servers may still settle (ZooKeeper's snapshot, etcd's WAL):
      // start from disks that hold still for 2 s.
      let before = await snapshot();
      await waitFor(
        "the machines' disks to hold still",
        async () => {
          await sleep(2000);
          const again = await snapshot();
          const still = JSON.stringify(again) === JSON.stringify(before);
          before = again;
          return still;
        },
        30_000,
        0,
      );
      const unitsBefore = await Promise.all(all.map((n) => quorumUnitStates(lab, n.name)));
      const raftBefore = await Promise.all(all.map((n) => etcdRaftPosition(n.address)));
      const r1 = await dcfail(failoverArgs(topology, ['--json']));
      expect(r1.exitCode, describeRun(r1)).toBe(3);
      expect(errorCode(r1)).toBe('lost-dc-alive');
      // Nothing overrides a lost-DC node that answers as a cluster member.
      const r2 = await dcfail(
        failoverArgs(topology, ['--json', '--override-loss-check', 'e2e: main is alive, this must still refuse']),
      );
      expect(r2.exitCode, describeRun(r2)).toBe(3);
      expect(errorCode(r2)).toBe('lost-dc-alive');
      e.log(`refusals took ${secs(r1.durationMs)} and ${secs(r2.durationMs)}`);
      const after = await snapshot();
      const raftAfter = await Promise.all(all.map((n) => etcdRaftPosition(n.address)));
      expect(raftAfter, 'etcd: no entry went through raft (revision, index, term)').toEqual(raftBefore);
      for (const [i, n] of all.entries()) {
        expect(Object.keys(before[i]!).length, `${n.name}: entries snapshotted`).toBeGreaterThan(10);
        expect(after[i], `${n.name}: its disk`).toEqual(before[i]);
        expect(await existsOn(lab, n.name, '/var/lib/dcfail/failover-marker.json'), `${n.name}: no marker`).toBe(false);
      }
      expect(await Promise.all(all.map((n) => quorumUnitStates(lab, n.name)))).toEqual(unitsBefore);
      expect(await clustersReady(lab.layout)).toBe(true);
    },
  );
});

describe('two concurrent runs', () => {
  it('the second gets exit 4 while the first holds the lock; the first completes', { timeout: 180_000 }, async () => {
    // From: normal. Leaves: failed over to barcelona, madrid powered off.
    const lab = e.lab();
    await powerOffMadrid();
    const mark = join(TOPOS, 'pre-hook-started');
    const slow = await topologyFor(
      lab,
      TOPOS,
      'slow',
      (t) => (t.hooks = { ...t.hooks, preFailover: `${FIXTURES}/slow-pre-hook.sh ${mark} 8` }),
    );
    let first = spawnDcfail(failoverArgs(slow, ['--json']));
    // The first run must get past the loss certificate (the survivor may still claim a quorum).
    await waitFor(
      'the first run in its preFailover hook',
      async () => {
        if (existsSync(mark)) return true;
        if (first.exitCode !== undefined && first.exitCode !== null) {
          const r = await first;
          expect(r.exitCode, String(r.stdout)).toBe(3);
          first = spawnDcfail(failoverArgs(slow, ['--json']));
        }
        return false;
      },
      60_000,
      200,
    );
    const second = await dcfail(failoverArgs(slow, ['--json']));
    expect(second.exitCode, describeRun(second)).toBe(4);
    expect(errorCode(second)).toBe('locked');
    e.log(`second run refused with exit 4 in ${secs(second.durationMs)}: ${second.json?.error?.message}`);
    const r = await e.timed('the first run to its end', async () => await first);
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(JSON.parse(String(r.stdout)).outcome).toBe('done');
    expect((await status()).report.mode).toBe('failed-over');
  });
});

describe('divergence on return', () => {
  it(
    'a DC revived unfenced that elected its own leaders and took writes is detected; failback refuses, archives, and --discard-divergent completes',
    { timeout: 300_000 },
    async () => {
      // From: failed over to barcelona, madrid powered off. Leaves: normal.
      const lab = e.lab();
      const all = lab.layout.nodes;
      const main = mastersOf(lab, 'madrid');
      const survivors = mastersOf(lab, 'barcelona');
      expect((await status()).report.mode, 'the failover of the test before').toBe('failed-over');
      await e.timed('writes on the survivor', async () => {
        await Promise.all([writeEtcdKeys(survivors, `${OVER}/`, 100), writeZnodes(survivors, OVER, 100)]);
        await admitAgent(survivors, 'e2e-over');
      });

      // madrid's power comes back while the link between the DCs is still down (partition), and
      // the fence only cut its power: nothing holds its units, and dcos.target starts them with
      // the files from before the failover. Cut off from barcelona, master-1 and master-2 are a
      // majority of their old clusters of 3: ZooKeeper (once Exhibitor's first check starts it),
      // etcd and Mesos each elect a leader of madrid's own and take writes (made from inside
      // madrid: the host is cut off too). Then the link comes back and madrid returns.
      // (Powered on without the partition, madrid's Mesos masters also open sessions on master-3's
      // ZooKeeper, which their MESOS_ZK names, and madrid's writes can reach the survivor's own
      // registry log: what --discard-divergent drops is then no longer only on madrid.)
      await partition('madrid', { dir: lab.dir });
      await e.timed('power-on of madrid, cut off from barcelona', () => powerOn('madrid', { dir: lab.dir }));
      const m1 = main[0]!.name;
      const inMadrid = (script: string) =>
        labExec(m1, ['/bin/sh', '-c', script], { dir: lab.dir, timeoutMs: 60_000 }).then((r) => {
          if (r.exitCode !== 0) throw new Error(`${m1}: exit ${r.exitCode}: ${r.stderr.slice(-500)}`);
          return r.stdout;
        });
      const zkServers = main.map((n) => `${n.address}:2181`).join(',');
      const etcdServers = main.map((n) => `http://${n.address}:2379`).join(',');
      const t0 = Date.now();
      await waitFor(
        "madrid's own ZooKeeper quorum takes a write",
        async () => {
          await inMadrid(
            `node --input-type=module -e "` +
              `import { openZk } from '/opt/dcfail-lab/dist/src/components/zookeeper/probe.js';` +
              `const s = await openZk('${zkServers}', 5000);` +
              `try { await s.mkdirp('/e2e/divergent');` +
              ` for (let i = 0; i < 20; i++) await s.put('/e2e/divergent/n' + String(i).padStart(5, '0'), 'divergent'); }` +
              ` finally { s.close(); }"`,
          );
          return true;
        },
        90_000,
        2000,
      );
      const [etcdWrote, mesosWrote] = await Promise.all([
        waitFor(
          "madrid's own etcd quorum takes a write",
          async () => {
            await inMadrid(
              `for i in $(seq 0 19); do ETCDCTL_API=3 etcdctl --endpoints=${etcdServers} --command-timeout=3s ` +
                `put /e2e/divergent/$(printf %05d $i) divergent >/dev/null || exit 1; done`,
            );
            return true;
          },
          30_000,
          1000,
        ).catch(() => false),
        // Mesos' own timers (registry fetch, RestartSec) at this scale: an election can take a failed
        // recovery and a restart.
        waitFor(
          "a Mesos leader of madrid's own takes a registry write",
          async () => {
            // The leader admits (200); a follower redirects to it (307), a leader not yet recovered answers 503.
            await inMadrid(
              `for a in ${main.map((n) => n.address).join(' ')}; do ` +
                `c=$(curl -s -o /dev/null -w '%{http_code}' -m 30 -X POST -H 'content-type: application/json' ` +
                `-d '{"hostname":"e2e-divergent","port":5051}' http://$a:5050/lab/agents/register); ` +
                `[ "$c" = 200 ] && exit 0; done; exit 1`,
            );
            // Stored by a quorum of madrid's replicas, learned by both.
            await waitFor(
              'the divergent admission in the registry log of both masters of madrid',
              async () => {
                for (const n of main)
                  if (
                    !(await inMadrid(`curl -sf -m 5 http://${n.address}:5050/lab/log/registry || true`)).includes(
                      'e2e-divergent',
                    )
                  )
                    return false;
                return true;
              },
              10_000,
              500,
            );
            return true;
          },
          60_000,
          2000,
        ).catch(() => false),
      ]);
      e.log(
        `madrid on its own ${secs(Date.now() - t0)} after its power-on took writes: ZooKeeper yes, etcd ${etcdWrote ? 'yes' : 'no'}, Mesos registry ${mesosWrote ? 'yes' : 'no'}`,
      );
      await heal({ dir: lab.dir });
      // Read again while undetermined (exit 1: a node's files could not be read), 30 s at most: in CI
      // one read right after the heal came back undetermined. What was not read is logged.
      let s = await status();
      for (let read = 1; s.report?.undetermined === true && read < 6; read++) {
        e.log(`status right after the heal, read ${read}, undetermined: ${JSON.stringify(s.report?.notes)}`);
        await sleep(5000);
        s = await status();
      }
      const findings = JSON.stringify({ hazards: s.report?.hazards, notes: s.report?.notes });
      expect(s.report.mode, findings).toBe('split-brain-risk');
      expect(s.code, findings).toBe(5);

      const refused = await e.timed('dcfail failback (refused)', () => dcfail(failbackArgs(topology, ['--json'])));
      expect(refused.exitCode, describeRun(refused)).toBe(3);
      expect(errorCode(refused)).toBe('divergent');
      const details: string[] = refused.json.error.details;
      const archiveOf = (name: string) => {
        const line = details.find((d) => d.startsWith(`archived on ${name}: `));
        expect(line, `archive of ${name} named in ${JSON.stringify(details)}`).toBeDefined();
        return line!.slice(`archived on ${name}: `.length);
      };
      for (const n of main) {
        const archive = archiveOf(n.name);
        expect(await existsOn(lab, n.name, archive), `${n.name}: ${archive} exists`).toBe(true);
        // The divergent writes are in the archived data: ZooKeeper's transaction log, etcd's WAL and
        // db, the Mesos replica.
        expect(
          await filesHolding(lab, n.name, '/e2e/divergent/n00019', `${archive}${DCOS_PATHS.zkDataDir}`),
          `${n.name}: divergent znodes archived`,
        ).not.toEqual([]);
        if (etcdWrote)
          expect(
            await filesHolding(lab, n.name, '/e2e/divergent/00019', `${archive}${DCOS_PATHS.etcdDataDir}`),
            `${n.name}: divergent etcd keys archived`,
          ).not.toEqual([]);
        expect(
          await existsOn(lab, n.name, `${archive}${DCOS_PATHS.etcdDataDir}`),
          `${n.name}: etcd data dir archived`,
        ).toBe(true);
        expect(
          await existsOn(lab, n.name, `${archive}${DCOS_PATHS.mesosWorkDir}/replicated_log`),
          `${n.name}: replicated log archived`,
        ).toBe(true);
      }
      if (mesosWrote) {
        const hits = await Promise.all(
          main.map(
            async (n) =>
              (
                await filesHolding(
                  lab,
                  n.name,
                  'e2e-divergent',
                  `${archiveOf(n.name)}${DCOS_PATHS.mesosWorkDir}/replicated_log`,
                )
              ).length,
          ),
        );
        expect(
          hits.filter((h) => h > 0).length,
          'the divergent registry entry is in the archived replicas of a quorum of madrid',
        ).toBeGreaterThanOrEqual(2);
      }

      const done = await e.timed('dcfail failback --discard-divergent', () =>
        dcfail(failbackArgs(topology, ['--json', '--discard-divergent'])),
      );
      expect(done.exitCode, describeRun(done)).toBe(0);
      e.log(`failback --discard-divergent: ${done.json.steps.length} steps in ${secs(done.durationMs)}`);
      await everyClusterReady(60_000);
      for (const n of all) {
        for (const [prefix, count] of [
          [PRE, N],
          [OVER, 100],
        ] as const) {
          // A member that just caught up may lag by a few entries: give it a moment before judging.
          const want = expectedKeys(`${prefix}/`, count);
          await waitFor(
            `${count} etcd keys under ${prefix}/ on ${n.name}`,
            async () => JSON.stringify(await readEtcdKeys(n, `${prefix}/`)) === JSON.stringify(want),
            20_000,
            500,
          ).catch(() => undefined);
          expect(await readEtcdKeys(n, `${prefix}/`), `etcd keys under ${prefix}/ on ${n.name}`).toEqual(want);
          const wantZ = expectedZnodes(prefix, count);
          await waitFor(
            `${count} znodes under ${prefix} on ${n.name}`,
            async () => JSON.stringify(await readZnodes([n], prefix)) === JSON.stringify(wantZ),
            20_000,
            500,
          ).catch(() => undefined);
          expect(await readZnodes([n], prefix), `znodes under ${prefix} on ${n.name}`).toEqual(wantZ);
        }
        expect(await readEtcdKeys(n, '/e2e/divergent/'), `${n.name}: divergent keys dropped`).toEqual({});
        expect(await readZnodes([n], '/e2e/divergent'), `${n.name}: divergent znodes dropped`).toBeNull();
      }
      expect(await registryAgents(all)).toEqual([...agentsBefore, 'e2e-over'].sort());
      const after = await status();
      expect(after.report.mode).toBe('normal');
    },
  );
});

describe('a service that fails to start after its change', () => {
  it(
    'stops the run with exit 1 and a report naming the step and the node; fixed, a re-run completes',
    { timeout: 240_000 },
    async () => {
      // From: normal. Leaves: failed over to barcelona, madrid powered off.
      const lab = e.lab();
      const m3 = mastersOf(lab, 'barcelona')[0]!;
      await powerOffMadrid();
      // What etcd.service runs is gone from the survivor (a botched package upgrade): etcd runs on
      // until the failover stops it, then cannot start again (systemd: 203/EXEC, retried every RestartSec).
      await sh(lab, m3.name, 'mv /usr/bin/etcd /usr/bin/etcd.aside');

      const r = await e.timed('dcfail failover, etcd unable to start', () =>
        runFailover(topology, ['--verify-timeout', '10000'], false),
      );
      expect(r.exitCode, describeRun(r)).toBe(1);
      const j = await newestJournal();
      expect(j.outcome).toBe('failed');
      const failed = j.steps.find((s: { status: string }) => s.status === 'failed');
      expect(failed.node).toBe(m3.name);
      expect(failed.id).toMatch(/^etcd:/);
      expect(r.stdout).toContain(`failover STOPPED at step ${failed.id} on ${m3.name}`);
      const doneIds = j.steps.filter((s: { status: string }) => s.status === 'done').map((s: { id: string }) => s.id);
      expect(r.stdout).toContain(`already done: ${doneIds.length} of ${j.plan.steps.length} steps`);
      expect(r.stdout).toContain(`not done: ${j.plan.steps.length - doneIds.length} steps`);
      expect((await labExec(m3.name, ['systemctl', 'is-active', 'etcd'], { dir: lab.dir })).exitCode).not.toBe(0);
      e.log(`failed as expected at ${failed.id} on ${failed.node} after ${secs(r.durationMs)}: ${failed.detail}`);

      // Fix the cause, run again.
      await sh(lab, m3.name, 'mv /usr/bin/etcd.aside /usr/bin/etcd');
      const again = await e.timed('dcfail failover, run again after the fix', () => runFailover(topology));
      expect(again.exitCode, describeRun(again)).toBe(0);
      e.log(`re-run after the fix: ${again.json.steps.length} steps in ${secs(again.durationMs)}`);
      expect(await etcdMembers([m3])).toEqual([
        { name: m3.name, peerURLs: [`http://${m3.address}:2380`], isLearner: false },
      ]);
      expect(await readEtcdKeys(m3, `${PRE}/`, false)).toEqual(expectedKeys(`${PRE}/`, N));
      expect(await readZnodes([m3], PRE)).toEqual(expectedZnodes(PRE, N));
      expect((await mesosRecovered([m3])).quorum).toBe(1);
      expect((await status()).report.mode).toBe('failed-over');
    },
  );
});
