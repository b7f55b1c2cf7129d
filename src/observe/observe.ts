/**
 * Reads the truth from the nodes, in parallel: SSH and service ports, the settings the nodes'
 * own files hold, the units' state, and the live view of each cluster (etcd status and members,
 * ZooKeeper mode and zxid, Mesos leader and registry). Everything it gathers is plain data; the
 * judgements (mode, hazards) and the planning facts are derived from it by pure functions.
 */
import { CLUSTERS, type ClusterName } from '../core/clusters.js';
import { DATA_DIR_KEY, FORCE_NEW_KEY, INITIAL_CLUSTER_KEY, INITIAL_STATE_KEY, NAME_KEY, PEER_URLS_KEY } from '../clusters/etcd.js';
import { parseEnvFile, parseValueFile } from '../clusters/files.js';
import { ENSEMBLE_KEY } from '../clusters/exhibitor.js';
import { QUORUM_KEY } from '../clusters/mesos.js';
import { etcdClientUrl, etcdMemberList, probeEtcdEndpoint, type EtcdEndpointStatus, type EtcdMemberInfo } from '../probes/etcd.js';
import { probeMesosMaster, type MesosMasterStatus } from '../probes/mesos.js';
import { probeTcp, type TcpResult } from '../probes/tcp.js';
import { probeZkServer, zxidFromFileNames, type ZkServerStatus } from '../probes/zookeeper.js';
import { quote, renderCommand } from '../remote/shell.js';
import type { RemotePool } from '../remote/ssh.js';
import type { Remote } from '../remote/types.js';
import type { NodeConfig } from '../runbooks/facts.js';
import type { Topology, TopologyNode } from '../topology/model.js';

export type UnitState = 'active' | 'inactive' | 'unknown';

export interface NodeObservation {
  name: string;
  dc: string;
  address: string;
  roles: readonly string[];
  ssh: { ok: boolean; error?: string; code?: string };
  ports: Partial<Record<'ssh' | ClusterName, TcpResult['kind']>>;
  /** Settings the node's files hold (null: could not be read, SSH down). */
  config: NodeConfig | null;
  fileErrors: string[];
  etcdEnv?: { name?: string; dataDir?: string; peerUrl?: string };
  units: Partial<Record<ClusterName, UnitState>>;
  etcd?: EtcdEndpointStatus;
  zk?: ZkServerStatus & { zxidSource?: 'srvr' | 'files' };
  mesos?: MesosMasterStatus;
  /** The failover marker dcfail leaves on survivors (raw JSON), if any. */
  marker?: string;
}

export interface ClusterObservation {
  cluster: string;
  observedAt: string;
  nodes: NodeObservation[];
  /** etcd's member list as one reachable member reports it. */
  etcdMembers?: EtcdMemberInfo[];
  etcdMembersError?: string;
}

export interface ObserveOptions {
  pool: RemotePool;
  /** Per probe; defaults to the topology's health.timeoutMs. */
  timeoutMs?: number;
  /** Skip live probes of clusters (files and reachability only). */
  filesOnly?: boolean;
}

/** Where a failover leaves its marker on a survivor: the failover point and the files before. */
export function markerPathOf(n: TopologyNode): string {
  return `${n.services.dcfail.stateDir}/failover-marker.json`;
}

function portOf(n: TopologyNode, c: ClusterName): number {
  return c === 'mesos' ? n.services.mesos.port : c === 'exhibitor' ? n.services.exhibitor.zkClientPort : n.services.etcd.clientPort;
}

async function readConfig(remote: Remote, n: TopologyNode, obs: NodeObservation): Promise<void> {
  const config: NodeConfig = {};
  const read = async (path: string): Promise<string | null> => {
    try {
      const text = await remote.readFile(path);
      if (text === null) obs.fileErrors.push(`${path}: missing`);
      return text;
    } catch (err) {
      obs.fileErrors.push(`${path}: ${(err as Error).message}`);
      return null;
    }
  };
  const tasks: Promise<void>[] = [];
  if (n.roles.includes('mesos')) {
    tasks.push(
      read(n.services.mesos.masterCountFile).then((t) => {
        if (t !== null) config.masterCount = parseValueFile(t);
      }),
      read(n.services.mesos.envFile).then((t) => {
        const v = t === null ? undefined : parseEnvFile(t).get(QUORUM_KEY);
        if (v !== undefined) config.mesosQuorum = v;
      }),
    );
  }
  if (n.roles.includes('exhibitor')) {
    tasks.push(
      read(n.services.exhibitor.envFile).then((t) => {
        const v = t === null ? undefined : parseEnvFile(t).get(ENSEMBLE_KEY);
        if (v !== undefined) config.ensemble = v;
      }),
    );
  }
  if (n.roles.includes('etcd')) {
    tasks.push(
      read(n.services.etcd.envFile).then((t) => {
        if (t === null) return;
        const env = parseEnvFile(t);
        const set = (k: keyof NodeConfig, key: string) => {
          const v = env.get(key);
          if (v !== undefined) config[k] = v;
        };
        set('etcdInitialCluster', INITIAL_CLUSTER_KEY);
        set('etcdInitialClusterState', INITIAL_STATE_KEY);
        set('etcdForceNewCluster', FORCE_NEW_KEY);
        obs.etcdEnv = {
          ...(env.get(NAME_KEY) ? { name: env.get(NAME_KEY)! } : {}),
          ...(env.get(DATA_DIR_KEY) ? { dataDir: env.get(DATA_DIR_KEY)! } : {}),
          ...(env.get(PEER_URLS_KEY) ? { peerUrl: env.get(PEER_URLS_KEY)!.split(',')[0]! } : {}),
        };
      }),
    );
  }
  await Promise.all(tasks);
  obs.config = config;
}

async function unitStates(remote: Remote, n: TopologyNode, timeoutMs: number): Promise<NodeObservation['units']> {
  const out: NodeObservation['units'] = {};
  await Promise.all(
    CLUSTERS.filter((c) => n.roles.includes(c)).map(async (c) => {
      const unit = n.services[c].unit;
      const r = await remote.exec(renderCommand(n.services.commands.isActive, { unit, node: n.name }), { timeoutMs }).catch(() => null);
      out[c] = r === null || r.timedOut ? 'unknown' : r.exitCode === 0 ? 'active' : 'inactive';
    }),
  );
  return out;
}

/** The zxid named by the data dir's files, for a server that does not serve. */
async function zxidFromDisk(remote: Remote, n: TopologyNode, timeoutMs: number): Promise<string | undefined> {
  const dir = n.services.exhibitor.zkDataDir;
  const r = await remote.exec(`ls -1 ${quote(`${dir}/snapshot/version-2`)} ${quote(`${dir}/transactions/version-2`)} 2>/dev/null; true`, { timeoutMs }).catch(() => null);
  return r ? zxidFromFileNames(r.stdout.split('\n')) : undefined;
}

export async function observeNode(t: Topology, n: TopologyNode, opts: ObserveOptions): Promise<NodeObservation> {
  const timeoutMs = opts.timeoutMs ?? t.health.timeoutMs;
  const obs: NodeObservation = { name: n.name, dc: n.dc, address: n.address, roles: n.roles, ssh: { ok: false }, ports: {}, config: null, fileErrors: [], units: {} };
  const roles = CLUSTERS.filter((c) => n.roles.includes(c));
  const portProbes = Promise.all([
    probeTcp(n.address, n.ssh.port, timeoutMs).then((r) => (obs.ports.ssh = r.kind)),
    ...roles.map((c) => probeTcp(n.address, portOf(n, c), timeoutMs).then((r) => (obs.ports[c] = r.kind))),
  ]);
  const sshWork = (async () => {
    let remote: Remote;
    try {
      remote = await opts.pool.get(n);
      obs.ssh = { ok: true };
    } catch (err) {
      obs.ssh = { ok: false, error: (err as Error).message, code: (err as { code?: string }).code ?? 'ssh' };
      return;
    }
    await Promise.all([
      readConfig(remote, n, obs),
      unitStates(remote, n, timeoutMs * 2).then((u) => (obs.units = u)),
      remote
        .readFile(markerPathOf(n))
        .then((m) => {
          if (m !== null) obs.marker = m;
        })
        .catch(() => undefined),
    ]);
    return remote;
  })();
  const live = opts.filesOnly
    ? Promise.resolve()
    : Promise.all([
        n.roles.includes('etcd') ? probeEtcdEndpoint(etcdClientUrl(n.address, n.services.etcd.clientPort), timeoutMs).then((s) => (obs.etcd = s)) : undefined,
        n.roles.includes('exhibitor') ? probeZkServer(n.address, n.services.exhibitor.zkClientPort, timeoutMs).then((s) => (obs.zk = { ...s, ...(s.zxid ? { zxidSource: 'srvr' as const } : {}) })) : undefined,
        n.roles.includes('mesos') ? probeMesosMaster(n.address, n.services.mesos.port, timeoutMs).then((s) => (obs.mesos = s)) : undefined,
      ]);
  const [, remote] = await Promise.all([portProbes, sshWork, live]);
  if (remote && obs.zk && obs.zk.zxid === undefined) {
    const z = await zxidFromDisk(remote, n, timeoutMs);
    if (z !== undefined) obs.zk = { ...obs.zk, zxid: z, zxidSource: 'files' };
  }
  return obs;
}

export async function observeCluster(t: Topology, opts: ObserveOptions): Promise<ClusterObservation> {
  const timeoutMs = opts.timeoutMs ?? t.health.timeoutMs;
  const nodes = await Promise.all(t.nodes.map((n) => observeNode(t, n, opts)));
  const out: ClusterObservation = { cluster: t.cluster, observedAt: new Date().toISOString(), nodes };
  // The membership of a cluster that has a leader, asked of the secondary DC's members first
  // (after a failover they hold the cluster that counts); a member without quorum still lists.
  const withLeader = nodes.filter((o) => o.etcd?.ok && o.etcd.leader !== '0');
  const ordered = [...withLeader.filter((o) => o.dc !== t.datacenters.main), ...withLeader.filter((o) => o.dc === t.datacenters.main)];
  const reachableEtcd = (ordered.length > 0 ? ordered.slice(0, 1) : nodes.filter((o) => o.etcd?.ok)).map((o) => t.nodes.find((n) => n.name === o.name)!);
  if (!opts.filesOnly && reachableEtcd.length > 0) {
    // Ask the members that answered, freshest first: a member without quorum still lists (serializable).
    try {
      out.etcdMembers = await etcdMemberList(reachableEtcd.map((n) => etcdClientUrl(n.address, n.services.etcd.clientPort)), timeoutMs);
    } catch (err) {
      out.etcdMembersError = (err as Error).message.split('\n')[0]!;
    }
  }
  return out;
}

