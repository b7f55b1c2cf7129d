/**
 * The registrar and the registry's replicated log across failures, with a real ZooKeeper and real
 * master processes on loopback. Needs `npm run build`. Time scale 0.2: ZooKeeper session 2 s,
 * registry fetch/store 12 s. Every wait below is a span of DC/OS's own time (`dcos(ms)`), so it
 * follows the scale.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, metrics, rawLog, startMaster, startZooKeeper, waitFor, type MasterSpec, type Proc } from '../../../lab/machines/standins/mesos-testkit.js';

const ROOT = '/tmp/dcfail-mesos-registrar';
const ZK = '127.0.72.3';
const SCALE = 0.2;
/** A span of DC/OS's own time, at this file's time scale. */
const dcos = (ms: number): number => ms * SCALE;
const FETCH_MS = dcos(60_000);

let zk: Proc;
const procs: Proc[] = [];
/** The latest master started on each address. */
const latest = new Map<string, Proc>();
function start(spec: MasterSpec): Proc {
  const p = startMaster(spec);
  procs.push(p);
  latest.set(spec.ip, p);
  return p;
}
/** A wait that times out says what every master said last: a round that never finishes shows there. */
async function withLogs<T>(wait: Promise<T>): Promise<T> {
  return wait.catch((err: Error) => {
    const tails = [...latest].map(([ip, p]) => `--- ${ip}\n${p.text().slice(-3000)}`);
    throw new Error(`${err.message}\n${tails.join('\n')}`);
  });
}

async function leaderOf(ips: readonly string[]): Promise<string | undefined> {
  for (const ip of ips) if ((await metrics(ip))?.['master/elected'] === 1) return ip;
  return undefined;
}
async function recoveredLeader(ips: readonly string[]): Promise<string> {
  return withLogs(waitFor('a leader whose registrar recovered', async () => {
    const l = await leaderOf(ips);
    // The size gauge comes with the fetch; GET_HEALTH answers 200 once the recovery is stored.
    const healthy = l && (await metrics(l))?.['registrar/registry_size_bytes'] !== undefined && (await http(`http://${l}:5050/api/v1`, { body: { type: 'GET_HEALTH' } }))?.status === 200;
    return healthy ? l : undefined;
  }, dcos(150_000)));
}
async function admit(leader: string, hostname: string): Promise<string> {
  const r = await http(`http://${leader}:5050/lab/agents/register`, { body: { hostname, port: 5051 }, timeoutMs: 20_000 });
  expect(r?.status).toBe(200);
  return (JSON.parse(r?.text ?? '{}') as { agent_id: string }).agent_id;
}
const appendsWith = async (ip: string, needle: string) => ((await rawLog(ip))?.actions ?? []).filter((a) => a.type === 'APPEND' && (a.value ?? '').includes(needle));

beforeAll(async () => {
  rmSync(ROOT, { recursive: true, force: true });
  zk = await startZooKeeper(`${ROOT}/zk`, ZK);
});
afterAll(async () => {
  const all = [...procs, ...(zk ? [zk] : [])];
  for (const p of all) p.kill();
  await Promise.all(all.map((p) => p.exited));
  rmSync(ROOT, { recursive: true, force: true });
});

describe('quorum 2, three masters', () => {
  const IPS = ['127.0.72.31', '127.0.72.32', '127.0.72.33'];
  const zkUrl = `zk://${ZK}:2181/q2`;
  const spec = (ip: string): MasterSpec => ({ ip, quorum: 2, workDir: `${ROOT}/${ip}`, zk: zkUrl, scale: SCALE });
  const running = new Map<string, Proc>();
  let agentId = '';

  beforeAll(async () => {
    for (const ip of IPS) running.set(ip, start(spec(ip)));
    const leader = await recoveredLeader(IPS);
    agentId = await admit(leader, 'agent-q2');
  });

  it('an EMPTY replica (wiped disk) catches up from a quorum of VOTING replicas, and does not auto-initialise', async () => {
    const leader = await recoveredLeader(IPS);
    // Every replica VOTING first: a third still in auto-initialisation (STARTING) beside a wiped one
    // is a double fault that Mesos does not survive either (src/log/recover.cpp: a STARTING replica
    // needs 2q-1 STARTING or VOTING answers, an EMPTY one a quorum of VOTING ones), and both would
    // wait forever. Seen here: the victim killed while the third was STARTING.
    for (const ip of IPS)
      await withLogs(waitFor(`${ip}'s replica VOTING`, async () => (await metrics(ip))?.['registrar/log/recovered'] === 1, dcos(100_000)));
    const victim = IPS.find((ip) => ip !== leader) ?? '';
    running.get(victim)?.kill('SIGKILL');
    await running.get(victim)?.exited;
    rmSync(`${ROOT}/${victim}/replicated_log`, { recursive: true, force: true });
    const again = start(spec(victim));
    running.set(victim, again);
    await withLogs(waitFor('the wiped replica to vote', async () => (await metrics(victim))?.['registrar/log/recovered'] === 1, dcos(150_000)));
    expect(again.text()).toContain('catching up positions');
    expect(again.text()).not.toContain('auto-initialis');
    expect((await appendsWith(victim, agentId)).length).toBeGreaterThan(0);
    const log = await rawLog(victim);
    expect(log?.status).toBe('VOTING');
    // Every position it holds is learned, and agrees with the leader's.
    const leaderLog = await rawLog(leader);
    for (const a of log?.actions ?? []) {
      expect(a.learned).toBe(true);
      expect(leaderLog?.actions.find((b) => b.position === a.position)?.value).toBe(a.value);
    }
  }, dcos(300_000));

  it('a leader without a quorum of replicas is elected but never recovers its registrar, says so nowhere, and aborts after the fetch timeout', async () => {
    const leader = await recoveredLeader(IPS);
    const survivor = IPS.find((ip) => ip !== leader) ?? '';
    for (const ip of IPS) if (ip !== survivor) running.get(ip)?.kill('SIGKILL');
    const proc = running.get(survivor);
    // Elected once the others' sessions expire.
    await waitFor('the survivor elected', async () => (await metrics(survivor))?.['master/elected'] === 1, dcos(100_000), 50);
    const electedAt = Date.now();
    const m = await metrics(survivor);
    // Its own replica is VOTING: the log metric says recovered, which is not the registrar.
    expect(m?.['registrar/log/recovered']).toBe(1);
    expect(m).not.toHaveProperty('registrar/registry_size_bytes');
    expect((await http(`http://${survivor}:5050/registrar(1)/registry`))?.text).toBe('{}');
    const health = await http(`http://${survivor}:5050/api/v1`, { body: { type: 'GET_HEALTH' } });
    expect(health?.status).toBe(503);
    expect(health?.text).toBe('Master has not finished recovery');
    expect((await http(`http://${survivor}:5050/master/state`))?.status).toBe(200);
    // Half-way through the fetch timeout, still nothing recovered.
    await new Promise((r) => setTimeout(r, FETCH_MS / 2));
    expect(await metrics(survivor)).not.toHaveProperty('registrar/registry_size_bytes');
    const exit = await proc?.exited;
    expect(exit?.code).toBe(1);
    expect((exit?.at ?? 0) - electedAt).toBeGreaterThanOrEqual(FETCH_MS * 0.9);
    expect(proc?.text()).toContain(
      `Recovery failed: Failed to recover registrar: Failed to perform fetch within ${FETCH_MS / 1000}secs`,
    );
  }, dcos(300_000));
});

describe('quorum 2, one VOTING replica left', () => {
  const V = '127.0.72.35';
  const E = '127.0.72.36';
  const zkUrl = `zk://${ZK}:2181/lonely`;
  const spec = (ip: string): MasterSpec => ({ ip, quorum: 2, workDir: `${ROOT}/${ip}`, zk: zkUrl, scale: SCALE });

  it('an EMPTY replica beside a lone VOTING one stays EMPTY: no catch-up (one VOTING < quorum), no auto-initialisation (2 answers < 2q-1)', async () => {
    const procsHere = [start(spec(V)), start(spec(E))];
    // Both start EMPTY with a third member missing: 2 answers < 2q-1 = 3, nothing happens yet.
    await new Promise((r) => setTimeout(r, dcos(10_000)));
    expect((await metrics(V))?.['registrar/log/recovered']).toBe(0);
    // A third, short-lived master lets the three auto-initialise; then it goes and E is wiped.
    const third = start(spec('127.0.72.37'));
    await waitFor('V votes', async () => (await metrics(V))?.['registrar/log/recovered'] === 1, dcos(100_000));
    third.kill('SIGKILL');
    procsHere[1]?.kill('SIGKILL');
    await procsHere[1]?.exited;
    rmSync(`${ROOT}/${E}/replicated_log`, { recursive: true, force: true });
    const e = start(spec(E));
    await waitFor('E answers', () => metrics(E));
    // Several recover rounds (retry 0.5-1 s, round 10 s of DC/OS time).
    await new Promise((r) => setTimeout(r, dcos(15_000)));
    expect((await metrics(E))?.['registrar/log/recovered']).toBe(0);
    expect((await rawLog(E))?.status).toBe('EMPTY');
    // (log-replica(1) is the registry's log; the overlay log, log-replica(2), was not wiped.)
    expect(e.text()).not.toContain('log-replica(1): W auto-initialis');
    expect(e.text()).not.toContain('log-replica(1): catching up');
    expect((await rawLog(V))?.status).toBe('VOTING');
  }, dcos(300_000));
});

describe('quorum 1, two masters', () => {
  const A = '127.0.72.41';
  const B = '127.0.72.42';
  const zkUrl = `zk://${ZK}:2181/q1`;
  const spec = (ip: string): MasterSpec => ({ ip, quorum: 1, workDir: `${ROOT}/${ip}`, zk: zkUrl, scale: SCALE });
  let a: Proc;
  let agentId = '';

  it('a wiped master initialises an EMPTY registry on its own, beside a VOTING peer', async () => {
    a = start(spec(A));
    expect(await recoveredLeader([A])).toBe(A);
    agentId = await admit(A, 'agent-q1');
    const b = start(spec(B));
    await waitFor('B votes', async () => (await metrics(B))?.['registrar/log/recovered'] === 1, dcos(100_000));
    expect(b.text()).toContain('auto-initialised the replicated log EMPTY');
    expect(b.text()).not.toContain('catching up');
    expect(await appendsWith(B, agentId)).toEqual([]);
    expect((await appendsWith(A, agentId)).length).toBeGreaterThan(0);
  }, dcos(200_000));

  it('two divergent logs stay divergent, position by position', async () => {
    const aBefore = await rawLog(A);
    a.kill('SIGKILL');
    await a.exited;
    // B leads on its own empty log (quorum 1): the agent is gone from its registry.
    expect(await recoveredLeader([B])).toBe(B);
    const regB = (await http(`http://${B}:5050/registrar(1)/registry`))?.text ?? '';
    expect(regB).toContain(`master@${B}:5050`);
    expect(regB).not.toContain(agentId);
    // A comes back with its own log: VOTING at once, nothing caught up, nothing merged.
    const a2 = start(spec(A));
    await waitFor('A votes again', async () => (await metrics(A))?.['registrar/log/recovered'] === 1, dcos(100_000));
    expect(a2.text()).not.toContain('catching up');
    const aAfter = await rawLog(A);
    const bLog = await rawLog(B);
    expect(aAfter?.actions).toEqual(aBefore?.actions);
    expect((await appendsWith(A, agentId)).length).toBeGreaterThan(0);
    // Same position, different learned values.
    const differing = (bLog?.actions ?? []).filter((x) => {
      const y = aAfter?.actions.find((z) => z.position === x.position);
      return y?.learned && x.learned && y.value !== x.value;
    });
    expect(differing.length).toBeGreaterThan(0);
  }, dcos(200_000));
});
