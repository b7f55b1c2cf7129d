/**
 * The failover marker, written on every survivor before the first change: it lets a later
 * failback, from any laptop, know the failover point and the files as they were.
 */
import { markerPathOf, type ClusterObservation } from '../observe/observe.js';
import { quote } from '../remote/shell.js';
import type { RemotePool } from '../remote/ssh.js';
import type { TopologyNode } from '../topology/model.js';
import type { NodeConfig } from '../plan/facts.js';

export interface FailoverMarker {
  runId: string;
  lostDc: string;
  at: string;
  operator: string;
  /** The files of every node before the failover: what failback restores. */
  original: Record<string, NodeConfig>;
  /** Where each survivor's replicas were when the failover began. */
  point: Record<
    string,
    {
      etcdAppliedIndex?: string;
      etcdRaftTerm?: string;
      etcdClusterId?: string;
      zkZxid?: string;
      mesosRegistryVersion?: number;
    }
  >;
}

export async function writeMarker(
  pool: RemotePool,
  nodes: readonly TopologyNode[],
  marker: FailoverMarker,
): Promise<void> {
  await Promise.all(
    nodes.map(async (n) => {
      const remote = await pool.get(n);
      await remote.exec(`mkdir -p ${quote(n.services.dcfail.stateDir)}`, { timeoutMs: 10_000 });
      await remote.writeFileAtomic(markerPathOf(n), `${JSON.stringify(marker, null, 2)}\n`);
    }),
  );
}

export function readMarker(o: ClusterObservation): FailoverMarker | null {
  const found = o.nodes.map((n) => n.marker).filter((m): m is string => m !== undefined);
  for (const text of found) {
    try {
      return JSON.parse(text) as FailoverMarker;
    } catch {
      continue;
    }
  }
  return null;
}

export async function removeMarker(pool: RemotePool, nodes: readonly TopologyNode[], runId: string): Promise<void> {
  await Promise.all(
    nodes.map(async (n) => {
      const remote = await pool.get(n).catch(() => null);
      await remote?.exec(
        `if [ -e ${quote(markerPathOf(n))} ]; then mv ${quote(markerPathOf(n))} ${quote(`${markerPathOf(n)}.done-${runId}`)}; fi`,
        { timeoutMs: 10_000 },
      );
    }),
  );
}
