/**
 * The Mesos probe treats every answer as untrusted: against a real HTTP server on loopback that
 * answers as Mesos does, or badly (wrong types, control characters, oversized or endless
 * bodies), it reads what Mesos serves, bounded, and names the endpoint of each bad answer.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { probeMesosMaster } from '../../../src/components/mesos/probe.js';

type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void;
let routes: Record<string, Handler> = {};
let server: Server;
let port = 0;

const json =
  (body: unknown, status = 200): Handler =>
  (_req, res) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(typeof body === 'string' ? body : JSON.stringify(body));
  };

/** A recovered leader as real Mesos answers (src/master/http.cpp, registrar.cpp, registry.proto). */
const LEADER: Record<string, Handler> = {
  'GET /metrics/snapshot': json({
    'master/elected': 1,
    'master/uptime_secs': 12.5,
    'registrar/log/recovered': 1,
    'registrar/log/ensemble_size': 3,
    'registrar/registry_size_bytes': 812,
    'registrar/queued_operations': 0,
  }),
  'GET /flags': json({ flags: { quorum: '2', work_dir: '/var/lib/dcos/mesos/master', zk: 'zk://x:2181/mesos' } }),
  'GET /version': json({ version: '1.11.0', build_user: 'root' }),
  'POST /api/v1': (req, res, body) =>
    JSON.parse(body).type === 'GET_HEALTH'
      ? json({ type: 'GET_HEALTH', get_health: { healthy: true } })(req, res, body)
      : json({}, 400)(req, res, body),
  'GET /registrar(1)/registry': json({
    master: { info: { id: 'm', hostname: 'h' } },
    slaves: {
      slaves: [{ info: { hostname: 'a2', id: { value: 'S2' } } }, { info: { hostname: 'a1', id: { value: 'S1' } } }],
    },
    unreachable: { slaves: [{ id: { value: 'S0' }, timestamp: { nanoseconds: 1 } }] },
    gone: { slaves: [{ id: { value: 'S9' }, timestamp: { nanoseconds: 1 } }] },
  }),
};

beforeAll(async () => {
  server = createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString('utf8')));
    req.on('end', () => {
      const h = routes[`${req.method} ${req.url}`];
      if (h) h(req, res, body);
      else json('', 404)(req, res, body);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  port = (server.address() as AddressInfo).port;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  routes = { ...LEADER };
});

describe('probeMesosMaster', () => {
  it("reads a recovered leader: elected, the registry size gauge, GET_HEALTH, the quorum of /flags, the registry's agents", async () => {
    expect(await probeMesosMaster('127.0.0.1', port, 2000)).toEqual({
      url: `http://127.0.0.1:${port}`,
      reachable: true,
      elected: true,
      replicaRecovered: true,
      registrarRecovered: true,
      registrySizeBytes: 812,
      ensembleSize: 3,
      quorum: 2,
      version: '1.11.0',
      healthy: true,
      registry: { agents: ['S0', 'S1', 'S2', 'S9'], sizeBytes: 812 },
    });
  });

  it('an elected master before recovery: no size gauge, GET_HEALTH 503, registry {}', async () => {
    routes['GET /metrics/snapshot'] = json({
      'master/elected': 1,
      'registrar/log/recovered': 1,
      'registrar/log/ensemble_size': 1,
    });
    routes['POST /api/v1'] = (_q, res) => {
      res.writeHead(503, { 'content-type': 'text/plain' });
      res.end('Master has not finished recovery');
    };
    routes['GET /registrar(1)/registry'] = json({});
    const s = await probeMesosMaster('127.0.0.1', port, 2000);
    expect(s).toMatchObject({
      elected: true,
      replicaRecovered: true,
      registrarRecovered: false,
      healthy: false,
      health: 'GET_HEALTH answered 503 (Master has not finished recovery)',
    });
    expect(s).not.toHaveProperty('registry');
    expect(s).not.toHaveProperty('registrySizeBytes');
    expect(s).not.toHaveProperty('error');
  });

  it('a follower is asked nothing a follower would redirect', async () => {
    routes['GET /metrics/snapshot'] = json({ 'master/elected': 0, 'registrar/log/recovered': 1 });
    const asked: string[] = [];
    for (const k of ['POST /api/v1', 'GET /registrar(1)/registry'])
      routes[k] = (_q, res) => {
        asked.push(k);
        res.writeHead(307, { location: '//leader:5050/api/v1' });
        res.end();
      };
    const s = await probeMesosMaster('127.0.0.1', port, 2000);
    expect(s).toMatchObject({ elected: false, registrarRecovered: false, quorum: 2 });
    expect(s).not.toHaveProperty('healthy');
    expect(s).not.toHaveProperty('registry');
    expect(asked).toEqual([]);
  });

  it('answers of the wrong shape are errors naming the endpoint and field, never values', async () => {
    routes['GET /metrics/snapshot'] = json({ 'master/elected': 'yes' });
    expect(await probeMesosMaster('127.0.0.1', port, 2000)).toEqual({
      url: `http://127.0.0.1:${port}`,
      reachable: true,
      error: '/metrics/snapshot: master/elected: expected 0 or 1',
    });
    routes = { ...LEADER, 'GET /flags': json({ flags: { quorum: 'two' } }) };
    routes['GET /registrar(1)/registry'] = json({ slaves: { slaves: [{ info: { id: { value: 'S1\u001b[2J' } } }] } });
    const s = await probeMesosMaster('127.0.0.1', port, 2000);
    expect(s.quorum).toBeUndefined();
    expect(s.registry).toBeUndefined();
    expect(s.error).toContain('/flags: flags.quorum: expected a whole number of replicas');
    expect(s.error).toContain('/registrar(1)/registry: slaves.slaves[0].info.id.value: expected an agent id');
    routes['GET /metrics/snapshot'] = json('<html>proxy error</html>');
    expect((await probeMesosMaster('127.0.0.1', port, 2000)).error).toBe(
      '/metrics/snapshot did not answer JSON (<html>proxy error</html>)',
    );
  });

  it('bounded: an oversized answer is cut, a silent one times out', async () => {
    routes['GET /metrics/snapshot'] = (_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(`{"pad":"${'x'.repeat(9 * 1024 * 1024)}"}`);
    };
    expect(await probeMesosMaster('127.0.0.1', port, 5000)).toMatchObject({
      reachable: true,
      error: 'the answer exceeded 8388608 bytes',
    });
    routes['GET /metrics/snapshot'] = (_q, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"master/elected":');
    };
    const t0 = Date.now();
    expect(await probeMesosMaster('127.0.0.1', port, 300)).toEqual({
      url: `http://127.0.0.1:${port}`,
      reachable: false,
      error: '/metrics/snapshot: no answer within 300 ms',
    });
    expect(Date.now() - t0).toBeLessThan(2000);
  });
});
