/**
 * Copies each node's replica state (etcd data dir, ZooKeeper data dir, the Mesos replicated logs:
 * the registry's and the overlay module's) to
 * `<stateDir>/<kind>/<run>/` on the node itself: `copies` before anything destructive, `archive`
 * for what a divergent DC wrote. Returns where each node's copy is (for the journal).
 */
import type { ClusterObservation } from '../observe/observation.js';
import type { Session } from './session.js';
import type { TopologyNode } from '../topology/model.js';
import { etcdReplicaPath } from '../components/etcd/replicas.js';
import { mesosReplicaPaths } from '../components/mesos/replicas.js';
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
      const kindDir = `${n.services.dcfail.stateDir}/${kind}`;
      const dest = `${kindDir}/${s.runId}`;
      const etcdData = etcdReplicaPath(
        n,
        o.nodes.find((x) => x.name === n.name),
      );
      const paths = [
        n.roles.includes('etcd') ? etcdData : undefined,
        n.roles.includes('exhibitor') ? zookeeperReplicaPath(n) : undefined,
        ...(n.roles.includes('mesos') ? mesosReplicaPaths(n) : []),
      ].filter((p): p is string => p !== undefined);
      const r = await remote.exec(
        // Private and root's: the copies hold every replica's data (0700 directories, nothing
        // for group or others), and a copy never carries a foreign owner or a setuid bit over.
        [
          `umask 077`,
          `mkdir -p -m 0700 -- ${quote(kindDir)} ${quote(dest)} && chmod 0700 -- ${quote(kindDir)} ${quote(dest)} || exit 1`,
          `for p in ${paths.map(quote).join(' ')}; do if [ -e "$p" ]; then mkdir -p -m 0700 -- ${quote(dest)}"$(dirname "$p")" && cp -R --preserve=mode,timestamps --no-preserve=ownership -- "$p" ${quote(dest)}"$p" || exit 1; fi; done`,
          `chown -R -h 0:0 -- ${quote(dest)} && chmod -R u-s,g-s,go-rwx -- ${quote(dest)}`,
        ].join('\n'),
        { timeoutMs: 120_000 },
      );
      out[n.name] = r.exitCode === 0 ? dest : `archive failed: ${r.stderr.trim()}`;
    }),
  );
  return out;
}
