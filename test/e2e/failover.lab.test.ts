/**
 * Issue 4, the proof, against the 3-master lab: the built dcfail binary fails over and back with
 * nothing lost (the fenced path), refuses while main is alive without touching a byte, detects a
 * returning DC that ran on its own, stops accurately on a service that does not start and
 * continues once it is fixed, and lets only one of two concurrent runs in.
 */
process.env['DCFAIL_LAB_NET'] = '2';
import { existsSync } from 'node:fs';
import { readdir, readFile, rename, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { checkHealth } from '../../lab/health.js';
import { killDc, labReset, reviveDc, type Lab } from '../../lab/lab.js';
import { sleep } from '../../lab/probes.js';
import { writeRegistryEntry } from '../lab/helpers.js';
import {
  configFiles,
  dcfail,
  declaredFiles,
  describeRun,
  errorCode,
  etcdRaftState,
  etcdMembers,
  expectedKeys,
  expectedZnodes,
  expectEverywhere,
  failbackArgs,
  failoverArgs,
  FIXTURES,
  mainNodes,
  markerOf,
  mesosLeader,
  mesosView,
  newestJournal,
  readEtcdKeys,
  readZnodes,
  runFailover,
  secondaryNodes,
  secs,
  spawnDcfail,
  topologyCopy,
  useE2eLab,
  treeSnapshot,
  unitStates,
  waitFor,
  waitSurvivorsLostQuorum,
  writeEtcdKeys,
  writeRegistry,
  writeZnodes,
} from '../support/e2e.js';

let lab: Lab;
/** The lab topology (fence hook included) with the suite's shorter timeouts. */
let fast: string;
const {
  topos: TOPOS,
  dir: DIR,
  log,
} = useE2eLab({ tag: 'e2e3', masters: 3, label: 'e2e 3 masters' }, (l, f) => {
  lab = l;
  fast = f;
});
const run = promisify(execFile);

async function reset(): Promise<void> {
  const r = await labReset({ dir: DIR });
  log(`lab reset in ${secs(r.durationMs)}`);
}

async function status(topology = fast): Promise<{ code: number; report: any }> {
  const r = await dcfail(['status', '-t', topology, '--json']);
  return { code: r.exitCode, report: r.json };
}

/** Kill main, wait until the survivors see no quorum. */
async function loseMain(): Promise<void> {
  await killDc('main', { dir: DIR });
  const ms = await waitSurvivorsLostQuorum(secondaryNodes(lab));
  log(`kill-dc main: survivors reported no quorum after ${secs(ms)}`);
}

describe('no failover while main is alive', () => {
  it(
    'is refused (exit 3, lost-dc-alive) and changes nothing: every file, mode, owner and unit as before',
    { timeout: 120_000 },
    async () => {
      // dcfail's own state dir (the run lock, taken and released) and the services' logs may change.
      const skip = (rel: string) => rel === 'var/log' || rel === 'var/lib/dcfail';
      const snapshot = () => Promise.all(lab.nodes.map((n) => treeSnapshot(n.root, skip)));
      // Right after `up` the servers may still settle (a raft term change writes etcd's WAL):
      // start from a tree that holds still for 2 s.
      let before = await snapshot();
      await waitFor(
        "the lab's files to hold still",
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
      const unitsBefore = await unitStates(DIR);
      const raftBefore = await Promise.all(lab.nodes.map(etcdRaftState));
      const r1 = await dcfail(failoverArgs(fast, ['--json']));
      expect(r1.exitCode, describeRun(r1)).toBe(3);
      expect(errorCode(r1)).toBe('lost-dc-alive');
      // Nothing overrides a lost-DC node that answers as a cluster member.
      const r2 = await dcfail(
        failoverArgs(fast, ['--json', '--override-loss-check', 'e2e: main is alive, this must still refuse']),
      );
      expect(r2.exitCode, describeRun(r2)).toBe(3);
      expect(errorCode(r2)).toBe('lost-dc-alive');
      log(`refusals took ${secs(r1.durationMs)} and ${secs(r2.durationMs)}`);
      const after = await snapshot();
      const raftAfter = await Promise.all(lab.nodes.map(etcdRaftState));
      expect(raftAfter, 'etcd: no entry went through raft (revision, index, term)').toEqual(raftBefore);
      for (const [i, n] of lab.nodes.entries()) {
        expect(Object.keys(before[i]!).length, `${n.name}: entries snapshotted`).toBeGreaterThan(10);
        expect(after[i], `${n.name}: files under ${n.root}`).toEqual(before[i]);
        expect(existsSync(`${n.root}/var/lib/dcfail/failover-marker.json`), `${n.name}: no failover marker`).toBe(
          false,
        );
      }
      expect(await unitStates(DIR)).toEqual(unitsBefore);
      expect((await checkHealth(lab.nodes)).healthy).toBe(true);
    },
  );
});

describe('nothing lost: failover with the fence hook, then failback', () => {
  const PRE = '/e2e/pre';
  const OVER = '/e2e/over';
  const N = 2000;
  const preEntries = [{ app: 'pre-1' }, { app: 'pre-2' }, { app: 'pre-3' }];

  it(
    'failover: every key and znode readable on the secondary, new writes succeed, a Mesos leader there with quorum 1 and the registry intact',
    { timeout: 240_000 },
    async () => {
      await reset();
      const t0 = Date.now();
      await Promise.all([writeEtcdKeys(lab.nodes, `${PRE}/`, N), writeZnodes(lab.nodes, PRE, N)]);
      for (const e of preEntries) await writeRegistry(lab.nodes, e);
      log(`wrote ${N} etcd keys, ${N} znodes and ${preEntries.length} registry entries in ${secs(Date.now() - t0)}`);

      await loseMain();
      const r = await runFailover(fast);
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(r.json.outcome).toBe('done');
      log(
        `failover: ${r.json.steps.length} steps, time to recovery ${secs(r.json.timeToRecoveryMs)}, whole run ${secs(r.durationMs)}`,
      );
      expect(r.json.plan.steps.some((s: { action: string }) => s.action === 'fence')).toBe(true);
      // The loss certificate: every check of every main node failed on each of the 2 attempts
      // (the first is the run's own observation), and no survivor follows a leader there.
      const evidence = (await newestJournal()).evidence;
      expect(evidence.verdict).toBe('down');
      expect(evidence.answeringAsMembers).toEqual([]);
      expect(new Set(evidence.checks.map((c: { node: string }) => c.node))).toEqual(
        new Set(mainNodes(lab).map((n) => n.name)),
      );
      expect(evidence.checks.map((c: { check: string }) => c.check).sort()).toEqual([
        'ssh',
        'ssh',
        'tcp:etcd',
        'tcp:etcd',
        'tcp:exhibitor',
        'tcp:exhibitor',
        'tcp:mesos',
        'tcp:mesos',
      ]);
      for (const c of evidence.checks) {
        expect(c.results, `${c.node} ${c.check}`).toHaveLength(2);
        for (const x of c.results) expect(['timeout', 'refused', 'error']).toContain(x);
      }

      // The fence hook held every unit of main, so it stays down when its machines come back.
      const units = await unitStates(DIR);
      for (const n of mainNodes(lab))
        for (const u of ['etcd', 'dcos-exhibitor', 'dcos-mesos-master'])
          expect(units[`${n.name}/${u}`]?.held, `${n.name}/${u} held`).toBe(true);

      const survivors = secondaryNodes(lab);
      const m3 = survivors[0]!;
      // Linearizable reads on the one-member cluster, and its own copy.
      expect(await readEtcdKeys(m3, `${PRE}/`, false)).toEqual(expectedKeys(`${PRE}/`, N));
      expect(await readZnodes(survivors, PRE)).toEqual(expectedZnodes(PRE, N));
      expect(await etcdMembers(survivors)).toEqual([
        { name: 'master-3', peerURLs: [`http://${m3.address}:2380`], isLearner: false },
      ]);

      const t1 = Date.now();
      await Promise.all([writeEtcdKeys(survivors, `${OVER}/`, 200), writeZnodes(survivors, OVER, 200)]);
      await writeRegistry(survivors, { app: 'failed-over' });
      log(`writes on the secondary after the failover took ${secs(Date.now() - t1)}`);
      const mesos = await mesosView(survivors);
      expect(mesos.leader).toBe('master-3');
      expect(mesos.quorum).toBe(1);
      expect(mesos.entries).toEqual([...preEntries, { app: 'failed-over' }]);

      const s = await status();
      expect(s.report.mode).toBe('failed-over');
    },
  );

  it(
    'failback: every member healthy everywhere, every key and znode from before and during, every file as it was, status normal',
    { timeout: 240_000 },
    async () => {
      await reviveDc('main', { dir: DIR });
      await sleep(1000);
      // Fenced: nothing of main started.
      for (const n of mainNodes(lab)) expect(await mesosLeader([n])).toBeUndefined();
      const r = await dcfail(failbackArgs(fast, ['--json']));
      expect(r.exitCode, describeRun(r)).toBe(0);
      log(
        `failback: ${r.json.steps.length} steps, time to recovery ${secs(r.json.timeToRecoveryMs)}, whole run ${secs(r.durationMs)}`,
      );

      const health = await waitFor(
        'the whole lab healthy',
        async () => {
          const h = await checkHealth(lab.nodes);
          return h.healthy ? h : undefined;
        },
        30_000,
        500,
      );
      expect(health.healthy).toBe(true);
      expect((await etcdMembers(lab.nodes)).map((m) => [m.name, m.isLearner])).toEqual([
        ['master-1', false],
        ['master-2', false],
        ['master-3', false],
      ]);
      await expectEverywhere(lab.nodes, [
        { prefix: PRE, count: N },
        { prefix: OVER, count: 200 },
      ]);
      const mesos = await mesosView(lab.nodes);
      expect(mesos.quorum).toBe(2);
      expect(mesos.entries).toEqual([...preEntries, { app: 'failed-over' }]);
      expect(await configFiles(lab.nodes)).toEqual(await declaredFiles(DIR, lab.nodes));
      for (const n of lab.nodes) expect(await markerOf(n), `${n.name}: marker removed`).toBeNull();
      const s = await status();
      expect(s.report.mode).toBe('normal');
      expect(s.code).toBe(0);
    },
  );

  it(
    'a failback killed after its last step, before it cleared the marker: the re-run finds nothing to do and clears it',
    { timeout: 120_000 },
    async () => {
      // The state such a kill leaves: every cluster back, the marker still on the survivors.
      const restored: string[] = [];
      for (const n of secondaryNodes(lab)) {
        const dir = `${n.root}/var/lib/dcfail`;
        const done = (await readdir(dir))
          .filter((f) => f.startsWith('failover-marker.json.done-'))
          .sort()
          .pop();
        expect(done, `${n.name}: the cleared marker kept aside`).toBeDefined();
        await rename(`${dir}/${done}`, `${dir}/failover-marker.json`);
        restored.push(n.name);
      }
      expect(restored.length).toBeGreaterThan(0);
      const r = await dcfail(failbackArgs(fast, []));
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(r.stdout).toMatch(/Nothing to do: .*The failover marker left by an interrupted run is cleared/);
      for (const n of lab.nodes) expect(await markerOf(n), `${n.name}: marker removed`).toBeNull();
    },
  );
});

describe('divergence on return', () => {
  it(
    'a DC revived unfenced that elected its own leaders and took writes is detected; failback refuses, archives, and --discard-divergent completes',
    { timeout: 300_000 },
    async () => {
      await reset();
      await Promise.all([writeEtcdKeys(lab.nodes, '/e2e/pre/', 200), writeZnodes(lab.nodes, '/e2e/pre', 200)]);
      await writeRegistry(lab.nodes, { app: 'pre' });
      const unfenced = await topologyCopy(lab, TOPOS, 'unfenced', (t) => delete t.hooks);
      await loseMain();
      const f = await runFailover(unfenced, [
        '--attest-fenced',
        'e2e: the test keeps madrid down until it revives it on purpose',
      ]);
      expect(f.exitCode, describeRun(f)).toBe(0);
      const survivors = secondaryNodes(lab);
      await Promise.all([writeEtcdKeys(survivors, '/e2e/over/', 100), writeZnodes(survivors, '/e2e/over', 100)]);
      await writeRegistry(survivors, { app: 'over' });

      // Main comes back with its old files and, unfenced, forms its own quorums. ZooKeeper does
      // (master-1 and master-2 are 2 of their old ensemble of 3). etcd may not: a returning member
      // that reaches master-3, now a forced cluster without it, learns it was removed and stops
      // itself. The Mesos masters of main elect one of their own when their ZooKeeper lets them.
      await reviveDc('main', { dir: DIR });
      const main = mainNodes(lab);
      const t0 = Date.now();
      await waitFor(
        "main's own ZooKeeper quorum takes a write",
        async () => {
          await writeZnodes(main, '/e2e/divergent', 20);
          return true;
        },
        60_000,
        1000,
      );
      const wrote = { zk: true, etcd: false, mesos: false };
      wrote.etcd = await waitFor(
        "main's own etcd quorum takes a write",
        async () => {
          await writeEtcdKeys(main, '/e2e/divergent/', 20);
          return true;
        },
        15_000,
        1000,
      ).catch(() => false);
      wrote.mesos = await waitFor(
        "a Mesos leader of main's own takes a registry write",
        async () => {
          const leader = await mesosLeader(main);
          if (!leader) return false;
          await writeRegistryEntry(leader, { app: 'divergent' });
          return true;
        },
        30_000,
        1000,
      ).catch(() => false);
      const etcdLog = (await readFile(`${main[0]!.paths.logDir}/etcd.log`, 'utf8'))
        .split('\n')
        .filter((l) => /removed|member .* has already been/i.test(l))
        .slice(-1)[0];
      log(
        `main on its own ${secs(Date.now() - t0)} after its revival took writes: ZooKeeper yes, etcd ${wrote.etcd ? 'yes' : `no${etcdLog ? ` (${etcdLog.trim()})` : ''}`}, Mesos registry ${wrote.mesos ? 'yes' : 'no'}`,
      );
      const s = await status(unfenced);
      expect(s.report.mode).toBe('split-brain-risk');
      expect(s.code).toBe(5);

      const refused = await dcfail(failbackArgs(unfenced, ['--json']));
      expect(refused.exitCode, describeRun(refused)).toBe(3);
      expect(errorCode(refused)).toBe('divergent');
      const details: string[] = refused.json.error.details;
      for (const n of main) {
        const line = details.find((d) => d.startsWith(`archived on ${n.name}: `));
        expect(line, `archive of ${n.name} named in ${JSON.stringify(details)}`).toBeDefined();
        const archive = line!.slice(`archived on ${n.name}: `.length);
        expect(existsSync(archive), `${archive} exists`).toBe(true);
        // The divergent writes are in the archived data: etcd's WAL and db, ZooKeeper's
        // transaction log, the Mesos replica.
        const grep = async (what: string, sub: string) =>
          (await run('grep', ['-rlaF', what, `${archive}${sub}`]).catch(() => ({ stdout: '' }))).stdout.trim();
        expect(await grep('/e2e/divergent/n00019', n.paths.zkDataDir), `${n.name}: divergent znodes archived`).not.toBe(
          '',
        );
        if (wrote.etcd)
          expect(
            await grep('/e2e/divergent/00019', n.paths.etcdDataDir),
            `${n.name}: divergent etcd keys archived`,
          ).not.toBe('');
        expect(existsSync(`${archive}${n.paths.etcdDataDir}`), `${n.name}: etcd data dir archived`).toBe(true);
        expect(existsSync(`${archive}${n.paths.replicatedLogDir}`), `${n.name}: replicated log archived`).toBe(true);
      }
      if (wrote.mesos) {
        const hits = await Promise.all(
          main.map(async (n) =>
            (
              await run('grep', [
                '-rlaF',
                'divergent',
                `${details.find((d) => d.startsWith(`archived on ${n.name}: `))!.slice(`archived on ${n.name}: `.length)}${n.paths.replicatedLogDir}`,
              ]).catch(() => ({ stdout: '' }))
            ).stdout.trim(),
          ),
        );
        expect(
          hits.filter((h) => h !== '').length,
          'the divergent registry entry is in the archived replicas of a quorum of main',
        ).toBeGreaterThanOrEqual(2);
      }

      const done = await dcfail(failbackArgs(unfenced, ['--json', '--discard-divergent']));
      expect(done.exitCode, describeRun(done)).toBe(0);
      log(`failback --discard-divergent: ${done.json.steps.length} steps in ${secs(done.durationMs)}`);
      await waitFor('the whole lab healthy', async () => (await checkHealth(lab.nodes)).healthy, 30_000, 500);
      await expectEverywhere(lab.nodes, [
        { prefix: '/e2e/pre', count: 200 },
        { prefix: '/e2e/over', count: 100 },
      ]);
      for (const n of lab.nodes) {
        expect(await readEtcdKeys(n, '/e2e/divergent/'), `${n.name}: divergent keys dropped`).toEqual({});
        expect(await readZnodes([n], '/e2e/divergent'), `${n.name}: divergent znodes dropped`).toBeNull();
      }
      expect((await mesosView(lab.nodes)).entries).toEqual([{ app: 'pre' }, { app: 'over' }]);
      const after = await status(unfenced);
      expect(after.report.mode).toBe('normal');
    },
  );
});

describe('a service that fails to start after its change', () => {
  it(
    'stops the run with exit 1 and a report naming the step and the node; fixed, a re-run completes',
    { timeout: 240_000 },
    async () => {
      await reset();
      await Promise.all([writeEtcdKeys(lab.nodes, '/e2e/pre/', 200), writeZnodes(lab.nodes, '/e2e/pre', 200)]);
      await loseMain();
      const m3 = secondaryNodes(lab)[0]!;
      const good = await readFile(m3.paths.etcdEnvFile, 'utf8');
      const goodLine = /^ETCD_LISTEN_CLIENT_URLS=.*$/m.exec(good)![0];
      await writeFile(
        m3.paths.etcdEnvFile,
        good.replace(goodLine, 'ETCD_LISTEN_CLIENT_URLS=http://no-such-host.invalid:2379'),
      );

      const r = await runFailover(fast, ['--verify-timeout', '10000'], false);
      expect(r.exitCode, describeRun(r)).toBe(1);
      const j = await newestJournal();
      expect(j.outcome).toBe('failed');
      const failed = j.steps.find((s: { status: string }) => s.status === 'failed');
      expect(failed.node).toBe('master-3');
      expect(failed.id).toMatch(/^etcd:/);
      expect(r.stdout).toContain(`failover STOPPED at step ${failed.id} on master-3`);
      const doneIds = j.steps.filter((s: { status: string }) => s.status === 'done').map((s: { id: string }) => s.id);
      expect(r.stdout).toContain(`already done: ${doneIds.length} of ${j.plan.steps.length} steps`);
      expect(r.stdout).toContain(`not done: ${j.plan.steps.length - doneIds.length} steps`);
      log(`failed as expected at ${failed.id} on ${failed.node} after ${secs(r.durationMs)}: ${failed.detail}`);

      // Fix the cause (the line only: the run's own edits stay), run again.
      const now = await readFile(m3.paths.etcdEnvFile, 'utf8');
      await writeFile(m3.paths.etcdEnvFile, now.replace(/^ETCD_LISTEN_CLIENT_URLS=.*$/m, goodLine));
      const again = await runFailover(fast);
      expect(again.exitCode, describeRun(again)).toBe(0);
      log(`re-run after the fix: ${again.json.steps.length} steps in ${secs(again.durationMs)}`);
      expect(await etcdMembers([m3])).toEqual([
        { name: 'master-3', peerURLs: [`http://${m3.address}:2380`], isLearner: false },
      ]);
      expect(await readEtcdKeys(m3, '/e2e/pre/', false)).toEqual(expectedKeys('/e2e/pre/', 200));
      expect(await readZnodes([m3], '/e2e/pre')).toEqual(expectedZnodes('/e2e/pre', 200));
      expect((await mesosView([m3])).quorum).toBe(1);
      expect((await status()).report.mode).toBe('failed-over');
    },
  );
});

describe('two concurrent runs', () => {
  it('the second gets exit 4 while the first holds the lock; the first completes', { timeout: 180_000 }, async () => {
    await reset();
    await loseMain();
    const mark = join(TOPOS, 'pre-hook-started');
    const slow = await topologyCopy(
      lab,
      TOPOS,
      'slow',
      (t) => (t.hooks.preFailover = `${FIXTURES}/slow-pre-hook.sh ${mark} 8`),
    );
    let first = spawnDcfail(failoverArgs(slow, ['--json']));
    // The first run must get past the loss certificate (the survivors may still claim a quorum).
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
    log(`second run refused with exit 4 in ${secs(second.durationMs)}: ${second.json?.error?.message}`);
    const r = await first;
    expect(r.exitCode, `${r.stdout}\n${r.stderr}`).toBe(0);
    expect(JSON.parse(String(r.stdout)).outcome).toBe('done');
    expect((await status()).report.mode).toBe('failed-over');
  });
});
