/**
 * `dcfail status` against the real 3-master lab: what it reports must be what the servers say
 * of themselves (ZooKeeper `srvr`, etcdctl, Mesos metrics), through the loss of the main DC, a
 * failover done by hand exactly as the offline plan says, and the main DC coming back.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { killDc, labDown, labReset, labUp, reviveDc, serviceControl, type Lab } from '../../lab/lab.js';
import type { UnitName } from '../../lab/layout.js';
import { runCli } from '../../src/cli.js';
import { captureIo } from '../../src/views/io.js';
import type { StatusResult } from '../../src/views/status.js';
import type { Check, Plan } from '../../src/plan/plan.js';
import { waitFor, writeRegistryEntry } from '../lab/helpers.js';
import {
  etcdTruth,
  mesosTruth,
  serverTruth,
  truthLeaderClaims,
  truthLeaders,
  truthPositions,
  waitForForeignLab,
  zkTruth,
  type NodeTruth,
} from '../support/server-truth.js';

let lab: Lab;

/** What the JSON of `status --json` holds (bigints are strings there). */
type StatusJson = StatusResult & { undetermined?: boolean };

async function status(json = true): Promise<{ code: number; out: string; report: StatusJson | undefined }> {
  const io = captureIo();
  const code = await runCli(['status', '-t', lab.topologyPath, ...(json ? ['--json'] : [])], io);
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
    await new Promise((r) => setTimeout(r, 500));
  } while (Date.now() < deadline);
  return last;
}

const hazardCodes = (r: StatusJson) => r.hazards.map((h) => `${h.code}${h.cluster ? `:${h.cluster}` : ''}`).sort();
const quorumOf = (r: StatusJson, c: string) => r.clusters.find((x) => x.cluster === c)!.quorums;

/** Reads the servers before and after `status`, so their indexes bound what status reports. */
async function statusBetweenTruths(): Promise<{
  before: NodeTruth[];
  code: number;
  report: StatusJson;
  after: NodeTruth[];
}> {
  const before = await serverTruth(lab.nodes);
  const s = await status();
  const after = await serverTruth(lab.nodes);
  return { before, code: s.code, report: s.report!, after };
}

function expectPositionsBetween(report: StatusJson, before: NodeTruth[], after: NodeTruth[]): void {
  const lo = truthPositions(before);
  const hi = truthPositions(after);
  for (const c of ['exhibitor', 'mesos', 'etcd'] as const) {
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

/** The edits of a plan step, done directly on the file (writes follow the DC/OS symlinks). */
async function applyEdit(file: string, changes: Record<string, string | null>): Promise<void> {
  if ('master_count' in changes) {
    await writeFile(file, `${changes['master_count']}\n`);
    return;
  }
  let lines = (await readFile(file, 'utf8')).split('\n').filter((l) => l !== '');
  for (const [key, value] of Object.entries(changes)) {
    const i = lines.findIndex((l) => l.startsWith(`${key}=`));
    if (value === null) lines = lines.filter((l) => !l.startsWith(`${key}=`));
    else if (i >= 0) lines[i] = `${key}=${value}`;
    else lines.push(`${key}=${value}`);
  }
  await writeFile(file, `${lines.join('\n')}\n`);
}

/**
 * Runs the offline failover plan by hand on the survivors: edits, unit actions, and its
 * verifications as waits on the servers. The fence step is left out on purpose (see below).
 */
async function failoverByHand(plan: Plan): Promise<void> {
  const node = (name: string) => lab.nodes.find((n) => n.name === name)!;
  for (const s of plan.steps) {
    switch (s.action) {
      case 'edit-file':
        await applyEdit(s.file, s.changes);
        break;
      case 'stop':
      case 'start':
      case 'restart':
        await serviceControl(s.action, s.node!, s.unit as UnitName);
        break;
      case 'verify':
        await verifyByHand(s.node, s.check, node);
        break;
      case 'fence':
        // Not run: this scenario is the unfenced DC that powers back on with its old files.
        // (The lab's fence hook masks its units, and madrid would come back quiet.)
        break;
      default:
        throw new Error(`plan step ${s.id} (${s.action}): the offline failover of the lab should not need it`);
    }
  }
}

async function verifyByHand(
  on: string | null,
  check: Check,
  node: (name: string) => Lab['nodes'][number],
): Promise<void> {
  switch (check.kind) {
    case 'zookeeper':
      for (const n of check.servers)
        await waitFor(
          `ZooKeeper ${check.mode} on ${n}`,
          async () => (await zkTruth(node(n)))?.mode === check.mode,
          30_000,
        );
      return;
    case 'mesos':
      await waitFor(
        'a recovered Mesos leader',
        async () => {
          for (const n of check.masters) {
            const m = await mesosTruth(node(n));
            if (m?.elected && m.recovered) return true;
          }
          return false;
        },
        30_000,
      );
      return;
    case 'etcd':
      for (const n of check.members) {
        await waitFor(
          `etcd leading or following on ${n}`,
          async () => {
            const e = await etcdTruth(node(n));
            return e !== undefined && e.leader !== '0';
          },
          30_000,
        );
      }
      return;
    case 'dc-down':
      for (const n of lab.nodes.filter((x) => x.dc === check.dc)) {
        const t = (await serverTruth([n]))[0]!;
        expect(t.zk ?? t.etcd ?? t.mesos, `${n.name} of the lost DC answers`).toBeUndefined();
      }
      return;
    case 'stopped':
      expect(await serviceControl('is-active', on!, check.unit as UnitName)).toBe(false);
      return;
    case 'survivors-up':
      // The fence is not run here (above), so nothing can have masked the survivors: they must still answer.
      for (const n of lab.nodes.filter((x) => x.dc === check.dc))
        expect(await serviceControl('is-active', n.name, 'dcos-exhibitor'), `${n.name} answers`).toBe(true);
      return;
    case 'file': {
      const text = await readFile(check.file, 'utf8');
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

beforeAll(async () => {
  await waitForForeignLab((m) => console.log(m));
  lab = await labUp({ masters: 3 });
});

afterAll(async () => {
  await labDown();
});

describe('dcfail status on the 3-master lab', () => {
  it('reads normal, exit 0, with the leaders and indexes the servers report', { timeout: 60_000 }, async () => {
    // A registry entry (an agent in the leader's registry), so the Mesos position is not just 0.
    const leader = await waitFor('a recovered Mesos leader', async () => {
      for (const n of lab.nodes) if ((await mesosTruth(n))?.recovered) return n;
      return undefined;
    });
    await writeRegistryEntry(leader, { app: 'status-test' });

    const { before, code, report, after } = await statusBetweenTruths();
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
    for (const c of ['exhibitor', 'mesos', 'etcd'] as const) {
      expect(quorumOf(report, c), c).toEqual([{ members: ['master-1', 'master-2', 'master-3'], leader: leaders[c] }]);
    }
    // Per node, the live view matches the server's own.
    for (const n of report.nodes) {
      const t = before.find((x) => x.name === n.name)!;
      expect(n.zk?.mode).toBe(t.zk!.mode);
      expect(n.mesos?.elected).toBe(t.mesos!.elected);
      expect(n.etcd?.memberId === n.etcd?.leader).toBe(t.etcd!.memberId === t.etcd!.leader);
    }
    expectPositionsBetween(report, before, after);
    expect(truthPositions(before).mesos[leader.name]).toBeGreaterThan(0n);
  });

  it('prints the same in its human form', { timeout: 30_000 }, async () => {
    const before = await serverTruth(lab.nodes);
    const s = await status(false);
    expect(s.code).toBe(0);
    const leaders = truthLeaders(before);
    expect(s.out).toMatch(/^dcfail-lab: mode NORMAL/);
    expect(s.out).toContain(`ZooKeeper      quorum {master-1, master-2, master-3} leader ${leaders.exhibitor}`);
    expect(s.out).toContain(`Mesos masters  quorum {master-1, master-2, master-3} leader ${leaders.mesos}`);
    expect(s.out).toContain(`etcd           quorum {master-1, master-2, master-3} leader ${leaders.etcd}`);
    expect(s.out).not.toContain('HAZARDS');
    for (const n of lab.nodes)
      expect(s.out).toMatch(new RegExp(`^${n.name} +${n.dc} +${n.address.replace(/\./g, '\\.')} +up +declared `, 'm'));
  });

  it(
    'reports the loss of madrid, then failed-over after a failover by hand, then split-brain-risk when madrid returns',
    { timeout: 180_000 },
    async () => {
      await killDc('main');
      const lost = await pollStatus(
        (s) =>
          s.code === 5 &&
          hazardCodes(s.report).join() === 'dc-unreachable,no-quorum:etcd,no-quorum:exhibitor,no-quorum:mesos',
      );
      expect(lost.code).toBe(5);
      expect(hazardCodes(lost.report)).toEqual([
        'dc-unreachable',
        'no-quorum:etcd',
        'no-quorum:exhibitor',
        'no-quorum:mesos',
      ]);
      expect(lost.report.hazards.find((h) => h.code === 'dc-unreachable')!.message).toMatch(/^madrid:/);
      expect(lost.report.dcs).toEqual({
        madrid: { nodes: 2, sshReachable: 0 },
        barcelona: { nodes: 1, sshReachable: 1 },
      });
      for (const c of ['exhibitor', 'mesos', 'etcd']) expect(quorumOf(lost.report, c)).toEqual([]);

      // The failover, by hand, exactly as the offline plan says.
      const io = captureIo();
      expect(
        await runCli(['plan', 'failover', '--to', 'secondary', '--offline', '-t', lab.topologyPath, '--json'], io),
      ).toBe(0);
      const plan = JSON.parse(io.stdout) as Plan;
      expect(plan.steps.every((s) => s.node === null || s.node === 'master-3')).toBe(true);
      await failoverByHand(plan);
      const etcdConf = await readFile(lab.nodes[2]!.paths.etcdEnvFile, 'utf8');
      expect(etcdConf).not.toContain('ETCD_FORCE_NEW_CLUSTER');

      const over = await pollStatus((s) => s.code === 0 && s.report.mode === 'failed-over');
      const truth = await serverTruth([lab.nodes[2]!]);
      expect(over.code).toBe(0);
      expect(over.report.mode).toBe('failed-over');
      // madrid is still dead: no dc-unreachable hazard for a DC the cluster has failed away from.
      expect(over.report.hazards).toEqual([]);
      expect(over.report.nodes.find((n) => n.name === 'master-3')!.configKind).toBe('failed-over');
      expect(over.report.notes.map((n) => n.code)).not.toContain('force-new-cluster-left');
      for (const c of ['exhibitor', 'mesos', 'etcd'] as const) {
        expect(quorumOf(over.report, c), c).toEqual([{ members: ['master-3'], leader: 'master-3' }]);
      }
      expect(truthLeaders(truth)).toEqual({ exhibitor: 'master-3', mesos: 'master-3', etcd: 'master-3' });
      expect(truth[0]!.zk!.mode).toBe('standalone');

      // Madrid powers on with its old files.
      await reviveDc('main');
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
      const split = await waitFor(
        'a ZooKeeper leader in madrid next to the standalone master-3',
        async () => {
          const r = await statusBetweenTruths();
          const claims = truthLeaderClaims(r.before);
          return claims.exhibitor.length === 2 && JSON.stringify(claims) === JSON.stringify(truthLeaderClaims(r.after))
            ? r
            : undefined;
        },
        60_000,
        1000,
      );
      const claims = truthLeaderClaims(split.before);
      expect(split.code).toBe(5);
      expect(split.report.mode).toBe('split-brain-risk');
      for (const c of ['exhibitor', 'mesos', 'etcd'] as const) {
        const reported = quorumOf(split.report, c)
          .map((q) => q.leader ?? '?')
          .sort();
        expect(reported, `${c}: leaders status reports vs the servers' claims`).toEqual([...claims[c]].sort());
        const splitHazard = split.report.hazards.find((h) => h.code === 'split-brain' && h.cluster === c);
        if (claims[c].length > 1) expect(splitHazard?.message, c).toContain(`${claims[c].length} leaders`);
        else expect(splitHazard, c).toBeUndefined();
      }
      console.log(`after madrid returned: leaders per cluster ${JSON.stringify(claims)}`);
    },
  );

  it('reads normal again when madrid returns without a failover', { timeout: 180_000 }, async () => {
    lab = await labReset();
    await killDc('main');
    const lost = await pollStatus((s) => s.code === 5 && s.report.hazards.some((h) => h.code === 'dc-unreachable'));
    expect(hazardCodes(lost.report)).toContain('dc-unreachable');
    await reviveDc('main');
    // Bounded wait for the servers to heal: a settled read is exit 0 with every member back in
    // its cluster and no election between the reads of the servers around it.
    const all = ['master-1', 'master-2', 'master-3'];
    const settled = await waitFor(
      'madrid back in every cluster',
      async () => {
        const r = await statusBetweenTruths();
        const stable = JSON.stringify(truthLeaderClaims(r.before)) === JSON.stringify(truthLeaderClaims(r.after));
        const complete = (['exhibitor', 'mesos', 'etcd'] as const).every(
          (c) => quorumOf(r.report, c).length === 1 && quorumOf(r.report, c)[0]!.members.join() === all.join(),
        );
        return r.code === 0 && stable && complete ? r : undefined;
      },
      60_000,
      1000,
    );
    expect(settled.report.mode).toBe('normal');
    expect(settled.report.hazards).toEqual([]);
    expect(settled.report.returning).toEqual([]);
    const leaders = truthLeaders(settled.before);
    for (const c of ['exhibitor', 'mesos', 'etcd'] as const) {
      expect(quorumOf(settled.report, c), c).toEqual([{ members: all, leader: leaders[c] }]);
    }
    expectPositionsBetween(settled.report, settled.before, settled.after);
  });
});
