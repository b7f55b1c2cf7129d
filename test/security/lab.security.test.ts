/**
 * Issue 13, the attacks that need a whole cluster: one 3-master machines lab (lab/README.md: real
 * systemd machines with DC/OS's units and paths, etcd, ZooKeeper, the Mesos stand-in; lab instance
 * 6), the built binary run as an operator would, over SSH.
 *  - item 1: a saved plan with a valid fingerprint and a step of the attacker's own (a root
 *    write of a file dcfail never plans, on master-3), applied fresh and applied as a "resumed" run;
 *  - item 2: `plan --out` and links planted at its temporary name;
 *  - item 3: a topology whose `services.commands.isActive` template runs an arbitrary program
 *    as root on every node during the read-only `status`;
 *  - item 9: the survivors' copies of a replica (private, root's, no setuid bit kept);
 *  - item 10: a failover marker on a node (the node's answer, not ours) with a bad field.
 * Time scale 0.2 (lab/machines/timers.ts): these tests check what dcfail refuses and what it
 * writes, not how long DC/OS takes; ZooKeeper's own timers stay DC/OS's.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync } from 'node:fs';
import { lstat, mkdir, readFile, symlink, writeFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { powerOff } from '../../lab/machines/lab.js';
import { dcfail, describeRun, runFailover } from '../support/e2e.js';
import { labTopologyCopy, mastersOf, sh, untilLossSettled, useMachinesE2e, writeIn } from '../support/machines-e2e.js';

const e = useMachinesE2e({
  instance: 6,
  tag: 'm-badday-sec',
  masters: 3,
  dcos: '2.2',
  label: 'security lab',
  timeScale: 0.2,
});
const TOPOS = mkdtempSync(join(tmpdir(), 'dcfail-sec-topo-'));
/** The binary useMachinesE2e built for this file. */
const BIN = `${e.dir}-build/dist/bin/dcfail.js`;
/** A directory of master-3's own, for the files an attacker's step would write as root. */
const VICTIMS = '/var/lib/dcfail-e2e-victims';

let fast: string;

beforeAll(async () => {
  // Shorter probe budgets than the lab's (2 s x 3, SSH 5 s): every run here meets madrid dark.
  fast = await labTopologyCopy(e.lab(), 'fast', (t) => {
    t.health = { ...t.health, timeoutMs: 1000, attempts: 2 };
    t.ssh = { ...t.ssh, connectTimeoutMs: 2000 };
  });
});

const m3 = () => mastersOf(e.lab(), 'barcelona')[0]!.name;
const readIn = (node: string, path: string) => sh(e.lab(), node, `cat ${path}`);

describe('item 3: command templates run only service managers', () => {
  it('a status with an isActive template of any program runs nothing of it on the nodes (exit 2)', async () => {
    const planted = '/tmp/pwned-by-template';
    const evil = await labTopologyCopy(e.lab(), 'evil-template', (t) => {
      // Without the opt-in (services.commands.allowAnyProgram) the issue asks for.
      t.services = { ...t.services, commands: { ...t.services?.commands, isActive: `/usr/bin/touch ${planted}` } };
    });
    const r = await dcfail(['status', '-t', evil]);
    for (const n of e.lab().layout.nodes)
      expect(
        await sh(e.lab(), n.name, `test -e ${planted} && echo planted || echo absent`),
        `status ran the topology's template as root on ${n.name}\n${describeRun(r)}`,
      ).toBe('absent\n');
    expect(r.exitCode, describeRun(r)).toBe(2);
    expect(r.stderr).toMatch(/services\.commands\.isActive/);
  });
});

describe('item 10: the failover marker read back from a node is checked', () => {
  it('a marker whose saved files hold a line break is refused naming the node and the field', async () => {
    const node = m3();
    const markerPath = '/var/lib/dcfail/failover-marker.json';
    // A node's answer steering what failback writes into every node's files: an extra env line.
    const marker = {
      runId: 'r-evil',
      lostDc: 'madrid',
      at: new Date().toISOString(),
      operator: 'mallory',
      original: { 'master-1': { mesosQuorum: '2\nLD_PRELOAD=/tmp/evil.so' } },
      point: {},
    };
    await writeIn(e.lab(), node, markerPath, JSON.stringify(marker));
    try {
      const r = await dcfail(['plan', 'failback', '-t', fast]);
      expect(r.exitCode, describeRun(r)).toBe(3);
      expect(r.stderr).toMatch(new RegExp(node));
      expect(r.stderr).toMatch(/original\.master-1\.mesosQuorum/);

      // A marker of the wrong shape is refused too, not taken for "no failover".
      await writeIn(e.lab(), node, markerPath, JSON.stringify({ ...marker, original: 42 }));
      const r2 = await dcfail(['plan', 'failback', '-t', fast]);
      expect(r2.exitCode, describeRun(r2)).toBe(3);
      expect(r2.stderr).toMatch(new RegExp(node));
      expect(r2.stderr).toMatch(/original/);
    } finally {
      await sh(e.lab(), node, `rm -f ${markerPath}`);
    }
  }, 60_000);
});

describe('item 1: apply executes only the steps dcfail plans now', () => {
  let planFile: string;
  let plan: any;
  const victim = `${VICTIMS}/authorized_keys`;
  const victim2 = `${VICTIMS}/crontab`;

  beforeAll(async () => {
    await powerOff('madrid', { dir: e.lab().dir });
    e.log(`survivors lost quorum after ${(await untilLossSettled(mastersOf(e.lab(), 'barcelona'))) / 1000} s`);
    planFile = join(TOPOS, 'genuine.json');
    // For item 9: a replica the survivor protects with a 0700 parent, holding a setuid file of a
    // foreign owner (as an archive copied in could); the run's copies must keep both in check.
    await sh(
      e.lab(),
      m3(),
      [
        'chmod 0700 /var/lib/dcos/exhibitor',
        "printf '#!/bin/sh\\n' > /var/lib/dcos/exhibitor/zookeeper/planted-suid",
        'chown 1001:1001 /var/lib/dcos/exhibitor/zookeeper/planted-suid',
        'chmod 4755 /var/lib/dcos/exhibitor/zookeeper/planted-suid', // after chown, which clears setuid
      ].join(' && '),
    );
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
    await writeIn(e.lab(), m3(), victim, 'root-owned original\n');
    const tampered = structuredClone(plan);
    tampered.plan.steps.splice(0, 0, injected('0:evil', victim));
    const file = join(TOPOS, 'tampered.json');
    await writeFile(file, JSON.stringify(tampered));
    const r = await dcfail(['apply', file, '-t', fast, '--yes', '--verify-timeout', '30000']);
    expect(await readIn(m3(), victim), describeRun(r)).toBe('root-owned original\n');
    expect(r.exitCode, describeRun(r)).toBe(3);
    expect(r.stderr).toMatch(/0:evil/);
    expect(await sh(e.lab(), m3(), 'ls /var/lib/dcfail/failover-marker.json 2>&1 || true'), 'no run began').toMatch(
      /No such file/,
    );
  }, 180_000);

  it('item 2: plan --out of the binary does not write through links planted at its predictable temp name', async () => {
    const victim3 = join(TOPOS, 'victim-profile');
    await writeFile(victim3, 'export PATH=/usr/bin\n');
    const out = join(TOPOS, 'shared-out.json');
    // `.shared-out.json.<pid>.<n>.tmp`: the shell execs dcfail, so its pid is known before dcfail starts.
    const child = spawn(
      '/bin/sh',
      [
        '-c',
        'read _; exec "$0" "$@"',
        process.execPath,
        BIN,
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
    await writeIn(e.lab(), m3(), victim2, 'root crontab\n');
    const file = join(TOPOS, 'tampered-resume.json');
    await writeFile(file, text);
    // A progress record that says every genuine step is done: only the attacker's step is left.
    const progress = join(e.state, 'applied', `${createHash('sha256').update(text).digest('hex').slice(0, 32)}.json`);
    await mkdir(join(e.state, 'applied'), { recursive: true });
    await writeFile(progress, JSON.stringify({ done: plan.plan.steps.map((s: { id: string }) => s.id) }));
    const r = await dcfail(['apply', file, '-t', fast, '--yes', '--verify-timeout', '30000']);
    expect(await readIn(m3(), victim2), `the resumed apply wrote the victim\n${describeRun(r)}`).toBe('root crontab\n');
    expect(r.exitCode, describeRun(r)).toBe(3);
    expect(r.stderr).toMatch(/99:evil/);
  }, 180_000);
});

interface Entry {
  path: string;
  mode: number;
  uid: number;
  openToAll: boolean;
}

/** Every entry under `root` on a machine: path, mode, owner; and whether anyone may read it (o+r, and o+x on every directory above). */
async function walkIn(node: string, root: string): Promise<Entry[]> {
  const lab = e.lab();
  const modeOf = async (p: string) => parseInt((await sh(lab, node, `stat -c %a '${p}'`)).trim(), 8);
  const listed = await sh(lab, node, `find '${root}' -mindepth 1 -printf '%m\\t%U\\t%p\\n'`);
  const dirOpen = new Map<string, boolean>();
  const ancestorsOpen = async (p: string): Promise<boolean> => {
    const parts = p.split('/').slice(0, -1);
    for (let i = 1; i <= parts.length; i++) {
      const d = parts.slice(0, i).join('/') || '/';
      if (!dirOpen.has(d)) dirOpen.set(d, ((await modeOf(d)) & 0o001) !== 0);
      if (!dirOpen.get(d)) return false;
    }
    return true;
  };
  const out: Entry[] = [];
  for (const line of listed.split('\n').filter((l) => l !== '')) {
    const [m, u, path] = line.split('\t') as [string, string, string];
    const mode = parseInt(m, 8);
    out.push({ path, mode, uid: Number(u), openToAll: (mode & 0o004) !== 0 && (await ancestorsOpen(path)) });
  }
  return out;
}

describe('item 9: replica copies stay private and owned by root', () => {
  it("the survivors' copies of a replica behind a 0700 parent are readable by no one else, with no setuid file or foreign owner", async () => {
    const node = m3();
    const copies = '/var/lib/dcfail/copies';
    const has = async () => (await sh(e.lab(), node, `test -d ${copies} && echo yes || echo no`)).trim() === 'yes';
    // The tampered applies ran nothing: a genuine failover makes the copies.
    expect(await has(), 'no copies before a genuine run').toBe(false);
    const r = await runFailover(fast, [], false);
    expect(r.exitCode, describeRun(r)).toBe(0);
    const entries = (await walkIn(node, copies)).filter((x) => x.path.includes('/exhibitor/zookeeper'));
    expect(entries.length, 'the run copied the ZooKeeper replica').toBeGreaterThan(0);
    expect(
      entries.some((x) => x.path.endsWith('/planted-suid')),
      'the planted file was copied',
    ).toBe(true);
    const bad = entries
      .filter((x) => x.openToAll || (x.mode & 0o6000) !== 0 || x.uid !== 0)
      .map(
        (x) =>
          `${x.path.slice(copies.length)} mode ${x.mode.toString(8)} uid ${x.uid}${x.openToAll ? ' readable by anyone' : ''}`,
      );
    expect(bad).toEqual([]);
  }, 180_000);
});
