/**
 * What an observation of the cluster holds: plain data, read from the nodes by observe.ts and
 * judged by pure functions (judge.ts, the components' judge.ts). Types only.
 */
import type { ClusterName } from '../core/clusters.js';
import type { EtcdEndpointStatus, EtcdMemberInfo } from '../components/etcd/probe.js';
import type { MesosMasterStatus } from '../components/mesos/probe.js';
import type { LogReading } from '../components/mesos/log-position.js';
import type { MesosLog } from '../components/mesos/steps.js';
import type { TcpResult } from '../probes/tcp.js';
import type { ZkServerStatus } from '../components/zookeeper/probe.js';
import type { NodeConfig } from '../plan/facts.js';
import type { UnitPresence } from '../core/companions.js';

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
  etcdEnv?: { name?: string; dataDir?: string; peerUrl?: string; electionTimeoutMs?: number };
  units: Partial<Record<ClusterName, UnitState>>;
  etcd?: EtcdEndpointStatus;
  /**
   * `diskEpoch`: the highest of `currentEpoch`/`acceptedEpoch` in the data dir, for a server that does
   * not serve: the last epoch it followed, which its data file names may not show yet.
   */
  zk?: ZkServerStatus & { zxidSource?: 'srvr' | 'files'; diskEpoch?: string };
  mesos?: MesosMasterStatus;
  /** A stopped master's replicas as `mesos-log read` lists them (only when asked: ObserveOptions.forFailback). */
  mesosLogs?: Partial<Record<MesosLog, LogReading>>;
  /** On a master, what it said of the other quorum services' units (core/companions.ts), by unit. */
  companions?: Record<string, UnitPresence>;
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
