/**
 * The lab's shape, as pure values: which nodes exist, where each one's "disk" lives, and what
 * its DC/OS files hold. No I/O here: lab.ts writes what this module renders, the supervisor and
 * the tests read the same values back from `lab.json`.
 */

export type MasterCount = 3 | 5;

export const MAIN_DC = 'madrid';
export const SECONDARY_DC = 'barcelona';
export const CLUSTER_NAME = 'dcfail-lab';
export const LAB_USER = 'dcfail';

/** Unit names: the DC/OS defaults, so the topology needs no unit overrides. */
export const UNITS = {
  mesos: 'dcos-mesos-master',
  exhibitor: 'dcos-exhibitor',
  etcd: 'etcd',
  sshd: 'sshd',
} as const;
export type UnitName = (typeof UNITS)[keyof typeof UNITS];
/** Start order at power-on (not a dependency: each service waits for what it needs itself). */
export const ALL_UNITS: readonly UnitName[] = [UNITS.sshd, UNITS.etcd, UNITS.exhibitor, UNITS.mesos];
/** The units labctl may control. sshd is the machine's, not a DC/OS service: always on. */
export const CONTROLLED_UNITS: readonly UnitName[] = [UNITS.etcd, UNITS.exhibitor, UNITS.mesos];

export const PORTS = { ssh: 22, mesos: 5050, zkClient: 2181, zkPeer: 2888, zkElection: 3888, etcdClient: 2379, etcdPeer: 2380 } as const;

/** The DC/OS package that owns the config files the /opt/mesosphere/etc symlinks point to. */
export const CONFIG_PACKAGE = 'dcos-config--setup_lab';

export interface LabNode {
  readonly name: string;
  readonly dc: string;
  readonly address: string;
  readonly zkId: number;
  /** The node's "disk": every path below is inside it. */
  readonly root: string;
  readonly paths: NodePaths;
}

export interface NodePaths {
  /** Symlinks as DC/OS has them (what the topology names). */
  readonly masterCountFile: string;
  readonly mesosEnvFile: string;
  readonly exhibitorEnvFile: string;
  /** The package files the symlinks point to. */
  readonly packageEtc: string;
  readonly mesosWorkDir: string;
  readonly replicatedLogDir: string;
  readonly zkDataDir: string;
  readonly zkConfDir: string;
  readonly etcdEnvFile: string;
  readonly etcdDataDir: string;
  readonly sshdConfig: string;
  readonly sshHostKey: string;
  readonly logDir: string;
  /** The supervisor's per-node unit state (masked / stopped): survives kill and revive. */
  readonly unitStateFile: string;
}

export interface LabLayout {
  readonly dir: string;
  readonly masters: MasterCount;
  readonly quorum: number;
  readonly nodes: readonly LabNode[];
  readonly topologyPath: string;
  readonly identityFile: string;
  readonly knownHostsFile: string;
  readonly authorizedKeysFile: string;
  readonly labctl: string;
  readonly socketPath: string;
  readonly supervisorPidFile: string;
  readonly supervisorLog: string;
  readonly nodesDir: string;
  readonly snapshotDir: string;
  /** The repo checkout whose dist/ the lab runs. */
  readonly repoRoot: string;
  /** Absolute path of the node binary the lab's processes run under. */
  readonly nodeBinary: string;
}

export function majorityOf(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** 3 masters: 2 in main + 1 in secondary; 5 masters: 3 + 2. Main always holds the majority. */
export function splitOf(masters: MasterCount): { main: number; secondary: number } {
  return masters === 5 ? { main: 3, secondary: 2 } : { main: 2, secondary: 1 };
}

export function nodePaths(root: string): NodePaths {
  const etc = `${root}/opt/mesosphere/etc`;
  const packageEtc = `${root}/opt/mesosphere/packages/${CONFIG_PACKAGE}/etc`;
  const mesosWorkDir = `${root}/var/lib/dcos/mesos/master`;
  return {
    masterCountFile: `${etc}/master_count`,
    mesosEnvFile: `${etc}/mesos-master`,
    exhibitorEnvFile: `${etc}/exhibitor`,
    packageEtc,
    mesosWorkDir,
    replicatedLogDir: `${mesosWorkDir}/replicated_log`,
    zkDataDir: `${root}/var/lib/dcos/exhibitor/zookeeper`,
    zkConfDir: `${root}/var/lib/dcos/exhibitor/conf`,
    etcdEnvFile: `${root}/opt/stratio/etcd/conf/etcd.conf`,
    etcdDataDir: `${root}/var/lib/etcd/data`,
    sshdConfig: `${root}/etc/ssh/sshd_config`,
    sshHostKey: `${root}/etc/ssh/ssh_host_ed25519_key`,
    logDir: `${root}/var/log`,
    unitStateFile: `${root}/var/lib/lab/units.json`,
  };
}

export function labLayout(opts: { dir: string; masters: MasterCount; repoRoot: string; nodeBinary: string }): LabLayout {
  const { dir, masters } = opts;
  const split = splitOf(masters);
  const nodes: LabNode[] = [];
  const add = (dc: string, prefix: string, count: number) => {
    for (let i = 1; i <= count; i++) {
      const name = `master-${nodes.length + 1}`;
      const root = `${dir}/nodes/${name}`;
      nodes.push({ name, dc, address: `${prefix}.${i}`, zkId: nodes.length + 1, root, paths: nodePaths(root) });
    }
  };
  // DCFAIL_LAB_NET=N moves the lab to 127.N.10.x / 127.N.20.x, so two labs (two dirs) can run
  // side by side without sharing an address.
  const net = process.env['DCFAIL_LAB_NET'] ?? '0';
  add(MAIN_DC, `127.${net}.10`, split.main);
  add(SECONDARY_DC, `127.${net}.20`, split.secondary);
  return {
    dir,
    masters,
    quorum: majorityOf(masters),
    nodes,
    topologyPath: `${dir}/topology.yaml`,
    identityFile: `${dir}/id_ed25519`,
    knownHostsFile: `${dir}/known_hosts`,
    authorizedKeysFile: `${dir}/authorized_keys`,
    labctl: `${dir}/bin/labctl`,
    socketPath: `${dir}/supervisor.sock`,
    supervisorPidFile: `${dir}/supervisor.pid`,
    supervisorLog: `${dir}/supervisor.log`,
    nodesDir: `${dir}/nodes`,
    snapshotDir: `${dir}/snapshot`,
    repoRoot: opts.repoRoot,
    nodeBinary: opts.nodeBinary,
  };
}

// ---- file contents: exactly what DC/OS (and Stratio's etcd) hold --------------------------

export function renderMasterCount(layout: LabLayout): string {
  return `${layout.masters}\n`;
}

export function renderMesosEnv(layout: LabLayout, node: LabNode): string {
  return [
    `MESOS_QUORUM=${layout.quorum}`,
    `MESOS_WORK_DIR=${node.paths.mesosWorkDir}`,
    `MESOS_IP=${node.address}`,
    `MESOS_HOSTNAME=${node.address}`,
    `MESOS_PORT=${PORTS.mesos}`,
    `MESOS_CLUSTER=${CLUSTER_NAME}`,
    '',
  ].join('\n');
}

export function renderEnsemble(nodes: readonly Pick<LabNode, 'zkId' | 'address'>[]): string {
  return nodes.map((n) => `${n.zkId}:${n.address}`).join(',');
}

export function renderExhibitorEnv(layout: LabLayout): string {
  return [`EXHIBITOR_BACKEND=STATIC`, `EXHIBITOR_STATICENSEMBLE=${renderEnsemble(layout.nodes)}`, ''].join('\n');
}

export function renderEtcdEnv(layout: LabLayout, node: LabNode): string {
  const cluster = layout.nodes.map((n) => `${n.name}=http://${n.address}:${PORTS.etcdPeer}`).join(',');
  return [
    `ETCD_NAME=${node.name}`,
    `ETCD_DATA_DIR=${node.paths.etcdDataDir}`,
    `ETCD_LISTEN_PEER_URLS=http://${node.address}:${PORTS.etcdPeer}`,
    `ETCD_LISTEN_CLIENT_URLS=http://${node.address}:${PORTS.etcdClient}`,
    `ETCD_INITIAL_ADVERTISE_PEER_URLS=http://${node.address}:${PORTS.etcdPeer}`,
    `ETCD_ADVERTISE_CLIENT_URLS=http://${node.address}:${PORTS.etcdClient}`,
    `ETCD_INITIAL_CLUSTER=${cluster}`,
    `ETCD_INITIAL_CLUSTER_STATE=new`,
    `ETCD_INITIAL_CLUSTER_TOKEN=${CLUSTER_NAME}`,
    '',
  ].join('\n');
}

export function renderSshdConfig(layout: LabLayout, node: LabNode): string {
  return [
    `ListenAddress ${node.address}:${PORTS.ssh}`,
    `HostKey ${node.paths.sshHostKey}`,
    `AuthorizedKeysFile ${layout.authorizedKeysFile}`,
    `AllowUsers ${LAB_USER} ${LAB_USER}-nosudo`,
    'PidFile none',
    'UsePAM no',
    'PasswordAuthentication no',
    'KbdInteractiveAuthentication no',
    'PermitRootLogin no',
    'StrictModes no',
    'MaxStartups 100:30:200',
    'MaxSessions 50',
    'Subsystem sftp internal-sftp',
    '',
  ].join('\n');
}

/** The service-control script the topology's command templates call (as root, from any cwd). */
/**
 * The lab's fence hook (`fence <dc>`): what an IPMI power-off plus a boot into a quarantined
 * state does for a real DC. It holds every unit of the DC's nodes out of band (through the
 * supervisor, not through the nodes' sshd: the hold flag and drop-in dcfail's quarantine uses), so
 * that when the DC is revived nothing starts until the failback lifts each hold.
 */
export function renderFence(layout: LabLayout): string {
  const lines = ['#!/bin/sh', '# Generated by `lab up`: the fence hook of the dcfail lab.', 'set -e', 'case "$1" in'];
  for (const dc of [MAIN_DC, SECONDARY_DC]) {
    const nodes = layout.nodes.filter((n) => n.dc === dc);
    lines.push(`  ${dc})`);
    for (const n of nodes) for (const u of CONTROLLED_UNITS) lines.push(`    ${layout.labctl} hold ${n.name} ${u}`);
    lines.push('    ;;');
  }
  lines.push('  *) echo "fence: unknown DC $1" >&2; exit 2 ;;', 'esac', `echo "fenced $1: every unit held"`, '');
  return lines.join('\n');
}

export function renderLabctl(layout: LabLayout): string {
  return [
    '#!/bin/sh',
    '# Generated by `lab up`: service control for the dcfail lab (the lab\'s systemctl).',
    `exec ${layout.nodeBinary} ${layout.repoRoot}/dist/lab/labctl.js ${layout.dir} "$@"`,
    '',
  ].join('\n');
}

/** The topology `lab up` writes: what dcfail is pointed at. Validated by the project's schema. */
export function labTopology(layout: LabLayout): Record<string, unknown> {
  const ctl = layout.labctl;
  return {
    cluster: CLUSTER_NAME,
    datacenters: { main: MAIN_DC, secondary: SECONDARY_DC },
    ssh: {
      user: LAB_USER,
      port: PORTS.ssh,
      identityFile: layout.identityFile,
      knownHostsFile: layout.knownHostsFile,
      sudo: true,
      connectTimeoutMs: 2000,
    },
    services: {
      mesos: { unit: UNITS.mesos, port: PORTS.mesos },
      exhibitor: { unit: UNITS.exhibitor, zkClientPort: PORTS.zkClient },
      etcd: { unit: UNITS.etcd, clientPort: PORTS.etcdClient, peerPort: PORTS.etcdPeer },
      commands: {
        start: `${ctl} start {node} {unit}`,
        stop: `${ctl} stop {node} {unit}`,
        restart: `${ctl} restart {node} {unit}`,
        reload: `${ctl} daemon-reload {node}`,
        isActive: `${ctl} is-active {node} {unit}`,
        show: `${ctl} show {node} {unit}`,
        isEnabled: `${ctl} is-enabled {node} {unit}`,
        exists: `${ctl} exists {node} {unit}`,
        // labctl is not a service manager: the lab opts in to templates running any program.
        allowAnyProgram: true,
      },
    },
    nodes: layout.nodes.map((n) => ({
      name: n.name,
      dc: n.dc,
      address: n.address,
      roles: ['mesos', 'exhibitor', 'etcd'],
      zkId: n.zkId,
      services: {
        dcfail: { stateDir: `${n.root}/var/lib/dcfail`, systemdDir: `${n.root}/etc/systemd/system` },
        // The loopback lab's Mesos stand-in has no overlay module (its machines-lab successor has): no second log.
        mesos: { masterCountFile: n.paths.masterCountFile, envFile: n.paths.mesosEnvFile, workDir: n.paths.mesosWorkDir, overlayLogDir: null },
        exhibitor: { envFile: n.paths.exhibitorEnvFile, zkDataDir: n.paths.zkDataDir },
        etcd: { envFile: n.paths.etcdEnvFile, dataDir: n.paths.etcdDataDir },
      },
    })),
    health: { checks: ['ssh', 'tcp'], timeoutMs: 2000, attempts: 2 },
    hooks: { fence: { [MAIN_DC]: `${layout.dir}/bin/fence ${MAIN_DC}`, [SECONDARY_DC]: `${layout.dir}/bin/fence ${SECONDARY_DC}` } },
  };
}

/** `KEY=value` lines (comments and blanks skipped); values may be single- or double-quoted. */
export function parseEnvFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    let value = m[2]!;
    if (value.length >= 2 && (value[0] === '"' || value[0] === "'") && value.endsWith(value[0]!)) value = value.slice(1, -1);
    out.set(m[1]!, value);
  }
  return out;
}

/** `1:127.0.10.1,2:127.0.10.2` -> [{ id: 1, address: '127.0.10.1' }, ...]; throws on a malformed entry. */
export function parseEnsemble(value: string): { id: number; address: string }[] {
  return value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map((entry) => {
      const m = /^(\d+):([^:\s]+)$/.exec(entry);
      if (!m) throw new Error(`malformed ensemble entry '${entry}' (expected id:address)`);
      return { id: Number(m[1]), address: m[2]! };
    });
}
