/**
 * The failover marker, written on every survivor before the first change: it lets a later
 * failback, from any laptop, know the failover point and the files as they were.
 */
import { z } from 'zod';
import { markerPathOf, type ClusterObservation } from '../observe/observe.js';
import { quote } from '../remote/shell.js';
import type { RemotePool } from '../remote/ssh.js';
import type { TopologyNode } from '../topology/model.js';
import type { NodeConfig } from '../plan/facts.js';
import { etcdPoint } from '../components/etcd/judge.js';
import { mesosPoint } from '../components/mesos/judge.js';
import { zookeeperPoint } from '../components/zookeeper/judge.js';

export interface FailoverMarker {
  runId: string;
  lostDc: string;
  at: string;
  operator: string;
  /** The files of every node before the failover: what failback restores. */
  original: Record<string, NodeConfig>;
  /** Set by a failback once it starts changing things: a re-run of it resumes. */
  failbackRunId?: string;
  /** Where each survivor's replicas were when the failover began. */
  point: Record<
    string,
    {
      etcdAppliedIndex?: string;
      etcdRaftTerm?: string;
      etcdClusterId?: string;
      zkZxid?: string;
      /** The epoch the survivor last accepted (its data dir's currentEpoch/acceptedEpoch). */
      zkEpoch?: string;
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

const MarkerSchema = z.looseObject({
  runId: z.string(),
  lostDc: z.string(),
  at: z.string(),
  operator: z.string(),
  original: z.record(z.string(), z.record(z.string(), z.string())),
  point: z.record(
    z.string(),
    z.object({
      etcdAppliedIndex: z.string().optional(),
      etcdRaftTerm: z.string().optional(),
      etcdClusterId: z.string().optional(),
      zkZxid: z.string().optional(),
      zkEpoch: z.string().optional(),
      mesosRegistryVersion: z.number().optional(),
    }),
  ),
  failbackRunId: z.string().optional(),
});

/** The first marker on the survivors that reads as one (one that does not is skipped, as a torn write). */
export function readMarker(o: ClusterObservation): FailoverMarker | null {
  const found = o.nodes.map((n) => n.marker).filter((m): m is string => m !== undefined);
  for (const text of found) {
    try {
      const r = MarkerSchema.safeParse(JSON.parse(text));
      if (r.success) return r.data as FailoverMarker;
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

/** Where each of the given survivors' replicas stand now: the failover point. */
export function failoverPointOf(o: ClusterObservation, nodes: readonly string[]): FailoverMarker['point'] {
  const out: FailoverMarker['point'] = {};
  for (const n of o.nodes.filter((x) => nodes.includes(x.name))) {
    out[n.name] = {
      ...etcdPoint(n),
      ...zookeeperPoint(n),
      ...mesosPoint(n),
    };
  }
  return out;
}
