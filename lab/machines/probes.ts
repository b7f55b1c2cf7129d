/**
 * What the lab asks its machines from the host, each with a deadline and a size cap: ZooKeeper's
 * `srvr`, etcd's `/health`, Mesos' HTTP endpoints. Used by `up` (to know the lab is ready), by
 * `status` and by the tests; dcfail has probes of its own and never uses these.
 */
import { request } from 'node:http';
import { connect } from 'node:net';
import { PORTS } from './layout.js';

const MAX_BYTES = 1 << 20;

/** Sends a ZooKeeper four-letter word and returns the answer (undefined when nothing answers). */
export function fourLetter(address: string, word: string, timeoutMs = 1000, port: number = PORTS.zkClient): Promise<string | undefined> {
  return new Promise((resolve) => {
    const sock = connect({ host: address, port });
    let out = '';
    const done = (v: string | undefined) => {
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const timer = setTimeout(() => done(undefined), timeoutMs);
    sock.on('connect', () => sock.write(word));
    sock.on('data', (d) => {
      out += d.toString('utf8');
      if (out.length > MAX_BYTES) done(undefined);
    });
    sock.on('end', () => done(out));
    sock.on('error', () => done(undefined));
  });
}

/** ZooKeeper's mode from `srvr` (leader, follower, standalone), undefined when not serving. */
export async function zkMode(address: string, timeoutMs = 1000): Promise<string | undefined> {
  const out = await fourLetter(address, 'srvr', timeoutMs);
  return out ? /^Mode: (\S+)/m.exec(out)?.[1] : undefined;
}

export interface HttpAnswer {
  readonly status: number;
  readonly body: string;
  readonly location?: string;
}

export function httpGet(url: string, opts: { timeoutMs?: number; method?: string; body?: string } = {}): Promise<HttpAnswer | undefined> {
  return new Promise((resolve) => {
    const req = request(url, { method: opts.method ?? 'GET', timeout: opts.timeoutMs ?? 2000, headers: opts.body ? { 'content-type': 'application/json' } : {} }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
        if (body.length > MAX_BYTES) req.destroy();
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body, ...(res.headers.location ? { location: res.headers.location } : {}) }));
      res.on('error', () => resolve(undefined));
    });
    const deadline = setTimeout(() => req.destroy(), opts.timeoutMs ?? 2000);
    req.on('close', () => clearTimeout(deadline));
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(undefined));
    req.end(opts.body);
  });
}

export async function httpJson<T>(url: string, timeoutMs = 2000): Promise<T | undefined> {
  const a = await httpGet(url, { timeoutMs });
  if (!a || a.status !== 200) return undefined;
  try {
    return JSON.parse(a.body) as T;
  } catch {
    return undefined;
  }
}

export async function etcdHealthy(address: string, timeoutMs = 2000): Promise<boolean> {
  const h = await httpJson<{ health?: string }>(`http://${address}:${PORTS.etcdClient}/health`, timeoutMs);
  return h?.health === 'true';
}

export type MesosMetrics = Record<string, number>;

export async function mesosMetrics(address: string, timeoutMs = 2000): Promise<MesosMetrics | undefined> {
  return httpJson<MesosMetrics>(`http://${address}:${PORTS.mesos}/metrics/snapshot`, timeoutMs);
}

/**
 * Elected and its registrar recovered: the gauge registrar/registry_size_bytes exists from the
 * registry's fetch on (src/master/registrar.cpp), and GET_HEALTH answers 200 once the recovery
 * stored this master's info (src/master/http.cpp `api`).
 */
export async function mesosRecoveredLeader(address: string, timeoutMs = 2000): Promise<boolean> {
  return (await mesosLeaderState(address, timeoutMs)) === 'recovered leader';
}

/** What one master says of itself, in the words a diagnostic needs (see mesosRecoveredLeader). */
export async function mesosLeaderState(
  address: string,
  timeoutMs = 2000,
): Promise<'recovered leader' | 'leader, registrar not recovered' | 'leader, GET_HEALTH not 200' | 'not leader' | 'not answering'> {
  const m = await mesosMetrics(address, timeoutMs);
  if (m === undefined) return 'not answering';
  if (m['master/elected'] !== 1) return 'not leader';
  if (m['registrar/registry_size_bytes'] === undefined) return 'leader, registrar not recovered';
  const h = await httpGet(`http://${address}:${PORTS.mesos}/api/v1`, { method: 'POST', body: '{"type":"GET_HEALTH"}', timeoutMs });
  return h?.status === 200 ? 'recovered leader' : 'leader, GET_HEALTH not 200';
}
