/**
 * Small network probes shared by the lab, its stand-ins and the tests: ZooKeeper four-letter
 * words, HTTP with a hard deadline, a bare TCP connect. Each one gives up at its deadline and
 * reports what happened instead of throwing.
 */
import { request } from 'node:http';
import { connect } from 'node:net';

export type ZkMode = 'leader' | 'follower' | 'standalone' | 'observer';

export interface ZkServerState {
  readonly mode: ZkMode;
  readonly zxid: string | undefined;
}

/** Sends a four-letter word and returns the whole answer, or undefined (refused, timeout, closed early). */
export function zkFourLetter(host: string, port: number, word: string, timeoutMs = 1000): Promise<string | undefined> {
  return new Promise((resolve) => {
    let out = '';
    let settled = false;
    const done = (v: string | undefined) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(v);
    };
    const sock = connect({ host, port });
    const timer = setTimeout(() => done(undefined), timeoutMs);
    sock.on('connect', () => sock.end(word));
    sock.on('data', (d) => (out += d.toString('utf8')));
    sock.on('end', () => done(out));
    sock.on('error', () => done(undefined));
  });
}

/** `srvr`: the server's mode when it serves; undefined when it does not (no quorum answers "not currently serving"). */
export async function zkServing(host: string, port: number, timeoutMs = 1000): Promise<ZkServerState | undefined> {
  const out = await zkFourLetter(host, port, 'srvr', timeoutMs);
  if (!out) return undefined;
  const mode = /^Mode: (\w+)/m.exec(out)?.[1];
  if (mode !== 'leader' && mode !== 'follower' && mode !== 'standalone' && mode !== 'observer') return undefined;
  return { mode, zxid: /^Zxid: (\S+)/m.exec(out)?.[1] };
}

export interface HttpResult {
  readonly kind: 'response';
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}
export type HttpOutcome = HttpResult | { readonly kind: 'error'; readonly code: string; readonly message: string };

/** One HTTP request, no redirects followed, aborted at the deadline (`code: 'TIMEOUT'`). */
export function httpRequest(url: string, opts: { method?: string; body?: unknown; timeoutMs?: number } = {}): Promise<HttpOutcome> {
  const timeoutMs = opts.timeoutMs ?? 2000;
  const payload = opts.body === undefined ? undefined : JSON.stringify(opts.body);
  return new Promise((resolve) => {
    let settled = false;
    const finish = (v: HttpOutcome) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(v);
    };
    const req = request(url, {
      method: opts.method ?? (payload === undefined ? 'GET' : 'POST'),
      headers: payload === undefined ? {} : { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) },
      agent: false,
    });
    const timer = setTimeout(() => {
      finish({ kind: 'error', code: 'TIMEOUT', message: `no answer from ${url} within ${timeoutMs} ms` });
      req.destroy();
    }, timeoutMs);
    req.on('response', (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => finish({ kind: 'response', status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', (e: NodeJS.ErrnoException) => finish({ kind: 'error', code: e.code ?? 'ERROR', message: e.message }));
    });
    req.on('error', (e: NodeJS.ErrnoException) => finish({ kind: 'error', code: e.code ?? 'ERROR', message: e.message }));
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** GET and parse JSON; undefined unless the status is 200 and the body parses. */
export async function httpJson<T = unknown>(url: string, timeoutMs = 2000): Promise<T | undefined> {
  const r = await httpRequest(url, { timeoutMs });
  if (r.kind !== 'response' || r.status !== 200) return undefined;
  try {
    return JSON.parse(r.body) as T;
  } catch {
    return undefined;
  }
}

export type TcpOutcome = 'open' | 'refused' | 'timeout' | 'error';

/** A bare TCP connect: what a dead WAN link looks like from here. */
export function tcpProbe(host: string, port: number, timeoutMs = 1000): Promise<TcpOutcome> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      resolve('timeout');
    }, timeoutMs);
    sock.on('connect', () => {
      clearTimeout(timer);
      sock.destroy();
      resolve('open');
    });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(e.code === 'ECONNREFUSED' ? 'refused' : 'error');
    });
  });
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
