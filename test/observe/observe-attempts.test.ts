/**
 * observeCluster reads a node's files and units in one exec. A batch that dies without an exit
 * status (a loaded master's slow answer, a channel that failed) is asked again, up to the
 * topology's health.attempts; a batch that ran and exited is the answer. A real OpenSSH sshd on
 * 127.0.75.1 whose `isActive` command (allowAnyProgram) kills its whole batch the first N times.
 */
import { writeFileSync, chmodSync, existsSync, readFileSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { observeCluster } from '../../src/observe/observe.js';
import { RemotePool } from '../../src/remote/ssh.js';
import { parseTopology } from '../../src/topology/load.js';
import type { Topology } from '../../src/topology/model.js';
import { LAB_USER, makeKey, makeTempDir, removeDir, startSshd, type KeyPair, type Sshd } from '../support/sshd.js';

const ADDRESS = '127.0.75.1';
const PORT = 2222;

let dir: string;
let client: KeyPair;
let sshd: Sshd;
let knownHosts: string;

/** A topology of one master on the loopback sshd; its isActive kills the batch while `kills` lasts. */
function topology(attempts: number): Topology {
  return parseTopology({
    cluster: 'observe-attempts',
    datacenters: { main: 'madrid', secondary: 'barcelona' },
    ssh: { user: LAB_USER, port: PORT, identityFile: client.privatePath, knownHostsFile: knownHosts, sudo: true },
    services: {
      mesos: {
        masterCountFile: join(dir, 'master_count'),
        envFile: join(dir, 'mesos-master'),
        workDir: join(dir, 'work'),
      },
      exhibitor: { envFile: join(dir, 'exhibitor'), zkDataDir: join(dir, 'zk') },
      etcd: { envFile: join(dir, 'etcd.conf') },
      commands: { isActive: `${join(dir, 'is-active')} {unit}`, allowAnyProgram: true },
    },
    // Room for the check's walk up the process tree (a dozen `ps`) on a host loaded by two labs.
    health: { checks: ['ssh'], timeoutMs: 5000, attempts },
    nodes: [
      { name: 'master-1', dc: 'madrid', address: ADDRESS, roles: ['mesos', 'exhibitor', 'etcd'] },
      { name: 'master-2', dc: 'madrid', address: '127.0.75.2', roles: ['mesos', 'exhibitor', 'etcd'] },
      { name: 'master-3', dc: 'barcelona', address: '127.0.75.3', roles: ['mesos', 'exhibitor', 'etcd'] },
    ],
  });
}

/** The batch dies (its process group killed, no exit status) `n` more times, then answers. */
function killBatches(n: number): void {
  writeFileSync(join(dir, 'kills'), `${n}\n`);
}

beforeAll(async () => {
  dir = makeTempDir('observe-attempts');
  chmodSync(dir, 0o755);
  client = makeKey(dir, 'client');
  sshd = await startSshd({ dir, address: ADDRESS, port: PORT, authorizedKeys: client.publicLine });
  knownHosts = join(dir, 'known_hosts');
  writeFileSync(knownHosts, `[${ADDRESS}]:${PORT} ${sshd.hostKeyField}\n`);
  writeFileSync(join(dir, 'master_count'), '3\n');
  writeFileSync(join(dir, 'mesos-master'), 'MESOS_QUORUM=2\n');
  writeFileSync(join(dir, 'exhibitor'), `EXHIBITOR_STATICENSEMBLE=1:${ADDRESS},2:127.0.75.2,3:127.0.75.3\n`);
  writeFileSync(
    join(dir, 'etcd.conf'),
    `ETCD_NAME=master-1\nETCD_DATA_DIR=${join(dir, 'etcd')}\nETCD_INITIAL_CLUSTER=master-1=http://${ADDRESS}:2380,master-2=http://127.0.75.2:2380,master-3=http://127.0.75.3:2380\n`,
  );
  mkdirSync(join(dir, 'work'));
  const kills = join(dir, 'kills');
  // The batch runs as `sudo -n timeout ... sh -c <batch>`: the first check of a batch to see the
  // counter above 0 takes one off and kills the process group of that top `timeout` (the child of sudo, a group leader); sudo then
  // dies of the same signal and the exec ends with no exit status, as a channel that dies would.
  // Its orphaned sibling checks find the batch already counted (one mark per batch).
  writeFileSync(
    join(dir, 'is-active'),
    [
      '#!/bin/sh',
      'p=$$; top=',
      'while :; do',
      '  pp=$(ps -o ppid= -p "$p" | tr -d " ")',
      '  [ -n "$pp" ] && [ "$pp" -gt 1 ] || break',
      '  if [ "$(ps -o comm= -p "$pp")" = sudo ]; then top=$p; break; fi',
      '  p=$pp',
      'done',
      '[ -n "$top" ] || exit 0',
      `exec 9>>${kills}.lock`,
      'flock 9',
      `[ -e ${kills}.$top ] && exit 0`,
      `n=$(cat ${kills})`,
      `[ "$n" -gt 0 ] || exit 0`,
      `: > ${kills}.$top; echo $((n - 1)) > ${kills}`,
      // Drop mode: the connection itself dies (the session's sshd process, the first sshd above).
      `if [ -e ${kills}.drop ]; then q=$top; while [ "$(ps -o comm= -p "$q")" != sshd ]; do q=$(ps -o ppid= -p "$q" | tr -d " "); [ "$q" -gt 1 ] || exit 0; done; /bin/kill -s KILL "$q"; else /bin/kill -s KILL -- "-$top"; fi`,
      'exit 0',
      '',
    ].join('\n'),
  );
  chmodSync(join(dir, 'is-active'), 0o755);
  killBatches(0);
}, 120_000);

afterAll(async () => {
  await sshd?.stop();
  if (dir) removeDir(dir);
});

let lastConnects = 0;

async function observeMaster1(attempts: number) {
  const t = topology(attempts);
  const pool = new RemotePool({ agentSocket: null });
  try {
    const o = await observeCluster({ ...t, nodes: t.nodes.slice(0, 1) }, { pool, filesOnly: true });
    lastConnects = pool.connectAttempts;
    return o.nodes[0]!;
  } finally {
    await pool.closeAll();
  }
}

describe('observeCluster: a node read that dies without an answer', () => {
  it('reads the files and units once the batch answers (health.attempts 3, two batches killed)', async () => {
    killBatches(2);
    const n = await observeMaster1(3);
    expect(readFileSync(join(dir, 'kills'), 'utf8').trim()).toBe('0');
    expect(n.ssh.ok).toBe(true);
    expect(n.fileErrors).toEqual([]);
    expect(n.config).toMatchObject({ masterCount: '3', mesosQuorum: '2' });
    expect(n.units).toEqual({ mesos: 'active', exhibitor: 'active', etcd: 'active' });
  });

  it('opens the connection again when it dropped under the read (health.attempts 3, one connection killed)', async () => {
    killBatches(1);
    writeFileSync(join(dir, 'kills.drop'), '');
    try {
      const n = await observeMaster1(3);
      expect(readFileSync(join(dir, 'kills'), 'utf8').trim()).toBe('0');
      expect(lastConnects).toBe(2);
      expect(n.fileErrors).toEqual([]);
      expect(n.config).toMatchObject({ masterCount: '3', mesosQuorum: '2' });
    } finally {
      rmSync(join(dir, 'kills.drop'));
    }
  });

  it('reports the files unreadable when every attempt dies (health.attempts 2, three batches killed)', async () => {
    killBatches(3);
    const n = await observeMaster1(2);
    expect(readFileSync(join(dir, 'kills'), 'utf8').trim()).toBe('1');
    expect(n.config).toBeNull();
    expect(n.fileErrors.join('\n')).toMatch(/files unreadable/);
    expect(existsSync(join(dir, 'kills'))).toBe(true);
  });
});
