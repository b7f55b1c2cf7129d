/** `dcfail validate`: the topology file alone (no network, no file look-ups): schema, then the safety core. */
import { EXIT, type ExitCode } from '../errors.js';
import { topologyRefusals, topologyWarnings } from '../core/safety.js';
import { CLUSTERS, CLUSTER_TITLE } from '../core/clusters.js';
import { majorityOf } from '../core/quorum.js';
import { loadTopology } from '../topology/load.js';
import { membersOf, type Topology } from '../topology/model.js';
import type { GlobalOptions } from './options.js';
import type { Io } from '../views/io.js';

function safetyInput(t: Topology) {
  return { main: t.datacenters.main, secondary: t.datacenters.secondary, nodes: t.nodes };
}

export async function validate(opts: GlobalOptions, io: Io): Promise<ExitCode> {
  const t = await loadTopology(opts.topology);
  const refusals = topologyRefusals(safetyInput(t));
  const warnings = topologyWarnings(safetyInput(t));
  const clusters = Object.fromEntries(
    CLUSTERS.map((c) => {
      const m = membersOf(t, c);
      return [
        c,
        {
          members: m.length,
          quorum: majorityOf(m.length),
          main: m.filter((n) => n.dc === t.datacenters.main).length,
          secondary: m.filter((n) => n.dc === t.datacenters.secondary).length,
        },
      ];
    }).filter(([, v]) => (v as { members: number }).members > 0),
  );
  const valid = refusals.length === 0;
  if (opts.json) {
    io.out(
      JSON.stringify({ valid, topology: opts.topology, cluster: t.cluster, clusters, refusals, warnings }, null, 2),
    );
  } else {
    io.out(
      `${opts.topology}: ${valid ? 'valid' : 'valid schema, but unsafe'} (${t.cluster}: ${t.nodes.length} nodes, main ${t.datacenters.main}, secondary ${t.datacenters.secondary})`,
    );
    for (const [c, v] of Object.entries(clusters) as [
      keyof typeof CLUSTER_TITLE,
      { members: number; quorum: number; main: number; secondary: number },
    ][]) {
      io.out(`  ${CLUSTER_TITLE[c].padEnd(14)} ${v.members} members (${v.main} + ${v.secondary}), quorum ${v.quorum}`);
    }
    for (const r of refusals) io.out(`  refused [${r.code}] ${r.message}`);
    for (const w of warnings) io.out(`  warning [${w.code}] ${w.message}`);
  }
  return valid ? EXIT.ok : EXIT.refused;
}
