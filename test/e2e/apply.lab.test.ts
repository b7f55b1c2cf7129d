/**
 * Saved plans against the 3-master lab: `plan --out` records a fingerprint of what it relied on;
 * `apply` executes exactly its steps, refuses (exit 3) once the cluster no longer matches, resumes
 * where an interrupted apply stopped, and refuses an offline plan (exit 2).
 */
process.env['DCFAIL_LAB_NET'] = '4';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { killDc, labReset, type Lab } from '../../lab/lab.js';
import {
  dcfail,
  describeRun,
  errorCode,
  mesosView,
  secondaryNodes,
  spawnDcfail,
  useE2eLab,
  waitSurvivorsLostQuorum,
} from '../support/e2e.js';

let lab: Lab;
let fast: string;
const { topos: TOPOS, dir: DIR } = useE2eLab({ tag: 'apply', masters: 3, label: 'e2e apply' }, (l, f) => {
  lab = l;
  fast = f;
});

async function killMain(): Promise<void> {
  await labReset({ dir: DIR });
  await killDc('main', { dir: DIR });
  await waitSurvivorsLostQuorum(secondaryNodes(lab));
}

async function savePlan(name: string): Promise<string> {
  const out = join(TOPOS, `${name}.json`);
  const r = await dcfail(['plan', 'failover', '--to', 'secondary', '-t', fast, '--out', out]);
  expect(r.exitCode, describeRun(r)).toBe(0);
  return out;
}

describe('dcfail plan --out and dcfail apply', () => {
  it('applies exactly the saved steps, then reports the plan as applied', { timeout: 240_000 }, async () => {
    await killMain();
    const file = await savePlan('fresh');
    const saved = JSON.parse(await readFile(file, 'utf8')) as {
      format: string;
      fingerprint: string;
      plan: { mode: string; steps: { id: string }[] };
    };
    expect(saved.format).toBe('dcfail-plan/1');
    expect(saved.plan.mode).toBe('online');
    expect(saved.fingerprint).toMatch(/^sha256:[0-9a-f]{64}$/);

    const r = await dcfail(['apply', file, '-t', fast, '--yes', '--json', '--verify-timeout', '30000']);
    expect(r.exitCode, describeRun(r)).toBe(0);
    const out = r.json as { outcome: string; steps: { id: string; status: string }[] };
    expect(out.outcome).toBe('done');
    expect(out.steps.map((x) => x.id).sort()).toEqual(saved.plan.steps.map((x) => x.id).sort());
    expect((await mesosView(secondaryNodes(lab))).quorum).toBe(1);

    const again = await dcfail(['apply', file, '-t', fast, '--yes']);
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/every step of this plan was applied already/);
  });

  it('refuses a stale plan (exit 3) and changes nothing', { timeout: 240_000 }, async () => {
    await killMain();
    const file = await savePlan('stale');
    // The cluster moves on: someone edits MESOS_QUORUM on the survivor by hand.
    const env = secondaryNodes(lab)[0]!.paths.mesosEnvFile;
    const text = await readFile(env, 'utf8');
    await writeFile(env, text.replace(/^MESOS_QUORUM=.*$/m, 'MESOS_QUORUM=7'));
    const r = await dcfail(['apply', file, '-t', fast, '--yes', '--json']);
    expect(r.exitCode, describeRun(r)).toBe(3);
    expect(errorCode(r)).toBe('stale-plan');
    expect(r.stderr).toMatch(/master-3: was .*"mesosQuorum":"2".*now .*"mesosQuorum":"7"/);
    expect(await readFile(env, 'utf8')).toMatch(/^MESOS_QUORUM=7$/m);
    await writeFile(env, text);
  });

  it('resumes an interrupted apply at the first step not done', { timeout: 300_000 }, async () => {
    await killMain();
    const file = await savePlan('resume');
    const saved = JSON.parse(await readFile(file, 'utf8')) as { plan: { steps: { id: string }[] } };
    // kill -9 once four steps reported done.
    const child = spawnDcfail(['apply', file, '-t', fast, '--yes', '--verify-timeout', '30000']);
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
    const r = await dcfail(['apply', file, '-t', fast, '--yes', '--json', '--verify-timeout', '30000']);
    expect(r.exitCode, describeRun(r)).toBe(0);
    expect(r.stderr).toMatch(/resuming the saved plan: \d+ of \d+ steps were done before/);
    const ran = (r.json as { steps: { id: string }[] }).steps.map((x) => x.id);
    expect(ran.length).toBeLessThan(saved.plan.steps.length);
    expect((await mesosView(secondaryNodes(lab))).quorum).toBe(1);
  });

  it('refuses an offline plan (exit 2): it observed nothing', async () => {
    const r = await dcfail(['plan', 'failover', '--to', 'secondary', '--offline', '-t', fast, '--json']);
    const file = join(TOPOS, 'offline.json');
    await writeFile(file, r.stdout);
    const a = await dcfail(['apply', file, '-t', fast, '--yes']);
    expect(a.exitCode).toBe(2);
    expect(a.stderr).toMatch(/an offline plan observed nothing and cannot be applied/);
  });
});
