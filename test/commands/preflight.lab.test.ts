/**
 * `dcfail preflight` against the real 3-master lab: everything passes on a fresh lab; then one
 * thing at a time is broken (a node's file, a host key, a hook, the identity file, a unit) and
 * the run must fail with exit 1 on exactly the line that names that host and that check.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { labDown, labUp, type Lab } from '../../lab/lab.js';
import { runCli } from '../../src/cli.js';
import { captureIo } from '../../src/views/io.js';
import type { Check } from '../../src/views/preflight.js';
import { waitForForeignLab } from '../support/server-truth.js';

let lab: Lab;
let tmp: string;

const NODES = ['master-1', 'master-2', 'master-3'];
const NODE_CHECKS = [
  'ssh',
  'sudo -n',
  'file master_count',
  'file mesos-master',
  'file exhibitor',
  'file etcd',
  'unit dcos-exhibitor',
  'unit dcos-mesos-master',
  'unit etcd',
];

async function preflight(topology: string, json = false): Promise<{ code: number; out: string }> {
  const io = captureIo();
  const code = await runCli(['preflight', '-t', topology, ...(json ? ['--json'] : [])], io);
  return { code, out: io.stdout };
}

async function preflightJson(topology: string): Promise<{ code: number; ok: boolean; checks: Check[] }> {
  const r = await preflight(topology, true);
  return { code: r.code, ...(JSON.parse(r.out) as { ok: boolean; checks: Check[] }) };
}

interface Line {
  ok: boolean;
  host: string;
  check: string;
  detail: string;
}

/** The human form: `ok  |FAIL  <host> <check> <detail>`, then one summary line. */
function parseLines(out: string, checks: readonly Check[]): { lines: Line[]; summary: string } {
  const all = out.trimEnd().split('\n');
  const summary = all.pop()!;
  const lines = all.map((l, i) => {
    const c = checks[i]!;
    const m = /^(ok {2}|FAIL) {2}(\S+) +(.+)$/.exec(l);
    if (!m) throw new Error(`not a check line: ${l}`);
    // The check name may hold spaces: read it from the position the JSON form gives.
    const rest = m[3]!;
    expect(rest.startsWith(c.check), `line ${i}: ${l}`).toBe(true);
    return { ok: m[1] === 'ok  ', host: m[2]!, check: c.check, detail: rest.slice(c.check.length).trim() };
  });
  return { lines, summary };
}

/** A copy of the lab topology with `edit` applied, in the test's temp dir. */
async function topologyCopy(name: string, edit: (t: Record<string, any>) => void): Promise<string> {
  const t = parse(await readFile(lab.topologyPath, 'utf8')) as Record<string, any>;
  edit(t);
  const path = join(tmp, `${name}.yaml`);
  await writeFile(path, stringify(t));
  return path;
}

/** Runs preflight on `topology` in both forms; asserts exit 1 and that exactly `failing` fail, named on their lines. */
async function expectOnlyFailing(
  topology: string,
  failing: { host: string; check: string; detail: RegExp }[],
): Promise<Check[]> {
  const j = await preflightJson(topology);
  expect(j.code).toBe(1);
  expect(j.ok).toBe(false);
  const bad = j.checks.filter((c) => !c.ok);
  expect(bad.map((c) => ({ host: c.host, check: c.check }))).toEqual(
    failing.map(({ host, check }) => ({ host, check })),
  );
  for (const [i, f] of failing.entries()) expect(bad[i]!.detail).toMatch(f.detail);

  const h = await preflight(topology);
  expect(h.code).toBe(1);
  const { lines, summary } = parseLines(h.out, j.checks);
  const badLines = lines.filter((l) => !l.ok);
  expect(badLines.map((l) => ({ host: l.host, check: l.check }))).toEqual(
    failing.map(({ host, check }) => ({ host, check })),
  );
  for (const [i, f] of failing.entries()) expect(badLines[i]!.detail).toMatch(f.detail);
  expect(summary).toBe(`preflight: ${failing.length} of ${j.checks.length} checks FAIL`);
  return j.checks;
}

beforeAll(async () => {
  await waitForForeignLab((m) => console.log(m));
  lab = await labUp({ masters: 3 });
  tmp = await mkdtemp(join(tmpdir(), 'dcfail-preflight-'));
});

afterAll(async () => {
  await labDown();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe('dcfail preflight on the lab', () => {
  it('passes every check, one line per check naming host and check, exit 0', async () => {
    const j = await preflightJson(lab.topologyPath);
    expect(j.code).toBe(0);
    expect(j.ok).toBe(true);
    // Hooks the lab's topology declares (its fence hooks), each one checked.
    const hooks =
      (parse(await readFile(lab.topologyPath, 'utf8')) as { hooks?: Record<string, string | Record<string, string>> })
        .hooks ?? {};
    const hookChecks = Object.entries(hooks).flatMap(([k, v]) =>
      typeof v === 'string' ? [`hook ${k}`] : Object.keys(v).map((dc) => `hook fence.${dc}`),
    );
    const expected = [
      { host: 'local', check: 'ssh key' },
      { host: 'local', check: 'known_hosts' },
      ...hookChecks.map((check) => ({ host: 'local', check })),
      // The lab's topology declares no return guard: one line says so, and passes.
      { host: 'local', check: 'return guard' },
      ...NODES.flatMap((host) => NODE_CHECKS.map((check) => ({ host, check }))),
    ];
    expect(j.checks.map(({ host, check }) => ({ host, check }))).toEqual(expected);
    for (const c of j.checks) {
      expect(c.ok, `${c.host} ${c.check}: ${c.detail}`).toBe(true);
      expect(typeof c.detail).toBe('string');
      expect(c.detail).not.toBe('');
    }

    const h = await preflight(lab.topologyPath);
    expect(h.code).toBe(0);
    const { lines, summary } = parseLines(h.out, j.checks);
    expect(lines.map(({ host, check, ok }) => ({ host, check, ok }))).toEqual(
      expected.map((e) => ({ ...e, ok: true })),
    );
    expect(summary).toBe(`preflight: all ${expected.length} checks pass`);
  });

  it('fails on a wrong MESOS_QUORUM on master-2, on that line only', async () => {
    const file = lab.nodes[1]!.paths.mesosEnvFile;
    const original = await readFile(file, 'utf8');
    try {
      await writeFile(file, original.replace(/^MESOS_QUORUM=2$/m, 'MESOS_QUORUM=3'));
      await expectOnlyFailing(lab.topologyPath, [
        { host: 'master-2', check: 'file mesos-master', detail: /MESOS_QUORUM is 3, the topology needs 2/ },
      ]);
    } finally {
      await writeFile(file, original);
    }
    expect((await preflightJson(lab.topologyPath)).code).toBe(0);
  });

  it("fails on master-3's unknown host key (a known_hosts without it)", async () => {
    const m3 = lab.nodes[2]!;
    const knownHosts = join(tmp, 'known_hosts-without-master-3');
    const lines = (await readFile(`${lab.dir}/known_hosts`, 'utf8'))
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith(`${m3.address} `));
    expect(lines).toHaveLength(2);
    await writeFile(knownHosts, `${lines.join('\n')}\n`);
    const topology = await topologyCopy('unknown-host-key', (t) => {
      t['ssh'].knownHostsFile = knownHosts;
    });
    await expectOnlyFailing(topology, [{ host: 'master-3', check: 'ssh', detail: /host key|known/i }]);
  });

  it("fails on a file that does not exist (master-1's exhibitor env file moved in the topology)", async () => {
    const topology = await topologyCopy('missing-file', (t) => {
      const n = (t['nodes'] as Record<string, any>[]).find((x) => x['name'] === 'master-1')!;
      n['services'].exhibitor.envFile = `${lab.dir}/nodes/master-1/opt/mesosphere/etc/exhibitor-nope`;
    });
    await expectOnlyFailing(topology, [
      { host: 'master-1', check: 'file exhibitor', detail: /exhibitor-nope does not exist/ },
    ]);
  });

  it("fails on a file that does not parse (master-2's etcd env file with a malformed ETCD_INITIAL_CLUSTER)", async () => {
    const bad = join(tmp, 'etcd.conf');
    const text = await readFile(lab.nodes[1]!.paths.etcdEnvFile, 'utf8');
    await writeFile(bad, text.replace(/^ETCD_INITIAL_CLUSTER=.*$/m, 'ETCD_INITIAL_CLUSTER=master-1,master-2'), {
      mode: 0o644,
    });
    const topology = await topologyCopy('unparsable-file', (t) => {
      const n = (t['nodes'] as Record<string, any>[]).find((x) => x['name'] === 'master-2')!;
      n['services'].etcd.envFile = bad;
    });
    await expectOnlyFailing(topology, [
      {
        host: 'master-2',
        check: 'file etcd',
        detail: /ETCD_INITIAL_CLUSTER is master-1,master-2: not a list of name=peer-url/,
      },
    ]);
  });

  it('fails on a missing hook file', async () => {
    const topology = await topologyCopy('missing-hook', (t) => {
      t['hooks'] = { preFailover: './nope.sh' };
    });
    await expectOnlyFailing(topology, [
      { host: 'local', check: 'hook preFailover', detail: /\.\/nope\.sh is missing or not executable/ },
    ]);
  });

  it('fails on a hook file that is not executable', async () => {
    const hook = join(tmp, 'not-executable.sh');
    await writeFile(hook, '#!/bin/sh\nexit 0\n', { mode: 0o644 });
    const topology = await topologyCopy('hook-not-executable', (t) => {
      t['hooks'] = { preFailover: `${hook} --now` };
    });
    await expectOnlyFailing(topology, [{ host: 'local', check: 'hook preFailover', detail: /not executable/ }]);
  });

  it('fails on an unreadable identity file (and, without a key, every node refuses the login)', async () => {
    const missing = join(tmp, 'no-such-key');
    const topology = await topologyCopy('unreadable-identity', (t) => {
      t['ssh'].identityFile = missing;
    });
    const checks = await preflightJson(topology);
    expect(checks.code).toBe(1);
    const bad = checks.checks.filter((c) => !c.ok);
    expect(bad.map((c) => `${c.host}/${c.check}`)).toEqual([
      'local/ssh key',
      'master-1/ssh',
      'master-2/ssh',
      'master-3/ssh',
    ]);
    expect(bad[0]!.detail).toBe(`${missing} cannot be read`);
    const h = await preflight(topology);
    expect(h.code).toBe(1);
    expect(h.out).toMatch(new RegExp(`^FAIL  local +ssh key +${missing.replace(/[.]/g, '\\.')} cannot be read$`, 'm'));
  });

  it('fails on a unit that does not exist on master-1', async () => {
    const topology = await topologyCopy('missing-unit', (t) => {
      const n = (t['nodes'] as Record<string, any>[]).find((x) => x['name'] === 'master-1')!;
      n['services'] = { ...n['services'], etcd: { ...n['services']['etcd'], unit: 'etcd-missing' } };
    });
    await expectOnlyFailing(topology, [{ host: 'master-1', check: 'unit etcd-missing', detail: /not found/ }]);
  });

  it('fails when sudo -n does not work (master-3 logs in as dcfail-nosudo, a user without sudo rights)', async () => {
    const topology = await topologyCopy('no-sudo', (t) => {
      const n = (t['nodes'] as Record<string, any>[]).find((x) => x['name'] === 'master-3')!;
      n['ssh'] = { user: 'dcfail-nosudo' };
    });
    const checks = await preflightJson(topology);
    expect(checks.code).toBe(1);
    const bad = checks.checks.filter((c) => !c.ok);
    // Everything that needs root on master-3 fails with it, and nothing elsewhere.
    expect(new Set(bad.map((c) => c.host)), JSON.stringify(bad)).toEqual(new Set(['master-3']));
    const sudo = bad.find((c) => c.check === 'sudo -n');
    expect(sudo?.detail).toMatch(/^sudo -n fails/);
    expect(checks.checks.find((c) => c.host === 'master-3' && c.check === 'ssh')?.ok).toBe(true);
  });
});
