/**
 * Copies each node's replica state (etcd data dir, ZooKeeper data dir, Mesos replicated log) to
 * `<stateDir>/<kind>/<run>/` on the node itself: `copies` before anything destructive, `archive`
 * for what a divergent DC wrote. Returns where each node's copy is (for the journal).
 */
import type { ClusterObservation } from '../observe/observation.js';
import type { Session } from './session.js';
import type { TopologyNode } from '../topology/model.js';
import { etcdReplicaPath } from '../components/etcd/replicas.js';
import { mesosReplicaPath } from '../components/mesos/replicas.js';
import { quote } from '../remote/shell.js';
import { zookeeperReplicaPath } from '../components/zookeeper/replicas.js';
export async function copyState(
  s: Session,
  nodes: readonly TopologyNode[],
  kind: 'copies' | 'archive',
  o: ClusterObservation,
): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  await Promise.all(
    nodes.map(async (n) => {
      const remote = await s.pool.get(n);
      const dest = `${n.services.dcfail.stateDir}/${kind}/${s.runId}`;
      const etcdData = etcdReplicaPath(
        n,
        o.nodes.find((x) => x.name === n.name),
      );
      const paths = [
        n.roles.includes('etcd') ? etcdData : undefined,
        n.roles.includes('exhibitor') ? zookeeperReplicaPath(n) : undefined,
        n.roles.includes('mesos') ? mesosReplicaPath(n) : undefined,
      ].filter((p): p is string => p !== undefined);
      const r = await remote.exec(
        `mkdir -p ${quote(dest)} && for p in ${paths.map(quote).join(' ')}; do if [ -e "$p" ]; then mkdir -p ${quote(dest)}"$(dirname "$p")" && cp -a "$p" ${quote(dest)}"$p"; fi; done`,
        { timeoutMs: 120_000 },
      );
      out[n.name] = r.exitCode === 0 ? dest : `archive failed: ${r.stderr.trim()}`;
    }),
  );
  return out;
}
