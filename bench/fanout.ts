/**
 * Fan-out: `dcfail status` over 1, 5 and 20 nodes that run only sshd. The lab has no such
 * nodes, so the bench starts its own sshds on 127.3.30.x (own host keys, the lab's login user
 * from lab/deps.sh with a key made for the bench, a known_hosts of their own) and removes them
 * afterwards.
 *
 * The topology schema wants a role per node (`mesos` and `exhibitor` together), so these nodes
 * carry the one role that may stand alone, `etcd`, with an env file each but no etcd running:
 * status then does per node what it does on a real one (ssh connect, read the file, ask the
 * unit's state, probe the ports: refused at once), and reports the missing quorum (exit 5).
 * Next to it, the bare transport: RemotePool.openAll plus one exec per node.
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { tcpOpen } from './floor.js';
import { RemotePool } from '../src/remote/ssh.js';
import { loadTopology } from '../src/topology/load.js';
import { REPO } from './cycles.js';
import { timeCommand } from './startup.js';
import { figure, type Figure } from './stats.js';

const run = promisify(execFile);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

export interface FanoutFigures {
  status: Record<string, Figure>;
  transport: Record<string, Figure>;
}

interface SshdNode {
  name: string;
  address: string;
  dir: string;
}

interface LoginKey {
  identityFile: string;
  authorizedKeysFile: string;
}

/** The login key the bench's sshds accept: made for this bench, readable by the login user's sshd check (StrictModes no). */
async function loginKey(dir: string): Promise<LoginKey> {
  await mkdir(dir, { recursive: true });
  const identityFile = `${dir}/id_ed25519`;
  await rm(identityFile, { force: true });
  await rm(`${identityFile}.pub`, { force: true });
  await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'dcfail-bench', '-f', identityFile]);
  const authorizedKeysFile = `${dir}/authorized_keys`;
  await writeFile(authorizedKeysFile, await readFile(`${identityFile}.pub`, 'utf8'), { mode: 0o644 });
  return { identityFile, authorizedKeysFile };
}

async function startSshds(
  key: LoginKey,
  dir: string,
  count: number,
): Promise<{ nodes: SshdNode[]; procs: ChildProcess[]; knownHosts: string }> {
  const nodes: SshdNode[] = Array.from({ length: count }, (_, i) => ({
    name: `sshd-${i + 1}`,
    address: `127.3.30.${i + 1}`,
    dir: `${dir}/sshd-${i + 1}`,
  }));
  await mkdir('/run/sshd', { recursive: true });
  const known: string[] = [];
  await Promise.all(
    nodes.map(async (n) => {
      await mkdir(n.dir, { recursive: true });
      await rm(`${n.dir}/host_key`, { force: true });
      await rm(`${n.dir}/host_key.pub`, { force: true });
      await run('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `root@${n.name}`, '-f', `${n.dir}/host_key`]);
      await writeFile(
        `${n.dir}/sshd_config`,
        [
          `ListenAddress ${n.address}:22`,
          `HostKey ${n.dir}/host_key`,
          `AuthorizedKeysFile ${key.authorizedKeysFile}`,
          'AllowUsers dcfail',
          'PidFile none',
          'UsePAM no',
          'PasswordAuthentication no',
          'KbdInteractiveAuthentication no',
          'PermitRootLogin no',
          'StrictModes no',
          'MaxStartups 100:30:200',
          '',
        ].join('\n'),
      );
      await writeFile(
        `${n.dir}/etcd.conf`,
        `ETCD_NAME=${n.name}\nETCD_DATA_DIR=${n.dir}/etcd-data\nETCD_INITIAL_ADVERTISE_PEER_URLS=http://${n.address}:2380\nETCD_INITIAL_CLUSTER_STATE=new\n`,
        { mode: 0o644 },
      );
      const pub = (await readFile(`${n.dir}/host_key.pub`, 'utf8')).trim().split(/\s+/);
      known.push(`${n.address} ${pub[0]} ${pub[1]}`);
    }),
  );
  const knownHosts = `${dir}/known_hosts`;
  await writeFile(knownHosts, `${known.join('\n')}\n`);
  const procs = nodes.map((n) =>
    spawn('/usr/sbin/sshd', ['-D', '-e', '-f', `${n.dir}/sshd_config`], { stdio: 'ignore' }),
  );
  for (let i = 0; i < 100; i += 1) {
    const up = await Promise.all(nodes.map((n) => tcpOpen(n.address, 22, 300)));
    if (up.every((u) => u)) break;
    await sleep(50);
  }
  return { nodes, procs, knownHosts };
}

function topologyOf(key: LoginKey, nodes: readonly SshdNode[], knownHosts: string): Record<string, unknown> {
  return {
    cluster: `fanout-${nodes.length}`,
    datacenters: { main: 'madrid', secondary: 'barcelona' },
    ssh: {
      user: 'dcfail',
      port: 22,
      identityFile: key.identityFile,
      knownHostsFile: knownHosts,
      sudo: true,
      connectTimeoutMs: 2000,
    },
    services: {
      commands: {
        // No service manager behind these sshd-only nodes: a harmless program stands in, which the topology must allow.
        allowAnyProgram: true,
        start: '/usr/bin/test -e /nonexistent/{unit}',
        stop: '/usr/bin/test -e /nonexistent/{unit}',
        restart: '/usr/bin/test -e /nonexistent/{unit}',
        disable: '/usr/bin/test -e /nonexistent/{unit}',
        enable: '/usr/bin/test -e /nonexistent/{unit}',
        isActive: '/usr/bin/test -e /nonexistent/{unit}',
      },
    },
    nodes: nodes.map((n) => ({
      name: n.name,
      dc: 'madrid',
      address: n.address,
      roles: ['etcd'],
      services: {
        etcd: { envFile: `${n.dir}/etcd.conf`, dataDir: `${n.dir}/etcd-data` },
        dcfail: { stateDir: `${n.dir}/state` },
      },
    })),
    health: { checks: ['ssh', 'tcp'], timeoutMs: 2000, attempts: 2 },
  };
}

async function timeTransport(file: string, runs: number): Promise<Figure> {
  const t = await loadTopology(file);
  const samples: number[] = [];
  for (let i = 0; i < runs + 1; i += 1) {
    const pool = new RemotePool({ agentSocket: null });
    const t0 = process.hrtime.bigint();
    const opened = await pool.openAll(t.nodes);
    await Promise.all(
      opened.map(async (o) => {
        if (o.kind !== 'open') throw new Error(`${o.node}: ${o.error.message}`);
        const r = await o.remote.exec('true', { timeoutMs: 5000 });
        if (r.exitCode !== 0) throw new Error(`${o.node}: exec exited ${r.exitCode}: ${r.stderr}`);
      }),
    );
    const t1 = process.hrtime.bigint();
    await pool.closeAll();
    if (i > 0) samples.push(Number(t1 - t0) / 1e6); // the first run warms up
  }
  return figure(samples);
}

export async function measureFanout(dir: string, sizes: readonly number[], runs: number): Promise<FanoutFigures> {
  const max = Math.max(...sizes);
  const key = await loginKey(`${dir}/key`);
  const { nodes, procs, knownHosts } = await startSshds(key, dir, max);
  const status: Record<string, Figure> = {};
  const transport: Record<string, Figure> = {};
  try {
    for (const n of sizes) {
      const file = `${dir}/topology-${n}.yaml`;
      await writeFile(file, stringify(topologyOf(key, nodes.slice(0, n), knownHosts), { lineWidth: 0 }));
      status[String(n)] = timeCommand(
        process.execPath,
        [`${REPO}/dist/bin/dcfail.js`, 'status', '-t', file],
        runs,
        [0, 1, 5],
      );
      transport[String(n)] = await timeTransport(file, runs);
    }
  } finally {
    for (const p of procs) p.kill('SIGTERM');
  }
  return { status, transport };
}
