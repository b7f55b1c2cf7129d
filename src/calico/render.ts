/** Calico's part of `status` and `survival` for people. Pure: the report in, lines out. */
import type { CalicoFinding, CalicoReport } from './judge.js';

const TAG: Record<CalicoFinding['severity'], string> = { hazard: 'HAZARD', warning: 'warning', note: 'note' };

export function renderCalico(r: CalicoReport, findings: readonly CalicoFinding[] = r.findings): string[] {
  const out = [`Calico (${r.source}): ${r.nodes} node(s), node-to-node mesh ${r.meshEnabled ? 'enabled' : 'disabled'}`];
  for (const [dc, d] of Object.entries(r.dcs))
    out.push(
      `  ${dc}: ${d.nodes} node(s), ${d.routeReflectors.length === 0 ? 'no route reflector' : `route reflectors ${d.routeReflectors.join(', ')}`}`,
    );
  if (r.unplaced.length > 0) out.push(`  in no known DC: ${r.unplaced.length} node(s)`);
  for (const f of findings) out.push(`  ${TAG[f.severity]} [${f.code}] ${f.message}`);
  for (const p of r.problems.slice(0, 20)) out.push(`  problem: ${p}`);
  if (r.problems.length > 20) out.push(`  ... and ${r.problems.length - 20} more problems`);
  return out;
}
