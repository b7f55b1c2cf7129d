/**
 * Issue 15, the runs that go wrong on the lab with real servers: a topology that disagrees with
 * the nodes (item 1), a fence hook aimed at the survivors (9), the lost DC coming back during a
 * run (14, between steps; 2, during the last step), the returning DC's own quorum left serving by
 * a divergence refusal (5), and a flapping main DC taken for divergent (4).
 */
process.env['DCFAIL_LAB_NET'] = '5';
import { existsSync, mkdtempSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHealth } from '../../../lab/health.js';
import { killDc, labDown, labReset, labUp, reviveDc, serviceControl, type Lab } from '../../../lab/lab.js';
import { sleep } from '../../../lab/probes.js';
import { waitForForeignLab } from '../../support/server-truth.js';
import {
  configFiles,
  dcfail,
  describeRun,
  errorCode,
  failbackArgs,
  failoverArgs,
  mainNodes,
  markerOf,
  REPO,
  runFailover,
  secondaryNodes,
  secs,
  spawnDcfail,
  topologyCopy,
  liftLabHolds,
  unitStates,
  waitFor,
  waitSurvivorsLostQuorum,
  writeZnodes,
  type RunResult,
} from '../../support/e2e.js';
import { answersAsZkMember, both, build, freshStateDir, journals, stepsDone } from './common.js';

const DIR = `${REPO}/.lab-badday-unsafe`;
process.env['DCFAIL_LAB_DIR'] = DIR;
freshStateDir('unsafe');
const TOPOS = mkdtempSync(join(tmpdir(), 'dcfail-badday-unsafe-topo-'));
const UNITS = ['etcd', 'dcos-exhibitor', 'dcos-mesos-master'] as const;
const ATTEST = ['--attest-fenced', 'bad-day e2e: the test keeps madrid down until it revives it'];

let lab: Lab;
let fast: string;
let unfenced: string;
const log = (m: string) => console.log(`[bad-day unsafe] ${m}`);

beforeAll(async () => {
  await waitForForeignLab(log);
  const [l, b] = await Promise.all([labUp({ masters: 3, dir: DIR }), build()]);
  lab = l;
  log(`lab up in ${secs(lab.durationMs)}, dcfail built in ${secs(b)}`);
  fast = await topologyCopy(lab, TOPOS, 'fast', (t) => (t.hooks.fence = { madrid: `${DIR}/bin/fence madrid` }));
  unfenced = await topologyCopy(lab, TOPOS, 'unfenced', (t) => delete t.hooks);
}, 400_000);

afterAll(async () => {
  if (lab) await labDown({ dir: DIR });
}, 120_000);

async function reset(): Promise<void> {
  log(`lab reset in ${secs((await labReset({ dir: DIR })).durationMs)}`);
}
async function loseMain(): Promise<void> {
  await killDc('main', { dir: DIR });
  log(`survivors lost quorum after ${secs(await waitSurvivorsLostQuorum(secondaryNodes(lab)))}`);
}
const myid = (n: (typeof lab.nodes)[number]) =>
  readFile(`${n.paths.zkDataDir}/snapshot/myid`, 'utf8').catch(() =>
    readFile(`${n.paths.zkDataDir}/myid`, 'utf8').catch(() => '?'),
  );

/**
 * A failover started in the background (retried while the survivors still claim a quorum), and
 * `during` called with the run's journal each time it changes, until the run ends.
 */
async function failoverWhile(topology: string, extra: string[], during: (j: any) => Promise<void>): Promise<RunResult> {
  for (let attempt = 0; ; attempt++) {
    const before = (await journals()).length;
    const t0 = Date.now();
    const child = spawnDcfail(failoverArgs(topology, ['--json', ...extra]));
    let ended = false;
    void child.finally(() => (ended = true));
    while (!ended) {
      const all = await journals().catch(() => []);
      if (all.length > before) await during(all.at(-1));
      await sleep(100);
    }
    const r = await child;
    const res: RunResult = {
      exitCode: r.exitCode ?? -1,
      stdout: String(r.stdout),
      stderr: String(r.stderr),
      durationMs: Date.now() - t0,
      json: (() => {
        try {
          return JSON.parse(String(r.stdout));
        } catch {
          return undefined;
        }
      })(),
    };
    if (
      res.exitCode === 3 &&
      ['lost-dc-alive', 'loss-settling'].includes(res.json?.error?.code) &&
      attempt < 30 &&
      stepsDone(res.json).length === 0
    ) {
      await sleep(1000);
      continue;
    }
    return res;
  }
}

describe('item 1: a topology whose zkIds disagree with the nodes', () => {
  it('failover refuses (exit 3) naming every disagreement, and touches nothing', { timeout: 180_000 }, async () => {
    await loseMain();
    // The nodes say 1:master-1, 2:master-2, 3:master-3; this copy says 2, 1, 4.
    const wrong = await topologyCopy(lab, TOPOS, 'wrong-ids', (t) => {
      t.hooks.fence = { madrid: `${DIR}/bin/fence madrid` };
      t.nodes[0].zkId = 2;
      t.nodes[1].zkId = 1;
      t.nodes[2].zkId = 4;
    });
    const m3 = secondaryNodes(lab)[0]!;
    const filesBefore = await configFiles([m3]);
    const idBefore = await myid(m3);
    const r = await runFailover(wrong, [], false);
    log(`failover with wrong zkIds: exit ${r.exitCode}: ${both(r).trim().split('\n').slice(-4).join(' | ')}`);
    expect(r.exitCode, describeRun(r)).toBe(3);
    const out = both(r);
    for (const n of lab.nodes)
      expect(out, `names ${n.name}`).toMatch(
        new RegExp(`${n.name}[^\\n]*(zkId|ZooKeeper id|server id|EXHIBITOR_STATICENSEMBLE)`),
      );
    expect(out).toMatch(/EXHIBITOR_STATICENSEMBLE/);
    expect(await configFiles([m3]), 'master-3 files untouched').toEqual(filesBefore);
    expect(await myid(m3), 'myid unchanged').toBe(idBefore);
    expect(await markerOf(m3), 'no marker written').toBeNull();
  });
});

describe("item 1: the marker holds what the nodes' disks held", () => {
  it(
    "failover records no file it did not read; failback restores the returning nodes' own files, byte for byte",
    { timeout: 360_000 },
    async () => {
      await reset();
      // Every node's ensemble in an order of its own: what ZooKeeper reads is the same, but the
      // bytes are not the ones the topology would produce (1, 2, 3). A failback that writes the
      // topology's ensemble back instead of each node's own changes them.
      const reversed = new Map<string, string>();
      for (const n of lab.nodes) {
        const text = await readFile(n.paths.exhibitorEnvFile, 'utf8');
        const next = text.replace(
          /^EXHIBITOR_STATICENSEMBLE=(.*)$/m,
          (_l, v: string) => `EXHIBITOR_STATICENSEMBLE=${v.split(',').reverse().join(',')}`,
        );
        expect(next, `${n.name}: the ensemble line was rewritten`).not.toBe(text);
        await writeFile(n.paths.exhibitorEnvFile, next);
        reversed.set(n.name, next);
      }
      const before = await configFiles(lab.nodes);
      await loseMain();
      const f = await runFailover(fast);
      expect(f.exitCode, describeRun(f)).toBe(0);
      const m3 = secondaryNodes(lab)[0]!;
      const marker = (await markerOf(m3))!;
      const recorded = Object.keys(marker.original as object).sort();
      log(`failover: marker records files of ${recorded.join(', ')}`);
      expect(recorded, 'the lost nodes could not be read: nothing is recorded for them').toEqual([m3.name]);
      expect((marker.original as Record<string, { ensemble?: string }>)[m3.name]!.ensemble).toBe(
        /^EXHIBITOR_STATICENSEMBLE=(.*)$/m.exec(reversed.get(m3.name)!)![1],
      );
      await reviveDc('main', { dir: DIR });
      await sleep(1000);
      const r = await dcfail(failbackArgs(fast, ['--json']));
      log(`failback: exit ${r.exitCode} (${errorCode(r)})`);
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(await configFiles(lab.nodes), 'every file byte for byte as before the failover').toEqual(before);
      await waitFor(
        'the lab healthy after failback',
        async () => (await checkHealth(lab.nodes)).healthy,
        120_000,
        1000,
      );
    },
  );
});

describe('item 9: a fence hook aimed at the survivors', () => {
  it(
    'is noticed after the fence, before the survivors are touched: no etcd stop, no forced cluster',
    { timeout: 240_000 },
    async () => {
      await reset();
      await loseMain();
      const swapped = await topologyCopy(lab, TOPOS, 'swapped-fence', (t) => {
        t.hooks.fence = { madrid: `${DIR}/bin/fence barcelona` };
      });
      const m3 = secondaryNodes(lab)[0]!;
      const etcdBefore = await readFile(m3.paths.etcdEnvFile, 'utf8');
      const r = await runFailover(swapped, [], false);
      const j = (await journals()).at(-1);
      log(`failover with the fence aimed at barcelona: exit ${r.exitCode}; steps done: ${stepsDone(j).join(', ')}`);
      expect(r.exitCode, describeRun(r)).not.toBe(0);
      expect(both(r)).toMatch(
        /master-3[^\n]*(fenced|masked|held)|(fenced|masked|held)[^\n]*master-3|survivor[^\n]*fenced/i,
      );
      expect(
        stepsDone(j).filter((id) => !id.startsWith('fence')),
        'no step after the fence',
      ).toEqual([]);
      expect(await readFile(m3.paths.etcdEnvFile, 'utf8'), 'no ETCD_FORCE_NEW_CLUSTER written').toBe(etcdBefore);
      const units = await unitStates(DIR);
      expect(units['master-3/etcd']?.stopped, 'dcfail did not stop etcd on the survivor').toBe(false);
      await liftLabHolds(lab.nodes.find((n) => n.name === 'master-3')!);
    },
  );
});

describe('the lost DC comes back during a run', () => {
  it(
    'item 14: back between steps: the guard stops the run; exit code, stop report and the exit-code table agree',
    { timeout: 240_000 },
    async () => {
      await reset();
      await loseMain();
      let held = false;
      let revived = false;
      const r = await failoverWhile(unfenced, ATTEST, async (j) => {
        if (!held && stepsDone(j).includes('zk:restart:exhibitor:master-3')) {
          // ZooKeeper's verification cannot hold while its server is stopped: the lost DC returns meanwhile.
          held = true;
          await serviceControl('stop', 'master-3', 'dcos-exhibitor');
          await reviveDc('main', { dir: DIR });
          await waitFor('madrid answers as ZooKeeper members', () => answersAsZkMember(mainNodes(lab)), 60_000, 300);
          revived = true;
          await serviceControl('start', 'master-3', 'dcos-exhibitor');
        }
      });
      expect(revived, 'the scenario was set up').toBe(true);
      const j = (await journals()).at(-1);
      const done = stepsDone(j);
      log(`guard mid-run: exit ${r.exitCode} (${errorCode(r)}), ${done.length} steps done`);
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
    },
  );

  it('item 2: back as members during the last step: never `failover done`, exit 3', { timeout: 240_000 }, async () => {
    await reset();
    await loseMain();
    let held = false;
    let revived = false;
    const r = await failoverWhile(unfenced, ATTEST, async (j) => {
      const etcdSteps = (j.plan?.steps ?? []).filter((s: any) => s.id.startsWith('etcd:')).map((s: any) => s.id);
      const done = stepsDone(j);
      if (!held && done.includes('mesos:restart:mesos:master-3')) {
        held = true; // Mesos' verification, the last step, cannot hold while its master is stopped
        await serviceControl('stop', 'master-3', 'dcos-mesos-master');
      }
      if (held && !revived && etcdSteps.length > 0 && etcdSteps.every((id: string) => done.includes(id))) {
        await reviveDc('main', { dir: DIR });
        await waitFor('madrid answers as ZooKeeper members', () => answersAsZkMember(mainNodes(lab)), 60_000, 300);
        revived = true;
        await serviceControl('start', 'master-3', 'dcos-mesos-master');
      }
    });
    expect(revived, 'the scenario was set up (madrid back while the last step ran)').toBe(true);
    log(`lost DC back during the last step: exit ${r.exitCode}, outcome ${r.json?.outcome}, error ${errorCode(r)}`);
    expect(r.json?.outcome, describeRun(r)).not.toBe('done');
    expect(r.exitCode).toBe(3);
    expect(both(r)).toMatch(/madrid/);
    expect(await answersAsZkMember(mainNodes(lab)), 'madrid still runs its own quorum (the situation is real)').toBe(
      true,
    );
  });

  it(
    'item 5: a divergence refusal quarantines the returning DC (or says plainly it still serves and how to stop it)',
    { timeout: 240_000 },
    async () => {
      // Continues from item 2: madrid runs a ZooKeeper quorum of its own next to the failed-over barcelona.
      const main = mainNodes(lab);
      await waitFor(
        'madrid takes writes on its own',
        async () => (await writeZnodes(main, '/badday/divergent', 20), true),
        60_000,
        1000,
      );
      const r = await dcfail(failbackArgs(unfenced, ['--json']));
      log(`failback beside madrid's own quorum: exit ${r.exitCode} (${errorCode(r)})`);
      expect(r.exitCode, describeRun(r)).toBe(3);
      expect(errorCode(r)).toBe('divergent');
      await sleep(2000);
      const units = await unitStates(DIR);
      const serving = main.flatMap((n) =>
        UNITS.filter((u) => units[`${n.name}/${u}`]?.active).map((u) => `${n.name}/${u}`),
      );
      const text = JSON.stringify(r.json);
      if (serving.length > 0) {
        // Not quarantined: then it must say so, and how to stop them.
        expect(text, `still serving: ${serving.join(', ')}`).toMatch(/still serv/i);
        expect(text).toMatch(/stop/);
      } else {
        expect(await answersAsZkMember(main), "madrid's quorum is stopped").toBe(false);
        for (const n of main)
          for (const u of UNITS) expect(units[`${n.name}/${u}`]?.held, `${n.name}/${u} held`).toBe(true);
      }
      // Whatever the answer, split brain must not be left serving silently.
      expect(serving.length === 0 || /still serv/i.test(text)).toBe(true);
    },
  );
});

describe('item 4: a flapping main DC is not taken for a divergent one', () => {
  it(
    'main down, back and healthy, down again, failover, return: failback completes without --discard-divergent',
    { timeout: 360_000 },
    async () => {
      await reset();
      await loseMain();
      await reviveDc('main', { dir: DIR });
      await waitFor('the lab healthy again', async () => (await checkHealth(lab.nodes)).healthy, 90_000, 1000);
      // Written while madrid is a healthy member: before the failover point.
      await writeZnodes(lab.nodes, '/badday/before', 50);
      await loseMain();
      const f = await runFailover(fast);
      expect(f.exitCode, describeRun(f)).toBe(0);
      await writeZnodes(secondaryNodes(lab), '/badday/over', 20);
      await reviveDc('main', { dir: DIR });
      await sleep(1000);
      const r = await dcfail(failbackArgs(fast, ['--json']));
      log(`failback after a flapping main: exit ${r.exitCode} (${errorCode(r)}: ${r.json?.error?.message ?? ''})`);
      expect(errorCode(r), describeRun(r)).not.toBe('divergent');
      expect(r.exitCode).toBe(0);
      expect(existsSync(`${secondaryNodes(lab)[0]!.root}/var/lib/dcfail/failover-marker.json`)).toBe(false);
    },
  );
});
