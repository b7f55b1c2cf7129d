/**
 * The guard's check, run for real (sh, ip, curl) against HTTP servers on loopback: while nothing of
 * the other DC answers it asks again, ROUNDS rounds in all, and an answer in a later round decides as
 * an answer in the first would. The conf is the one renderGuardConf writes, with loopback ports.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { renderGuardConf } from '../../src/guard/render.js';

const SH = `${process.cwd()}/src/guard/dcfail-guard.sh`;

/** A server that counts requests and answers each with what `answer(n)` says (n from 1). */
function server(answer: (n: number) => string): Promise<{ srv: Server; port: number; count: () => number }> {
  let n = 0;
  const srv = createServer((req, res) => {
    n += 1;
    const body = answer(n);
    req.resume();
    req.on('end', () => {
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end(body);
    });
  });
  return new Promise((resolve) =>
    srv.listen(0, '127.0.0.1', () => resolve({ srv, port: (srv.address() as AddressInfo).port, count: () => n })),
  );
}

/** The other DC's one master: its beacon and its etcd, each a counting server; closed after `fn`. */
async function withOtherDc(
  beaconAnswer: (n: number) => string,
  etcdAnswer: (n: number) => string,
  fn: (beacon: { port: number; count: () => number }, etcd: { port: number; count: () => number }) => Promise<void>,
): Promise<void> {
  const beacon = await server(beaconAnswer);
  const etcd = await server(etcdAnswer);
  try {
    await fn(beacon, etcd);
  } finally {
    beacon.srv.close();
    etcd.srv.close();
  }
}

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(`${tmpdir()}/dcfail-guard-rounds-`);
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

async function check(ports: { beacon: number; etcdClient: number }, whenUnsure: 'start' | 'wait', rounds?: number) {
  const conf = renderGuardConf({
    node: 'master-1',
    address: '127.0.0.1',
    dc: 'madrid',
    otherDc: 'barcelona',
    otherMasters: ['127.0.0.1'],
    etcdPeerUrl: 'http://127.0.0.1:2380',
    whenUnsure,
    units: [{ unit: 'etcd', cluster: 'etcd' }],
    ports: { beacon: ports.beacon, etcdClient: ports.etcdClient },
    paths: { stateDir: `${dir}/state` },
    curl: '/usr/bin/curl',
    ...(rounds === undefined ? {} : { rounds }),
  });
  const path = `${dir}/guard-${Math.random().toString(36).slice(2)}.conf`;
  writeFileSync(path, conf);
  const r = await execa('sh', [SH, 'check', 'etcd', 'etcd', whenUnsure], {
    env: { DCFAIL_GUARD_CONF: path },
    reject: false,
    timeout: 60_000,
  });
  return { exitCode: r.exitCode, line: r.stderr.trim() };
}

const BEACON_NORMAL = 'dcfail-guard beacon version=1 node=master-3 dc=barcelona failover=normal lost=- run=- \n';
const BEACON_LOST_MADRID =
  'dcfail-guard beacon version=1 node=master-3 dc=barcelona failover=failed-over lost=madrid run=r1 \n';

describe('guard check: rounds while the other DC does not answer', () => {
  it('nothing answers: 3 rounds of both probes (6 requests), then whenUnsure decides', async () => {
    await withOtherDc(
      () => 'not a beacon',
      () => 'not etcd',
      async (beacon, etcd) => {
        const start = await check({ beacon: beacon.port, etcdClient: etcd.port }, 'start');
        expect(start).toEqual({
          exitCode: 0,
          line: 'dcfail-guard[etcd]: starting: barcelona (127.0.0.1) does not answer (rounds: 3) (whenUnsure=start)',
        });
        expect([beacon.count(), etcd.count()]).toEqual([3, 3]);
        const wait = await check({ beacon: beacon.port, etcdClient: etcd.port }, 'wait', 2);
        expect(wait).toEqual({
          exitCode: 1,
          line: 'dcfail-guard[etcd]: staying down: barcelona (127.0.0.1) does not answer (rounds: 2) (whenUnsure=wait)',
        });
        expect([beacon.count(), etcd.count()]).toEqual([5, 5]);
      },
    );
  }, 60_000);

  it('an answer in the second round decides: a normal beacon starts, stopping there', async () => {
    await withOtherDc(
      (n) => (n >= 2 ? BEACON_NORMAL : 'booting'),
      () => 'not etcd',
      async (beacon, etcd) => {
        const r = await check({ beacon: beacon.port, etcdClient: etcd.port }, 'wait');
        expect(r).toEqual({
          exitCode: 0,
          line: 'dcfail-guard[etcd]: starting: no failover evidence in barcelona (answered: beacon@127.0.0.1)',
        });
        expect([beacon.count(), etcd.count()]).toEqual([2, 2]);
      },
    );
  }, 60_000);

  it('a failover marker in a later round keeps the unit down, whenUnsure=start notwithstanding', async () => {
    await withOtherDc(
      (n) => (n >= 3 ? BEACON_LOST_MADRID : 'booting'),
      () => 'not etcd',
      async (beacon, etcd) => {
        const r = await check({ beacon: beacon.port, etcdClient: etcd.port }, 'start');
        expect(r.exitCode).toBe(1);
        expect(r.line).toBe(
          'dcfail-guard[etcd]: staying down: failover marker on 127.0.0.1 (barcelona): the cluster runs failed over away from madrid',
        );
        expect(beacon.count()).toBe(3);
      },
    );
  }, 60_000);

  it('an etcd membership without this node, answering only in round 2, keeps etcd down', async () => {
    const members = '{"header":{},"members":[{"ID":"1","name":"master-3","peerURLs":["http://127.0.0.9:2380"]}]}';
    await withOtherDc(
      () => 'booting',
      (n) => (n >= 2 ? members : 'booting'),
      async (beacon, etcd) => {
        const r = await check({ beacon: beacon.port, etcdClient: etcd.port }, 'start');
        expect(r.exitCode).toBe(1);
        expect(r.line).toBe(
          'dcfail-guard[etcd]: staying down: etcd on 127.0.0.1 (barcelona) has no member http://127.0.0.1:2380: the cluster runs failed over without this node',
        );
        expect(etcd.count()).toBe(2);
      },
    );
  }, 60_000);
});
