/**
 * The native `zookeeper` npm client gives up a session on its own after 10 reads in a row that
 * brought no whole packet (node_modules/zookeeper src/node-zk.cpp `zk_io_cb`: noResponseCounter >
 * responseCounterLimit -> realClose(ZOO_EXPIRED_SESSION_STATE)). A slow or loaded link does that
 * to any answer of more than a few segments. Mesos' own client (the ZooKeeper C client,
 * apache/mesos src/zookeeper/zookeeper.cpp) has no such rule: a session ends when the server expires
 * it. So the Mesos stand-ins (their contender and log replica group would "expire" and a leader
 * would commit suicide) and dcfail's probes (a probe over a slow WAN link would fail) both lift it.
 * Real ZooKeeper on loopback behind a proxy that hands the server's bytes back in small pieces.
 */
import { rmSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startZooKeeper, type Proc } from '../../../lab/machines/standins/mesos-testkit.js';
import { ZkSession } from '../../../lab/machines/standins/mesos-zk.js';
import { openZk } from '../../../src/components/zookeeper/probe.js';

const ROOT = '/tmp/dcfail-zk-slow-link';
const ZK = '127.0.74.2';
const PROXY = '127.0.74.3';
const PROXY_PORT = 2182;
const VALUE = 'x'.repeat(1500);

let zk: Proc;
let proxy: net.Server;
const sockets = new Set<net.Socket>();

/** Client -> server as it comes; server -> client 8 bytes at a time, 3 ms apart (a slow link). */
function slowProxy(): Promise<net.Server> {
  const server = net.createServer((client) => {
    const upstream = net.connect(2181, ZK);
    sockets.add(client).add(upstream);
    client.pipe(upstream);
    const queue: Buffer[] = [];
    let draining = false;
    const drain = () => {
      const head = queue[0];
      if (!head) {
        draining = false;
        return;
      }
      draining = true;
      const piece = head.subarray(0, 8);
      if (head.length > 8) queue[0] = head.subarray(8);
      else queue.shift();
      if (!client.destroyed) client.write(piece);
      setTimeout(drain, 3);
    };
    upstream.on('data', (b: Buffer) => {
      queue.push(b);
      if (!draining) drain();
    });
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  return new Promise((resolve) => server.listen(PROXY_PORT, PROXY, () => resolve(server)));
}

beforeAll(async () => {
  rmSync(ROOT, { recursive: true, force: true });
  zk = await startZooKeeper(`${ROOT}/zk`, ZK);
  const direct = await ZkSession.open(`${ZK}:2181`, 4000, 4000);
  await direct.mkdirp('/slow-link', 4000);
  direct.close();
  const seed = await openZk(`${ZK}:2181`, 4000);
  await seed.put('/slow-link/value', VALUE);
  seed.close();
  proxy = await slowProxy();
});

afterAll(async () => {
  for (const s of sockets) s.destroy();
  await new Promise<void>((r) => (proxy ? proxy.close(() => r()) : r()));
  zk?.kill();
  if (zk) await zk.exited;
  rmSync(ROOT, { recursive: true, force: true });
});

describe('ZooKeeper sessions over a slow link', () => {
  it("the Mesos stand-ins' session reads a 1.5 KB node that arrives in 8-byte pieces and stays open", async () => {
    const s = await ZkSession.open(`${PROXY}:${PROXY_PORT}`, 10_000, 10_000);
    try {
      expect(await s.getData('/slow-link/value', 15_000)).toBe(VALUE);
      expect(s.closed).toBe(false);
      expect(s.locallyExpired(10_000)).toBe(false);
    } finally {
      s.close();
    }
  });

  it("dcfail's probe session reads the same node over the same link", async () => {
    const s = await openZk(`${PROXY}:${PROXY_PORT}`, 15_000);
    try {
      expect(await s.get("/slow-link/value")).toBe(VALUE);
      expect(s.closed).toBe(false);
    } finally {
      s.close();
    }
  });
});
