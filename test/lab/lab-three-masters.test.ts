/**
 * The default lab (3 masters: 2 in madrid, 1 in barcelona) against real etcd, ZooKeeper and
 * sshd and the Mesos master stand-in. One `up` for the whole file; the tests run in order and
 * each leaves the lab healthy (or resets it).
 */
import { execFile } from 'node:child_process';
import { lstat, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseTopologyText } from '../../src/topology/load.js';
import { checkEtcd, checkHealth, checkZooKeeper, etcdctl, etcdEndpoints, mesosMetrics, isRecoveredLeader } from '../../lab/health.js';
import { killDc, labDown, labReset, labStatus, labUp, reviveDc, serviceControl, sshArgs, sshRun, unitLog, type Lab } from '../../lab/lab.js';
import { PORTS, UNITS, type LabNode } from '../../lab/layout.js';
import { httpRequest, sleep, tcpProbe } from '../../lab/probes.js';
import { masterState, mesosUrl, replicaLog, waitFor, writeRegistryEntry } from './helpers.js';

const run = promisify(execFile);
let lab: Lab;
const node = (name: string): LabNode => lab.nodes.find((n) => n.name === name)!;

async function leaderOf(nodes: readonly LabNode[]): Promise<LabNode | undefined> {
  for (const n of nodes) {
    const m = await mesosMetrics(n);
    if (isRecoveredLeader(m)) return n;
  }
  return undefined;
}

beforeAll(async () => {
  lab = await labUp({ masters: 3 });
  console.log(`lab up (3 masters) took ${(lab.durationMs / 1000).toFixed(1)} s`);
});

afterAll(async () => {
  await labDown();
});

describe('lab up, 3 masters', () => {
  it('is healthy: etcd, ZooKeeper, one Mesos leader', async () => {
    const h = await checkHealth(lab.nodes);
    expect(h, JSON.stringify(h)).toMatchObject({ healthy: true });
    const metrics = await Promise.all(lab.nodes.map((n) => mesosMetrics(n)));
    expect(metrics.filter((m) => m?.['master/elected'] === 1)).toHaveLength(1);
  });

  it('writes a topology that the project schema accepts', async () => {
    const t = parseTopologyText(await readFile(lab.topologyPath, 'utf8'), lab.topologyPath);
    expect(t.datacenters).toEqual({ main: 'madrid', secondary: 'barcelona' });
    expect(t.nodes.map((n) => [n.name, n.dc, n.address, n.zkId])).toEqual([
      ['master-1', 'madrid', '127.0.10.1', 1],
      ['master-2', 'madrid', '127.0.10.2', 2],
      ['master-3', 'barcelona', '127.0.20.1', 3],
    ]);
    expect(t.nodes[0]!.ssh).toMatchObject({ user: 'dcfail', port: 22, identityFile: `${lab.dir}/id_ed25519`, knownHostsFile: `${lab.dir}/known_hosts`, sudo: true });
    expect(t.nodes[2]!.services.mesos.workDir).toBe(`${lab.dir}/nodes/master-3/var/lib/dcos/mesos/master`);
    expect(t.nodes[2]!.services.commands.stop).toBe(`${lab.dir}/bin/labctl stop {node} {unit}`);
  });

  it("gives each node DC/OS's files: symlinks into a package, root-owned 0644, the values DC/OS holds", async () => {
    const n = node('master-1');
    for (const f of [n.paths.masterCountFile, n.paths.mesosEnvFile, n.paths.exhibitorEnvFile]) {
      expect((await lstat(f)).isSymbolicLink()).toBe(true);
      expect(await readlink(f)).toContain('/opt/mesosphere/packages/');
      const s = await stat(f);
      expect(s.uid).toBe(0);
      expect(s.mode & 0o777).toBe(0o644);
    }
    expect((await readFile(n.paths.masterCountFile, 'utf8')).trim()).toBe('3');
    expect(await readFile(n.paths.mesosEnvFile, 'utf8')).toMatch(/^MESOS_QUORUM=2$/m);
    expect(await readFile(n.paths.exhibitorEnvFile, 'utf8')).toMatch(/^EXHIBITOR_STATICENSEMBLE=1:127\.0\.10\.1,2:127\.0\.10\.2,3:127\.0\.20\.1$/m);
    const etcd = await readFile(n.paths.etcdEnvFile, 'utf8');
    expect(etcd).toMatch(/^ETCD_INITIAL_CLUSTER=master-1=http:\/\/127\.0\.10\.1:2380,master-2=http:\/\/127\.0\.10\.2:2380,master-3=http:\/\/127\.0\.20\.1:2380$/m);
    expect(etcd).toMatch(/^ETCD_INITIAL_CLUSTER_STATE=new$/m);
    expect(etcd).toContain(`ETCD_DATA_DIR=${n.paths.etcdDataDir}`);
    const zooCfg = await readFile(`${n.paths.zkConfDir}/zoo.cfg`, 'utf8');
    expect(zooCfg).toContain('server.3=127.0.20.1:2888:3888');
    expect(zooCfg).toContain(`dataDir=${n.paths.zkDataDir}/snapshot`);
    expect((await readFile(`${n.paths.zkDataDir}/snapshot/myid`, 'utf8')).trim()).toBe('1');
  });

  it('runs one sshd per node with its own host key, verified against the lab known_hosts', async () => {
    const keys = new Set<string>();
    for (const n of lab.nodes) {
      const { stdout } = await run('ssh-keygen', ['-F', n.address, '-f', `${lab.dir}/known_hosts`]);
      expect(stdout).toContain(n.address);
      keys.add((await readFile(`${n.paths.sshHostKey}.pub`, 'utf8')).split(' ')[1]!);
      const r = await sshRun(lab.layout, n, 'whoami && sudo -n whoami');
      expect(r, r.stderr).toMatchObject({ exitCode: 0, stdout: 'dcfail\nroot\n' });
    }
    expect(keys.size).toBe(3);
    // A known_hosts line with another node's key is refused.
    const wrong = `${lab.dir}/known_hosts.wrong`;
    const lines = (await readFile(`${lab.dir}/known_hosts`, 'utf8')).trim().split('\n');
    await writeFile(wrong, `${lines[0]!.split(' ')[0]} ${lines[1]!.split(' ').slice(1).join(' ')}\n`);
    const args = sshArgs(lab.layout, node('master-1')).map((a) => (a.startsWith('UserKnownHostsFile=') ? `UserKnownHostsFile=${wrong}` : a));
    await expect(run('ssh', [...args, 'true'])).rejects.toThrow(/Host key verification failed/);
    await rm(wrong);
  });

  it('controls services through the topology command templates over ssh + sudo -n', async () => {
    const t = parseTopologyText(await readFile(lab.topologyPath, 'utf8'));
    const n3 = t.nodes.find((n) => n.name === 'master-3')!;
    const cmd = (tpl: string) => `cd / && sudo -n ${tpl.replaceAll('{node}', n3.name).replaceAll('{unit}', n3.services.etcd.unit)}`;
    const target = node('master-3');
    expect((await sshRun(lab.layout, target, cmd(n3.services.commands.isActive))).exitCode).toBe(0);
    expect((await sshRun(lab.layout, target, cmd(n3.services.commands.stop))).exitCode).toBe(0);
    expect((await sshRun(lab.layout, target, cmd(n3.services.commands.isActive))).exitCode).toBe(3);
    expect(await tcpProbe(target.address, PORTS.etcdClient)).toBe('refused');
    // A stopped service stays stopped (no Restart=always for a stop).
    await sleep(1500);
    expect(await serviceControl('is-active', 'master-3', UNITS.etcd)).toBe(false);
    expect((await sshRun(lab.layout, target, cmd(n3.services.commands.start))).exitCode).toBe(0);
    expect((await sshRun(lab.layout, target, cmd(n3.services.commands.isActive))).exitCode).toBe(0);
    await waitFor('etcd healthy again', async () => (await checkEtcd(lab.nodes)).ok);
  });

  it('restarts a crashed service after a short delay (Restart=always)', async () => {
    const st = await labStatus();
    const etcd2 = st.supervisor!.units.find((u) => u.node === 'master-2' && u.unit === UNITS.etcd)!;
    process.kill(etcd2.pid!, 'SIGKILL');
    await waitFor('etcd on master-2 restarted', async () => {
      const s = await labStatus();
      const u = s.supervisor!.units.find((x) => x.node === 'master-2' && x.unit === UNITS.etcd)!;
      return u.active && u.pid !== etcd2.pid;
    });
    await waitFor('etcd healthy again', async () => (await checkEtcd(lab.nodes)).ok);
  });
});

describe('Mesos master stand-in', () => {
  it('writes to the registry through the leader; followers answer 307 to the leader', async () => {
    const leader = (await waitFor('a recovered leader', () => leaderOf(lab.nodes)))!;
    const v1 = await writeRegistryEntry(leader, { app: 'kept-1' });
    const v2 = await writeRegistryEntry(leader, { app: 'kept-2' });
    expect(v2).toBe(v1 + 1);
    const state = await masterState(leader);
    expect(state?.registry.entries.map((e) => e.data)).toContainEqual({ app: 'kept-2' });
    expect(state?.leader).toBe(`master@${leader.address}:5050`);
    for (const f of lab.nodes.filter((n) => n !== leader)) {
      const r = await httpRequest(mesosUrl(f, '/master/state'));
      expect(r).toMatchObject({ kind: 'response', status: 307 });
      if (r.kind === 'response') expect(r.headers.location).toBe(`http://${leader.address}:5050/master/state`);
      expect((await mesosMetrics(f))?.['master/elected']).toBe(0);
      // Every replica stored the quorum write.
      expect((await replicaLog(f))?.version).toBe(v2);
    }
    const health = await httpRequest(mesosUrl(leader, '/master/health'));
    expect(health).toMatchObject({ kind: 'response', status: 200 });
  });

  it('replicated log: an EMPTY replica next to a lone VOTING one stays EMPTY; copying the log makes it VOTING', { timeout: 90_000 }, async () => {
    const [m1, m2, m3] = [node('master-1'), node('master-2'), node('master-3')];
    const before = (await replicaLog(m1))!;
    expect(before.status).toBe('VOTING');
    for (const n of lab.nodes) await serviceControl('stop', n.name, UNITS.mesos);
    await rm(m2.paths.replicatedLogDir, { recursive: true, force: true });
    await rm(m3.paths.replicatedLogDir, { recursive: true, force: true });
    await serviceControl('start', m1.name, UNITS.mesos);
    await serviceControl('start', m2.name, UNITS.mesos);
    // m2 is EMPTY, m1 the lone VOTING replica: quorum 2 cannot be met, m2 must stay EMPTY.
    await waitFor('master-2 answering', () => replicaLog(m2));
    for (let i = 0; i < 12; i++) {
      expect((await replicaLog(m2))?.status ?? 'EMPTY').toBe('EMPTY');
      await sleep(500);
    }
    expect(await leaderOf([m1, m2])).toBeUndefined();
    // Copy the VOTING log over (what a correct failback does), then start it again.
    await serviceControl('stop', m2.name, UNITS.mesos);
    await run('cp', ['-a', m1.paths.replicatedLogDir, m2.paths.replicatedLogDir]);
    await serviceControl('start', m2.name, UNITS.mesos);
    await waitFor('master-2 VOTING', async () => (await replicaLog(m2))?.status === 'VOTING');
    const leader = await waitFor('a recovered leader', () => leaderOf([m1, m2]), 40_000);
    expect((await masterState(leader))?.registry.version).toBe(before.version);
    // A third, EMPTY replica now catches up from the two VOTING ones.
    await serviceControl('start', m3.name, UNITS.mesos);
    const caughtUp = await waitFor('master-3 VOTING', async () => {
      const l = await replicaLog(m3);
      return l?.status === 'VOTING' ? l : undefined;
    });
    expect(caughtUp.version).toBe(before.version);
    expect(caughtUp.entries.map((e) => e.data)).toContainEqual({ app: 'kept-2' });
  });

  it('replicated log: when every replica is EMPTY it auto-initialises an empty registry (the data-loss trap)', { timeout: 60_000 }, async () => {
    const before = (await replicaLog(node('master-1')))!;
    expect(before.version).toBeGreaterThan(0);
    for (const n of lab.nodes) await serviceControl('stop', n.name, UNITS.mesos);
    for (const n of lab.nodes) await rm(n.paths.replicatedLogDir, { recursive: true, force: true });
    for (const n of lab.nodes) await serviceControl('start', n.name, UNITS.mesos);
    const leader = await waitFor('a recovered leader', () => leaderOf(lab.nodes), 40_000);
    const state = await masterState(leader);
    expect(state?.registry).toMatchObject({ version: 0, entries: [] });
    expect(await readFile(unitLog(leader, UNITS.mesos), 'utf8')).toContain('AUTO-INITIALIZING');
  });
});

describe('kill-dc and revive-dc', () => {
  it('lab reset brings back the just-started state', { timeout: 90_000 }, async () => {
    const r = await labReset();
    console.log(`lab reset (3 masters) took ${(r.durationMs / 1000).toFixed(1)} s`);
    expect((await checkHealth(lab.nodes)).healthy).toBe(true);
    const leader = (await leaderOf(lab.nodes))!;
    expect((await masterState(leader))?.registry.version).toBe(0);
  });

  it('kill-dc main: addresses unreachable, no quorum (etcd write fails, no Mesos leader)', { timeout: 90_000 }, async () => {
    const leader = (await waitFor('a recovered leader', () => leaderOf(lab.nodes)))!;
    await writeRegistryEntry(leader, { app: 'before-kill' });
    // Quarantine a main-DC service before the DC dies: it must stay down at revive.
    await serviceControl('mask', 'master-2', UNITS.mesos);
    const r = await killDc('main');
    console.log(`kill-dc main: ${r.killed} processes killed, addresses ${r.unreachable} (${r.detail})`);
    const main = lab.nodes.filter((n) => n.dc === 'madrid');
    const m3 = node('master-3');
    for (const n of main) {
      for (const port of [PORTS.ssh, PORTS.etcdClient, PORTS.zkClient, PORTS.mesos]) {
        expect(['refused', 'timeout']).toContain(await tcpProbe(n.address, port, 1000));
      }
    }
    const put = await etcdctl(etcdEndpoints([m3]), ['put', '/dcfail-lab/after-kill', 'x'], 4000);
    expect(put.ok).toBe(false);
    expect((await checkZooKeeper([m3])).ok).toBe(false);
    // A follower forgets the leader (503); a leader that loses ZooKeeper exits and its restart
    // waits in the pre-start check (nothing listens). Either way: no leader anywhere.
    await waitFor('master-3 to see no leader', async () => {
      const res = await httpRequest(mesosUrl(m3, '/master/state'), { timeoutMs: 1000 });
      const noLeader = res.kind === 'response' ? res.status === 503 : res.code === 'ECONNREFUSED';
      return noLeader && (await mesosMetrics(m3))?.['master/elected'] !== 1;
    });
    const st = await labStatus();
    expect(st.supervisor?.killedDcs).toEqual(['madrid']);
    expect(st.supervisor?.units.filter((u) => u.dc === 'madrid' && u.active)).toEqual([]);
  });

  it('revive-dc main: machines come back with their old files; a masked service stays down', { timeout: 90_000 }, async () => {
    await reviveDc('main');
    const m2 = node('master-2');
    const r = await waitFor('ssh to master-1', async () => {
      const x = await sshRun(lab.layout, node('master-1'), 'true', 5000);
      return x.exitCode === 0 ? x : undefined;
    });
    expect(r.exitCode).toBe(0);
    await waitFor('etcd healthy', async () => (await checkEtcd(lab.nodes)).ok);
    await waitFor('ZooKeeper serving', async () => (await checkZooKeeper(lab.nodes)).ok);
    const live = lab.nodes.filter((n) => n !== m2);
    const leader = await waitFor('a recovered leader', () => leaderOf(live), 40_000);
    const state = await masterState(leader);
    expect(state?.registry.entries.map((e) => e.data)).toContainEqual({ app: 'before-kill' });
    await sleep(2000);
    expect(await serviceControl('is-active', m2.name, UNITS.mesos)).toBe(false);
    expect(await tcpProbe(m2.address, PORTS.mesos)).toBe('refused');
    const st = await labStatus();
    expect(st.supervisor?.units.find((u) => u.node === 'master-2' && u.unit === UNITS.mesos)).toMatchObject({ masked: true, active: false });
    // Unmask and start: it catches up and the cluster is whole again.
    await serviceControl('unmask', m2.name, UNITS.mesos);
    await serviceControl('start', m2.name, UNITS.mesos);
    await waitFor('all healthy', async () => (await checkHealth(lab.nodes)).healthy, 40_000);
  });
});
