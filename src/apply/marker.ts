/**
 * The failover marker, written on every survivor before the first change: it lets a later
 * failback, from any laptop, know the failover point and the files as they were.
 */
import { z } from 'zod';
import { markerPathOf, type ClusterObservation } from '../observe/observe.js';
import { quote } from '../remote/shell.js';
import type { Remotes } from '../remote/types.js';
import type { Topology, TopologyNode } from '../topology/model.js';
import { formatIssues } from '../topology/load.js';
import { RefusedError } from '../errors.js';
import type { NodeConfig } from '../plan/facts.js';
import { etcdPoint } from '../components/etcd/judge.js';
import { mesosPoint, RECORDED_AGENTS_MAX, type MesosRegistryRecord } from '../components/mesos/judge.js';
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
      /** The registry a survivor held as the recovered leader when the failover began. */
      mesosRegistry?: MesosRegistryRecord;
    }
  >;
  /** The surviving leader's registry, recorded by a failback before its first change: a re-run judges against it. */
  failbackMesosRegistry?: MesosRegistryRecord;
}

export async function writeMarker(
  pool: Remotes,
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

// eslint-disable-next-line no-control-regex -- control characters (line breaks) are what it refuses
const SETTING = z.string().regex(/^[^\u0000-\u001f\u007f]{0,4096}$/, 'expected one line without control characters');
const DIGITS = z.string().regex(/^[0-9]{1,4}$/, 'expected a whole number');
/** What failback writes back into every node's files: each value held to what such a file holds. */
const NodeConfigSchema = z.strictObject({
  masterCount: DIGITS.optional(),
  ensemble: SETTING.optional(),
  mesosQuorum: DIGITS.optional(),
  etcdInitialCluster: SETTING.optional(),
  etcdInitialClusterState: z.enum(['new', 'existing', '']).optional(),
  etcdForceNewCluster: z.enum(['true', 'false', '']).optional(),
});
// eslint-disable-next-line no-control-regex -- control characters are what it refuses
const SHORT = z.string().regex(/^[^\u0000-\u001f\u007f]{0,256}$/, 'expected one short line without control characters');

const REGISTRY_RECORD = z.strictObject({
  leader: SHORT,
  agents: z
    .array(SHORT)
    .max(RECORDED_AGENTS_MAX)
    .refine((a) => a.every((x) => x !== ''), 'expected agent ids'),
  agentCount: z.number().int().nonnegative(),
  sizeBytes: z.number().nonnegative().optional(),
  at: SHORT,
});

const MarkerSchema = z.looseObject({
  runId: SHORT,
  lostDc: SHORT,
  at: SHORT,
  operator: SHORT,
  original: z.record(z.string(), NodeConfigSchema),
  point: z.record(
    z.string(),
    z.object({
      etcdAppliedIndex: SHORT.optional(),
      etcdRaftTerm: SHORT.optional(),
      etcdClusterId: SHORT.optional(),
      zkZxid: SHORT.optional(),
      zkEpoch: SHORT.optional(),
      // Written by older dcfail from `registrar/registry_version`, a metric Mesos does not
      // have: read so that such markers stay readable, and never trusted.
      mesosRegistryVersion: z.number().optional(),
      mesosRegistry: REGISTRY_RECORD.optional(),
    }),
  ),
  failbackRunId: SHORT.optional(),
  failbackMesosRegistry: REGISTRY_RECORD.optional(),
});

/**
 * The failover marker on the survivors, checked: a node's answer steers what failback writes
 * into every node's files, so a marker that does not read as one (torn, of the wrong shape,
 * naming nodes or DCs the topology does not have, values with line breaks) is refused (exit 3)
 * naming the node and the field, never skipped as "no failover". null when no node has one.
 */
export function readMarker(o: ClusterObservation, t: Topology): FailoverMarker | null {
  let first: FailoverMarker | null = null;
  for (const n of o.nodes) {
    if (n.marker === undefined) continue;
    const where = `${n.name}: the failover marker (${markerPathOf(t.nodes.find((x) => x.name === n.name) ?? t.nodes[0]!)})`;
    let value: unknown;
    try {
      value = JSON.parse(n.marker);
    } catch {
      throw new RefusedError('marker-invalid', `${where} is not valid JSON: remove or repair it on ${n.name}`);
    }
    const r = MarkerSchema.safeParse(value, { reportInput: true });
    const lines = r.success ? [] : formatIssues(r.error.issues);
    if (r.success) {
      const names = new Set(t.nodes.map((x) => x.name));
      for (const k of Object.keys(r.data.original))
        if (!names.has(k)) lines.push(`original.${k}: '${k}' is not a node of the topology`);
      for (const k of Object.keys(r.data.point))
        if (!names.has(k)) lines.push(`point.${k}: '${k}' is not a node of the topology`);
      if (r.data.lostDc !== t.datacenters.main && r.data.lostDc !== t.datacenters.secondary)
        lines.push(`lostDc: '${r.data.lostDc}' is not a declared datacenter`);
    }
    if (lines.length > 0)
      throw new RefusedError(
        'marker-invalid',
        `${where} is not valid: ${lines[0]}; remove or repair it on ${n.name}`,
        lines.slice(1),
      );
    if (first === null) {
      const data = r.data as FailoverMarker & { point: Record<string, { mesosRegistryVersion?: number }> };
      const point: FailoverMarker['point'] = {};
      for (const [k, v] of Object.entries(data.point)) {
        const { mesosRegistryVersion: _untrusted, ...kept } = v;
        point[k] = kept;
      }
      first = { ...data, point };
    }
  }
  return first;
}

export async function removeMarker(pool: Remotes, nodes: readonly TopologyNode[], runId: string): Promise<void> {
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
export function failoverPointOf(
  o: ClusterObservation,
  nodes: readonly string[],
  at = new Date().toISOString(),
): FailoverMarker['point'] {
  const out: FailoverMarker['point'] = {};
  for (const n of o.nodes.filter((x) => nodes.includes(x.name))) {
    out[n.name] = {
      ...etcdPoint(n),
      ...zookeeperPoint(n),
      ...mesosPoint(o, n, at),
    };
  }
  return out;
}
