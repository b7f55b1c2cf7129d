/**
 * Issue 13, the attacks that need a whole cluster: the 3-master lab on 127.6.x.x (real sshd,
 * etcd, ZooKeeper, the Mesos stand-in), the built binary run as an operator would.
 *  - item 1: a saved plan with a valid fingerprint and a step of the attacker's own (a root
 *    write of a file dcfail never plans), applied fresh and applied as a "resumed" run;
 *  - item 3: a topology whose `services.commands.isActive` template runs an arbitrary program
 *    as root on every node during the read-only `status`;
 *  - item 10: a failover marker on a node (the node's answer, not ours) with a bad field.
 * Each asserts the safe behaviour the issue asks for; today each fails (see FIXES.md).
 */
process.env['DCFAIL_LAB_NET'] = '6';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, readdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killDc, labDown, labUp, type Lab } from '../../lab/lab.js';
import { waitForForeignLab } from '../support/server-truth.js';
import {
  buildPrivately,
  dcfail,
  describeRun,
  REPO,
  secondaryNodes,
  secs,
  runFailover,
  topologyCopy,
  waitSurvivorsLostQuorum,
} from '../support/e2e.js';

const DIR = `${REPO}/.lab-hardening-lab`;
process.env['DCFAIL_LAB_DIR'] = DIR;
const STATE = mkdtempSync(join(tmpdir(), 'dcfail-sec-state-'));
process.env['DCFAIL_STATE_DIR'] = STATE;
const TOPOS = mkdtempSync(join(tmpdir(), 'dcfail-sec-topo-'));
const log = (m: string) => console.log(`[security lab] ${m}`);

let lab: Lab;
let fast: string;

beforeAll(async () => {
  await waitForForeignLab(log);
  lab = await labUp({ masters: 3, dir: DIR });
  log(`lab up in ${secs(lab.durationMs)}; dcfail built in ${secs(await buildPrivately(DIR))}`);
  fast = await topologyCopy(lab, TOPOS, 'fast');
  // Copies and markers of an earlier run of this file would stand in for this run's.
  for (const n of lab.nodes) await rm(`${n.root}/var/lib/dcfail`, { recursive: true, force: true });
}, 300_000);

afterAll(async () => {
  await labDown({ dir: DIR });
}, 120_000);

describe('item 3: command templates run only service managers', () => {
  it('a status with an isActive template of any program runs nothing of it on the nodes (exit 2)', async () => {
    const planted = join(DIR, 'pwned-by-template');
    await rm(planted, { force: true });
    const evil = await topologyCopy(lab, TOPOS, 'evil-template', (t) => {
      t.services.commands.isActive = `/usr/bin/touch ${planted}`;
      // Without the opt-in the issue asks for (the lab's own labctl templates will need it).
      for (const k of Object.keys(t.services.commands))
        if (!/^(start|stop|restart|disable|enable|isActive|exists)$/.test(k)) delete t.services.commands[k];
    });
    const r = await dcfail(['status', '-t', evil]);
    // Today: the template passes the schema, status runs it as root through sudo on every node
    // and the file appears.
    expect(existsSync(planted), `status ran the topology's template as root\n${describeRun(r)}`).toBe(false);
    expect(r.exitCode, describeRun(r)).toBe(2);
    expect(r.stderr).toMatch(/services\.commands\.isActive/);
  });
});

describe('item 10: the failover marker read back from a node is checked', () => {
  it('a marker whose saved files hold a line break is refused naming the node and the field', async () => {
    const node = secondaryNodes(lab)[0]!;
    const markerPath = `${node.root}/var/lib/dcfail/failover-marker.json`;
    await mkdir(`${node.root}/var/lib/dcfail`, { recursive: true });
    // A node's answer steering what failback writes into every node's files: an extra env line.
    const marker = {
      runId: 'r-evil',
      lostDc: 'madrid',
      at: new Date().toISOString(),
      operator: 'mallory',
      original: { 'master-1': { mesosQuorum: '2\nLD_PRELOAD=/tmp/evil.so' } },
      point: {},
    };
    await writeFile(markerPath, JSON.stringify(marker));
    try {
      const r = await dcfail(['plan', 'failback', '-t', fast]);
      // Today: the schema takes any string, so the marker steers the plan; a marker of the
      // wrong shape is silently skipped (treated as no failover).
      expect(r.exitCode, describeRun(r)).toBe(3);
      expect(r.stderr).toMatch(new RegExp(node.name));
      expect(r.stderr).toMatch(/original\.master-1\.mesosQuorum/);

      await writeFile(markerPath, JSON.stringify({ ...marker, original: 42 }));
      const r2 = await dcfail(['plan', 'failback', '-t', fast]);
      expect(r2.exitCode, describeRun(r2)).toBe(3);
      expect(r2.stderr).toMatch(new RegExp(node.name));
      expect(r2.stderr).toMatch(/original/);
    } finally {
      await rm(markerPath, { force: true });
    }
  }, 60_000);
});

describe('item 1: apply executes only the steps dcfail plans now', () => {
  let planFile: string;
  let plan: any;
  const victim = join(DIR, 'victim-authorized_keys');
  const victim2 = join(DIR, 'victim-crontab');

  beforeAll(async () => {
    await killDc('main', { dir: DIR });
    await waitSurvivorsLostQuorum(secondaryNodes(lab));
    planFile = join(TOPOS, 'genuine.json');
    // For item 9: a replica the survivor protects with a 0700 parent, holding a setuid file of a
    // foreign owner (as an archive copied in could); the run's copies must keep both in check.
    const zkParent = `${secondaryNodes(lab)[0]!.root}/var/lib/dcos/exhibitor`;
    await chmod(zkParent, 0o700);
    await writeFile(`${zkParent}/zookeeper/planted-suid`, '#!/bin/sh\n', { mode: 0o4755 });
    await chown(`${zkParent}/zookeeper/planted-suid`, 1001, 1001);
    await chmod(`${zkParent}/zookeeper/planted-suid`, 0o4755); // after chown, which clears setuid
    const r = await dcfail(['plan', 'failover', '--to', 'secondary', '-t', fast, '--out', planFile]);
    expect(r.exitCode, describeRun(r)).toBe(0);
    plan = JSON.parse(await readFile(planFile, 'utf8'));
  }, 180_000);

  const injected = (id: string, file: string) => ({
    id,
    cluster: 'mesos',
    node: 'master-3',
    action: 'edit-file',
    file,
    format: 'env',
    changes: { PWNED: 'ssh-ed25519 AAAAattacker' },
    summary: 'harmless looking',
    group: id,
  });

  it('a plan with a valid fingerprint and a step of its own is refused (exit 3) naming that step; nothing runs', async () => {
    await writeFile(victim, 'root-owned original\n');
    const tampered = structuredClone(plan);
    tampered.plan.steps.splice(0, 0, injected('0:evil', victim));
    const file = join(TOPOS, 'tampered.json');
    await writeFile(file, JSON.stringify(tampered));
    const r = await dcfail(['apply', file, '-t', fast, '--yes', '--verify-timeout', '30000']);
    // Today: the fingerprint matches, the confirmation calls the plan safe, and the extra step
    // writes PWNED=... into the victim file as root before the real failover runs.
    expect(await readFile(victim, 'utf8'), describeRun(r)).toBe('root-owned original\n');
    expect(r.exitCode, describeRun(r)).toBe(3);
    expect(r.stderr).toMatch(/0:evil/);
  }, 180_000);

  it('item 2: plan --out of the binary does not write through links planted at its predictable temp name', async () => {
    const victim3 = join(DIR, 'victim-profile');
    await writeFile(victim3, 'export PATH=/usr/bin\n');
    const out = join(TOPOS, 'shared-out.json');
    // `.shared-out.json.<pid>.<n>.tmp`: the shell execs dcfail, so its pid is known before dcfail starts.
    const child = spawn(
      '/bin/sh',
      [
        '-c',
        'read _; exec "$0" "$@"',
        process.execPath,
        `${DIR}/dist/bin/dcfail.js`,
        'plan',
        'failover',
        '--to',
        'secondary',
        '-t',
        fast,
        '--out',
        out,
      ],
      { stdio: ['pipe', 'pipe', 'pipe'], env: { ...process.env, DCFAIL_OPERATOR: 'e2e-test' } },
    );
    for (let n = 1; n <= 5; n++) await symlink(victim3, join(TOPOS, `.shared-out.json.${child.pid}.${n}.tmp`));
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    child.stdout.resume();
    child.stdin.end('go\n');
    const code = await new Promise<number | null>((res) => child.on('exit', (c) => res(c)));
    // Today: the plan (JSON) lands in the victim, and the out file is the planted link.
    expect(await readFile(victim3, 'utf8'), `exit ${code}: ${err}`).toBe('export PATH=/usr/bin\n');
    if (existsSync(out)) {
      expect((await lstat(out)).isSymbolicLink()).toBe(false);
      expect(((await lstat(out)).mode & 0o777).toString(8)).toBe('600');
    }
  }, 60_000);

  it('a resumed apply re-plans too: a step the record does not cover is refused, no fingerprint skipped', async () => {
    const tampered = structuredClone(plan);
    tampered.plan.steps.push(injected('99:evil', victim2));
    const text = JSON.stringify(tampered);
    await writeFile(victim2, 'root crontab\n');
    const file = join(TOPOS, 'tampered-resume.json');
    await writeFile(file, text);
    // A progress record that says every genuine step is done: only the attacker's step is left.
    const progress = join(STATE, 'applied', `${createHash('sha256').update(text).digest('hex').slice(0, 32)}.json`);
    await mkdir(join(STATE, 'applied'), { recursive: true });
    await writeFile(progress, JSON.stringify({ done: plan.plan.steps.map((s: { id: string }) => s.id) }));
    const r = await dcfail(['apply', file, '-t', fast, '--yes', '--verify-timeout', '30000']);
    // Today: a resumed apply skips the fingerprint and runs the one step left, as root.
    expect(await readFile(victim2, 'utf8'), `the resumed apply wrote the victim\n${describeRun(r)}`).toBe(
      'root crontab\n',
    );
    expect(r.exitCode, describeRun(r)).toBe(3);
    expect(r.stderr).toMatch(/99:evil/);
  }, 180_000);
});

/** Every entry under root: path, mode, owner; and whether anyone may read it (o+r and o+x on every directory above). */
async function walk(root: string): Promise<{ path: string; mode: number; uid: number; openToAll: boolean }[]> {
  const out: { path: string; mode: number; uid: number; openToAll: boolean }[] = [];
  const ancestorsOpen = async (p: string): Promise<boolean> => {
    const parts = p.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/') || '/';
      if (((await lstat(d)).mode & 0o001) === 0) return false;
    }
    return true;
  };
  const go = async (d: string): Promise<void> => {
    for (const e of await readdir(d)) {
      const p = join(d, e);
      const st = await lstat(p);
      out.push({
        path: p,
        mode: st.mode & 0o7777,
        uid: st.uid,
        openToAll: (st.mode & 0o004) !== 0 && (await ancestorsOpen(p)),
      });
      if (st.isDirectory()) await go(p);
    }
  };
  await go(root);
  return out;
}

describe('item 9: replica copies stay private and owned by root', () => {
  it("the survivors' copies of a replica behind a 0700 parent are readable by no one else, with no setuid file or foreign owner", async () => {
    const node = secondaryNodes(lab)[0]!;
    const copies = `${node.root}/var/lib/dcfail/copies`;
    if (!existsSync(copies)) {
      // With item 1 fixed the tampered applies ran nothing: a genuine failover makes the copies.
      const r = await runFailover(fast, [], false);
      expect(r.exitCode, describeRun(r)).toBe(0);
    }
    const entries = (await walk(copies)).filter((e) => e.path.includes('/exhibitor/zookeeper'));
    expect(entries.length, 'the run copied the ZooKeeper replica').toBeGreaterThan(0);
    const bad = entries
      .filter((e) => e.openToAll || (e.mode & 0o6000) !== 0 || e.uid !== 0)
      .map(
        (e) =>
          `${e.path.slice(copies.length)} mode ${e.mode.toString(8)} uid ${e.uid}${e.openToAll ? ' readable by anyone' : ''}`,
      );
    // Today: cp -a under 0755 directories: every copied file is world-readable, and the planted
    // file keeps its setuid bit and its owner (uid 1001).
    expect(bad).toEqual([]);
  }, 180_000);
});
