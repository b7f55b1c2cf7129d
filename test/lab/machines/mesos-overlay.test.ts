/**
 * The overlay module's replicated log and the agent stand-in: real ZooKeeper, three masters
 * (quorum 2), agents on their own addresses. Needs `npm run build`. DCFAIL_LAB_TIME_SCALE=0.5: at 0.2 a loaded host (two
 * labs beside it in CI) outran the 12 s registry fetch and a leader aborted mid-test, as Mesos would.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getJson, http, metrics, rawLog, startAgent, startMaster, startZooKeeper, waitFor, type Proc } from '../../../lab/machines/standins/mesos-testkit.js';

const ROOT = '/tmp/dcfail-mesos-overlay';
const ZK = '127.0.72.4';
const ZK_URL = `zk://${ZK}:2181/mesos`;
const SCALE = 0.5;
const IPS = ['127.0.72.51', '127.0.72.52', '127.0.72.53'];
const AGENTS = ['127.0.72.61', '127.0.72.62', '127.0.72.63'];

interface AgentState {
  id: string | null;
  master: string | null;
  overlay: { subnet: string; vtep_ip: string } | null;
}
interface OverlayState {
  network?: { vtep_subnet: string; overlays: { name: string; subnet: string; prefix: number }[] };
  agents: { ip: string; overlays: { subnet: string }[] }[];
}

let zk: Proc;
const procs = new Map<string, Proc>();
const agentState = (ip: string) => getJson<AgentState>(`http://${ip}:5051/state`);

async function leaderOf(ips: readonly string[]): Promise<string | undefined> {
  for (const ip of ips) if ((await metrics(ip))?.['master/elected'] === 1) return ip;
  return undefined;
}

beforeAll(async () => {
  rmSync(ROOT, { recursive: true, force: true });
  zk = await startZooKeeper(`${ROOT}/zk`, ZK);
  for (const ip of IPS) procs.set(ip, startMaster({ ip, quorum: 2, workDir: `${ROOT}/${ip}`, zk: ZK_URL, scale: SCALE }));
});
afterAll(async () => {
  const all = [...procs.values(), ...(zk ? [zk] : [])];
  for (const p of all) p.kill();
  await Promise.all(all.map((p) => p.exited));
  rmSync(ROOT, { recursive: true, force: true });
});

describe('overlay log and agents', () => {
  let leader = '';

  it('agents register with the leader and get distinct overlay subnets, stored in the overlay log on a quorum', async () => {
    for (const ip of AGENTS.slice(0, 2)) procs.set(ip, startAgent({ ip, zk: ZK_URL, workDir: `${ROOT}/agent-${ip}`, scale: SCALE }));
    const states = await waitFor('both agents with a subnet', async () => {
      const s = await Promise.all(AGENTS.slice(0, 2).map(agentState));
      return s.every((x) => x?.overlay && x.id) ? (s as AgentState[]) : undefined;
    }, 60_000);
    leader = (await leaderOf(IPS)) ?? '';
    expect(states.map((s) => s.master)).toEqual([`master@${leader}:5050`, `master@${leader}:5050`]);
    const subnets = states.map((s) => s.overlay?.subnet);
    expect(new Set(subnets).size).toBe(2);
    for (const s of subnets) expect(s).toMatch(/^9\.0\.\d+\.0\/24$/);
    const view = await getJson<OverlayState>(`http://${leader}:5050/overlay-master/state`);
    expect(view?.network?.overlays[0]).toMatchObject({ name: 'dcos', subnet: '9.0.0.0/8', prefix: 24 });
    expect(view?.agents.map((a) => a.ip).sort()).toEqual(AGENTS.slice(0, 2));
    // The registry admitted both agents too.
    const reg = (await http(`http://${leader}:5050/registrar(1)/registry`))?.text ?? '';
    for (const s of states) expect(reg).toContain(s.id ?? 'missing');
    // /master/slaves (read by dcfail's survival report): the leader lists them, a follower redirects.
    const slaves = await getJson<{ slaves: { id: string; hostname: string; resources: { cpus: number }; active: boolean }[] }>(`http://${leader}:5050/master/slaves`);
    expect(slaves?.slaves.map((x) => x.id).sort()).toEqual(states.map((x) => x.id).sort());
    for (const x of slaves?.slaves ?? []) expect(x).toMatchObject({ active: true, resources: { cpus: 2 } });
    const follower = IPS.find((ip) => ip !== leader) ?? '';
    expect((await http(`http://${follower}:5050/master/slaves`))?.location).toBe(`//${leader}:5050/master/slaves`);
    // A quorum (2 of 3) holds the last allocation, learned, in its overlay log.
    const holders = await waitFor('the allocation on two replicas', async () => {
      const logs = await Promise.all(IPS.map((ip) => rawLog(ip, 'overlay')));
      const n = logs.filter((l) => l?.actions.some((a) => a.learned && (a.value ?? '').includes(AGENTS[0] ?? '?') && (a.value ?? '').includes(AGENTS[1] ?? '?'))).length;
      return n >= 2 ? n : undefined;
    });
    expect(holders).toBeGreaterThanOrEqual(2);
  }, 120_000);

  it('after the leader fails, the new leader recovers the allocations: agents keep their subnets and a new agent gets a free one', async () => {
    const before = await Promise.all(AGENTS.slice(0, 2).map(agentState));
    // One failure at a time: the leader's loss leaves a quorum only once every other replica of
    // both logs has finished its recovery (a RECOVERING replica needs a quorum of VOTING peers to
    // finish, src/log/recover.cpp, so a lost leader would leave it, and the log, stuck for ever).
    await waitFor('every replica of both logs VOTING', async () => {
      const logs = await Promise.all(IPS.flatMap((ip) => [rawLog(ip, 'registry'), rawLog(ip, 'overlay')]));
      return logs.every((l) => l?.status === 'VOTING') || undefined;
    });
    procs.get(leader)?.kill('SIGKILL');
    const rest = IPS.filter((ip) => ip !== leader);
    const next = await waitFor('a new leader', () => leaderOf(rest), 20_000);
    procs.set(AGENTS[2] ?? '', startAgent({ ip: AGENTS[2] ?? '', zk: ZK_URL, workDir: `${ROOT}/agent-3`, scale: SCALE }));
    const after = await waitFor('all three agents registered with the new leader', async () => {
      const s = await Promise.all(AGENTS.map(agentState));
      return s.every((x) => x?.master === `master@${next}:5050` && x.overlay) ? (s as AgentState[]) : undefined;
    }, 40_000);
    expect(after.slice(0, 2).map((s) => s.overlay?.subnet)).toEqual(before.map((s) => s?.overlay?.subnet));
    expect(after.slice(0, 2).map((s) => s.id)).toEqual(before.map((s) => s?.id));
    expect(new Set(after.map((s) => s.overlay?.subnet)).size).toBe(3);
    const view = await getJson<OverlayState>(`http://${next}:5050/overlay-master/state`);
    expect(view?.agents.map((a) => a.ip).sort()).toEqual(AGENTS);
    const all = view?.agents.flatMap((a) => a.overlays.map((o) => o.subnet)) ?? [];
    expect(new Set(all).size).toBe(all.length);
  }, 120_000);
});
