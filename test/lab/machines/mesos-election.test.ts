/**
 * The Mesos master stand-in's election and HTTP answers, with a real ZooKeeper and three real
 * master processes (quorum 2) on loopback. Needs `npm run build` (the stand-ins run from dist/).
 * Timers at DCFAIL_LAB_TIME_SCALE=0.2: ZooKeeper session 2 s, registry fetch/store 12 s.
 */
import { rmSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { http, metrics, startMaster, startZooKeeper, waitFor, zkChildren, type Proc } from '../../../lab/machines/standins/mesos-testkit.js';

const ROOT = '/tmp/dcfail-mesos-election';
const ZK = '127.0.72.2';
const ZK_URL = `zk://${ZK}:2181/mesos`;
const SCALE = 0.2;
const SESSION_MS = 10_000 * SCALE;
const IPS = ['127.0.72.11', '127.0.72.12', '127.0.72.13'];

let zk: Proc;
const masters = new Map<string, Proc>();

async function leaderIp(among = IPS): Promise<string | undefined> {
  for (const ip of among) if ((await metrics(ip))?.['master/elected'] === 1) return ip;
  return undefined;
}

beforeAll(async () => {
  rmSync(ROOT, { recursive: true, force: true });
  zk = await startZooKeeper(`${ROOT}/zk`, ZK);
  for (const ip of IPS) masters.set(ip, startMaster({ ip, quorum: 2, workDir: `${ROOT}/${ip}`, zk: ZK_URL, scale: SCALE }));
});

afterAll(async () => {
  const all = [...masters.values(), ...(zk ? [zk] : [])];
  for (const p of all) p.kill();
  await Promise.all(all.map((p) => p.exited));
  rmSync(ROOT, { recursive: true, force: true });
});

describe('Mesos master stand-in: election and HTTP', () => {
  let leader = '';

  it('elects one leader; every VOTING replica reports registrar/log/recovered; only the leader recovers its registrar', async () => {
    leader = await waitFor('a leader whose registrar recovered', async () => {
      const l = await leaderIp();
      return l && (await metrics(l))?.['registrar/registry_size_bytes'] !== undefined ? l : undefined;
    });
    // The gauge appears at the fetch, before the Recover store (registrar.cpp `_recover`): wait
    // for the store, which puts this master's info in the registry.
    const reg = await waitFor('the Recover operation stored', async () => {
      const r = JSON.parse((await http(`http://${leader}:5050/registrar(1)/registry`))?.text ?? '{}') as { master?: { info?: { pid?: string } } };
      return r.master ? r : undefined;
    });
    const followers = IPS.filter((ip) => ip !== leader);
    for (const ip of followers) {
      // A follower's replica finishes its own recovery independently of the leader's registrar.
      await waitFor(`${ip}'s replica VOTING`, async () => (await metrics(ip))?.['registrar/log/recovered'] === 1);
      const m = await metrics(ip);
      expect(m?.['master/elected']).toBe(0);
      expect(m?.['registrar/log/recovered']).toBe(1);
      expect(m).not.toHaveProperty('registrar/registry_size_bytes');
      expect((await http(`http://${ip}:5050/registrar(1)/registry`))?.text).toBe('{}');
    }
    expect(reg.master?.info?.pid).toBe(`master@${leader}:5050`);
    // No invented metrics.
    const lm = await metrics(leader);
    for (const k of ['registrar/registry_version', 'master/quorum', 'replicated_log/voting']) expect(lm).not.toHaveProperty(k);
  });

  it('answers /master/state, /redirect, GET_HEALTH and /flags as Mesos does', async () => {
    const follower = IPS.find((ip) => ip !== leader) ?? '';
    const st = await http(`http://${leader}:5050/master/state`);
    expect(st?.status).toBe(200);
    const body = JSON.parse(st?.text ?? '{}') as Record<string, unknown>;
    expect(body).toMatchObject({ leader: `master@${leader}:5050`, hostname: leader, version: '1.11.0' });
    expect(typeof body.elected_time).toBe('number');

    const fs = await http(`http://${follower}:5050/master/state`);
    expect(fs?.status).toBe(307);
    expect(fs?.location).toBe(`//${leader}:5050/master/state`);
    expect((await http(`http://${follower}:5050/redirect`))?.location).toBe(`//${leader}:5050`);

    const health = await http(`http://${leader}:5050/api/v1`, { body: { type: 'GET_HEALTH' } });
    expect(health?.status).toBe(200);
    expect(JSON.parse(health?.text ?? '{}')).toEqual({ type: 'GET_HEALTH', get_health: { healthy: true } });
    const fh = await http(`http://${follower}:5050/api/v1`, { body: { type: 'GET_HEALTH' } });
    expect(fh?.status).toBe(307);
    expect(fh?.location).toBe(`//${leader}:5050/api/v1`);

    const flags = JSON.parse((await http(`http://${follower}:5050/flags`))?.text ?? '{}') as { flags: Record<string, string> };
    expect(flags.flags).toMatchObject({ quorum: '2', zk: ZK_URL, work_dir: `${ROOT}/${follower}`, registry_fetch_timeout: '12secs', registry_store_timeout: '12secs', zk_session_timeout: '2secs' });
  });

  it('keeps an idle connection open past Node\'s 5 s keep-alive timeout, as libprocess keeps its sockets (no message lost to that race)', async () => {
    const ip = IPS[0]!;
    await waitFor(`${ip}:5050 answering`, async () => ((await metrics(ip)) ? true : undefined));
    const sock = connect(5050, ip);
    let got = '';
    sock.on('data', (b: Buffer) => (got += b.toString()));
    let closedAt: number | undefined;
    sock.on('close', () => (closedAt = Date.now()));
    await new Promise<void>((r) => sock.once('connect', () => r()));
    const answers = () => got.split('HTTP/1.1 200').length - 1;
    const ask = () => sock.write(`GET /flags HTTP/1.1\r\nHost: ${ip}:5050\r\n\r\n`);
    ask();
    await waitFor('the first answer', async () => answers() === 1 || undefined, 10_000);
    expect(got).not.toMatch(/keep-alive: timeout=/i);
    await new Promise((r) => setTimeout(r, 6500));
    expect(closedAt, 'the master closed the idle connection').toBeUndefined();
    ask();
    await waitFor('the second answer, on the same connection', async () => answers() === 2 || undefined, 10_000);
    sock.destroy();
  });

  it('on SIGTERM the leader leaves its json.info_ znode until its session expires; leadership moves only then', async () => {
    const before = (await zkChildren(`${ZK}:2181`, '/mesos')).filter((n) => n.startsWith('json.info_'));
    expect(before).toHaveLength(3);
    const m = masters.get(leader);
    m?.kill('SIGTERM');
    const exit = await m?.exited;
    expect(exit?.signal).toBe('SIGTERM');
    const stoppedAt = exit?.at ?? Date.now();
    // Right after the exit every candidacy is still there: the session was not closed.
    expect((await zkChildren(`${ZK}:2181`, '/mesos')).filter((n) => n.startsWith('json.info_'))).toEqual(before);
    const rest = IPS.filter((ip) => ip !== leader);
    const next = await waitFor('a new leader', () => leaderIp(rest), 20_000, 50);
    const movedAfter = Date.now() - stoppedAt;
    expect(movedAfter).toBeGreaterThanOrEqual(SESSION_MS * 0.75);
    expect((await zkChildren(`${ZK}:2181`, '/mesos')).filter((n) => n.startsWith('json.info_'))).toHaveLength(2);
    // Two VOTING replicas remain of three: quorum 2, so the new leader recovers its registrar.
    await waitFor('the new leader recovered', async () => (await metrics(next))?.['registrar/registry_size_bytes'] !== undefined, 20_000);
  }, 60_000);

  it('with no leader known, /master/state and /api/v1 answer 503', async () => {
    // A master whose ZooKeeper never answers knows no leader.
    const lone = startMaster({ ip: '127.0.72.19', quorum: 2, workDir: `${ROOT}/lone`, zk: 'zk://127.0.72.9:2181/mesos', scale: SCALE });
    masters.set('127.0.72.19', lone);
    const st = await waitFor('the lone master to answer', () => http('http://127.0.72.19:5050/master/state'));
    expect(st.status).toBe(503);
    expect(st.text).toBe('No leader elected');
    expect((await http('http://127.0.72.19:5050/api/v1', { body: { type: 'GET_HEALTH' } }))?.status).toBe(503);
    expect((await metrics('127.0.72.19'))?.['master/elected']).toBe(0);
    expect((await metrics('127.0.72.19'))?.['registrar/log/recovered']).toBe(0);
  });
});
