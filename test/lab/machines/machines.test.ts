/**
 * The machines themselves, against real systemd: units installed as DC/OS installs them, the
 * lab's DC events (power cut, power-on with the disks as they were, partition, heal), its link
 * delay, its exec, and no route out. DC/OS's real timers (scale 1).
 */
import { execa } from 'execa';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { heal, labDown, labExec, labStatus, labUp, partition, powerOff, powerOn, readState, type Lab } from '../../../lab/machines/lab.js';
import { DCOS_PATHS, nodesOf, PORTS } from '../../../lab/machines/layout.js';
import { etcdHealthy, zkMode } from '../../../lab/machines/probes.js';
import { waitFor } from '../../../lab/machines/run.js';

const DIR = `${process.cwd()}/.lab-test-machines`;
let lab: Lab;
const addr = (name: string) => lab.layout.nodes.find((n) => n.name === name)!.address;

/** Milliseconds a TCP connect takes, or 'timeout' / 'refused'. */
function connectTime(host: string, port: number, timeoutMs = 1500): Promise<number | 'timeout' | 'refused'> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    const s = connect({ host, port });
    const timer = setTimeout(() => {
      s.destroy();
      resolve('timeout');
    }, timeoutMs);
    s.on('connect', () => {
      clearTimeout(timer);
      s.destroy();
      resolve(Number(process.hrtime.bigint() - t0) / 1e6);
    });
    s.on('error', () => {
      clearTimeout(timer);
      resolve('refused');
    });
  });
}

const exec = (node: string, script: string) => labExec(node, ['sh', '-c', script], { dir: DIR });

beforeAll(async () => {
  lab = await labUp({ masters: 3, dcos: '2.2', dir: DIR, timeScale: 1 });
}, 240_000);

afterAll(async () => {
  await labDown({ dir: DIR });
}, 60_000);

describe('machines', () => {
  it('each master is its own machine: systemd as PID 1, its own hostname, process table and disk', async () => {
    const names = await Promise.all(lab.layout.nodes.map((n) => exec(n.name, 'echo "$(cat /proc/1/comm) $(hostname) $(cat /etc/machine-id)"')));
    const seen = names.map((r) => r.stdout.trim().split(' '));
    expect(seen.map((s) => s[0])).toEqual(lab.layout.nodes.map(() => 'systemd'));
    expect(seen.map((s) => s[1])).toEqual(lab.layout.nodes.map((n) => n.name));
    expect(new Set(seen.map((s) => s[2])).size).toBe(lab.layout.nodes.length);
    await exec('master-1', 'echo only-here > /var/lib/dcos/lab-test-marker');
    expect((await exec('master-2', 'cat /var/lib/dcos/lab-test-marker')).exitCode).not.toBe(0);
  });

  it('installs the DC/OS units as regular files in /etc/systemd/system, pulled in by dcos.target; systemctl mask fails on them as on DC/OS', async () => {
    // The seed's etcd is not a DC/OS package: enabled in multi-user.target, a regular file all the same.
    const wants = { 'dcos-exhibitor': 'dcos.target.wants', 'dcos-mesos-master': 'dcos.target.wants', etcd: 'multi-user.target.wants' };
    expect((await exec('master-1', 'readlink -f /etc/systemd/system/multi-user.target.wants/dcos.target')).stdout.trim()).toBe('/etc/systemd/system/dcos.target');
    for (const [unit, dir] of Object.entries(wants)) {
      const stat = await exec('master-1', `stat -c %F /etc/systemd/system/${unit}.service; readlink -f /etc/systemd/system/${dir}/${unit}.service`);
      expect(stat.stdout.split('\n')[0]).toBe('regular file');
      expect(stat.stdout.split('\n')[1]).toBe(`/etc/systemd/system/${unit}.service`);
      const mask = await labExec('master-1', ['systemctl', 'mask', unit], { dir: DIR });
      expect(mask.exitCode).toBe(1);
      expect(mask.stderr).toContain(`Failed to mask unit: File /etc/systemd/system/${unit}.service already exists.`);
    }
    // A runtime mask "succeeds" but /etc outranks /run: the unit still starts.
    expect((await labExec('master-2', ['systemctl', 'mask', '--runtime', 'etcd'], { dir: DIR })).exitCode).toBe(0);
    expect((await labExec('master-2', ['systemctl', 'restart', 'etcd'], { dir: DIR })).exitCode).toBe(0);
    expect((await labExec('master-2', ['systemctl', 'is-active', 'etcd'], { dir: DIR })).stdout.trim()).toBe('active');
    await labExec('master-2', ['systemctl', 'unmask', '--runtime', 'etcd'], { dir: DIR });
  }, 60_000);

  it('keeps the DC/OS files where DC/OS keeps them, /opt/mesosphere/etc linking into the config package', async () => {
    const r = await exec('master-3', `cat ${DCOS_PATHS.masterCountFile}; readlink ${DCOS_PATHS.mesosEnvFile}; grep ^EXHIBITOR_STATICENSEMBLE= ${DCOS_PATHS.exhibitorEnvFile}; grep ^ETCD_NAME= ${DCOS_PATHS.etcdEnvFile}`);
    expect(r.stdout.split('\n')).toEqual([
      '3',
      `${DCOS_PATHS.configPackageEtc}/mesos-master`,
      `EXHIBITOR_STATICENSEMBLE=${lab.layout.nodes.map((n) => `${n.zkId}:${n.address}`).join(',')}`,
      'ETCD_NAME=master-3',
      '',
    ]);
  });

  it('exec runs as root inside the machine and passes the exit code through (the CLI too)', async () => {
    expect((await exec('master-2', 'id -u; exit 7')).exitCode).toBe(7);
    const cli = await execa(process.execPath, ['dist/lab/machines/cli.js', 'exec', 'master-2', '--', 'sh', '-c', 'id -un; exit 5'], { reject: false, env: { DCFAIL_LAB_DIR: DIR } });
    expect(cli.exitCode).toBe(5);
    expect(cli.stdout.trim()).toBe('root');
  });

  it('lets the operator in as dcfail over ssh (host key of each machine its own, verified) with passwordless sudo -n, and its topology validates as written', async () => {
    for (const n of lab.layout.nodes) {
      const r = await execa(
        'ssh',
        ['-i', lab.layout.identityFile, '-o', `UserKnownHostsFile=${lab.layout.knownHostsFile}`, '-o', 'StrictHostKeyChecking=yes', '-o', 'BatchMode=yes', `dcfail@${n.address}`, 'sudo -n systemctl is-active dcos-exhibitor; hostname'],
        { reject: false, timeout: 20_000 },
      );
      expect(r.exitCode, r.stderr).toBe(0);
      expect(r.stdout.split('\n')).toEqual(['active', n.name]);
    }
    // known_hosts holds one distinct key per machine.
    const keys = (await execa('cut', ['-d', ' ', '-f', '3', lab.layout.knownHostsFile])).stdout.split('\n');
    expect(new Set(keys).size).toBe(lab.layout.nodes.length);
    const v = await execa(process.execPath, ['dist/bin/dcfail.js', 'validate', '-t', lab.topologyPath], { reject: false });
    expect(v.exitCode, v.stderr).toBe(0);
  });

  it('npm run lab with no arguments prints the usage; an unknown command is exit 2', async () => {
    const usage = await execa(process.execPath, ['dist/lab/machines/cli.js'], { reject: false });
    expect(usage.exitCode).toBe(0);
    for (const cmd of ['up [--masters 3|5] [--dcos 2.1|2.2] [--latency-ms N]', 'power-off <dc>', 'power-on <dc>', 'partition <dc>', 'heal', 'exec <node> -- <cmd...>', 'status [--json]'])
      expect(usage.stderr).toContain(cmd);
    expect((await execa(process.execPath, ['dist/lab/machines/cli.js', 'power-of', 'madrid'], { reject: false })).exitCode).toBe(2);
  });

  it('has no route out: a machine routes only to 198.18.0.0/15', async () => {
    const routes = await exec('master-1', 'ip -4 route show');
    expect(routes.stdout).toContain(`198.18.0.0/15 via ${lab.layout.nodes[0]!.net.gateway}`);
    expect(routes.stdout).not.toContain('default');
    const out = await exec('master-1', 'ip route get 192.0.2.1');
    expect(out.exitCode).not.toBe(0);
    expect(out.stderr).toContain('unreachable');
  });

  it('delays the link between the DCs (one way, as configured) and not the links inside a DC', async () => {
    // From master-1, in one Node process: TCP connects to master-2 (same DC) and master-3 (other DC), medians of 25.
    const probe = `const net=require('net');const t=(h)=>new Promise(r=>{const s=process.hrtime.bigint();const c=net.connect(${PORTS.etcdClient},h,()=>{c.destroy();r(Number(process.hrtime.bigint()-s)/1e6)})});
(async()=>{for(const h of process.argv.slice(1)){const xs=[];for(let i=0;i<25;i++)xs.push(await t(h));xs.sort((a,b)=>a-b);console.log(xs[12])}})()`;
    const r = await labExec('master-1', ['/usr/bin/node', '-e', probe, addr('master-2'), addr('master-3')], { dir: DIR });
    const [inside, across] = r.stdout.trim().split('\n').map(Number) as [number, number];
    // A TCP connect is one round trip: 2 x the one-way delay (2 ms, jitter 0.5 ms) across the DCs.
    const { latencyMs, jitterMs } = lab.layout;
    expect(across).toBeGreaterThan(2 * (latencyMs - jitterMs));
    expect(across).toBeLessThan(2 * (latencyMs + jitterMs) + 1.5);
    // Inside a DC no delay: below the least round trip a delayed link can have (a loaded host adds
    // scheduling time to both medians, so a fixed 1 ms bound measured the host, not the link).
    expect(inside).toBeLessThan(2 * (latencyMs - jitterMs));
    expect(across - inside).toBeGreaterThan(2 * (latencyMs - jitterMs) - 1);
    console.log(`connect median: inside madrid ${inside.toFixed(2)} ms, madrid -> barcelona ${across.toFixed(2)} ms`);
  });

  it('partition cuts a DC off from the other DC and from the host, its machines keep running; heal undoes it', async () => {
    await partition('barcelona', { dir: DIR });
    expect(await connectTime(addr('master-3'), PORTS.ssh)).toBe('timeout');
    const across = await exec('master-1', `timeout 2 bash -c '(exec 3<>/dev/tcp/${addr('master-3')}/${PORTS.ssh})' && echo reached || echo cut`);
    expect(across.stdout.trim()).toBe('cut');
    const inside = await exec('master-1', `timeout 2 bash -c '(exec 3<>/dev/tcp/${addr('master-2')}/${PORTS.ssh})' && echo reached || echo cut`);
    expect(inside.stdout.trim()).toBe('reached');
    expect((await exec('master-3', 'systemctl is-active etcd')).stdout.trim()).toBe('active');
    expect((await labStatus({ dir: DIR })).partitioned).toEqual(['barcelona']);
    await heal({ dir: DIR });
    expect(typeof (await connectTime(addr('master-3'), PORTS.ssh))).toBe('number');
    await waitFor('etcd healthy everywhere after heal', async () => (await Promise.all(lab.layout.nodes.map((n) => etcdHealthy(n.address)))).every(Boolean), 30_000);
  }, 60_000);

  it('power-off cuts a DC at once (addresses time out), power-on boots it with its disks as they were and dcos.target starts every unit', async () => {
    const madrid = nodesOf(lab.layout, 'madrid');
    // Something an operator might have left on the disk: it must be there after the power cut.
    await exec('master-1', `echo 'lab-test: kept across a power cut' > /opt/mesosphere/etc/lab-test-note; sync`);
    const before = readState(DIR)!;
    await powerOff('main', { dir: DIR });
    for (const n of madrid) {
      expect(await connectTime(n.address, PORTS.ssh, 1000)).toBe('timeout');
      expect(readState(DIR)!.nspawn[n.machine]).toBeUndefined();
    }
    expect(before.nspawn[lab.layout.nodes[0]!.machine]).toBeDefined();
    expect((await labStatus({ dir: DIR })).poweredOff).toEqual(['madrid']);
    // The survivor keeps running (without quorum).
    expect((await exec('master-3', 'systemctl is-system-running --wait >/dev/null; systemctl is-active etcd')).exitCode).toBe(0);

    await powerOn('madrid', { dir: DIR });
    expect((await exec('master-1', 'cat /opt/mesosphere/etc/lab-test-note')).stdout).toBe('lab-test: kept across a power cut\n');
    // Nothing was started by the lab: systemd's dcos.target did it, with the files on disk.
    for (const n of madrid) {
      await waitFor(`${n.name}'s units active after power-on`, async () => {
        const r = await labExec(n.name, ['systemctl', 'is-active', 'etcd', 'dcos-exhibitor', 'dcos-mesos-master'], { dir: DIR });
        return r.exitCode === 0;
      }, 120_000, 1000);
    }
    await waitFor('ZooKeeper serving on every machine again', async () => (await Promise.all(lab.layout.nodes.map((n) => zkMode(n.address)))).every((m) => m === 'leader' || m === 'follower'), 90_000, 1000);
  }, 300_000);
});
