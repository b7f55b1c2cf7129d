/**
 * The connection pool against four real sshds (127.0.30.11-14, started once for this file):
 * connections open in parallel within the bound, one per host, reused by every step.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RemotePool, type SshTarget } from '../../src/remote/ssh.js';
import { LAB_USER, makeKey, makeTempDir, removeDir, startSshd, type KeyPair, type Sshd } from '../support/sshd.js';

const PORT = 2222;
const ADDRESSES = ['127.0.30.11', '127.0.30.12', '127.0.30.13', '127.0.30.14'];

let dir: string;
let client: KeyPair;
let knownHosts: string;
let sshds: Sshd[] = [];

function nodeAt(address: string, i: number, port = PORT): SshTarget {
  return {
    name: `master-${i + 1}`,
    address,
    ssh: {
      user: LAB_USER,
      port,
      identityFile: client.privatePath,
      knownHostsFile: knownHosts,
      sudo: true,
      connectTimeoutMs: 5000,
    },
  };
}

beforeAll(async () => {
  dir = makeTempDir('pool');
  client = makeKey(dir, 'client');
  sshds = await Promise.all(
    ADDRESSES.map((address) => startSshd({ dir, address, port: PORT, authorizedKeys: client.publicLine })),
  );
  knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, sshds.map((s) => `[${s.address}]:${s.port} ${s.hostKeyField}\n`).join(''));
});

afterAll(async () => {
  await Promise.all(sshds.map((s) => s.stop()));
  if (dir) removeDir(dir);
});

describe('RemotePool', () => {
  it('opens every host at once and reuses one connection per host across steps', async () => {
    const pool = new RemotePool({ agentSocket: null });
    const nodes = ADDRESSES.map((a, i) => nodeAt(a, i));
    const before = sshds.map((s) => s.acceptedLogins());

    const outcomes = await pool.openAll(nodes);

    expect(outcomes.map((o) => [o.node, o.kind])).toEqual(nodes.map((n) => [n.name, 'open']));
    expect(pool.peakOpening).toBe(nodes.length);
    // Several steps on every node, in parallel.
    for (let step = 0; step < 3; step++) {
      const results = await Promise.all(
        nodes.map(async (n) => (await pool.get(n)).exec(`echo ${n.name} step ${step}; id -u`)),
      );
      expect(results.map((r) => r.stdout)).toEqual(nodes.map((n) => `${n.name} step ${step}\n0\n`));
    }
    expect(pool.connectAttempts).toBe(nodes.length);
    expect(pool.openNodes().sort()).toEqual(nodes.map((n) => n.name).sort());
    // sshd's own count: one login per host.
    await expect.poll(() => sshds.map((s, i) => s.acceptedLogins() - before[i]!)).toEqual(sshds.map(() => 1));

    await pool.closeAll();
    expect(pool.openNodes()).toEqual([]);
  });

  it('never opens more connections at once than its bound', async () => {
    const pool = new RemotePool({ agentSocket: null, concurrency: 2 });
    const outcomes = await pool.openAll(ADDRESSES.map((a, i) => nodeAt(a, i)));
    expect(outcomes.every((o) => o.kind === 'open')).toBe(true);
    expect(pool.peakOpening).toBe(2);
    await pool.closeAll();
  });

  it('reports a host that cannot be reached without failing the others', async () => {
    const pool = new RemotePool({ agentSocket: null });
    const nodes = [nodeAt(ADDRESSES[0]!, 0), nodeAt('127.0.30.19', 8, PORT), nodeAt(ADDRESSES[1]!, 1)];

    const outcomes = await pool.openAll(nodes);

    expect(outcomes.map((o) => o.kind)).toEqual(['open', 'failed', 'open']);
    const failed = outcomes[1]!;
    if (failed.kind !== 'failed') throw new Error('expected a failure');
    expect(failed.error).toMatchObject({ code: 'ssh-connect' });
    expect(failed.error.message).toContain('master-9 (127.0.30.19:2222)');
    // A failed connect is not cached: the next get tries again.
    await expect(pool.get(nodes[1]!)).rejects.toMatchObject({ code: 'ssh-connect' });
    expect(pool.connectAttempts).toBe(4);
    await pool.closeAll();
  });
});
