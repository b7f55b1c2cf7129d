/**
 * Issue 15, the bad-day runs that go through whole cycles (`npm run test:long`: a failover and a
 * failback and a second loss on top of unsafe.lab.test.ts would double that file's time), on one
 * 3-master machines lab (lab instance 6):
 *  - item 4 with item 1's marker: main lost, back and healthy, lost again, failed over, back:
 *    the failback is not refused as divergent, the marker held only what the survivor's disk held
 *    (every node's ensemble in an order of its own) and every DC/OS file is byte for byte as before;
 *  - item 14: the lost DC back between steps: the guard stops the run, and the exit code, the stop
 *    report and the README's exit-code table agree.
 *
 * Time scale 0.2 (lab/machines/timers.ts): these tests check what dcfail decides and in which
 * order, not how long DC/OS takes; ZooKeeper's own timers (tickTime, syncLimit) stay DC/OS's.
 */
import { readFile } from 'node:fs/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import { powerOn } from '../../../lab/machines/lab.js';
import {
  dcfail,
  describeRun,
  errorCode,
  expectedZnodes,
  failbackArgs,
  readZnodes,
  REPO,
  runFailover,
  writeZnodes,
} from '../../support/e2e.js';
import { dcosFiles, markerOn, sh, useMachinesE2e, writeIn } from '../../support/machines-e2e.js';
import { both, journals, stepsDone } from './common.js';
import { ATTEST, badDayLab } from './lab-runs.js';

const e = useMachinesE2e({
  instance: 6,
  tag: 'm-badday-cycles',
  masters: 3,
  dcos: '2.2',
  label: 'bad-day cycles',
  timeScale: 0.2,
});
const b = badDayLab(e);
const EXHIBITOR_ENV = '/opt/mesosphere/etc/exhibitor';

let fast: string;
/** Every node's ensemble line in an order of its own. */
const reversed = new Map<string, string>();
/** The DC/OS files of every node before anything ran. */
let filesBefore: Record<string, Record<string, string>>;

const filesOf = async (nodes: readonly string[]) =>
  Object.fromEntries(await Promise.all(nodes.map(async (n) => [n, await dcosFiles(e.lab(), n)] as const)));
const ensembleOf = (text: string) => /^EXHIBITOR_STATICENSEMBLE=(.*)$/m.exec(text)?.[1];

beforeAll(async () => {
  fast = await b.setUp();
  // What ZooKeeper reads is the same, but the bytes are not the ones the topology would produce
  // (1, 2, 3): a failback that writes the topology's ensemble back instead of each node's own changes them.
  for (const n of b.allNodes()) {
    const text = await sh(e.lab(), n, `cat ${EXHIBITOR_ENV}`);
    const next = text.replace(
      /^EXHIBITOR_STATICENSEMBLE=(.*)$/m,
      (_l, v: string) => `EXHIBITOR_STATICENSEMBLE=${v.split(',').reverse().join(',')}`,
    );
    expect(next, `${n}: the ensemble line was rewritten`).not.toBe(text);
    await writeIn(e.lab(), n, EXHIBITOR_ENV, next);
    reversed.set(n, ensembleOf(next)!);
  }
  filesBefore = await filesOf(b.allNodes());
});

describe('item 4: a flapping main DC is not taken for a divergent one; item 1: the marker holds what the disks held', () => {
  it('main down, back and healthy, down again, failover, return: failback completes without --discard-divergent, every file byte for byte as before', async () => {
    await b.loseMain();
    await powerOn('madrid', { dir: e.dir });
    await e.timed('every cluster ready after madrid returns', () => b.everyClusterReady());
    // Written while madrid is a healthy member: before the failover point.
    await writeZnodes(e.lab().layout.nodes, '/badday/before', 50);
    await b.loseMain();
    const f = await runFailover(fast);
    expect(f.exitCode, describeRun(f)).toBe(0);

    // The marker records no file it did not read: only the survivor's, with its own ensemble.
    const marker = await markerOn(e.lab(), b.m3());
    const recorded = Object.keys(marker.original as object).sort();
    e.log(`failover: marker records files of ${recorded.join(', ')}`);
    expect(recorded, 'the lost nodes could not be read: nothing is recorded for them').toEqual([b.m3()]);
    expect((marker.original as Record<string, { ensemble?: string }>)[b.m3()]!.ensemble).toBe(reversed.get(b.m3()));

    await writeZnodes(b.barcelona(), '/badday/over', 20);
    // madrid's power comes back: its units stay down (the fence held them on its disks).
    await powerOn('madrid', { dir: e.dir });
    const r = await dcfail(failbackArgs(fast, ['--json']));
    e.log(`failback after a flapping main: exit ${r.exitCode} (${errorCode(r)}: ${r.json?.error?.message ?? ''})`);
    expect(errorCode(r), describeRun(r)).not.toBe('divergent');
    expect(r.exitCode).toBe(0);
    expect(await markerOn(e.lab(), b.m3()), 'the marker is gone').toBeNull();
    expect(await filesOf(b.allNodes()), 'every DC/OS file byte for byte as before the failover').toEqual(filesBefore);
    await b.everyClusterReady();
    for (const n of e.lab().layout.nodes) {
      expect(await readZnodes([n], '/badday/before'), `before the loss, on ${n.name}`).toEqual(
        expectedZnodes('/badday/before', 50),
      );
      expect(await readZnodes([n], '/badday/over'), `while failed over, on ${n.name}`).toEqual(
        expectedZnodes('/badday/over', 20),
      );
    }
  }, 300_000);
});

describe('the lost DC comes back during a run', () => {
  it('item 14: back between steps: the guard stops the run; exit code, stop report and the exit-code table agree', async () => {
    // ZooKeeper's restart on master-3 is held (lab-runs.ts): the lost DC returns while its verification polls.
    const held = await b.heldTopology('dcos-exhibitor');
    await b.loseMain();
    let revived = false;
    const r = await b.failoverWhile(held, ATTEST, async (j) => {
      if (!revived && stepsDone(j).includes(`zk:restart:exhibitor:${b.m3()}`)) {
        await b.madridBackThenRelease('dcos-exhibitor');
        revived = true;
      }
    });
    expect(revived, 'the scenario was set up').toBe(true);
    const j = (await journals()).at(-1);
    const done = stepsDone(j);
    e.log(`guard mid-run: exit ${r.exitCode} (${errorCode(r)}), ${done.length} steps done`);
    expect(done.length, 'steps were done before the guard fired').toBeGreaterThan(2);
    expect(r.exitCode, describeRun(r)).not.toBe(0);
    const text = JSON.stringify(r.json ?? {}) + both(r);
    expect(text, 'the report does not claim nothing was touched').not.toMatch(/nothing (was )?(touched|changed)/i);
    const row3 = (doc: string) => doc.split('\n').find((l) => /^\|\s*3\s*\|/.test(l)) ?? '';
    // The README's exit-code table is the contract CI reads (../shared/spec/CLI.md is read-only for CI).
    const readme = row3(await readFile(`${REPO}/README.md`, 'utf8'));
    if (r.exitCode === 3) {
      expect(readme, 'the table says a 3 may follow changes').toMatch(
        /mid-run|after (some )?steps|already done|stop report|steps done/i,
      );
    } else expect(r.exitCode).toBe(1);
  }, 240_000);
});
