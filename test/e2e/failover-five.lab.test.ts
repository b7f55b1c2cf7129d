/**
 * Issue 4 against the 5-master lab (madrid 3, barcelona 2): failover and failback with nothing
 * lost. After the failover barcelona's two masters hold every cluster with quorum 2 (the
 * majority of 2); after the failback all five serve again with quorum 3.
 */
process.env['DCFAIL_LAB_NET'] = '2';
import { describe, expect, it } from 'vitest';
import { checkHealth } from '../../lab/health.js';
import { killDc, reviveDc, type Lab } from '../../lab/lab.js';
import {
  configFiles,
  dcfail,
  declaredFiles,
  describeRun,
  etcdMembers,
  expectedKeys,
  expectedZnodes,
  expectEverywhere,
  failbackArgs,
  mainNodes,
  markerOf,
  mesosView,
  readEtcdKeys,
  readZnodes,
  runFailover,
  secondaryNodes,
  secs,
  useE2eLab,
  unitStates,
  waitFor,
  waitSurvivorsLostQuorum,
  writeEtcdKeys,
  writeRegistry,
  writeZnodes,
} from '../support/e2e.js';

let lab: Lab;
let fast: string;
const { dir: DIR, log } = useE2eLab({ tag: 'e2e5', masters: 5, label: 'e2e 5 masters' }, (l, f) => {
  lab = l;
  fast = f;
});

describe('5 masters: nothing lost over failover and failback', () => {
  const PRE = '/e2e/pre';
  const OVER = '/e2e/over';
  const N = 2000;
  const preEntries = [{ app: 'pre-1' }, { app: 'pre-2' }];

  it(
    'failover to barcelona: every key and znode there, new writes succeed, a Mesos leader there with quorum 2 and the registry intact',
    { timeout: 240_000 },
    async () => {
      const t0 = Date.now();
      await Promise.all([writeEtcdKeys(lab.nodes, `${PRE}/`, N), writeZnodes(lab.nodes, PRE, N)]);
      for (const e of preEntries) await writeRegistry(lab.nodes, e);
      log(`wrote ${N} etcd keys, ${N} znodes and ${preEntries.length} registry entries in ${secs(Date.now() - t0)}`);

      await killDc('main', { dir: DIR });
      const survivors = secondaryNodes(lab);
      log(`kill-dc main: survivors reported no quorum after ${secs(await waitSurvivorsLostQuorum(survivors))}`);
      const r = await runFailover(fast);
      expect(r.exitCode, describeRun(r)).toBe(0);
      log(
        `failover: ${r.json.steps.length} steps, time to recovery ${secs(r.json.timeToRecoveryMs)}, whole run ${secs(r.durationMs)}`,
      );

      const units = await unitStates(DIR);
      for (const n of mainNodes(lab))
        for (const u of ['etcd', 'dcos-exhibitor', 'dcos-mesos-master'])
          expect(units[`${n.name}/${u}`]?.held, `${n.name}/${u} held by the fence hook`).toBe(true);
      expect((await etcdMembers(survivors)).map((m) => [m.name, m.isLearner])).toEqual([
        ['master-4', false],
        ['master-5', false],
      ]);
      for (const n of survivors) {
        expect(await readEtcdKeys(n, `${PRE}/`, false), `etcd keys read through ${n.name}`).toEqual(
          expectedKeys(`${PRE}/`, N),
        );
        expect(await readZnodes([n], PRE), `znodes on ${n.name}`).toEqual(expectedZnodes(PRE, N));
      }
      await Promise.all([writeEtcdKeys(survivors, `${OVER}/`, 200), writeZnodes(survivors, OVER, 200)]);
      await writeRegistry(survivors, { app: 'failed-over' });
      const mesos = await mesosView(survivors);
      expect(['master-4', 'master-5']).toContain(mesos.leader);
      expect(mesos.quorum).toBe(2);
      expect(mesos.entries).toEqual([...preEntries, { app: 'failed-over' }]);
      expect((await dcfail(['status', '-t', fast, '--json'])).json.mode).toBe('failed-over');
    },
  );

  it(
    'failback: all five members healthy everywhere, every key and znode from before and during, every file as it was, status normal',
    { timeout: 300_000 },
    async () => {
      await reviveDc('main', { dir: DIR });
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
      expect((await etcdMembers(lab.nodes)).map((m) => [m.name, m.isLearner])).toEqual(
        lab.nodes.map((n) => [n.name, false]),
      );
      await expectEverywhere(lab.nodes, [
        { prefix: PRE, count: N },
        { prefix: OVER, count: 200 },
      ]);
      const mesos = await mesosView(lab.nodes);
      expect(mesos.quorum).toBe(3);
      expect(mesos.entries).toEqual([...preEntries, { app: 'failed-over' }]);
      expect(await configFiles(lab.nodes)).toEqual(await declaredFiles(DIR, lab.nodes));
      for (const n of lab.nodes) expect(await markerOf(n), `${n.name}: marker removed`).toBeNull();
      const s = await dcfail(['status', '-t', fast, '--json']);
      expect(s.json.mode).toBe('normal');
      expect(s.exitCode).toBe(0);
    },
  );
});
