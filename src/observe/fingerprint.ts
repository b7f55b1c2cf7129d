/**
 * What a saved plan relied on, reduced to a fingerprint: each node's reachability and the
 * settings its files hold, the etcd membership and names, the ZooKeeper ids (in the ensemble
 * settings). Not indexes, zxids or registry versions: they move all the time.
 */
import { createHash } from 'node:crypto';
import type { ClusterObservation } from './observe.js';

export interface FingerprintBasis {
  cluster: string;
  nodes: {
    name: string;
    reachable: boolean;
    config: Record<string, string> | null;
    etcd: { name: string | null; peerUrl: string | null; dataDir: string | null } | null;
  }[];
  etcdMembers: { name: string; peerURLs: string[]; learner: boolean }[];
}

export function fingerprintBasis(o: ClusterObservation): FingerprintBasis {
  return {
    cluster: o.cluster,
    nodes: [...o.nodes]
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((n) => ({
        name: n.name,
        reachable: n.ssh.ok,
        config:
          n.config === null
            ? null
            : (Object.fromEntries(Object.entries(n.config).sort(([a], [b]) => a.localeCompare(b))) as Record<
                string,
                string
              >),
        etcd: n.etcdEnv
          ? { name: n.etcdEnv.name ?? null, peerUrl: n.etcdEnv.peerUrl ?? null, dataDir: n.etcdEnv.dataDir ?? null }
          : null,
      })),
    etcdMembers: (o.etcdMembers ?? [])
      .map((m) => ({ name: m.name, peerURLs: [...m.peerURLs].sort(), learner: m.isLearner }))
      .sort((a, b) => (a.peerURLs[0] ?? '').localeCompare(b.peerURLs[0] ?? '')),
  };
}

export function fingerprintOf(o: ClusterObservation): string {
  return `sha256:${createHash('sha256')
    .update(JSON.stringify(fingerprintBasis(o)))
    .digest('hex')}`;
}

/** Lines saying what differs between two bases, for the stale-plan refusal. */
export function describeDrift(a: FingerprintBasis, b: FingerprintBasis): string[] {
  const out: string[] = [];
  for (const n of b.nodes) {
    const old = a.nodes.find((x) => x.name === n.name);
    if (JSON.stringify(old) !== JSON.stringify(n))
      out.push(`${n.name}: was ${JSON.stringify(old)}, now ${JSON.stringify(n)}`);
  }
  if (JSON.stringify(a.etcdMembers) !== JSON.stringify(b.etcdMembers))
    out.push(`etcd membership: was ${JSON.stringify(a.etcdMembers)}, now ${JSON.stringify(b.etcdMembers)}`);
  return out;
}
