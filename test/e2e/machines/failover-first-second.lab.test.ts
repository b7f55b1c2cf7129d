/**
 * The first seconds after a loss, on the machines lab (real systemd, DC/OS 2.2 units, DC/OS's real
 * timers: ZooKeeper's tickTime 2000 and syncLimit 5), one 3-master lab on instance 7
 * (198.18.71.x / 198.18.72.x). madrid loses power; one second later an operator runs
 * `dcfail failover --to secondary`. master-3's ZooKeeper still counts madrid in for up to
 * syncLimit x tickTime = 10 s after the cut. Never may dcfail say that madrid answers as a cluster
 * member (split brain). The first run's certificate has a budget of one second (attempts 1 x
 * timeoutMs 1000): it must refuse as settling and say how long to wait, and that wait must be
 * enough. The second run, started at once with a budget of 14 s (attempts 14), must wait for
 * master-3 within it and succeed.
 *
 * The cut is the lab's `power-off madrid`: the DC goes dark before its machines are killed, so the
 * FIN/RST segments of the dying processes reach nobody and the survivors see what they see after
 * a real power cut: silence (lab/README.md, Power).
 *
 * Issue 11 item 7 on the same lab: DC/OS's own `dcos-cockroach.service` (its unit file, verbatim,
 * without its binaries: present, never started) on every master; `status` and `plan failover`
 * name it and what the failover means for IAM.
 */
process.env['DCFAIL_LAB_INSTANCE'] = '7';

import { execa } from 'execa';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { labDown, labExec, labUp, powerOff, repoRoot, type Lab } from '../../../lab/machines/lab.js';
import { zkMode } from '../../../lab/machines/probes.js';
import { sleep } from '../../../lab/machines/run.js';

const DIR = `${process.cwd()}/.lab-i11-settle`;
const STATE = `${DIR}/dcfail-state`;
const o = { dir: DIR };
let lab: Lab;

interface Run {
  exitCode: number;
  stdout: string;
  stderr: string;
  json: any;
  startedAt: number;
  durationMs: number;
}

/** The built dcfail binary, as an operator runs it, with its state under the lab dir. */
async function dcfail(args: readonly string[]): Promise<Run> {
  const startedAt = Date.now();
  const r = await execa(process.execPath, [`${repoRoot()}/dist/bin/dcfail.js`, ...args], {
    reject: false,
    timeout: 600_000,
    env: { DCFAIL_STATE_DIR: STATE },
  });
  let json: any;
  try {
    json = JSON.parse(String(r.stdout));
  } catch {
    json = undefined;
  }
  const out = { exitCode: r.exitCode ?? -1, stdout: String(r.stdout), stderr: String(r.stderr), json, startedAt };
  return { ...out, durationMs: Date.now() - startedAt };
}

/** dcos/dcos packages/cockroach/extra/dcos-cockroach.service, verbatim. */
const DCOS_COCKROACH_SERVICE = `[Unit]
Description=DC/OS CockroachDB Database
Documentation=https://docs.d2iq.com/mesosphere/dcos/
# Wait for ZooKeeper to be available
After=dcos-exhibitor.service
# When CockroachDB is started, run the config change immediately afterwards
Wants=dcos-cockroachdb-config-change.service
Before=dcos-cockroachdb-config-change.service

[Service]
Type=notify
SyslogIdentifier=dcos-cockroach
PermissionsStartOnly=True
User=dcos_cockroach
Restart=always
StartLimitInterval=0
RestartSec=5
LimitNOFILE=16384
EnvironmentFile=/opt/mesosphere/environment
EnvironmentFile=-/run/dcos/etc/cockroach
Environment=COCKROACH_SKIP_ENABLING_DIAGNOSTIC_REPORTING=true
# The CockroachDB multi node coordination performed by register.py
# requires the ZooKeeper cluster to be formed. This is checked by
# the bootstrapper.
ExecStartPre=/opt/mesosphere/bin/bootstrap dcos-cockroach
ExecStartPre=/opt/mesosphere/active/cockroach/bin/register.py
ExecStart=/opt/mesosphere/active/cockroach/bin/cockroach.sh
PIDFile=/run/dcos/cockroach/cockroach.pid
TimeoutStartSec=60s

[Install]
WantedBy=multi-user.target
`;

/** A copy of the lab's topology: the fence attested (the test powers madrid off itself), quick probes, this budget. */
async function topologyWith(name: string, attempts: number): Promise<string> {
  const t = parse(await readFile(lab.topologyPath, 'utf8'));
  delete t.hooks;
  t.ssh.connectTimeoutMs = 1000;
  t.health = { ...t.health, timeoutMs: 1000, attempts };
  const path = `${DIR}/topology-${name}.yaml`;
  await writeFile(path, stringify(t));
  return path;
}

const failover = (topology: string) =>
  dcfail([
    'failover',
    '--to',
    'secondary',
    '--yes',
    '--json',
    '-t',
    topology,
    '--attest-fenced',
    'lab: madrid powered off by the test',
    '--verify-timeout',
    '180s',
  ]);

/** The newest run's journal. */
async function newestJournal(): Promise<any> {
  const runs = (await readdir(join(STATE, 'runs'))).sort();
  return JSON.parse(await readFile(join(STATE, 'runs', runs.at(-1)!, 'journal.json'), 'utf8'));
}

const describeRun = (r: Run) =>
  `exit ${r.exitCode} after ${(r.durationMs / 1000).toFixed(1)} s\nstdout: ${r.stdout.slice(0, 4000)}\nstderr: ${r.stderr.slice(0, 4000)}`;

beforeAll(async () => {
  lab = await labUp({ masters: 3, dcos: '2.2', dir: DIR, timeScale: 1 });
}, 300_000);

afterAll(async () => {
  await labDown(o);
}, 120_000);

describe('a failover started one second after the power-off of madrid', () => {
  it('refuses as settling with a wait that is enough, or waits within its budget and succeeds; never "madrid is not down"', async () => {
    const short = await topologyWith('budget-1s', 1);
    const long = await topologyWith('budget-14s', 14);
    const master3 = lab.layout.nodes.find((n) => n.name === 'master-3')!.address;
    expect(['leader', 'follower']).toContain(await zkMode(master3));

    // Item 7: DC/OS's dcos-cockroach unit on every master; status and the failover plan name it.
    for (const n of ['master-1', 'master-2', 'master-3']) {
      const r = await labExec(
        n,
        ['sh', '-c', 'cat > /etc/systemd/system/dcos-cockroach.service && systemctl daemon-reload'],
        { ...o, input: DCOS_COCKROACH_SERVICE },
      );
      expect(r.exitCode, r.stderr).toBe(0);
    }
    const before = await dcfail(['status', '--json', '-t', short]);
    expect(before.json?.otherQuorumServices, describeRun(before)).toEqual([
      {
        name: 'CockroachDB (DC/OS IAM: logins, users, ACLs)',
        nodes: ['master-1', 'master-2', 'master-3'],
        unit: 'dcos-cockroach',
        kind: 'majority',
        activeOn: [],
        unknownOn: [],
      },
    ]);
    const planned = await dcfail(['plan', 'failover', '--to', 'secondary', '--json', '-t', short]);
    expect(planned.json?.runbook, describeRun(planned)).toBe('failover');
    const iam = planned.json.warnings.find((w: { code: string }) => w.code === 'iam-down-while-failed-over');
    expect(iam?.message, JSON.stringify(planned.json.warnings)).toContain(
      'dcos-cockroach (CockroachDB, DC/OS IAM: logins, users, ACLs) keeps 1 of its 3 replicas without madrid, and needs 2',
    );
    expect(planned.json.warnings.map((w: { code: string }) => w.code)).not.toContain('follows-zookeeper');
    // master-3's ZooKeeper mode over time, from the power cut on: what the certificate had to wait for.
    const modes: { at: number; mode: string }[] = [];
    let polling = true;
    const cutAt = Date.now();
    await powerOff('madrid', o);
    const poller = (async () => {
      while (polling) {
        const at = Date.now();
        modes.push({ at, mode: (await zkMode(master3, 500)) ?? 'no answer' });
        await sleep(500);
      }
    })();
    // When master-3 was last seen counting madrid in (leader or follower of the old ensemble).
    const lastFollowing = () =>
      Math.max(...modes.filter((m) => m.mode === 'leader' || m.mode === 'follower').map((m) => m.at));
    const followingAt = (t: number) => modes.some((m) => m.at >= t && (m.mode === 'leader' || m.mode === 'follower'));
    await sleep(Math.max(0, 1000 - (Date.now() - cutAt)));

    const first = await failover(short);
    const j1 = (await newestJournal()).evidence;
    const firstLook1 = Date.parse(j1.firstLookAt);
    console.log(
      `run 1 (budget 1 s): started ${first.startedAt - cutAt} ms after the cut, first look at ${firstLook1 - cutAt} ms, ` +
        `exit ${first.exitCode} after ${first.durationMs} ms; certificate ${j1.verdict}, looks ${JSON.stringify(j1.looks)}`,
    );
    expect(first.stdout + first.stderr).not.toMatch(/is not down|split brain/);
    expect(first.json?.error?.code, describeRun(first)).not.toBe('lost-dc-alive');
    let wait = 0;
    if (j1.looks[0].views > 0) {
      // It saw master-3 settling, with one second of budget: refused, saying exactly that and how long to wait.
      expect(first.exitCode, describeRun(first)).toBe(3);
      expect(first.json.error.code).toBe('loss-settling');
      expect(first.json.error.message).toMatch(
        /^madrid looks down \(no probe reaches it\), but master-3 still counts it in/,
      );
      wait = Number(/Wait (\d+) s and run again/.exec(first.json.error.message)?.[1]);
      expect(wait).toBeGreaterThan(0);
      console.log(`run 1 refused: ${first.json.error.message}`);
      expect(j1.verdict).toBe('settling');
      expect(j1.settling.map((x: { node: string }) => x.node)).toContain('master-3');
    } else {
      console.log('run 1 looked only after master-3 had noticed: nothing to settle, it must have gone through');
      expect(first.exitCode, describeRun(first)).toBe(0);
    }

    let second: Run | undefined;
    if (first.exitCode === 3) {
      second = await failover(long);
      const j2 = (await newestJournal()).evidence;
      const firstLook2 = Date.parse(j2.firstLookAt);
      console.log(
        `run 2 (budget 14 s): started ${second.startedAt - cutAt} ms after the cut, first look at ${firstLook2 - cutAt} ms, ` +
          `exit ${second.exitCode} after ${second.durationMs} ms; certificate ${j2.verdict}, looks ${JSON.stringify(j2.looks)}`,
      );
      expect(second.stdout + second.stderr).not.toMatch(/is not down|split brain/);
      expect(second.exitCode, describeRun(second)).toBe(0);
      expect(j2.verdict).toBe('down');
      // It waited for master-3 within its budget: the last look saw nothing left, after the first saw it settling.
      if (j2.looks[0].views > 0) expect(j2.looks.at(-1).views).toBe(0);
      else console.log('run 2 looked only after master-3 had noticed: it did not need to wait');
    }
    polling = false;
    await poller;
    const changes = modes
      .filter((m, i) => i === 0 || modes[i - 1]!.mode !== m.mode)
      .map((m) => `${m.at - cutAt} ms ${m.mode}`);
    console.log(`master-3's ZooKeeper after the cut: ${changes.join(', ')}`);
    // master-3 did count madrid in after the cut: the case under test happened.
    expect(followingAt(cutAt)).toBe(true);
    if (wait > 0) {
      // The wait said was enough: master-3 stopped counting madrid in before the first look plus that wait.
      expect(lastFollowing()).toBeLessThan(firstLook1 + wait * 1000);
    }
    // Failed over: master-3 serves on its own.
    expect(await zkMode(master3)).toBe('standalone');
    // Item 7: failed over, status says IAM is down (1 of its 3 replicas left) and dcfail does not move it.
    const after = await dcfail(['status', '--json', '-t', short]);
    expect(after.json?.mode, describeRun(after)).toBe('failed-over');
    const down = after.json.notes.find((n: { code: string }) => n.code === 'iam-down-while-failed-over');
    expect(down?.message, JSON.stringify(after.json.notes)).toContain('keeps 1 of its 3 replicas without madrid');
    expect(after.json.otherQuorumServices[0]).toMatchObject({
      unit: 'dcos-cockroach',
      nodes: ['master-3'],
      unknownOn: ['master-1', 'master-2'],
    });
  }, 600_000);
});
