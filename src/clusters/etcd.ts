/**
 * etcd (Calico's backend on these masters), configured only by its ETCD_* env file. Recovery
 * from quorum loss: ETCD_FORCE_NEW_CLUSTER=true on one member makes it a one-member cluster that
 * keeps its data; the line must go once it has started. Others join with `member add` (here as
 * learners, then promoted) and a fresh data dir, with ETCD_INITIAL_CLUSTER_STATE=existing.
 */
export const FORCE_NEW_KEY = 'ETCD_FORCE_NEW_CLUSTER';
export const INITIAL_CLUSTER_KEY = 'ETCD_INITIAL_CLUSTER';
export const INITIAL_STATE_KEY = 'ETCD_INITIAL_CLUSTER_STATE';
export const NAME_KEY = 'ETCD_NAME';
export const DATA_DIR_KEY = 'ETCD_DATA_DIR';
export const PEER_URLS_KEY = 'ETCD_INITIAL_ADVERTISE_PEER_URLS';

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
