/** `dcfail guard status` for people: one block per master. */
import type { GuardNodeReport } from '../guard/inspect.js';
import type { Topology } from '../topology/model.js';

export function guardStatusLines(t: Topology, reports: readonly GuardNodeReport[]): string[] {
  const out = [
    t.guard
      ? `Return guard of ${t.cluster} (whenUnsure: ${t.guard.whenUnsure}, beacon port ${t.guard.beaconPort}):`
      : `Return guard of ${t.cluster}: NOT DECLARED in the topology (add \`guard: {}\`, then dcfail guard install)`,
  ];
  for (const r of reports) {
    const s = r.state;
    const head = s?.scriptVersion != null ? `guard v${s.scriptVersion}` : 'no guard';
    out.push(`  ${r.node} (${r.dc}): ${r.problems.length === 0 ? `${head}, ok` : `${head}: ${r.problems.join('; ')}`}`);
    if (!s) continue;
    if (s.state) out.push(`    state: ${s.state.kind} (${s.state.dc}, run ${s.state.run})`);
    if (s.holds.length > 0) out.push(`    held: ${s.holds.join(', ')}`);
    for (const u of s.units)
      if (u.verdict)
        out.push(
          `    ${u.unit}: ${u.verdict.start ? 'would start' : 'would stay down'}${u.verdict.why ? ` (${u.verdict.why})` : ''}`,
        );
  }
  const missing = reports.filter((r) => r.state?.scriptVersion == null || r.problems.length > 0);
  if (missing.length > 0) out.push('', `Fix: dcfail guard install -t <topology> (idempotent; upgrades in place)`);
  return out;
}
