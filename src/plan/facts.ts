/**
 * What the plan builders start from: per node, the settings its files hold now, and (online) the
 * live positions of its replicas. Offline, the facts are derived from the topology: the
 * configuration it declares, or the end state of the offline failover for `plan failback`.
 * Pure: no I/O. Online, observe/judge.ts (factsFromObservation) fills the same shape from the nodes.
 */
import { clusterMembers, type ClusterName } from '../core/clusters.js';
import { majorityOf } from '../core/quorum.js';
import { declaredEnsemble, type ZookeeperSettings } from '../components/zookeeper/settings.js';
import { declaredEtcdSettings, etcdDataDirOf, peerUrlOf, type EtcdSettings } from '../components/etcd/settings.js';
import { overlayLogPath, replicatedLogPath, type MesosSettings } from '../components/mesos/settings.js';
import type { Topology } from '../topology/model.js';
import type { LogReading } from '../components/mesos/log-position.js';
import type { MesosLog } from '../components/mesos/steps.js';

/** The settings dcfail owns, as one node's files hold them. Absent key: absent setting. */
export interface NodeConfig extends ZookeeperSettings, MesosSettings, EtcdSettings {}

export interface NodeFacts {
  name: string;
  dc: string;
  address: string;
  roles: readonly string[];
  zkId: number | undefined;
  files: {
    masterCount: string;
    mesosEnv: string;
    exhibitorEnv: string;
    etcdEnv: string;
  };
  units: Record<ClusterName, string>;
  /** Directories whose content is a replica's state (overlayLog: null when the overlay module is off). */
  dirs: { etcdData: string; zkData: string; replicatedLog: string; overlayLog: string | null };
  etcdName: string;
  etcdPeerUrl: string;
  config: NodeConfig;
  /** Online only: how far each replica has got (higher is fresher). */
  etcdAppliedIndex?: number;
  /** ZooKeeper zxid as a decimal string (64 bits do not fit a number). */
  zkZxid?: string;
  /** Online only: this master leads with a recovered registrar (Mesos copies the log from the leader's host). */
  mesosLeads?: boolean;
  /** Online, a stopped survivor's replicas as `mesos-log read` lists them (the no-leader copy source). */
  mesosLogs?: Partial<Record<MesosLog, LogReading>>;
}

/**
 * Online only: what the clusters do right now, so that a re-plan after an interrupted run skips
 * the phases already done (the files alone cannot say whether a restart happened).
 */
export interface LiveFacts {
  /** ZooKeeper servers that serve (leader, follower or standalone). */
  zkServing: string[];
  /** The elected Mesos master whose registrar recovered, if any. */
  mesosLeader: string | null;
  /** The membership of the etcd cluster that has a leader, as one of its members lists it. */
  etcd: { members: { name: string; peerUrl: string; learner: boolean; started: boolean }[] } | null;
  /** Units running, per node. */
  active: Record<string, Partial<Record<ClusterName, boolean>>>;
}

export interface ClusterFacts {
  cluster: string;
  main: string;
  secondary: string;
  mode: 'offline' | 'online';
  nodes: NodeFacts[];
  /** The configuration before any failover: what a failback restores, per node. */
  original: Record<string, NodeConfig>;
  live?: LiveFacts;
}

/** The configuration the topology declares, per node: master_count, quorum, ensemble, etcd. */
export function declaredConfig(t: Topology): Record<string, NodeConfig> {
  const masters = clusterMembers(t.nodes, 'mesos');
  const zk = clusterMembers(t.nodes, 'exhibitor');
  const etcd = clusterMembers(t.nodes, 'etcd');
  const ensemble = declaredEnsemble(zk);
  const etcdSettings = declaredEtcdSettings(etcd);
  const out: Record<string, NodeConfig> = {};
  for (const n of t.nodes) {
    const c: NodeConfig = {};
    if (n.roles.includes('mesos')) {
      c.masterCount = String(zk.length);
      c.mesosQuorum = String(majorityOf(masters.length));
    }
    if (n.roles.includes('exhibitor')) c.ensemble = ensemble;
    if (n.roles.includes('etcd')) Object.assign(c, etcdSettings);
    out[n.name] = c;
  }
  return out;
}

/** Facts for an offline plan: every node holds the configuration the topology declares. */
export function offlineFacts(t: Topology): ClusterFacts {
  const config = declaredConfig(t);
  return {
    cluster: t.cluster,
    main: t.datacenters.main,
    secondary: t.datacenters.secondary,
    mode: 'offline',
    nodes: t.nodes.map((n) => ({
      name: n.name,
      dc: n.dc,
      address: n.address,
      roles: n.roles,
      zkId: n.zkId,
      files: {
        masterCount: n.services.mesos.masterCountFile,
        mesosEnv: n.services.mesos.envFile,
        exhibitorEnv: n.services.exhibitor.envFile,
        etcdEnv: n.services.etcd.envFile,
      },
      units: { mesos: n.services.mesos.unit, exhibitor: n.services.exhibitor.unit, etcd: n.services.etcd.unit },
      dirs: {
        etcdData: etcdDataDirOf(n),
        zkData: n.services.exhibitor.zkDataDir,
        replicatedLog: replicatedLogPath(n.services.mesos.workDir),
        overlayLog: overlayLogPath(n.services.mesos.overlayLogDir),
      },
      etcdName: n.name,
      etcdPeerUrl: peerUrlOf(n.address, n.services.etcd.peerPort),
      config: { ...config[n.name] },
    })),
    original: config,
  };
}

export function factsMembers(facts: ClusterFacts, cluster: ClusterName): NodeFacts[] {
  return clusterMembers(facts.nodes, cluster);
}
