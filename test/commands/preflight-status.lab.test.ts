/**
 * `dcfail preflight` and `dcfail status` on one 3-master machines lab (real systemd machines with
 * DC/OS's units and paths, DC/OS 2.2, lab instance 3), one lab for both commands.
 *
 * Preflight: everything passes on a fresh lab; then one thing at a time is broken, for real where it
 * lives (a master's own file edited, moved or made unparseable inside the machine, a known_hosts
 * without a host's key, a hook, the identity file, a unit the machine's systemd does not know, a
 * login user without sudo rights on the machine), and the run must fail with exit 1 on exactly the
 * line that names that host and that check; every file broken inside a machine is put back byte
 * for byte.
 *
 * Status: what it reports must be what the servers say of themselves (ZooKeeper `srvr`, etcdctl,
 * Mesos metrics and the leader's registry), in JSON, in its human form and as Prometheus metrics
 * (checked by promtool); `--watch` sees madrid's power cut happen and Ctrl-C ends it with the last
 * exit code; madrid coming back without a failover reads normal again; madrid cut again, a failover
 * done by hand exactly as the offline plan says reads failed-over; madrid powering on with its old
 * files reads split-brain-risk, with exactly the leaders the servers claim.
 *
 * Time scale 0.25 (lab/machines/timers.ts): these tests check what dcfail reads and decides from the
 * servers, not how long DC/OS takes, so the stand-ins' timers (Exhibitor's 30 s first check, Mesos'
 * 15 s RestartSec, its session and registry timeouts, etcd's RestartSec) run at a quarter of DC/OS's
 * values and the lab settles after each power event in a quarter of the time. ZooKeeper's own
 * tickTime/initLimit/syncLimit are never scaled.
 */
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { labExec, powerOff, powerOn } from '../../lab/machines/lab.js';
import { CLUSTER_NAME, DCOS_PATHS } from '../../lab/machines/layout.js';
import { mesosRecoveredLeader, zkMode } from '../../lab/machines/probes.js';
import { sleep, waitFor } from '../../lab/machines/run.js';
import { runCli } from '../../src/cli.js';
import type { Check as PlanCheck, Plan } from '../../src/plan/plan.js';
import { captureIo } from '../../src/views/io.js';
import type { Check } from '../../src/views/preflight.js';
import type { StatusResult } from '../../src/views/status.js';
import { spawnDcfail } from '../support/e2e.js';
import {
  dcosFiles,
  machinesTruth,
  mastersOf,
  sh,
  truthLeaderClaims,
  truthLeaders,
  truthPositions,
  truthHeld,
  useMachinesE2e,
  type MachineTruth,
} from '../support/machines-e2e.js';
import { hasPromtool, promtoolCheck, samples } from '../support/prometheus.js';
import { needs } from '../support/skips.js';

const e = useMachinesE2e({
  instance: 3,
  tag: 'm-cmds',
  masters: 3,
  dcos: '2.2',
  label: 'preflight and status',
  timeScale: 0.25,
});

const NODES = ['master-1', 'master-2', 'master-3'];
const COMPONENTS = ['exhibitor', 'mesos', 'etcd'] as const;
let tmp: string;
/** Every DC/OS file of each machine after `up`: what a broken file must be put back to. */
let filesAtUp: Record<string, Record<string, string>> = {};

beforeAll(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'dcfail-preflight-status-'));
  const lab = e.lab();
  filesAtUp = Object.fromEntries(await Promise.all(NODES.map(async (n) => [n, await dcosFiles(lab, n)])));
});

afterAll(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

const topologyPath = () => e.lab().topologyPath;
const inMachine = (node: string, script: string) => sh(e.lab(), node, script);

/** Writes `content` to `path` inside the machine, through any symlink (DC/OS's files link into the config package). */
async function writeInMachine(node: string, path: string, content: string): Promise<void> {
  const r = await labExec(node, ['/bin/sh', '-c', `cat > '${path}'`], { dir: e.lab().dir, input: content });
  if (r.exitCode !== 0) throw new Error(`${node}: writing ${path}: exit ${r.exitCode}: ${r.stderr}`);
}

async function expectFilesAsAtUp(node: string): Promise<void> {
  expect(await dcosFiles(e.lab(), node), `DC/OS files on ${node}`).toEqual(filesAtUp[node]);
}

/** A copy of the lab topology with `edit` applied, in the test's temp dir. */
async function topologyCopy(name: string, edit: (t: Record<string, any>) => void): Promise<string> {
  const t = parse(await readFile(topologyPath(), 'utf8')) as Record<string, any>;
  edit(t);
  const path = join(tmp, `${name}.yaml`);
  await writeFile(path, stringify(t));
  return path;
}

const nodeOf = (t: Record<string, any>, name: string) =>
  (t['nodes'] as Record<string, any>[]).find((x) => x['name'] === name)!;

// ---- preflight ----------------------------------------------------------------------------------

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

describe('dcfail preflight on the machines lab', () => {
  it('passes every check, one line per check naming host and check, exit 0', async () => {
    const j = await preflightJson(topologyPath());
    expect(j.code).toBe(0);
    expect(j.ok).toBe(true);
    // Hooks the lab's topology declares (its fence hooks), each one checked.
    const hooks =
      (parse(await readFile(topologyPath(), 'utf8')) as { hooks?: Record<string, string | Record<string, string>> })
        .hooks ?? {};
    const hookChecks = Object.entries(hooks).flatMap(([k, v]) =>
      typeof v === 'string' ? [`hook ${k}`] : Object.keys(v).map((dc) => `hook fence.${dc}`),
    );
    expect(hookChecks.length).toBeGreaterThan(0);
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

    const h = await preflight(topologyPath());
    expect(h.code).toBe(0);
    const { lines, summary } = parseLines(h.out, j.checks);
    expect(lines.map(({ host, check, ok }) => ({ host, check, ok }))).toEqual(
      expected.map((x) => ({ ...x, ok: true })),
    );
    expect(summary).toBe(`preflight: all ${expected.length} checks pass`);
  });

  it("fails on a wrong MESOS_QUORUM in master-2's own file, on that line only", async () => {
    const file = DCOS_PATHS.mesosEnvFile;
    const original = await inMachine('master-2', `cat ${file}`);
    expect(original).toMatch(/^MESOS_QUORUM=2$/m);
    try {
      await writeInMachine('master-2', file, original.replace(/^MESOS_QUORUM=2$/m, 'MESOS_QUORUM=3'));
      expect(await inMachine('master-2', `grep ^MESOS_QUORUM= ${file}`)).toBe('MESOS_QUORUM=3\n');
      await expectOnlyFailing(topologyPath(), [
        { host: 'master-2', check: 'file mesos-master', detail: /MESOS_QUORUM is 3, the topology needs 2/ },
      ]);
    } finally {
      await writeInMachine('master-2', file, original);
    }
    await expectFilesAsAtUp('master-2');
    expect((await preflightJson(topologyPath())).code).toBe(0);
  });

  it("fails on master-3's unknown host key (a known_hosts without it)", async () => {
    const m3 = e.lab().layout.nodes[2]!;
    const knownHosts = join(tmp, 'known_hosts-without-master-3');
    const lines = (await readFile(e.lab().layout.knownHostsFile, 'utf8'))
      .split('\n')
      .filter((l) => l !== '' && !l.startsWith(`${m3.address} `));
    expect(lines).toHaveLength(2);
    await writeFile(knownHosts, `${lines.join('\n')}\n`);
    const topology = await topologyCopy('unknown-host-key', (t) => {
      t['ssh'].knownHostsFile = knownHosts;
    });
    await expectOnlyFailing(topology, [{ host: 'master-3', check: 'ssh', detail: /host key|known/i }]);
  });

  it("fails on a file that does not exist (master-1's exhibitor env file moved away inside the machine)", async () => {
    const file = DCOS_PATHS.exhibitorEnvFile;
    await inMachine('master-1', `mv ${file} ${file}.moved-by-test`);
    try {
      await expectOnlyFailing(topologyPath(), [
        { host: 'master-1', check: 'file exhibitor', detail: new RegExp(`^${file} does not exist$`) },
      ]);
    } finally {
      await inMachine('master-1', `mv ${file}.moved-by-test ${file}`);
    }
    await expectFilesAsAtUp('master-1');
  });

  it("fails on a file that does not parse (master-2's etcd env file with a malformed ETCD_INITIAL_CLUSTER)", async () => {
    const file = DCOS_PATHS.etcdEnvFile;
    const original = await inMachine('master-2', `cat ${file}`);
    expect(original).toMatch(/^ETCD_INITIAL_CLUSTER=master-1=http/m);
    try {
      await writeInMachine(
        'master-2',
        file,
        original.replace(/^ETCD_INITIAL_CLUSTER=.*$/m, 'ETCD_INITIAL_CLUSTER=master-1,master-2'),
      );
      await expectOnlyFailing(topologyPath(), [
        {
          host: 'master-2',
          check: 'file etcd',
          detail: /ETCD_INITIAL_CLUSTER is master-1,master-2: not a list of name=peer-url/,
        },
      ]);
    } finally {
      await writeInMachine('master-2', file, original);
    }
    await expectFilesAsAtUp('master-2');
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

  it("fails on a unit that master-1's systemd does not have", async () => {
    expect(
      (await labExec('master-1', ['systemctl', 'cat', 'etcd-missing'], { dir: e.lab().dir })).exitCode,
      'the machine has no such unit',
    ).not.toBe(0);
    const topology = await topologyCopy('missing-unit', (t) => {
      const n = nodeOf(t, 'master-1');
      n['services'] = { ...n['services'], etcd: { ...n['services']?.['etcd'], unit: 'etcd-missing' } };
    });
    await expectOnlyFailing(topology, [{ host: 'master-1', check: 'unit etcd-missing', detail: /not found/ }]);
  });

  it('fails when sudo -n does not work (master-3 logs in as dcfail-nosudo, a user without sudo rights there)', async () => {
    // The user exists on the machine with the lab's key, and its sudoers give it nothing.
    expect(await inMachine('master-3', 'sudo -n -l -U dcfail-nosudo')).toMatch(
      /User dcfail-nosudo is not allowed to run sudo/,
    );
    const topology = await topologyCopy('no-sudo', (t) => {
      nodeOf(t, 'master-3')['ssh'] = { user: 'dcfail-nosudo' };
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

// ---- status -------------------------------------------------------------------------------------

/** What the JSON of `status --json` holds (bigints are strings there). */
type StatusJson = StatusResult & { undetermined?: boolean };

async function status(json = true): Promise<{ code: number; out: string; report: StatusJson | undefined }> {
  const io = captureIo();
  const code = await runCli(['status', '-t', topologyPath(), ...(json ? ['--json'] : [])], io);
  return { code, out: io.stdout, report: json ? (JSON.parse(io.stdout) as StatusJson) : undefined };
}

/** Polls `status --json` until `ok` holds (bounded); returns the last answer either way. */
async function pollStatus(
  ok: (s: { code: number; report: StatusJson }) => boolean,
  timeoutMs = 30_000,
): Promise<{ code: number; report: StatusJson }> {
  const deadline = Date.now() + timeoutMs;
  let last: { code: number; report: StatusJson };
  do {
    const s = await status();
    last = { code: s.code, report: s.report! };
    if (ok(last)) return last;
    await sleep(500);
  } while (Date.now() < deadline);
  return last;
}

const hazardCodes = (r: StatusJson) => r.hazards.map((h) => `${h.code}${h.cluster ? `:${h.cluster}` : ''}`).sort();
const quorumOf = (r: StatusJson, c: string) => r.clusters.find((x) => x.cluster === c)!.quorums;
const LOST_HAZARDS = 'dc-unreachable,no-quorum:etcd,no-quorum:exhibitor,no-quorum:mesos';

/** Reads the servers before and after `status`, so their indexes bound what status reports. */
async function statusBetweenTruths(): Promise<{
  before: MachineTruth[];
  code: number;
  report: StatusJson;
  after: MachineTruth[];
}> {
  const nodes = e.lab().layout.nodes;
  const before = await machinesTruth(nodes);
  const s = await status();
  const after = await machinesTruth(nodes);
  return { before, code: s.code, report: s.report!, after };
}

/**
 * A read of status (JSON or human) with the servers' leader claims the same just before and just
 * after it, one leader per cluster: an election under way (on a loaded host a Mesos master can lose
 * its ZooKeeper session) is waited out, bounded, so that status is compared with a state that held.
 */
async function settledRead<T>(
  read: () => Promise<T>,
): Promise<{ before: MachineTruth[]; got: T; after: MachineTruth[] }> {
  const nodes = e.lab().layout.nodes;
  return waitFor(
    'a status read with no election around it',
    async () => {
      const before = await machinesTruth(nodes);
      const got = await read();
      const after = await machinesTruth(nodes);
      const claims = truthLeaderClaims(before);
      const settled = Object.values(claims).every((l) => l.length === 1) && truthHeld(before, after);
      return settled ? { before, got, after } : undefined;
    },
    60_000,
    1000,
  );
}

function expectPositionsBetween(report: StatusJson, before: MachineTruth[], after: MachineTruth[]): void {
  const lo = truthPositions(before);
  const hi = truthPositions(after);
  for (const c of COMPONENTS) {
    const reported = report.clusters.find((x) => x.cluster === c)!.positions;
    expect(Object.keys(reported).sort(), `${c} positions`).toEqual(Object.keys(lo[c]).sort());
    for (const [node, v] of Object.entries(reported)) {
      const got = BigInt(v);
      expect(
        got >= lo[c][node]! && got <= hi[c][node]!,
        `${c} ${node}: status says ${got}, the server said ${lo[c][node]} before and ${hi[c][node]} after`,
      ).toBe(true);
    }
  }
}

/**
 * `status --format prometheus` through the binary, its stdout exactly as written (execa's result
 * strips the final line feed, which the format requires), checked by promtool.
 */
async function prometheus(): Promise<{ exitCode: number; text: string; s: Map<string, number>; c: string }> {
  const child = spawnDcfail(['status', '-t', topologyPath(), '--format', 'prometheus']);
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  const r = await child;
  const check = await promtoolCheck(text);
  expect(check, `promtool check metrics, exit ${r.exitCode}\n${text}\n${String(r.stderr)}`).toEqual({
    exitCode: 0,
    output: '',
  });
  return { exitCode: r.exitCode ?? -1, text, s: samples(text), c: `cluster="${CLUSTER_NAME}"` };
}

/** Polls until status exits with `code` and `settled` holds; the last output either way. */
async function prometheusUntil(
  code: number,
  settled: (p: Awaited<ReturnType<typeof prometheus>>) => boolean = () => true,
  timeoutMs = 60_000,
): Promise<Awaited<ReturnType<typeof prometheus>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await prometheus();
    if ((p.exitCode === code && settled(p)) || Date.now() > deadline) return p;
    await sleep(1000);
  }
}

/** An edit of a plan step, done inside the machine on the file (writes follow DC/OS's symlinks). */
async function applyEdit(node: string, file: string, changes: Record<string, string | null>): Promise<void> {
  if ('master_count' in changes) return writeInMachine(node, file, `${changes['master_count']}\n`);
  let lines = (await inMachine(node, `cat ${file}`)).split('\n').filter((l) => l !== '');
  for (const [key, value] of Object.entries(changes)) {
    const i = lines.findIndex((l) => l.startsWith(`${key}=`));
    if (value === null) lines = lines.filter((l) => !l.startsWith(`${key}=`));
    else if (i >= 0) lines[i] = `${key}=${value}`;
    else lines.push(`${key}=${value}`);
  }
  await writeInMachine(node, file, `${lines.join('\n')}\n`);
}

async function isActive(node: string, unit: string): Promise<boolean> {
  return (await labExec(node, ['systemctl', 'is-active', '--quiet', unit], { dir: e.lab().dir })).exitCode === 0;
}

/**
 * Runs the offline failover plan by hand on the survivors, inside the machines: edits, systemctl,
 * and its verifications as waits on the servers. The fence step is left out on purpose: this is
 * the unfenced DC that powers back on with its old files.
 */
async function failoverByHand(plan: Plan): Promise<void> {
  for (const s of plan.steps) {
    switch (s.action) {
      case 'edit-file':
        await applyEdit(s.node!, s.file, s.changes);
        break;
      case 'stop':
      case 'start':
      case 'restart':
        // As long as systemd itself may take: an etcd that lost its peers can ignore SIGTERM until
        // systemd kills it at TimeoutStopSec (90 s by default; measured here), and `systemctl stop` waits.
        await sh(e.lab(), s.node!, `systemctl ${s.action} ${s.unit}`, 150_000);
        break;
      case 'verify':
        await verifyByHand(s.node, s.check);
        break;
      case 'fence':
        break;
      default:
        throw new Error(`plan step ${s.id} (${s.action}): the offline failover of the lab should not need it`);
    }
  }
}

async function verifyByHand(on: string | null, check: PlanCheck): Promise<void> {
  const lab = e.lab();
  const node = (name: string) => lab.layout.nodes.find((n) => n.name === name)!;
  switch (check.kind) {
    case 'zookeeper':
      for (const n of check.servers)
        await waitFor(
          `ZooKeeper ${check.mode} on ${n}`,
          async () => (await zkMode(node(n).address)) === check.mode,
          60_000,
        );
      return;
    case 'mesos':
      await waitFor(
        'a recovered Mesos leader',
        async () => (await Promise.all(check.masters.map((n) => mesosRecoveredLeader(node(n).address)))).some(Boolean),
        60_000,
      );
      return;
    case 'etcd':
      for (const n of check.members)
        await waitFor(
          `etcd leading or following on ${n}`,
          async () => {
            const t = (await machinesTruth([node(n)]))[0]!;
            return t.etcd !== undefined && t.etcd.leader !== '0';
          },
          60_000,
        );
      return;
    case 'dc-down':
      for (const t of await machinesTruth(mastersOf(lab, check.dc as 'madrid')))
        expect(t.zk ?? t.etcd ?? t.mesos, `${t.name} of the lost DC answers`).toBeUndefined();
      return;
    case 'stopped':
      expect(await isActive(on!, check.unit)).toBe(false);
      return;
    case 'survivors-up':
      for (const n of mastersOf(lab, check.dc as 'barcelona'))
        expect(await isActive(n.name, 'dcos-exhibitor'), `${n.name} answers`).toBe(true);
      return;
    case 'file': {
      const text = await inMachine(on!, `cat ${check.file}`);
      for (const [k, v] of Object.entries(check.changes)) {
        if (k === 'master_count') expect(text.trim()).toBe(v);
        else if (v === null) expect(text).not.toMatch(new RegExp(`^${k}=`, 'm'));
        else expect(text.split('\n')).toContain(`${k}=${v}`);
      }
      return;
    }
    default:
      throw new Error(`verify ${check.kind}: the offline failover of the lab should not need it`);
  }
}

describe('dcfail status on the machines lab', () => {
  it('reads normal, exit 0, with the leaders and positions the servers report', { timeout: 60_000 }, async () => {
    // Both DCs' agents in the recovered leader's registry, so the Mesos position is not just 0.
    await waitFor(
      "both agents in the Mesos leader's registry",
      async () => (await machinesTruth(e.lab().layout.nodes)).some((t) => t.mesos?.recovered && t.mesos.agents === 2),
      30_000,
      500,
    );
    const { before, got, after } = await settledRead(() => status());
    const { code } = got;
    const report = got.report!;
    expect(code).toBe(0);
    expect(report.mode).toBe('normal');
    expect(report.hazards).toEqual([]);
    expect(report.returning).toEqual([]);
    expect(report.undetermined).toBeUndefined();
    expect(report.nodes.map((n) => [n.name, n.ssh.ok, n.configKind])).toEqual([
      ['master-1', true, 'declared'],
      ['master-2', true, 'declared'],
      ['master-3', true, 'declared'],
    ]);
    expect(report.dcs).toEqual({ madrid: { nodes: 2, sshReachable: 2 }, barcelona: { nodes: 1, sshReachable: 1 } });

    const leaders = truthLeaders(before);
    expect(truthLeaders(after), 'no election while status ran').toEqual(leaders);
    expect(Object.keys(leaders).sort()).toEqual(['etcd', 'exhibitor', 'mesos']);
    for (const c of COMPONENTS) {
      expect(quorumOf(report, c), c).toEqual([{ members: NODES, leader: leaders[c] }]);
    }
    // Per node, the live view matches the server's own.
    for (const n of report.nodes) {
      const t = before.find((x) => x.name === n.name)!;
      expect(n.zk?.mode).toBe(t.zk!.mode);
      expect(n.mesos?.elected).toBe(t.mesos!.elected);
      expect(n.etcd?.memberId === n.etcd?.leader).toBe(t.etcd!.memberId === t.etcd!.leader);
    }
    expectPositionsBetween(report, before, after);
    expect(truthPositions(before).mesos[leaders.mesos!]).toBe(2n);
  });

  it('prints the same in its human form', async () => {
    const { before, got: s, after } = await settledRead(() => status(false));
    expect(s.code).toBe(0);
    const leaders = truthLeaders(before);
    expect(truthLeaders(after), 'no election while status ran').toEqual(leaders);
    expect(s.out).toMatch(/^dcfail-lab: mode NORMAL/);
    expect(s.out).toContain(`ZooKeeper      quorum {master-1, master-2, master-3} leader ${leaders.exhibitor}`);
    expect(s.out).toContain(`Mesos masters  quorum {master-1, master-2, master-3} leader ${leaders.mesos}`);
    expect(s.out).toContain(`etcd           quorum {master-1, master-2, master-3} leader ${leaders.etcd}`);
    expect(s.out).not.toContain('HAZARDS');
    for (const n of e.lab().layout.nodes)
      expect(s.out).toMatch(new RegExp(`^${n.name} +${n.dc} +${n.address.replace(/\./g, '\\.')} +up +declared `, 'm'));
  });

  describe.runIf(needs(hasPromtool(), 'promtool is not installed (apt-get install prometheus)'))(
    '--format prometheus and --watch',
    () => {
      it('normal: promtool accepts it; mode normal, every quorum and leader present, no hazard, exit 0', async () => {
        const { exitCode, text, s, c } = await prometheusUntil(0);
        expect(exitCode, text).toBe(0);
        expect(s.get(`dcfail_status_exit_code{${c}}`)).toBe(0);
        expect(s.get(`dcfail_mode{${c},mode="normal"}`)).toBe(1);
        expect(s.get(`dcfail_mode{${c},mode="failed-over"}`)).toBe(0);
        for (const k of COMPONENTS) {
          expect(s.get(`dcfail_cluster_members{${c},component="${k}"}`), k).toBe(3);
          expect(s.get(`dcfail_cluster_quorum_present{${c},component="${k}"}`), k).toBe(1);
          expect(s.get(`dcfail_cluster_quorum_members{${c},component="${k}"}`), k).toBe(3);
          expect(s.get(`dcfail_cluster_leader_present{${c},component="${k}"}`), k).toBe(1);
        }
        expect(s.get(`dcfail_hazards_found{${c}}`)).toBe(0);
        expect([...s.keys()].filter((k) => k.startsWith('dcfail_hazards{'))).toEqual([]);
        expect(s.get(`dcfail_dc_ssh_reachable{${c},dc="madrid"}`)).toBe(2);
        const at = s.get(`dcfail_observation_timestamp_seconds{${c}}`)!;
        expect(Math.abs(at - Date.now() / 1000)).toBeLessThan(60);
      });

      it(
        "--watch without a terminal: one frame per observation; madrid's power cut is marked as it happens; Ctrl-C ends it with the last exit code",
        { timeout: 150_000 },
        async () => {
          const watch = spawnDcfail(['status', '-t', topologyPath(), '--watch', '--interval', '1s']);
          let out = '';
          watch.stdout!.on('data', (d: Buffer) => (out += d.toString()));
          // A wait that fails stops the watch and shows its frames.
          const frames = async (what: string, seen: () => boolean, timeoutMs: number) => {
            try {
              await waitFor(what, async () => seen(), timeoutMs);
            } catch (err) {
              watch.kill('SIGINT');
              const r = await watch;
              throw new Error(
                `${(err as Error).message}\n--- frames (the last 6000 characters)\n${out.slice(-6000)}\n--- stderr\n${String(r.stderr).slice(-2000)}`,
              );
            }
          };
          await frames('the first frame', () => /-- observation 1 at /.test(out), 60_000);
          expect(out).not.toMatch(/^\* /m);
          await e.timed('power cut of madrid (watched)', () => powerOff('madrid', { dir: e.lab().dir }));
          // ZooKeeper on master-3 stops serving within syncLimit x tickTime (10 s, not scaled).
          await frames('a frame with the lost quorums', () => /\+ hazard \[no-quorum:etcd\]/.test(out), 60_000);
          // Once the loss has settled, a frame says nothing changed; then Ctrl-C.
          const lostAt = out.indexOf('+ hazard [no-quorum:etcd]');
          await frames(
            'a frame with no change after the loss',
            () => /no change since the previous observation/.test(out.slice(lostAt)),
            60_000,
          );
          watch.kill('SIGINT');
          const r = await watch;
          expect(r.exitCode, String(r.stderr)).toBe(5);
          expect(String(r.stderr)).toBe('');
          // Each frame is numbered in order, and only what changed is marked.
          const numbers = [...out.matchAll(/^ {2}-- observation (\d+) at /gm)].map((m) => Number(m[1]));
          expect(numbers).toEqual(numbers.map((_, i) => i + 1));
          // etcd may lose one member before the other, and the survivor may still count itself in a
          // group without a leader for a frame: the frame that says NO QUORUM may start from any of these.
          expect(out).toMatch(/^\* {3}etcd: \{master-[123](, master-[123])*\}( leader master-\d)? -> NO QUORUM$/m);
          // The two machines go dark one after the other: an observation may fall between them, so
          // madrid's count may fall in one step or two, but only down, from 2 to 0.
          const ssh = [...out.matchAll(/^\* {3}madrid: (\d) -> (\d) of 2 nodes answer SSH$/gm)].map((m) => [
            Number(m[1]),
            Number(m[2]),
          ]);
          expect(ssh.length, out).toBeGreaterThan(0);
          expect(ssh[0]![0]).toBe(2);
          expect(ssh.at(-1)![1]).toBe(0);
          ssh.forEach(([from, to], i) => {
            expect(to).toBeLessThan(from!);
            if (i > 0) expect(from).toBe(ssh[i - 1]![1]);
          });
          expect(out).toMatch(/^\* etcd {11}NO QUORUM$/m);
          // The frames came about every second (the interval), not back to back.
          expect(numbers.length).toBeLessThan(200);
        },
      );

      it(
        'main lost: promtool accepts it; no quorum anywhere, hazards by kind, exit 5',
        { timeout: 90_000 },
        async () => {
          const { exitCode, text, s, c } = await prometheusUntil(5, (p) =>
            COMPONENTS.every((k) => p.s.get(`dcfail_cluster_quorum_present{${p.c},component="${k}"}`) === 0),
          );
          expect(exitCode, text).toBe(5);
          expect(s.get(`dcfail_status_exit_code{${c}}`)).toBe(5);
          for (const k of COMPONENTS) {
            expect(s.get(`dcfail_cluster_quorum_present{${c},component="${k}"}`), k).toBe(0);
            expect(s.get(`dcfail_cluster_leader_present{${c},component="${k}"}`), k).toBe(0);
          }
          expect(s.get(`dcfail_hazards{${c},kind="no-quorum"}`)).toBe(3);
          expect(s.get(`dcfail_hazards{${c},kind="dc-unreachable"}`)).toBe(1);
          expect(s.get(`dcfail_hazards_found{${c}}`)).toBeGreaterThanOrEqual(4);
          expect(s.get(`dcfail_dc_ssh_reachable{${c},dc="madrid"}`)).toBe(0);
        },
      );
    },
  );

  it('reports the loss of madrid: the DC unreachable, no quorum anywhere, exit 5', { timeout: 60_000 }, async () => {
    // The watch above cut madrid's power; without promtool, cut it here.
    if (!(await machinesTruth(mastersOf(e.lab(), 'madrid'))).every((t) => !t.zk && !t.etcd && !t.mesos))
      await powerOff('madrid', { dir: e.lab().dir });
    const lost = await pollStatus((s) => s.code === 5 && hazardCodes(s.report).join() === LOST_HAZARDS);
    expect(lost.code).toBe(5);
    expect(hazardCodes(lost.report)).toEqual(LOST_HAZARDS.split(','));
    expect(lost.report.hazards.find((h) => h.code === 'dc-unreachable')!.message).toMatch(/^madrid:/);
    expect(lost.report.dcs).toEqual({
      madrid: { nodes: 2, sshReachable: 0 },
      barcelona: { nodes: 1, sshReachable: 1 },
    });
    for (const c of COMPONENTS) expect(quorumOf(lost.report, c)).toEqual([]);
  });

  it('reads normal again when madrid returns without a failover', { timeout: 150_000 }, async () => {
    await e.timed('power-on of madrid (no failover)', () => powerOn('madrid', { dir: e.lab().dir }));
    // A settled read is exit 0 with every member back in its cluster and no election between the
    // reads of the servers around it. Bounded by what the servers do: Exhibitor's first check
    // (7.5 s at this scale), ZooKeeper's sync (initLimit x tickTime, 20 s), Mesos' pre-start retries.
    const settled = await e.timed('madrid back in every cluster', () =>
      waitFor(
        'madrid back in every cluster',
        async () => {
          const r = await statusBetweenTruths();
          const stable = truthHeld(r.before, r.after);
          const complete = COMPONENTS.every(
            (c) => quorumOf(r.report, c).length === 1 && quorumOf(r.report, c)[0]!.members.join() === NODES.join(),
          );
          return r.code === 0 && stable && complete ? r : undefined;
        },
        90_000,
        1000,
      ),
    );
    expect(settled.report.mode).toBe('normal');
    expect(settled.report.hazards).toEqual([]);
    expect(settled.report.returning).toEqual([]);
    const leaders = truthLeaders(settled.before);
    for (const c of COMPONENTS)
      expect(quorumOf(settled.report, c), c).toEqual([{ members: NODES, leader: leaders[c] }]);
    expectPositionsBetween(settled.report, settled.before, settled.after);
  });

  it(
    'reads failed-over after madrid is cut again and the offline plan is run by hand, in JSON and as metrics',
    { timeout: 330_000 },
    async () => {
      const lab = e.lab();
      // What status says of this loss was checked on the first cut (above); the plan's own
      // verification (dc-down) checks that nothing of madrid answers before anything changes.
      await e.timed('power cut of madrid', () => powerOff('madrid', { dir: lab.dir }));

      // The failover, by hand, exactly as the offline plan says.
      const io = captureIo();
      expect(
        await runCli(['plan', 'failover', '--to', 'secondary', '--offline', '-t', topologyPath(), '--json'], io),
      ).toBe(0);
      const plan = JSON.parse(io.stdout) as Plan;
      expect(plan.steps.every((s) => s.node === null || s.node === 'master-3')).toBe(true);
      await e.timed('failover by hand', () => failoverByHand(plan));
      expect(await inMachine('master-3', `cat ${DCOS_PATHS.etcdEnvFile}`)).not.toContain('ETCD_FORCE_NEW_CLUSTER');

      const over = await pollStatus((s) => s.code === 0 && s.report.mode === 'failed-over', 60_000);
      const truth = await machinesTruth([lab.layout.nodes[2]!]);
      expect(over.code).toBe(0);
      expect(over.report.mode).toBe('failed-over');
      // madrid is still dark: no dc-unreachable hazard for a DC the cluster has failed away from.
      expect(over.report.hazards).toEqual([]);
      expect(over.report.nodes.find((n) => n.name === 'master-3')!.configKind).toBe('failed-over');
      expect(over.report.notes.map((n) => n.code)).not.toContain('force-new-cluster-left');
      for (const c of COMPONENTS)
        expect(quorumOf(over.report, c), c).toEqual([{ members: ['master-3'], leader: 'master-3' }]);
      expect(truthLeaders(truth)).toEqual({ exhibitor: 'master-3', mesos: 'master-3', etcd: 'master-3' });
      expect(truth[0]!.zk!.mode).toBe('standalone');

      if (needs(hasPromtool(), 'promtool is not installed (apt-get install prometheus)')) {
        const { exitCode, text, s, c } = await prometheusUntil(0);
        expect(exitCode, text).toBe(0);
        expect(s.get(`dcfail_mode{${c},mode="failed-over"}`)).toBe(1);
        expect(s.get(`dcfail_mode{${c},mode="normal"}`)).toBe(0);
        for (const k of COMPONENTS) {
          expect(s.get(`dcfail_cluster_quorum_present{${c},component="${k}"}`), k).toBe(1);
          expect(s.get(`dcfail_cluster_quorum_members{${c},component="${k}"}`), k).toBe(1);
          expect(s.get(`dcfail_cluster_leader_present{${c},component="${k}"}`), k).toBe(1);
        }
        expect(s.get(`dcfail_hazards_found{${c}}`)).toBe(0);
      }
    },
  );

  it(
    'reads split-brain-risk when madrid powers on with its old files, with exactly the leaders the servers claim',
    { timeout: 180_000 },
    async () => {
      await e.timed('power-on of madrid (failed over, unfenced)', () => powerOn('madrid', { dir: e.lab().dir }));
      const back = await pollStatus(
        (s) => s.report.mode === 'split-brain-risk' && s.report.returning.length === 2,
        60_000,
      );
      expect(back.code).toBe(5);
      expect(back.report.mode).toBe('split-brain-risk');
      expect(back.report.returning).toEqual(['master-1', 'master-2']);
      const hazard = back.report.hazards.find((h) => h.code === 'split-brain-risk');
      expect(hazard?.message).toContain('master-1');
      expect(hazard?.message).toContain('master-2');
      expect(back.report.nodes.map((n) => [n.name, n.configKind])).toEqual([
        ['master-1', 'declared'],
        ['master-2', 'declared'],
        ['master-3', 'failed-over'],
      ]);

      // Left alone, madrid's old majority elects its own ZooKeeper leader: two quorums, and
      // status must say so for exactly the clusters where the servers show two leaders.
      const split = await e.timed('a ZooKeeper leader in madrid beside the standalone master-3', () =>
        waitFor(
          'a ZooKeeper leader in madrid next to the standalone master-3',
          async () => {
            const r = await statusBetweenTruths();
            const claims = truthLeaderClaims(r.before);
            return claims.exhibitor.length === 2 &&
              JSON.stringify(claims) === JSON.stringify(truthLeaderClaims(r.after))
              ? r
              : undefined;
          },
          90_000,
          1000,
        ),
      );
      const claims = truthLeaderClaims(split.before);
      expect(split.code).toBe(5);
      expect(split.report.mode).toBe('split-brain-risk');
      for (const c of COMPONENTS) {
        const reported = quorumOf(split.report, c)
          .map((q) => q.leader ?? '?')
          .sort();
        expect(reported, `${c}: leaders status reports vs the servers' claims`).toEqual([...claims[c]].sort());
        const splitHazard = split.report.hazards.find((h) => h.code === 'split-brain' && h.cluster === c);
        if (claims[c].length > 1) expect(splitHazard?.message, c).toContain(`${claims[c].length} leaders`);
        else expect(splitHazard, c).toBeUndefined();
      }
      e.log(`after madrid returned: leaders per cluster ${JSON.stringify(claims)}`);
    },
  );
});
