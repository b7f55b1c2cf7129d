/**
 * `dcfail status --format prometheus`: the state in Prometheus' text exposition format (0.0.4),
 * for node_exporter's textfile collector (`dcfail status --format prometheus > f.$$ && mv f.$$
 * dir/dcfail.prom`). Every family has its HELP and TYPE; label values are escaped as the format
 * says (backslash, double quote, line feed). Pure: the report and the exit code come in.
 */
import { CLUSTERS } from '../core/clusters.js';
import type { Mode } from '../observe/judge.js';
import type { StatusResult } from './status.js';

const MODES: readonly Mode[] = ['normal', 'failed-over', 'split-brain-risk', 'mixed'];

/** A label value as the exposition format wants it: `\` `"` and line feed escaped. */
export function escapeLabelValue(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

/** HELP text: only backslash and line feed are escaped there. */
function escapeHelp(v: string): string {
  return v.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

type Labels = Record<string, string>;

function sample(name: string, labels: Labels, value: number): string {
  const l = Object.entries(labels)
    .map(([k, v]) => `${k}="${escapeLabelValue(v)}"`)
    .join(',');
  return `${name}{${l}} ${Number.isFinite(value) ? String(value) : 'NaN'}`;
}

export function renderStatusPrometheus(r: StatusResult & { undetermined?: boolean }, exitCode: number): string {
  const out: string[] = [];
  const family = (name: string, help: string, rows: readonly [Labels, number][]) => {
    out.push(`# HELP ${name} ${escapeHelp(help)}`, `# TYPE ${name} gauge`);
    for (const [labels, v] of rows) out.push(sample(name, labels, v));
  };
  const c = { cluster: r.cluster };

  family('dcfail_status_exit_code', "dcfail status's exit code (0 fine, 5 hazard, 1 undetermined)", [[c, exitCode]]);
  family('dcfail_undetermined', "1 when a node's state could not be read (SSH, sudo, files)", [
    [c, r.undetermined ? 1 : 0],
  ]);
  family(
    'dcfail_mode',
    'The mode read from the nodes (1 for the current one): normal, failed-over, split-brain-risk, mixed',
    MODES.map((m) => [{ ...c, mode: m }, r.mode === m ? 1 : 0]),
  );
  family('dcfail_observation_timestamp_seconds', 'When the nodes were observed (Unix time)', [
    [c, Date.parse(r.observedAt) / 1000],
  ]);

  const clusters = CLUSTERS.flatMap((name) => {
    const lc = r.clusters.find((x) => x.cluster === name);
    return lc ? [{ ...c, component: name, lc }] : [];
  });
  const labelsOf = ({ lc: _lc, ...labels }: (typeof clusters)[number]): Labels => labels;
  family(
    'dcfail_cluster_members',
    'Members of each quorum cluster (etcd, exhibitor: ZooKeeper, mesos)',
    clusters.map((x) => [labelsOf(x), x.lc.members.length]),
  );
  family(
    'dcfail_cluster_quorum_present',
    '1 when the cluster has exactly one quorum serving',
    clusters.map((x) => [labelsOf(x), x.lc.quorums.length === 1 ? 1 : 0]),
  );
  family(
    'dcfail_cluster_quorums',
    'Quorums serving at once (more than 1 is a split brain)',
    clusters.map((x) => [labelsOf(x), x.lc.quorums.length]),
  );
  family(
    'dcfail_cluster_quorum_members',
    'Members serving in the quorum (0 without one; the largest with several)',
    clusters.map((x) => [labelsOf(x), Math.max(0, ...x.lc.quorums.map((q) => q.members.length))]),
  );
  family(
    'dcfail_cluster_leader_present',
    'Leaders seen in the cluster (1 is normal, 0 none, more than 1 a split brain)',
    clusters.map((x) => [labelsOf(x), x.lc.quorums.filter((q) => q.leader !== undefined).length]),
  );

  const byKind = new Map<string, number>();
  for (const h of r.hazards) byKind.set(h.code, (byKind.get(h.code) ?? 0) + 1);
  family('dcfail_hazards_found', 'Hazards found, all kinds together (status exits 5 when above 0)', [
    [c, r.hazards.length],
  ]);
  family(
    'dcfail_hazards',
    'Hazards found, by kind (only the kinds present)',
    [...byKind.entries()].sort(([a], [b]) => a.localeCompare(b)).map(([kind, n]) => [{ ...c, kind }, n]),
  );
  family('dcfail_notes_found', 'Notes (informational findings)', [[c, r.notes.length]]);

  const dcs = Object.entries(r.dcs).sort(([a], [b]) => a.localeCompare(b));
  family(
    'dcfail_dc_nodes',
    'Nodes of each datacenter in the topology',
    dcs.map(([dc, d]) => [{ ...c, dc }, d.nodes]),
  );
  family(
    'dcfail_dc_ssh_reachable',
    'Nodes of each datacenter that answered SSH',
    dcs.map(([dc, d]) => [{ ...c, dc }, d.sshReachable]),
  );
  return `${out.join('\n')}\n`;
}
