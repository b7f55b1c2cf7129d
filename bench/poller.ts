/**
 * The independent poller: a child process with its own clients (not dcfail's verifications)
 * that watches the three clusters every ~50 ms and reports, per cluster, since when (epoch ms)
 * it has been serving without interruption. The parent turns that into a time to recovery.
 *
 *   node dist/bench/poller.js '<json spec>'   -> one JSON line on stdout when all serve (or at the deadline)
 *
 * Serving means, for the nodes named in the spec:
 * - etcd: a put with a 500 ms deadline accepted (and, when `etcdMembers` is set, the member list
 *   shows exactly that many started voters);
 * - ZooKeeper: every named server answers `srvr` with leader/follower/standalone, and a write
 *   through a native client session is accepted;
 * - Mesos: exactly one of the named masters is elected with `registrar/registry_size_bytes`
 *   present (its registrar recovered; and, when `mesosVoting` is set, that many replicas report
 *   `registrar/log/recovered` = 1: their log replica is VOTING).
 * Each cluster has its own loop; "all serve" is the moment the last of the three current
 * uninterrupted streaks began. The child exits by itself at the deadline.
 */
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { request } from 'node:http';
import { connect } from 'node:net';
import { openZk } from '../src/components/zookeeper/probe.js';

export interface PollSpec {
  etcd: string[];
  etcdMembers?: number;
  zk: { host: string; port: number }[];
  mesos: { host: string; port: number }[];
  mesosVoting?: number;
  deadlineMs: number;
  intervalMs?: number;
}

export interface PollResult {
  ok: boolean;
  /** Epoch ms at which each cluster's current serving streak began (observed), or null. */
  since: { etcd: number | null; zookeeper: number | null; mesos: number | null };
  /** Epoch ms when all three were first seen serving at once, or null. */
  allAt: number | null;
  probes: { etcd: number; zookeeper: number; mesos: number };
  last: { etcd: string; zookeeper: string; mesos: string };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function withDeadline<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`deadline ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(t);
        reject(e instanceof Error ? e : new Error(String(e)));
      },
    );
  });
}

async function etcdServes(spec: PollSpec, n: number): Promise<string | null> {
  const c = new Etcd3({
    hosts: spec.etcd,
    faultHandling: { host: () => noop, global: noop },
    defaultCallOptions: () => ({ deadline: new Date(Date.now() + 500) }),
  });
  try {
    await withDeadline(Promise.resolve(c.put('/bench/poller').value(String(n))), 700);
    if (spec.etcdMembers !== undefined) {
      const r = await withDeadline(c.cluster.memberList({}), 700);
      const voters = r.members.filter((m) => m.name !== '' && !(m as { isLearner?: boolean }).isLearner).length;
      if (r.members.length !== spec.etcdMembers || voters !== spec.etcdMembers)
        return `${voters}/${r.members.length} voters`;
    }
    return null;
  } catch (err) {
    return (err as Error).message.split('\n')[0]!.slice(0, 80);
  } finally {
    c.close();
  }
}

function srvr(host: string, port: number, timeoutMs: number): Promise<string> {
  return new Promise((resolve) => {
    let out = '';
    const sock = connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(out);
    }, timeoutMs);
    sock.on('connect', () => sock.end('srvr'));
    sock.on('data', (d) => (out += d.toString()));
    sock.on('close', () => {
      clearTimeout(timer);
      resolve(out);
    });
    sock.on('error', () => undefined);
  });
}

async function zkServes(spec: PollSpec, n: number): Promise<string | null> {
  const replies = await Promise.all(spec.zk.map((s) => srvr(s.host, s.port, 500)));
  const modes = replies.map((r) => /^Mode: (\w+)/m.exec(r)?.[1] ?? 'none');
  if (!modes.every((m) => m === 'leader' || m === 'follower' || m === 'standalone')) return `modes ${modes.join(',')}`;
  try {
    const s = await openZk(spec.zk.map((z) => `${z.host}:${z.port}`).join(','), 700);
    try {
      await s.put('/bench-poller', String(n));
    } finally {
      s.close();
    }
    return null;
  } catch (err) {
    return `write: ${(err as Error).message.slice(0, 60)}`;
  }
}

function metrics(host: string, port: number): Promise<Record<string, number> | null> {
  return new Promise((resolve) => {
    const req = request({ host, port, path: '/metrics/snapshot', agent: false, timeout: 500 }, (res) => {
      let body = '';
      res.on('data', (d) => (body += d));
      res.on('end', () => {
        try {
          resolve(res.statusCode === 200 ? (JSON.parse(body) as Record<string, number>) : null);
        } catch {
          resolve(null);
        }
      });
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
    req.end();
  });
}

async function mesosServes(spec: PollSpec): Promise<string | null> {
  const ms = await Promise.all(spec.mesos.map((m) => metrics(m.host, m.port)));
  const leaders = ms.filter(
    (m) => m?.['master/elected'] === 1 && m['registrar/registry_size_bytes'] !== undefined,
  ).length;
  if (leaders !== 1) return `${leaders} recovered leaders`;
  if (spec.mesosVoting !== undefined) {
    const voting = ms.filter((m) => m?.['registrar/log/recovered'] === 1).length;
    if (voting < spec.mesosVoting) return `${voting} voting`;
  }
  return null;
}

async function poll(spec: PollSpec): Promise<PollResult> {
  const end = Date.now() + spec.deadlineMs;
  const interval = spec.intervalMs ?? 50;
  const since: PollResult['since'] = { etcd: null, zookeeper: null, mesos: null };
  const probes = { etcd: 0, zookeeper: 0, mesos: 0 };
  const last = { etcd: '', zookeeper: '', mesos: '' };
  let allAt: number | null = null;
  let done = false;
  const check = () => {
    if (since.etcd !== null && since.zookeeper !== null && since.mesos !== null && allAt === null) {
      allAt = Date.now();
      done = true;
    }
  };
  const loop = async (key: keyof PollResult['since'], probe: (n: number) => Promise<string | null>) => {
    while (!done && Date.now() < end) {
      probes[key] += 1;
      const why = await probe(probes[key]).catch((e: Error) => e.message);
      const at = Date.now();
      last[key] = why ?? 'serving';
      if (why === null) since[key] ??= at;
      else since[key] = null;
      check();
      if (!done) await sleep(interval);
    }
  };
  await Promise.all([
    loop('etcd', (n) => etcdServes(spec, n)),
    loop('zookeeper', (n) => zkServes(spec, n)),
    loop('mesos', () => mesosServes(spec)),
  ]);
  return { ok: allAt !== null, since, allAt, probes, last };
}

if (process.argv[1]?.endsWith('poller.js') && process.argv[2]) {
  const spec = JSON.parse(process.argv[2]) as PollSpec;
  // Ready: the parent starts its clock only once the poller runs.
  process.stdout.write('ready\n');
  poll(spec).then(
    (r) => {
      process.stdout.write(`${JSON.stringify(r)}\n`);
      process.exit(0);
    },
    (err: unknown) => {
      process.stdout.write(`${JSON.stringify({ ok: false, error: String(err) })}\n`);
      process.exit(1);
    },
  );
}
