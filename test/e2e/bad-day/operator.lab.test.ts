/**
 * Issue 15, the operator's bad day on one 3-master lab, in the order an operator meets it:
 * a healthy cluster read wrongly (items 3, 8, 10), main lost and a failover interrupted by
 * Ctrl-C (11), a flag typo (6), a second failover and a wrong `--to` (13, 7), main back with one
 * node unreachable (8, 12) and a failback stopped halfway (10).
 */
process.env['DCFAIL_LAB_NET'] = '5';
import { existsSync, mkdtempSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkHealth } from '../../../lab/health.js';
import { killDc, labDown, labUp, reviveDc, serviceControl, sshRun, type Lab, type LabNode } from '../../../lab/lab.js';
import { sleep } from '../../../lab/probes.js';
import { waitForForeignLab } from '../../support/server-truth.js';
import {
  configFiles,
  dcfail,
  describeRun,
  failbackArgs,
  mainNodes,
  markerOf,
  REPO,
  runFailover,
  secondaryNodes,
  secs,
  spawnDcfail,
  failoverArgs,
  topologyCopy,
  waitFor,
  waitSurvivorsLostQuorum,
} from '../../support/e2e.js';
import { both, build, freshStateDir, journals, localLocks, stepsDone, untilJournal } from './common.js';

/** A command run to its end (execa's calls are what knip lists as binaries; these are the lab's own tools). */
const sh = (cmd: string, args: string[]) => promisify(execFile)(cmd, args);

const DIR = `${REPO}/.lab-badday-operator`;
process.env['DCFAIL_LAB_DIR'] = DIR;
freshStateDir('operator');
const TOPOS = mkdtempSync(join(tmpdir(), 'dcfail-badday-operator-topo-'));
const FENCE_CALLS = join(TOPOS, 'fence-calls');
const UNITS = ['etcd', 'dcos-exhibitor', 'dcos-mesos-master'] as const;

let lab: Lab;
let fast: string;
const log = (m: string) => console.log(`[bad-day operator] ${m}`);

beforeAll(async () => {
  await waitForForeignLab(log);
  const [l, b] = await Promise.all([labUp({ masters: 3, dir: DIR }), build()]);
  lab = l;
  log(`lab up in ${secs(lab.durationMs)}, dcfail built in ${secs(b)}`);
  // The lab's fence hook, through a wrapper that counts its calls (item 13: a second failover must not fence again).
  const wrapper = join(TOPOS, 'fence-counting.sh');
  await writeFile(wrapper, `#!/bin/sh\necho "$@" >> ${FENCE_CALLS}\nexec ${DIR}/bin/fence "$@"\n`, { mode: 0o755 });
  fast = await topologyCopy(lab, TOPOS, 'fast', (t) => (t.hooks.fence = { madrid: `${wrapper} madrid` }));
}, 400_000);

afterAll(async () => {
  if (!lab) return;
  for (const d of ['-d', '-s'])
    await sh('iptables', ['-D', 'OUTPUT', d, mainNodes(lab)[1]!.address, '-j', 'DROP']).catch(() => undefined);
  await labDown({ dir: DIR });
}, 120_000);

const nodeLocks = () => lab.nodes.filter((n) => existsSync(`${n.root}/var/lib/dcfail/lock`)).map((n) => n.name);

async function powerOff(n: LabNode): Promise<void> {
  for (const u of UNITS) await serviceControl('stop', n.name, u);
}
async function powerOn(n: LabNode): Promise<void> {
  for (const u of UNITS) await serviceControl('start', n.name, u);
}

describe('a healthy cluster, read as an operator reads it', () => {
  it(
    'item 8: online `plan failover` while main holds quorum gives the verdict failover would give (not safe, no `apply`)',
    {
      timeout: 90_000,
    },
    async () => {
      const plan = await dcfail(['plan', 'failover', '--to', 'secondary', '-t', fast]);
      const run = await dcfail(failoverArgs(fast, ['--json']));
      expect(run.exitCode, `failover itself refuses: ${describeRun(run)}`).toBe(3);
      expect(plan.stdout, describeRun(plan)).not.toMatch(/Verdict:\s*safe/i);
      expect(plan.stdout).not.toMatch(/dcfail apply/);
      expect(plan.exitCode, 'the plan exits as the command would').toBe(3);
      expect(both(plan)).toMatch(/not certified|would refuse|madrid .*(alive|answers|holds)/i);
    },
  );

  it(
    'item 10 and item 8: one main master dead: status is not NORMAL/exit 0 (no fault tolerance left); plan failover is still not safe',
    {
      timeout: 120_000,
    },
    async () => {
      const m1 = mainNodes(lab)[0]!;
      await powerOff(m1);
      try {
        await waitFor('master-1 down', async () => !(await checkHealth([m1])).healthy, 20_000, 500);
        const s = await dcfail(['status', '-t', fast, '--json']);
        const text = await dcfail(['status', '-t', fast]);
        log(`status with master-1 dead: exit ${s.exitCode}, mode ${s.json?.mode}`);
        expect(s.exitCode, describeRun(text)).toBe(5);
        expect(text.stdout).toMatch(/master-1/);
        expect(text.stdout).toMatch(/fault tolerance|cannot lose|no redundancy|one more/i);
        const plan = await dcfail(['plan', 'failover', '--to', 'secondary', '-t', fast]);
        expect(plan.stdout, describeRun(plan)).not.toMatch(/Verdict:\s*safe/i);
        expect(plan.exitCode).toBe(3);
      } finally {
        await powerOn(m1);
        await waitFor('the lab healthy again', async () => (await checkHealth(lab.nodes)).healthy, 60_000, 1000);
      }
    },
  );

  it(
    'item 3: one node with broken `sudo -n`: status is undetermined (exit 1) naming it, no split brain invented',
    {
      timeout: 60_000,
    },
    async () => {
      const nosudo = await topologyCopy(lab, TOPOS, 'nosudo', (t) => {
        t.hooks.fence = { madrid: `${DIR}/bin/fence madrid` };
        t.nodes[1].ssh = { user: 'dcfail-nosudo' };
      });
      const s = await dcfail(['status', '-t', nosudo, '--json']);
      const text = await dcfail(['status', '-t', nosudo]);
      log(`status with sudo broken on master-2: exit ${s.exitCode}, mode ${s.json?.mode}`);
      expect(text.stdout, describeRun(text)).not.toMatch(/SPLIT-BRAIN/i);
      expect(text.stdout).not.toMatch(/2 leaders|led by \?/);
      expect(s.json?.mode).not.toBe('split-brain-risk');
      expect(s.exitCode).toBe(1);
      expect(both(text)).toMatch(/master-2[^\n]*sudo|sudo[^\n]*master-2/);
    },
  );
});

describe('main lost', () => {
  it(
    'item 11: Ctrl-C during a failover: a stop report, the outcome journalled, every lock released',
    {
      timeout: 180_000,
    },
    async () => {
      await killDc('main', { dir: DIR });
      log(`survivors lost quorum after ${secs(await waitSurvivorsLostQuorum(secondaryNodes(lab)))}`);
      let r;
      for (let attempt = 0; ; attempt++) {
        const before = (await journals()).length;
        const child = spawnDcfail(failoverArgs(fast));
        let ended = false;
        void child.finally(() => (ended = true));
        // Interrupt once the run is past its fence and has changed the survivor (ZooKeeper's files).
        let going = false;
        while (!ended && !going) {
          const all = await journals().catch(() => []);
          going = all.length > before && stepsDone(all.at(-1)).length >= 4;
          if (!going) await sleep(100);
        }
        if (!going) {
          const res = await child;
          if (attempt < 30 && res.exitCode === 3) {
            await sleep(1000);
            continue; // the survivors still claimed a quorum: retried, as runFailover does
          }
          throw new Error(`the failover never got going: ${res.stdout}\n${res.stderr}`);
        }
        child.kill('SIGINT');
        r = await child;
        break;
      }
      const out = `${String(r.stdout)}\n${String(r.stderr)}`;
      // Killed by the signal (no handler) the shell sees 128 + 2; a handler that stops cleanly exits 130 itself.
      const code = r.exitCode ?? (r.signal === 'SIGINT' ? 130 : -1);
      log(`after Ctrl-C: exit ${code} (signal ${r.signal ?? 'none'}); output: ${out.trim().slice(-300) || '(none)'}`);
      expect(code, out).toBe(130);
      expect(r.signal, 'dcfail handled the signal (exited on its own)').toBeUndefined();
      expect(out).toMatch(/interrupted|stopped/i);
      expect(out).toMatch(/already done: \d+ of \d+ steps/);
      expect(out).toMatch(/dcfail failover/);
      const j = (await journals()).at(-1);
      expect(j.outcome, 'the journal records how the run ended').toBeDefined();
      expect(await localLocks().then((l) => l.filter((x) => x !== '.')), 'local run lock released').toEqual([]);
      expect(nodeLocks(), 'node locks released').toEqual([]);
    },
  );

  it(
    'item 11: a second Ctrl-C abandons a verification under way (10 min budget): out in seconds, said unverified, locks released',
    { timeout: 180_000 },
    async () => {
      // The interrupted failover continues, with service starts that start nothing: the first
      // start's verification would wait its whole budget.
      const calls = join(TOPOS, 'nostart-calls');
      const nostart = join(TOPOS, 'nostart.sh');
      await writeFile(nostart, `#!/bin/sh\necho "$@" >> ${calls}\nexit 0\n`, { mode: 0o755 });
      const idle = await topologyCopy(lab, TOPOS, 'nostart', (t) => {
        t.hooks.fence = { madrid: `${DIR}/bin/fence madrid` };
        t.services.commands.start = `${nostart} start {node} {unit}`;
        t.services.commands.restart = `${nostart} restart {node} {unit}`;
      });
      const child = spawnDcfail(failoverArgs(idle, ['--verify-timeout', '10m']));
      let ended = false;
      void child.finally(() => (ended = true));
      await waitFor('a service start', async () => ended || existsSync(calls), 120_000, 100);
      expect(ended, 'the run reached a service start').toBe(false);
      await sleep(1500); // now polling the start's verification
      child.kill('SIGINT');
      await sleep(1000);
      expect(ended, 'one Ctrl-C waits for the step under way').toBe(false);
      const t0 = Date.now();
      child.kill('SIGINT');
      const r = await child;
      const waited = Date.now() - t0;
      const out = `${String(r.stdout)}\n${String(r.stderr)}`;
      log(`second Ctrl-C: exit ${r.exitCode} after ${secs(waited)}: ${out.trim().slice(-300)}`);
      expect(r.exitCode, out).toBe(130);
      expect(waited, 'the verification was abandoned, not waited for').toBeLessThan(20_000);
      expect(out).toMatch(/abandon/i);
      expect(out).toMatch(/not known/i);
      expect(out).toMatch(/dcfail failover/);
      const j = (await journals()).at(-1);
      expect(j.outcome).toBe('interrupted');
      expect(await localLocks().then((l) => l.filter((x) => x !== '.')), 'local run lock released').toEqual([]);
      expect(nodeLocks(), 'node locks released').toEqual([]);
    },
  );

  it(
    'item 6: `--verify-timeout 90s` means 90 seconds, and a real failover completes with it',
    {
      timeout: 180_000,
    },
    async () => {
      const r = await runFailover(fast, ['--verify-timeout', '90s']);
      log(`failover --verify-timeout 90s: exit ${r.exitCode}, ${r.json?.steps?.length} steps journalled`);
      if (r.exitCode !== 0) {
        const again = await runFailover(fast);
        expect(again.exitCode, `the recovery run: ${describeRun(again)}`).toBe(0);
      }
      expect(r.exitCode, describeRun(r)).toBe(0);
    },
  );

  it(
    'item 13: a second `failover --to secondary` says it is already failed over (when, which run) and changes nothing',
    {
      timeout: 120_000,
    },
    async () => {
      // The failover that did it: the run that wrote the marker (interrupted, item 11) or the one that finished it.
      const runs = (await journals())
        .filter((j) => j.runbook === 'failover' && stepsDone(j).length > 0)
        .map((j) => j.runId as string);
      expect(runs.length, 'failover runs that changed something').toBeGreaterThan(0);
      const fencesBefore = (await readFile(FENCE_CALLS, 'utf8')).split('\n').filter(Boolean).length;
      const filesBefore = await configFiles(secondaryNodes(lab));
      const markerBefore = await markerOf(secondaryNodes(lab)[0]!);
      const r = await dcfail(failoverArgs(fast));
      log(`second failover: exit ${r.exitCode}: ${r.stdout.split('\n').slice(0, 3).join(' | ')}`);
      expect(r.exitCode, describeRun(r)).toBe(0);
      expect(r.stdout).toMatch(/already failed over/i);
      expect(
        runs.some((id) => r.stdout.includes(id)),
        `names one of the runs ${runs.join(', ')}`,
      ).toBe(true);
      expect(r.stdout, 'no data-loss warning again').not.toMatch(/forced recovery|writes committed only/i);
      expect(r.stdout, 'no new time to recovery').not.toMatch(/time to recovery/i);
      const fencesAfter = (await readFile(FENCE_CALLS, 'utf8')).split('\n').filter(Boolean).length;
      expect(fencesAfter, 'the fence hook did not run again').toBe(fencesBefore);
      expect(await configFiles(secondaryNodes(lab))).toEqual(filesBefore);
      expect(await markerOf(secondaryNodes(lab)[0]!)).toEqual(markerBefore);
    },
  );

  it(
    'item 7: `failover --to main` on a cluster failed over to barcelona: says so, points to `dcfail failback`, non-zero',
    {
      timeout: 60_000,
    },
    async () => {
      const r = await dcfail(['failover', '--to', 'main', '--yes', '-t', fast]);
      log(`failover --to main: exit ${r.exitCode}: ${r.stdout.trim().slice(0, 300)}`);
      expect(r.exitCode, describeRun(r)).not.toBe(0);
      expect(both(r)).toMatch(/failed over to barcelona/i);
      expect(both(r)).toMatch(/dcfail failback/);
      expect(both(r)).not.toMatch(/madrid keeps every quorum|Nothing to change|barcelona is lost/i);
    },
  );
});

describe('main returns', () => {
  it(
    'items 8 and 12: one returning node unreachable: plan failback is not safe; failback names the node and says nothing was changed',
    {
      timeout: 180_000,
    },
    async () => {
      await reviveDc('main', { dir: DIR });
      const m2 = mainNodes(lab)[1]!;
      for (const n of mainNodes(lab))
        await waitFor(
          `sshd of ${n.name} answers`,
          async () => (await sshRun(lab.layout, n, 'true')).exitCode === 0,
          30_000,
          500,
        );
      // master-2 drops off the network (its own address only, like kill-dc does per DC).
      for (const d of ['-d', '-s']) await sh('iptables', ['-I', 'OUTPUT', d, m2.address, '-j', 'DROP']);
      try {
        const filesBefore = await configFiles(lab.nodes);
        const plan = await dcfail(['plan', 'failback', '-t', fast]);
        log(
          `plan failback with master-2 unreachable: exit ${plan.exitCode}: ${(plan.stdout.match(/Verdict:.*/) ?? [''])[0]}`,
        );
        const r = await dcfail(failbackArgs(fast));
        log(`failback with master-2 unreachable: exit ${r.exitCode}: ${both(r).trim().slice(-400)}`);

        expect(plan.stdout, describeRun(plan)).not.toMatch(/Verdict:\s*safe/i);
        expect(plan.exitCode).not.toBe(0);
        expect(both(plan)).toMatch(/master-2/);

        // Undetermined (1) or refused (3, as prepareFailback's own 'unreachable' refusal): either way named and untouched.
        expect([1, 3], describeRun(r)).toContain(r.exitCode);
        expect(both(r)).toMatch(/master-2/);
        expect(both(r)).toMatch(/nothing (was )?changed|nothing touched/i);
        expect(both(r)).toMatch(/needs every node|reachable|bring .*master-2/i);
        expect(both(r).trim().split('\n').length, 'more than one bare line').toBeGreaterThan(1);
        expect(await configFiles(lab.nodes)).toEqual(filesBefore);
        expect(await markerOf(secondaryNodes(lab)[0]!)).not.toBeNull();
      } finally {
        for (const d of ['-d', '-s'])
          await sh('iptables', ['-D', 'OUTPUT', d, m2.address, '-j', 'DROP']).catch(() => undefined);
      }
    },
  );

  it(
    'item 10: a failback stopped halfway: status is MIXED and not exit 0; a re-run completes and status is then 0',
    {
      timeout: 300_000,
    },
    async () => {
      // Killed once the survivors' ZooKeeper files hold the full ensemble again: halfway, files of both kinds.
      const child = spawnDcfail(failbackArgs(fast));
      await untilJournal((j) => j.runbook === 'failback' && stepsDone(j).length >= 28, 120_000);
      child.kill('SIGKILL');
      await child;
      const s = await dcfail(['status', '-t', fast, '--json']);
      log(`status after a failback killed halfway: exit ${s.exitCode}, mode ${s.json?.mode}`);
      expect(s.json?.mode).toBe('mixed');
      expect(s.exitCode, describeRun(s)).not.toBe(0);
      const again = await dcfail(failbackArgs(fast));
      expect(again.exitCode, describeRun(again)).toBe(0);
      const after = await dcfail(['status', '-t', fast, '--json']);
      expect(after.json?.mode).toBe('normal');
      expect(after.exitCode).toBe(0);
    },
  );
});
