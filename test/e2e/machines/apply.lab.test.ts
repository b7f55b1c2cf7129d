/**
 * Saved plans on the machines lab (3 masters, DC/OS 2.2 units, lab instance 8): `plan --out`
 * records a fingerprint of what it relied on; `apply` executes exactly its steps, refuses (exit 3)
 * once the cluster no longer matches and changes nothing, resumes where an interrupted apply
 * stopped, and refuses an offline plan (exit 2).
 *
 * Time scale 0.25 (every stand-in timer and unit RestartSec x 0.25; ZooKeeper's tickTime and
 * syncLimit and etcd's own timers stay real): these tests check what apply decides and in which
 * order it acts, not how long DC/OS takes, and the file must fit its CI budget.
 *
 * One lab for the file: the first test fails over; the second starts from a reset lab (fresh disks)
 * and leaves madrid powered off and the cluster unchanged; the third fails over from there.
 */
import { describe, expect, it } from 'vitest';
import { mkdtempSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { execa } from 'execa';
import { labExec, labReset, powerOff, powerOn } from '../../../lab/machines/lab.js';
import { DCOS_PATHS } from '../../../lab/machines/layout.js';
import { dcfail, describeRun, errorCode, secs, spawnDcfail } from '../../support/e2e.js';
import {
  mastersOf,
  mesosRecovered,
  sh,
  topologyFor,
  untilSurvivorsLostQuorum,
  useMachinesE2e,
  writeFenceAndHold,
} from '../../support/machines-e2e.js';

const e = useMachinesE2e({
  instance: 8,
  tag: 'm-e2e-apply',
  masters: 3,
  dcos: '2.2',
  label: 'e2e apply',
  timeScale: 0.25,
});
const TOPOS = mkdtempSync(join(tmpdir(), 'dcfail-m-e2e-apply-topo-'));
let topology = '';

async function loseMain(): Promise<void> {
  const lab = e.lab();
  await powerOff('madrid', { dir: lab.dir });
  const ms = await untilSurvivorsLostQuorum(mastersOf(lab, 'barcelona'));
  e.log(`power cut of madrid: the survivor reported no quorum after ${secs(ms)}`);
}

async function savePlan(name: string): Promise<string> {
  const out = join(TOPOS, `${name}.json`);
  const r = await dcfail(['plan', 'failover', '--to', 'secondary', '-t', topology, '--out', out]);
  expect(r.exitCode, describeRun(r)).toBe(0);
  return out;
}

async function survivorQuorum(): Promise<number> {
  return (await mesosRecovered(mastersOf(e.lab(), 'barcelona'))).quorum;
}

describe('dcfail plan --out and dcfail apply', () => {
  it('applies exactly the saved steps, then reports the plan as applied', { timeout: 240_000 }, async () => {
    // From: normal (fresh lab). Leaves: failed over to barcelona, madrid powered off.
    topology = await topologyFor(e.lab(), TOPOS, 'e2e');
    await loseMain();
    const file = await savePlan('fresh');
    const saved = JSON.parse(await readFile(file, 'utf8')) as {
      format: string;
      fingerprint: string;
      plan: { mode: string; steps: { id: string }[] };
    };
    expect(saved.format).toBe('dcfail-plan/1');
    expect(saved.plan.mode).toBe('online');
    expect(saved.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);

    const r = await e.timed('dcfail apply', () =>
      dcfail(['apply', file, '-t', topology, '--yes', '--json', '--verify-timeout', '30000']),
    );
    expect(r.exitCode, describeRun(r)).toBe(0);
    const out = r.json as { outcome: string; steps: { id: string; status: string }[] };
    expect(out.outcome).toBe('done');
    expect(out.steps.map((x) => x.id).sort()).toEqual(saved.plan.steps.map((x) => x.id).sort());
    expect(await survivorQuorum()).toBe(1);

    const again = await dcfail(['apply', file, '-t', topology, '--yes']);
    expect(again.exitCode, describeRun(again)).toBe(0);
    expect(again.stdout).toMatch(/every step of this plan was applied already/);
  });

  it('refuses a stale plan (exit 3) and changes nothing', { timeout: 240_000 }, async () => {
    // From: a reset lab. Leaves: madrid powered off, nothing failed over.
    const lab = e.lab();
    await e.timed('lab reset (fresh disks, every cluster ready)', () => labReset({ dir: lab.dir }));
    await loseMain();
    const file = await savePlan('stale');
    // The cluster moves on: someone edits MESOS_QUORUM on the survivor by hand (through pkgpanda's
    // link, as an editor writing the file does).
    const m3 = mastersOf(lab, 'barcelona')[0]!.name;
    const text = await sh(lab, m3, `cat ${DCOS_PATHS.mesosEnvFile}`);
    const write = async (content: string) => {
      const w = await labExec(m3, ['/bin/sh', '-c', `cat > ${DCOS_PATHS.mesosEnvFile}`], {
        dir: lab.dir,
        input: content,
      });
      expect(w.exitCode, w.stderr).toBe(0);
    };
    await write(text.replace(/^MESOS_QUORUM=.*$/m, 'MESOS_QUORUM=7'));
    const r = await dcfail(['apply', file, '-t', topology, '--yes', '--json']);
    expect(r.exitCode, describeRun(r)).toBe(3);
    expect(errorCode(r)).toBe('stale-plan');
    expect(r.stderr).toMatch(/master-3: was .*"mesosQuorum":"2".*now .*"mesosQuorum":"7"/);
    expect(await sh(lab, m3, `cat ${DCOS_PATHS.mesosEnvFile}`)).toMatch(/^MESOS_QUORUM=7$/m);
    await write(text);
  });

  it('resumes an interrupted apply at the first step not done', { timeout: 300_000 }, async () => {
    // From: madrid powered off, nothing failed over. Leaves: failed over to barcelona.
    const file = await savePlan('resume');
    const saved = JSON.parse(await readFile(file, 'utf8')) as { plan: { steps: { id: string }[] } };
    // kill -9 once four steps reported done.
    const child = spawnDcfail(['apply', file, '-t', topology, '--yes', '--verify-timeout', '30000']);
    let oks = 0;
    let buf = '';
    child.stdout!.on('data', (d: Buffer) => {
      buf += d.toString('utf8');
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const l of lines) if (l.startsWith('  ok ') && ++oks === 4) child.kill('SIGKILL');
    });
    await child;
    expect(oks).toBeGreaterThanOrEqual(4);
    const r = await e.timed('dcfail apply, resumed', () =>
      dcfail(['apply', file, '-t', topology, '--yes', '--json', '--verify-timeout', '30000']),
    );
    expect(r.exitCode, describeRun(r)).toBe(0);
    expect(r.stderr).toMatch(/resuming the saved plan: \d+ of \d+ steps were done before/);
    const ran = (r.json as { steps: { id: string }[] }).steps.map((x) => x.id);
    expect(ran.length).toBeLessThan(saved.plan.steps.length);
    expect(await survivorQuorum()).toBe(1);
  });

  it(
    'with no Mesos leader among the survivors, the failback plan copies the most advanced replica as `mesos-log read` tells it on the stopped master',
    { timeout: 240_000 },
    async () => {
      // From: failed over to barcelona, madrid powered off. Leaves: madrid powered on with its quorum units held
      // (as a fence-and-hold hook leaves it), master-3's Mesos master running again.
      const lab = e.lab();
      // A failback plan needs madrid's own files (the failover could not read them): madrid back, its units held.
      await execa(await writeFenceAndHold(lab), ['madrid']);
      await powerOn('madrid', { dir: lab.dir });
      await sh(lab, 'master-3', 'systemctl stop dcos-mesos-master');
      try {
        // The truth on disk: the stand-in's replica keeps one file per position, its learned flag inside.
        const end = Number(
          (
            await sh(lab, 'master-3', `ls -1 ${DCOS_PATHS.mesosWorkDir}/replicated_log/positions | sort | tail -n 1`)
          ).replace(/\.json\s*$/, ''),
        );
        expect(end).toBeGreaterThan(0);
        const r = await dcfail(['plan', 'failback', '-t', topology, '--json']);
        const plan = r.json as {
          steps: { action: string; log?: string; from?: string }[];
          refusals: { code: string; message: string }[];
          warnings: { code: string; message: string }[];
        };
        expect(plan, describeRun(r)).toBeDefined();
        e.log(
          `plan failback: exit ${r.exitCode}, ${plan.steps.length} steps, refusals ${JSON.stringify(plan.refusals)}`,
        );
        const copies = plan.steps.filter((x) => x.action === 'copy-replicated-log');
        expect(copies.map((c) => c.log).sort()).toEqual(['overlay', 'overlay', 'registry', 'registry']);
        expect(new Set(copies.map((c) => c.from))).toEqual(new Set(['master-3']));
        const said = plan.warnings.filter((w) => w.code === 'mesos-log-source').map((w) => w.message);
        e.log(said.join('\n'));
        expect(said).toHaveLength(2);
        expect(said[0]).toContain(
          `the registry log is copied from master-3, the most advanced replica by \`mesos-log read\` (master-3: last learned position ${end}, end ${end})`,
        );
        expect(said[1]).toMatch(
          /the overlay log is copied from master-3, the most advanced replica .*master-3: last learned position \d+/,
        );
      } finally {
        await sh(lab, 'master-3', 'systemctl start dcos-mesos-master');
      }
      // Running again, the master holds its replica's lock and leads: the plan copies from the leader, with no such words.
      await mesosRecovered(mastersOf(lab, 'barcelona'), 180_000);
      const again = await dcfail(['plan', 'failback', '-t', topology, '--json']);
      const warned = (again.json as { warnings: { code: string }[] }).warnings.map((w) => w.code);
      expect(warned, describeRun(again)).not.toContain('mesos-log-source');
    },
  );

  it('refuses an offline plan (exit 2): it observed nothing', async () => {
    const r = await dcfail(['plan', 'failover', '--to', 'secondary', '--offline', '-t', topology, '--json']);
    const file = join(TOPOS, 'offline.json');
    await writeFile(file, r.stdout);
    const a = await dcfail(['apply', file, '-t', topology, '--yes']);
    expect(a.exitCode).toBe(2);
    expect(a.stderr).toMatch(/an offline plan observed nothing and cannot be applied/);
  });
});
