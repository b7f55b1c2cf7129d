/**
 * The machines lab's shape, as pure values: which machines exist, their addresses and networks,
 * and what their DC/OS files hold. No I/O: host.ts and lab.ts do what this module describes.
 *
 * Every master is a machine (a container with systemd as PID 1) whose files sit where DC/OS keeps
 * them. The topology written for dcfail uses the defaults of the contract's example topology: no
 * per-node path overrides, the default `systemctl ...` command templates. Only the addresses, the
 * ssh user, key and known_hosts (and the lab's fence hook) differ from what an operator writes.
 */

export type MasterCount = 3 | 5;
export type DcosVersion = '2.1' | '2.2';

export const MAIN_DC = 'madrid';
export const SECONDARY_DC = 'barcelona';
export const DCS = [MAIN_DC, SECONDARY_DC] as const;
export const CLUSTER_NAME = 'dcfail-lab';
export const LAB_USER = 'dcfail';

export const UNITS = { mesos: 'dcos-mesos-master', exhibitor: 'dcos-exhibitor', etcd: 'etcd' } as const;
export const PORTS = {
  ssh: 22,
  mesos: 5050,
  exhibitor: 8181,
  zkClient: 2181,
  zkPeer: 2888,
  zkElection: 3888,
  etcdClient: 2379,
  etcdPeer: 2380,
  agent: 5051,
} as const;

/** Where the checkout is bind-mounted (read-only) inside every machine: the stand-ins run from it. */
export const REPO_IN_MACHINE = '/opt/dcfail-lab';
/** The lab's own settings inside a machine (the time scale), read by the units as an EnvironmentFile. */
export const LAB_ENV_FILE = '/etc/dcfail-lab/lab.env';

/** DC/OS's paths (the contract example's defaults), the same on every machine. */
export const DCOS_PATHS = {
  masterCountFile: '/opt/mesosphere/etc/master_count',
  mesosEnvFile: '/opt/mesosphere/etc/mesos-master',
  exhibitorEnvFile: '/opt/mesosphere/etc/exhibitor',
  /** pkgpanda keeps the config files in the active config package; /opt/mesosphere/etc links to them. */
  configPackageEtc: '/opt/mesosphere/packages/dcos-config--setup_lab/etc',
  mesosWorkDir: '/var/lib/dcos/mesos/master',
  zkDataDir: '/var/lib/dcos/exhibitor/zookeeper',
  zkConfDir: '/var/lib/dcos/exhibitor/conf',
  etcdEnvFile: '/opt/stratio/etcd/conf/etcd.conf',
  etcdDataDir: '/var/lib/etcd/data',
} as const;

/**
 * Addresses from 198.18.0.0/15 (RFC 2544, set aside for test networks): one /24 per DC, the host at
 * .254 on each DC's bridge, masters from .11, the DC's agent stand-in at .21. The machines' only
 * route is to 198.18.0.0/15 through the host: the lab has no route out.
 *
 * Several labs can run side by side on one host as instances 0-9 ($DCFAIL_LAB_INSTANCE): instance i
 * has madrid on 198.18.(10i+1).0/24 and barcelona on 198.18.(10i+2).0/24, and names everything it
 * makes on the host `dcfl<i>...` (bridges, machines, namespaces, iptables chains, queues).
 */
export const LAB_NET_CIDR = '198.18.0.0/15';

export interface DcNet {
  readonly prefix: string;
  readonly bridge: string;
  /** The host's address on the DC's bridge: the machines' gateway to the other DC. */
  readonly gateway: string;
}

export function dcNet(dc: string, instance: number): DcNet {
  const i = DCS.indexOf(dc as (typeof DCS)[number]);
  if (i < 0) throw new Error(`unknown datacenter '${dc}' (the lab has ${DCS.join(', ')})`);
  const prefix = `198.18.${10 * instance + i + 1}`;
  return { prefix, bridge: `dcfl${instance}-${dc}`, gateway: `${prefix}.254` };
}

/** The lab instance from $DCFAIL_LAB_INSTANCE: 0 to 9, 0 when unset. */
export function labInstance(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['DCFAIL_LAB_INSTANCE'] ?? '0';
  if (!/^\d$/.test(raw)) throw new Error(`DCFAIL_LAB_INSTANCE='${raw}': expected a digit from 0 to 9`);
  return Number(raw);
}

export interface MachineNode {
  /** The node's name in the topology (master-1 ...). */
  readonly name: string;
  readonly dc: string;
  readonly address: string;
  readonly zkId: number;
  /** The container's machine name; short, since systemd-nspawn names the host-side veth `vb-<machine>` (15 characters at most). */
  readonly machine: string;
  readonly net: DcNet;
}

export interface AgentNode {
  readonly dc: string;
  readonly address: string;
  /** The network namespace it runs in. */
  readonly netns: string;
  /** Host-side veth of the namespace. */
  readonly veth: string;
  readonly net: DcNet;
}

export interface MachinesLayout {
  readonly dir: string;
  readonly instance: number;
  readonly masters: MasterCount;
  readonly quorum: number;
  readonly dcos: DcosVersion;
  readonly latencyMs: number;
  readonly jitterMs: number;
  readonly timeScale: number;
  readonly nodes: readonly MachineNode[];
  readonly agents: readonly AgentNode[];
  readonly topologyPath: string;
  readonly identityFile: string;
  readonly knownHostsFile: string;
}

export function majorityOf(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** 3 masters: 2 in main + 1 in secondary; 5 masters: 3 + 2. Main always holds the majority. */
export function splitOf(masters: MasterCount): { main: number; secondary: number } {
  return masters === 5 ? { main: 3, secondary: 2 } : { main: 2, secondary: 1 };
}

export interface LayoutOptions {
  readonly dir: string;
  readonly instance: number;
  readonly masters: MasterCount;
  readonly dcos: DcosVersion;
  readonly latencyMs: number;
  readonly jitterMs: number;
  readonly timeScale: number;
}

export function machinesLayout(opts: LayoutOptions): MachinesLayout {
  const split = splitOf(opts.masters);
  const nodes: MachineNode[] = [];
  const add = (dc: string, count: number) => {
    for (let i = 1; i <= count; i++) {
      const n = nodes.length + 1;
      const net = dcNet(dc, opts.instance);
      nodes.push({ name: `master-${n}`, dc, address: `${net.prefix}.${10 + i}`, zkId: n, machine: `dcfl${opts.instance}m${n}`, net });
    }
  };
  add(MAIN_DC, split.main);
  add(SECONDARY_DC, split.secondary);
  const agents = DCS.map((dc) => {
    const net = dcNet(dc, opts.instance);
    return { dc, address: `${net.prefix}.21`, netns: `dcfl${opts.instance}-agent-${dc}`, veth: `dcfl${opts.instance}va-${dc.slice(0, 6)}`, net };
  });
  return {
    ...opts,
    quorum: majorityOf(opts.masters),
    nodes,
    agents,
    topologyPath: `${opts.dir}/topology.yaml`,
    identityFile: `${opts.dir}/id_ed25519`,
    knownHostsFile: `${opts.dir}/known_hosts`,
  };
}

export function nodesOf(layout: MachinesLayout, dc: string): readonly MachineNode[] {
  return layout.nodes.filter((n) => n.dc === dc);
}

/** `main`/`secondary` or a DC name -> the DC name; throws on anything else. */
export function resolveDc(which: string): string {
  if (which === 'main') return MAIN_DC;
  if (which === 'secondary') return SECONDARY_DC;
  if ((DCS as readonly string[]).includes(which)) return which;
  throw new Error(`unknown datacenter '${which}' (expected ${DCS.join(', ')}, main or secondary)`);
}

// ---- file contents: what DC/OS (and the seed's etcd) hold -----------------------------------

export function renderMasterCount(layout: MachinesLayout): string {
  return `${layout.masters}\n`;
}

/** `zk://ip1:2181,ip2:2181,.../<path>`: DC/OS lists every master's ZooKeeper. */
export function zkUrl(layout: MachinesLayout, path: string): string {
  return `zk://${layout.nodes.map((n) => `${n.address}:${PORTS.zkClient}`).join(',')}${path}`;
}

export function renderMesosEnv(layout: MachinesLayout, node: MachineNode): string {
  return [
    `MESOS_QUORUM=${layout.quorum}`,
    `MESOS_WORK_DIR=${DCOS_PATHS.mesosWorkDir}`,
    `MESOS_ZK=${zkUrl(layout, '/mesos')}`,
    `MESOS_IP=${node.address}`,
    `MESOS_HOSTNAME=${node.address}`,
    `MESOS_PORT=${PORTS.mesos}`,
    `MESOS_CLUSTER=${CLUSTER_NAME}`,
    // DC/OS sets both to 60 s (dcos/dcos gen/dcos-config.yaml, the mesos-master file).
    'MESOS_REGISTRY_FETCH_TIMEOUT=60secs',
    'MESOS_REGISTRY_STORE_TIMEOUT=60secs',
    '',
  ].join('\n');
}

/** `i:ip` for the string-sorted master list, i from 1 (dcos/dcos gen/calc.py). */
export function renderEnsemble(nodes: readonly Pick<MachineNode, 'zkId' | 'address'>[]): string {
  return nodes.map((n) => `${n.zkId}:${n.address}`).join(',');
}

export function renderExhibitorEnv(layout: MachinesLayout): string {
  return ['EXHIBITOR_BACKEND=STATIC', `EXHIBITOR_STATICENSEMBLE=${renderEnsemble(layout.nodes)}`, ''].join('\n');
}

export function renderEtcdEnv(layout: MachinesLayout, node: MachineNode): string {
  const cluster = layout.nodes.map((n) => `${n.name}=http://${n.address}:${PORTS.etcdPeer}`).join(',');
  return [
    `ETCD_NAME=${node.name}`,
    `ETCD_DATA_DIR=${DCOS_PATHS.etcdDataDir}`,
    `ETCD_LISTEN_PEER_URLS=http://${node.address}:${PORTS.etcdPeer}`,
    `ETCD_LISTEN_CLIENT_URLS=http://${node.address}:${PORTS.etcdClient}`,
    `ETCD_INITIAL_ADVERTISE_PEER_URLS=http://${node.address}:${PORTS.etcdPeer}`,
    `ETCD_ADVERTISE_CLIENT_URLS=http://${node.address}:${PORTS.etcdClient}`,
    `ETCD_INITIAL_CLUSTER=${cluster}`,
    'ETCD_INITIAL_CLUSTER_STATE=new',
    `ETCD_INITIAL_CLUSTER_TOKEN=${CLUSTER_NAME}`,
    '',
  ].join('\n');
}

/** The lab's fence hook: a power cut of the DC, out of band (as IPMI would), through the lab's CLI. */
export function renderFence(layout: MachinesLayout, labCommand: string): string {
  return [
    '#!/bin/sh',
    '# Generated by the machines lab: the fence hook. It cuts the power of every machine of the DC,',
    '# out of band (as an IPMI power-off does), so that nothing of it answers until it is powered on.',
    'set -e',
    'case "$1" in',
    `  ${DCS.join('|')}) ;;`,
    '  *) echo "fence: unknown DC $1" >&2; exit 2 ;;',
    'esac',
    `DCFAIL_LAB_DIR='${layout.dir}' ${labCommand} power-off "$1" >&2`,
    'echo "fenced $1: powered off"',
    '',
  ].join('\n');
}

/**
 * The topology the lab writes for dcfail: the contract example's defaults (paths, units, command
 * templates), the lab's addresses, its ssh user, key and known_hosts, and its fence hook.
 */
export function labTopology(layout: MachinesLayout): Record<string, unknown> {
  return {
    cluster: CLUSTER_NAME,
    datacenters: { main: MAIN_DC, secondary: SECONDARY_DC },
    ssh: {
      user: LAB_USER,
      port: PORTS.ssh,
      identityFile: layout.identityFile,
      knownHostsFile: layout.knownHostsFile,
      sudo: true,
      connectTimeoutMs: 5000,
    },
    nodes: layout.nodes.map((n) => ({ name: n.name, dc: n.dc, address: n.address, roles: ['mesos', 'exhibitor', 'etcd'], zkId: n.zkId })),
    health: { checks: ['ssh', 'tcp'], timeoutMs: 2000, attempts: 3 },
    hooks: { fence: Object.fromEntries(DCS.map((dc) => [dc, `${layout.dir}/bin/fence ${dc}`])) },
  };
}
