/**
 * etcd (Calico's backend on these masters), configured only by its ETCD_* env file. Recovery
 * from quorum loss: ETCD_FORCE_NEW_CLUSTER=true on one member makes it a one-member cluster that
 * keeps its data; the line must go once it has started. Others join with `member add` (here as
 * learners, then promoted) and a fresh data dir, with ETCD_INITIAL_CLUSTER_STATE=existing.
 */
import type { SettingRef } from '../../core/env-file.js';
import type { TopologyNode } from '../../topology/model.js';

const FORCE_NEW_KEY = 'ETCD_FORCE_NEW_CLUSTER';
export const INITIAL_CLUSTER_KEY = 'ETCD_INITIAL_CLUSTER';
const INITIAL_STATE_KEY = 'ETCD_INITIAL_CLUSTER_STATE';
const NAME_KEY = 'ETCD_NAME';
const DATA_DIR_KEY = 'ETCD_DATA_DIR';
const ELECTION_TIMEOUT_KEY = 'ETCD_ELECTION_TIMEOUT';
const PEER_URLS_KEY = 'ETCD_INITIAL_ADVERTISE_PEER_URLS';

export interface EtcdMember {
  name: string;
  peerUrl: string;
}

/** `a=http://10.0.0.1:2380,b=...` in the given order. */
export function renderInitialCluster(members: readonly EtcdMember[]): string {
  return members.map((m) => `${m.name}=${m.peerUrl}`).join(',');
}

export function parseInitialCluster(value: string): EtcdMember[] | null {
  if (value.trim() === '') return [];
  const out: EtcdMember[] = [];
  for (const part of value.split(',')) {
    const i = part.indexOf('=');
    if (i <= 0) return null;
    out.push({ name: part.slice(0, i).trim(), peerUrl: part.slice(i + 1).trim() });
  }
  return out;
}

export function peerUrlOf(address: string, port: number): string {
  const host = address.includes(':') ? `[${address}]` : address;
  return `http://${host}:${port}`;
}

/** The etcd settings dcfail owns, as one node's env file holds them. Absent key: absent setting. */
export interface EtcdSettings {
  etcdInitialCluster?: string;
  etcdInitialClusterState?: string;
  etcdForceNewCluster?: string;
}

/** Where each of them lives: the etcd env file. */
export const ETCD_SETTINGS = {
  etcdInitialCluster: { file: 'etcdEnv', key: INITIAL_CLUSTER_KEY, format: 'env', cluster: 'etcd' },
  etcdInitialClusterState: { file: 'etcdEnv', key: INITIAL_STATE_KEY, format: 'env', cluster: 'etcd' },
  etcdForceNewCluster: { file: 'etcdEnv', key: FORCE_NEW_KEY, format: 'env', cluster: 'etcd' },
} as const satisfies Record<keyof EtcdSettings, SettingRef>;

/** The etcd settings the topology declares for each member: every member, state `new`. */
export function declaredEtcdSettings(members: readonly TopologyNode[]): EtcdSettings {
  const initialCluster = renderInitialCluster(
    members.map((n) => ({ name: n.name, peerUrl: peerUrlOf(n.address, n.services.etcd.peerPort) })),
  );
  return { etcdInitialCluster: initialCluster, etcdInitialClusterState: 'new' };
}

/** Who a member is, as its env file says (the topology's names and ports otherwise). */
export interface EtcdIdentity {
  name?: string;
  dataDir?: string;
  peerUrl?: string;
  /** ETCD_ELECTION_TIMEOUT in ms, when the file sets it (etcd's default is 1000). */
  electionTimeoutMs?: number;
}

/** The settings and identity an etcd env file holds. */
export function readEtcdEnv(env: ReadonlyMap<string, string>): { settings: EtcdSettings; identity: EtcdIdentity } {
  const settings: EtcdSettings = {};
  const set = (k: keyof EtcdSettings, key: string) => {
    const v = env.get(key);
    if (v !== undefined) settings[k] = v;
  };
  set('etcdInitialCluster', INITIAL_CLUSTER_KEY);
  set('etcdInitialClusterState', INITIAL_STATE_KEY);
  set('etcdForceNewCluster', FORCE_NEW_KEY);
  const identity: EtcdIdentity = {
    ...(env.get(NAME_KEY) ? { name: env.get(NAME_KEY)! } : {}),
    ...(env.get(DATA_DIR_KEY) ? { dataDir: env.get(DATA_DIR_KEY)! } : {}),
    ...(env.get(PEER_URLS_KEY) ? { peerUrl: env.get(PEER_URLS_KEY)!.split(',')[0]! } : {}),
    ...(/^\d{1,6}$/.test(env.get(ELECTION_TIMEOUT_KEY) ?? '') && Number(env.get(ELECTION_TIMEOUT_KEY)) > 0
      ? { electionTimeoutMs: Number(env.get(ELECTION_TIMEOUT_KEY)) }
      : {}),
  };
  return { settings, identity };
}

/** The data dir the topology names, or a placeholder saying where it will be read from. */
export function etcdDataDirOf(node: TopologyNode): string {
  return node.services.etcd.dataDir ?? `\${ETCD_DATA_DIR from ${node.services.etcd.envFile}}`;
}

/**
 * A learner counts as caught up once its applied index is within this many entries of the most
 * advanced member's: the leader's index moves with every write, so equality may never hold while
 * clients write.
 */
export const LEARNER_CAUGHT_UP_WITHIN = 5n;
