/**
 * One machine: a systemd-nspawn container with systemd as PID 1, booted from an overlay of the
 * host's root (so etcd, ZooKeeper, sshd and Node come from the host's Debian packages). Its disk is
 * the overlay's upper layer, `<lab>/machines/<machine>/upper`: whatever the machine writes lands
 * there and outlives a power cut.
 *
 * Power: `boot` starts the container (systemd then starts what is enabled, `dcos.target` included,
 * with the files on the disk); `powerCut` SIGKILLs the container's PID 1 (the kernel kills every
 * process of its PID namespace at once: no clean shutdown, and its veth disappears, so its address
 * times out as a dead host's does). Only processes the lab started are signalled, by pid.
 */
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmod, chown, mkdir, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { closeSync, existsSync, openSync, readFileSync } from 'node:fs';
import { dirname } from 'node:path';
import {
  DCOS_PATHS,
  LAB_ENV_FILE,
  LAB_NET_CIDR,
  LAB_USER,
  REPO_IN_MACHINE,
  renderEtcdEnv,
  renderExhibitorEnv,
  renderMasterCount,
  renderMesosEnv,
  type MachineNode,
  type MachinesLayout,
} from './layout.js';
import { LabError, must, run, sleep, waitFor } from './run.js';
import { NODE, STANDINS_DIR } from './units.js';

export interface MachinePaths {
  readonly base: string;
  readonly upper: string;
  readonly work: string;
  /** The merged root the container boots from. */
  readonly root: string;
  readonly console: string;
}

export function machinePaths(labDir: string, node: Pick<MachineNode, 'machine'>): MachinePaths {
  const base = `${labDir}/machines/${node.machine}`;
  return { base, upper: `${base}/upper`, work: `${base}/work`, root: `${base}/root`, console: `${base}/console.log` };
}

/** A file to put on a machine's disk (path inside the machine). */
export interface MachineFile {
  readonly path: string;
  readonly content: string;
  readonly mode?: number;
}
export interface MachineSymlink {
  readonly path: string;
  readonly target: string;
}
export interface MachineUnits {
  readonly files: readonly MachineFile[];
  readonly symlinks: readonly MachineSymlink[];
}

export async function isMounted(path: string): Promise<boolean> {
  return (await run('mountpoint', ['-q', path])).exitCode === 0;
}

export async function mountRoot(p: MachinePaths): Promise<void> {
  await mkdir(p.upper, { recursive: true });
  await mkdir(p.work, { recursive: true });
  await mkdir(p.root, { recursive: true });
  if (!(await isMounted(p.root))) await must('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=/,upperdir=${p.upper},workdir=${p.work}`, p.root]);
}

export async function unmountRoot(p: MachinePaths): Promise<void> {
  for (let i = 0; i < 20 && (await isMounted(p.root)); i++) {
    if ((await run('umount', [p.root])).exitCode === 0) break;
    await sleep(250);
  }
  if (await isMounted(p.root)) await run('umount', ['-l', p.root]);
}

/** Units of the host image that a DC/OS master does not run: masked (or their enablement removed) on every machine. */
const MASKED_UNITS = [
  'console-getty.service',
  'getty@tty1.service',
  'postgresql.service',
  'postgresql@.service',
  'cron.service',
  'e2scrub_reap.service',
  'apt-daily.timer',
  'apt-daily-upgrade.timer',
  'dpkg-db-backup.timer',
  'e2scrub_all.timer',
  'fstrim.timer',
  'man-db.timer',
  'systemd-timesyncd.service',
  'systemd-pstore.service',
  'zookeeper.service',
  // Installed on the host for the tests' own tools (promtool, the browser); a master runs neither.
  'prometheus.service',
  'avahi-daemon.service',
  'avahi-daemon.socket',
  // Early-boot units that this host's cgroup v1 sometimes fails to attach (219/CGROUP); sysctls are read-only in a container anyway.
  'systemd-sysctl.service',
];
/**
 * Early-boot oneshot units that systemd-nspawn on this host's cgroup v1 sometimes fails to attach
 * to their cgroup (exit 219/CGROUP, "Failed to attach to cgroup ... No such file or directory"):
 * retried by a drop-in. systemd-user-sessions matters most: until it runs, /run/nologin refuses
 * every non-root login. DC/OS's own units restart by themselves (Restart=always) and get no drop-in.
 */
const RETRIED_EARLY_UNITS = ['systemd-user-sessions.service', 'systemd-tmpfiles-setup.service', 'systemd-update-utmp.service', 'systemd-journal-flush.service'];
/** Enablement links of the host image that would start a second etcd or services a master lacks. */
const REMOVED_WANTS = ['multi-user.target.wants/etcd.service', 'multi-user.target.wants/postgresql.service', 'multi-user.target.wants/e2scrub_reap.service'];

async function put(root: string, f: MachineFile, owner?: { uid: number; gid: number }): Promise<void> {
  const path = `${root}${f.path}`;
  await mkdir(dirname(path), { recursive: true });
  await rm(path, { force: true });
  await writeFile(path, f.content, { mode: f.mode ?? 0o644 });
  await chmod(path, f.mode ?? 0o644);
  if (owner) await chown(path, owner.uid, owner.gid);
}

async function link(root: string, l: MachineSymlink): Promise<void> {
  const path = `${root}${l.path}`;
  await mkdir(dirname(path), { recursive: true });
  await rm(path, { force: true });
  await symlink(l.target, path);
}

function userIds(name: string): { uid: number; gid: number } {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${name}:`));
  if (!line) throw new LabError(`no user '${name}' on this host: run npm run lab:deps`);
  const f = line.split(':');
  return { uid: Number(f[2]), gid: Number(f[3]) };
}

/**
 * Writes a fresh machine's disk: identity (machine-id, hostname, its own ssh host key), network,
 * logins, the DC/OS files where DC/OS keeps them, the units as DC/OS installs them. Returns the
 * machine's ssh host public key (for known_hosts).
 */
export async function provision(layout: MachinesLayout, node: MachineNode, p: MachinePaths, units: MachineUnits, authorizedKeys: string): Promise<string> {
  const R = p.root;
  // An id of its own (systemd-machine-id-setup would copy D-Bus's id from the host's image).
  const machineId = `${randomBytes(16).toString('hex')}\n`;
  await put(R, { path: '/etc/machine-id', content: machineId, mode: 0o444 });
  await put(R, { path: '/var/lib/dbus/machine-id', content: machineId, mode: 0o444 });
  await put(R, { path: '/etc/hostname', content: `${node.name}\n` });
  await put(R, { path: '/etc/hosts', content: `127.0.0.1 localhost\n127.0.1.1 ${node.name}\n${node.address} ${node.name}\n` });
  for (const u of MASKED_UNITS) await link(R, { path: `/etc/systemd/system/${u}`, target: '/dev/null' });
  for (const w of REMOVED_WANTS) await rm(`${R}/etc/systemd/system/${w}`, { force: true });
  await rm(`${R}/etc/systemd/system/getty.target.wants`, { recursive: true, force: true });
  await rm(`${R}/etc/systemd/system/timers.target.wants`, { recursive: true, force: true });
  for (const u of RETRIED_EARLY_UNITS) {
    await put(R, { path: `/etc/systemd/system/${u}.d/lab-retry.conf`, content: '# The lab: retry a start that lost the early-boot cgroup race (219/CGROUP) of systemd-nspawn on this host.\n[Service]\nRestart=on-failure\nRestartSec=1\n' });
  }
  await put(R, { path: '/etc/systemd/journald.conf.d/lab.conf', content: '[Journal]\nStorage=volatile\nRuntimeMaxUse=16M\n' });

  // The machine's network: its address on its DC's bridge and one route, to the lab's range.
  await put(R, {
    path: '/etc/systemd/system/lab-net.service',
    content: [
      '[Unit]',
      `Description=The lab network of ${node.name} (${node.address}; only route ${LAB_NET_CIDR})`,
      // Default dependencies: in early boot (DefaultDependencies=no) systemd-nspawn on this host's
      // cgroup v1 sometimes fails to attach the unit to its cgroup (exit 219/CGROUP).
      'Before=network.target network-online.target ssh.service dcos.target etcd.service dcos-exhibitor.service dcos-mesos-master.service',
      '',
      '[Service]',
      'Type=oneshot',
      'RemainAfterExit=yes',
      'Restart=on-failure',
      'RestartSec=1',
      'ExecStart=/usr/sbin/ip link set lo up',
      `ExecStart=/usr/sbin/ip addr replace ${node.address}/24 dev host0`,
      'ExecStart=/usr/sbin/ip link set host0 up',
      `ExecStart=/usr/sbin/ip route replace ${LAB_NET_CIDR} via ${node.net.gateway}`,
      '',
      '[Install]',
      'WantedBy=multi-user.target',
      '',
    ].join('\n'),
  });
  await link(R, { path: '/etc/systemd/system/multi-user.target.wants/lab-net.service', target: '/etc/systemd/system/lab-net.service' });

  // sshd: Debian's ssh.service, with a host key of the machine's own.
  for (const k of ['rsa', 'ecdsa', 'ed25519', 'dsa']) {
    await rm(`${R}/etc/ssh/ssh_host_${k}_key`, { force: true });
    await rm(`${R}/etc/ssh/ssh_host_${k}_key.pub`, { force: true });
  }
  await must('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', `${node.name}@dcfail-lab`, '-f', `${R}/etc/ssh/ssh_host_ed25519_key`]);
  await put(R, {
    path: '/etc/ssh/sshd_config.d/lab.conf',
    content: [
      'HostKey /etc/ssh/ssh_host_ed25519_key',
      `AllowUsers ${LAB_USER} ${LAB_USER}-nosudo`,
      'PasswordAuthentication no',
      'PermitRootLogin no',
      'MaxStartups 100:30:200',
      'MaxSessions 50',
      '',
    ].join('\n'),
  });
  for (const user of [LAB_USER, `${LAB_USER}-nosudo`]) {
    const ids = userIds(user);
    await mkdir(`${R}/home/${user}/.ssh`, { recursive: true, mode: 0o700 });
    await chown(`${R}/home/${user}/.ssh`, ids.uid, ids.gid);
    await put(R, { path: `/home/${user}/.ssh/authorized_keys`, content: authorizedKeys, mode: 0o600 }, ids);
  }

  await put(R, { path: LAB_ENV_FILE, content: `DCFAIL_LAB_TIME_SCALE=${layout.timeScale}\n` });
  // DC/OS's ip-detect script, which Exhibitor's start script runs to learn the node's own address.
  await put(R, {
    path: '/opt/mesosphere/bin/detect_ip',
    content: "#!/bin/sh\n# The lab's ip-detect: the address of the machine's link to its DC.\n/usr/sbin/ip -4 -o addr show dev host0 | sed -n 's/.* inet \\([0-9.]*\\)\\/.*/\\1/p' | head -n 1\n",
    mode: 0o755,
  });

  // Mesos' replicated-log tool, as DC/OS links it from the mesos package's bin: the stand-in's (standins/mesos-log.ts).
  await put(R, {
    path: '/opt/mesosphere/bin/mesos-log',
    content: `#!/bin/sh\nexec ${NODE} ${STANDINS_DIR}/mesos-log.js "$@"\n`,
    mode: 0o755,
  });

  // DC/OS's files: the config package's etc, linked from /opt/mesosphere/etc as pkgpanda does.
  const pkg = DCOS_PATHS.configPackageEtc;
  const files: [string, string][] = [
    [DCOS_PATHS.masterCountFile, renderMasterCount(layout)],
    [DCOS_PATHS.mesosEnvFile, renderMesosEnv(layout, node)],
    [DCOS_PATHS.exhibitorEnvFile, renderExhibitorEnv(layout)],
  ];
  for (const [path, content] of files) {
    const target = `${pkg}/${path.split('/').pop()!}`;
    await put(R, { path: target, content });
    await link(R, { path, target });
  }
  await put(R, { path: DCOS_PATHS.etcdEnvFile, content: renderEtcdEnv(layout, node) });
  for (const d of [DCOS_PATHS.mesosWorkDir, DCOS_PATHS.zkDataDir, DCOS_PATHS.zkConfDir, dirname(DCOS_PATHS.etcdDataDir)]) await mkdir(`${R}${d}`, { recursive: true });
  await rm(`${R}${DCOS_PATHS.etcdDataDir}`, { recursive: true, force: true });

  for (const f of units.files) await put(R, f);
  for (const l of units.symlinks) await link(R, l);

  const pub = (await readFile(`${R}/etc/ssh/ssh_host_ed25519_key.pub`, 'utf8')).trim().split(/\s+/);
  return `${pub[0]} ${pub[1]}`;
}

/** Starts the container; returns the pid of the systemd-nspawn process (its child is the machine's PID 1). */
export function boot(layout: MachinesLayout, node: MachineNode, p: MachinePaths, repoRoot: string): number {
  const fd = openSync(p.console, 'a');
  const child = spawn(
    'systemd-nspawn',
    [
      `--directory=${p.root}`,
      '--boot',
      '--register=no',
      '--keep-unit',
      '--link-journal=no',
      '--console=read-only',
      `--machine=${node.machine}`,
      `--hostname=${node.name}`,
      `--network-bridge=${node.net.bridge}`,
      `--bind-ro=${repoRoot}:${REPO_IN_MACHINE}`,
    ],
    { detached: true, stdio: ['ignore', fd, fd] },
  );
  closeSync(fd);
  child.unref();
  if (child.pid === undefined) throw new LabError(`cannot start systemd-nspawn for ${node.name}`);
  return child.pid;
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The machine's PID 1: the nspawn process's child. */
export function pid1Of(nspawnPid: number): number | undefined {
  try {
    for (const task of readFileSync(`/proc/${nspawnPid}/task/${nspawnPid}/children`, 'utf8').trim().split(/\s+/)) {
      if (task) return Number(task);
    }
  } catch {
    return undefined;
  }
  return undefined;
}

/** Waits until the machine runs systemd (PID 1 answers) and its host-side veth is up. */
export async function waitBooted(node: MachineNode, nspawnPid: number, timeoutMs = 60_000): Promise<number> {
  // nspawn forks an intermediate child that forks the real init and exits: ask for the child each time.
  const pid1 = () => (isAlive(nspawnPid) ? pid1Of(nspawnPid) : undefined);
  const veth = `vb-${node.machine}`;
  await waitFor(`${node.name}'s link ${veth}`, async () => (await run('ip', ['link', 'set', veth, 'up'])).exitCode === 0, timeoutMs, 50);
  return waitFor(
    `${node.name}'s systemd`,
    async () => {
      if (!isAlive(nspawnPid)) throw new LabError(`systemd-nspawn of ${node.name} exited`);
      const p = pid1();
      if (p === undefined) return undefined;
      const r = await execIn(p, ['systemctl', 'is-system-running'], { timeoutMs: 5000 });
      return ['initializing', 'starting', 'running', 'degraded'].includes(r.stdout.trim()) && pid1() === p ? p : undefined;
    },
    timeoutMs,
    100,
  );
}

/** Runs a command as root inside the machine (every namespace of its PID 1). */
export async function execIn(pid1: number, argv: readonly string[], opts: { input?: string; timeoutMs?: number } = {}) {
  return run('nsenter', ['-t', String(pid1), '-a', '--', ...argv], opts);
}

/** A power cut: SIGKILL to every PID 1 at once, then wait for the containers to be gone. */
export async function powerCut(machines: readonly { nspawnPid: number; pid1: number | undefined }[]): Promise<void> {
  for (const m of machines) {
    const p1 = m.pid1 ?? pid1Of(m.nspawnPid);
    if (p1 !== undefined) {
      try {
        process.kill(p1, 'SIGKILL');
      } catch {
        /* already gone */
      }
    }
  }
  for (const m of machines) {
    await waitFor('the machine to stop', async () => !isAlive(m.nspawnPid), 15_000, 50).catch(() => {
      try {
        process.kill(m.nspawnPid, 'SIGKILL');
      } catch {
        /* gone */
      }
    });
  }
}

export function exists(path: string): boolean {
  return existsSync(path);
}
