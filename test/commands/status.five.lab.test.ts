/**
 * `dcfail status` on the 5-master machines lab (3 in madrid, 2 in barcelona; DC/OS 2.2 units, lab
 * instance 3): normal with the leaders and positions the servers report; barcelona's power cut
 * leaves one quorum per cluster in madrid, and the hazards are the unreachable DC and madrid's
 * quorums that cannot lose one more member.
 *
 * Time scale 0.25 (lab/machines/timers.ts): the test checks what dcfail reads and decides from the
 * servers, not how long DC/OS takes, so the stand-ins' timers (Exhibitor's first check, Mesos'
 * RestartSec, session and registry timeouts) run at a quarter of DC/OS's values. ZooKeeper's own
 * tickTime/initLimit/syncLimit are never scaled.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { untilClustersReady, labDown, labUp, powerOff, type Lab } from '../../lab/machines/lab.js';
import { waitFor } from '../../lab/machines/run.js';
import { runCli } from '../../src/cli.js';
import { captureIo } from '../../src/views/io.js';
import type { StatusResult } from '../../src/views/status.js';
import { REPO, secs } from '../support/e2e.js';
import {
  machinesTruth,
  mastersOf,
  sh,
  truthLeaderClaims,
  truthLeaders,
  truthPositions,
  truthHeld,
  type MachineTruth,
} from '../support/machines-e2e.js';

// Status runs in this process (no built binary needed): the lab alone, on an instance and dir of its own.
process.env['DCFAIL_LAB_INSTANCE'] = '3';
const DIR = `${REPO}/.lab-m-cmds-five`;
let lab: Lab | undefined;
const t0 = Date.now();
const log = (msg: string) => console.log(`[status, 5 masters +${secs(Date.now() - t0)}] ${msg}`);
const e = {
  lab: (): Lab => {
    if (!lab) throw new Error('the machines lab is not up');
    return lab;
  },
  timed: async <T>(name: string, fn: () => Promise<T>): Promise<T> => {
    const t = Date.now();
    try {
      return await fn();
    } finally {
      log(`${name}: ${secs(Date.now() - t)}`);
    }
  },
};

beforeAll(async () => {
  lab = await e.timed('lab up (fresh disks, every cluster ready)', () =>
    labUp({ masters: 5, dcos: '2.2', dir: DIR, timeScale: 0.25, onProgress: log }),
  );
}, 420_000);

afterAll(async () => {
  await labDown({ dir: DIR });
}, 120_000);

const ALL = ['master-1', 'master-2', 'master-3', 'master-4', 'master-5'];
const MADRID = ['master-1', 'master-2', 'master-3'];
const COMPONENTS = ['exhibitor', 'mesos', 'etcd'] as const;

async function status(): Promise<{ code: number; report: StatusResult }> {
  const io = captureIo();
  const code = await runCli(['status', '-t', e.lab().topologyPath, '--json'], io);
  return { code, report: JSON.parse(io.stdout) as StatusResult };
}

const quorumOf = (r: StatusResult, c: string) => r.clusters.find((x) => x.cluster === c)!.quorums;

/**
 * A status read with the servers' leader claims the same just before and just after it, one leader
 * per cluster: an election under way (on a loaded host a Mesos master can lose its ZooKeeper
 * session) is waited out, bounded, so that what status says is compared with a state that held.
 */
async function settledRead(
  nodes: readonly { name: string; address: string }[],
  timeoutMs = 60_000,
): Promise<{ before: MachineTruth[]; code: number; report: StatusResult; after: MachineTruth[] }> {
  return waitFor(
    'a status read with no election around it',
    async () => {
      const started = Date.now();
      const before = await machinesTruth(nodes);
      const s = await status();
      const after = await machinesTruth(nodes);
      const claims = truthLeaderClaims(before);
      const settled = Object.values(claims).every((l) => l.length === 1) && truthHeld(before, after);
      // What kept a read from counting, for a run that runs out of time.
      if (!settled)
        log(
          `read not settled (${secs(Date.now() - started)}): leader claims ${JSON.stringify(claims)}, held ${truthHeld(before, after)}`,
        );
      return settled ? { before, after, ...s } : undefined;
    },
    timeoutMs,
    1000,
  );
}

/**
 * ZooKeeper elects the server with the highest id among the freshest: master-5, in barcelona. Its
 * loss would stall ZooKeeper for a new election, past the Mesos session, and madrid's restarted
 * masters would wait in DC/OS's pre-start check: a real outage of the Mesos quorum, not this case
 * (the loss of a DC that holds no ZooKeeper leader). Stop barcelona's Exhibitors (and with them
 * their ZooKeeper) until madrid elects, then start them again as followers.
 */
async function moveZkLeadershipToMadrid(): Promise<void> {
  const lab = e.lab();
  const barcelona = mastersOf(lab, 'barcelona');
  const zkLeader = truthLeaders(await machinesTruth(lab.layout.nodes)).exhibitor;
  if (!barcelona.some((n) => n.name === zkLeader)) return;
  for (const n of barcelona) await sh(lab, n.name, 'systemctl stop dcos-exhibitor');
  await waitFor(
    'a ZooKeeper leader in madrid',
    async () => MADRID.includes(truthLeaders(await machinesTruth(mastersOf(lab, 'madrid'))).exhibitor ?? ''),
    60_000,
    500,
  );
  // `systemctl start` returns once ZooKeeper answers (the unit's ExecStartPost).
  await Promise.all(barcelona.map((n) => sh(lab, n.name, 'systemctl start dcos-exhibitor', 120_000)));
  await untilClustersReady(lab.layout, 90_000, 500);
  expect(MADRID).toContain(truthLeaders(await machinesTruth(lab.layout.nodes)).exhibitor);
}

describe('dcfail status on the 5-master machines lab', () => {
  // 90 s: room for settledRead's own 60 s to fail with its message, not the test's timeout first.
  it('reads normal with the leaders and positions the servers report', { timeout: 90_000 }, async () => {
    const { before, code, report, after } = await settledRead(e.lab().layout.nodes);
    expect(code, JSON.stringify({ notes: report.notes, hazards: report.hazards })).toBe(0);
    expect(report.mode).toBe('normal');
    expect(report.hazards).toEqual([]);
    expect(report.dcs).toEqual({ madrid: { nodes: 3, sshReachable: 3 }, barcelona: { nodes: 2, sshReachable: 2 } });
    const leaders = truthLeaders(before);
    expect(truthLeaders(after), 'no election while status ran').toEqual(leaders);
    expect(Object.keys(leaders).sort()).toEqual(['etcd', 'exhibitor', 'mesos']);
    const lo = truthPositions(before);
    const hi = truthPositions(after);
    for (const c of COMPONENTS) {
      expect(quorumOf(report, c), c).toEqual([{ members: ALL, leader: leaders[c] }]);
      const reported = report.clusters.find((x) => x.cluster === c)!.positions;
      expect(Object.keys(reported).sort(), `${c} positions`).toEqual(Object.keys(lo[c]).sort());
      for (const [node, v] of Object.entries(reported)) {
        expect(
          BigInt(v) >= lo[c][node]! && BigInt(v) <= hi[c][node]!,
          `${c} ${node}: ${v} not within [${lo[c][node]}, ${hi[c][node]}]`,
        ).toBe(true);
      }
    }
  });

  it(
    "after barcelona's power cut: one quorum per cluster in madrid; the unreachable DC and madrid's lost tolerance as hazards",
    { timeout: 240_000 },
    async () => {
      const lab = e.lab();
      await e.timed('ZooKeeper leadership moved to madrid', moveZkLeadershipToMadrid);
      await e.timed('power cut of barcelona', () => powerOff('barcelona', { dir: lab.dir }));
      // Wait out the elections a lost leader in barcelona causes: every cluster led from madrid, per the servers.
      const madrid = mastersOf(lab, 'madrid');
      await e.timed('every cluster led from madrid', () =>
        waitFor(
          'every cluster led from madrid, the Mesos registrar recovered',
          async () => {
            const truth = await machinesTruth(madrid);
            const claims = truthLeaderClaims(truth);
            return (
              Object.values(claims).every((l) => l.length === 1) &&
              truth.find((n) => n.name === claims.mesos[0])?.mesos?.recovered === true
            );
          },
          60_000,
          500,
        ),
      );
      const { before, code, report, after } = await settledRead(madrid);
      const leaders = truthLeaders(before);
      expect(truthLeaders(after), 'no election while status ran').toEqual(leaders);
      expect(code).toBe(5);
      // madrid's 3 of 5 is a quorum that cannot lose one more member: a hazard of its own.
      expect(report.hazards.map((h) => `${h.code}${h.cluster ? `:${h.cluster}` : ''}`)).toEqual([
        'no-fault-tolerance:exhibitor',
        'no-fault-tolerance:mesos',
        'no-fault-tolerance:etcd',
        'dc-unreachable',
      ]);
      expect(report.hazards.find((h) => h.code === 'dc-unreachable')!.message).toMatch(/^barcelona:/);
      expect(report.mode).toBe('normal');
      expect(report.dcs).toEqual({ madrid: { nodes: 3, sshReachable: 3 }, barcelona: { nodes: 2, sshReachable: 0 } });
      for (const c of COMPONENTS) {
        expect(quorumOf(report, c), c).toEqual([{ members: MADRID, leader: leaders[c] }]);
        expect(MADRID).toContain(leaders[c]);
      }
    },
  );
});
