/**
 * The survival report for humans. Pure: the report value in, text out.
 */
import { assertNever } from '../errors.js';
import { formatVerdict, type AgentSummary, type Scenario, type SurvivalReport } from './report.js';

export function renderSurvivalReport(r: SurvivalReport): string {
  const out: string[] = [];
  out.push(`Survival report for ${r.cluster}`);
  out.push(`  source:        ${r.source}`);
  out.push(`  DC of agents:  attribute '${r.dcAttribute}', else fault-domain ${r.faultDomainLevel}`);
  out.push(`  masters:       ${describeMasterRegion(r)}`);
  out.push(`  critical:      ${r.criticalRule}`);
  out.push(`  agents:        ${describeAgents(r.agents)}`);
  if (r.findings.length > 0) {
    out.push('', 'Findings:');
    for (const f of r.findings) out.push(`  ! ${f.message}`);
  }
  for (const s of r.scenarios) out.push('', ...renderScenario(s));
  out.push('');
  if (r.hazard) {
    const lossesOf = new Map<string, string[]>();
    for (const s of r.scenarios)
      for (const id of s.criticalAtRisk) lossesOf.set(id, [...(lossesOf.get(id) ?? []), s.lostDc]);
    const list = [...lossesOf].map(([id, dcs]) => `${id} (loss of ${dcs.join(', of ')})`);
    out.push(
      `HAZARD: ${list.length} critical app${list.length === 1 ? '' : 's'} would not survive: ${list.join('; ')}`,
    );
  } else {
    out.push(`OK: every critical app survives the loss of ${r.scenarios.map((s) => s.lostDc).join(' and of ')}`);
  }
  return out.join('\n');
}

function describeMasterRegion(r: SurvivalReport): string {
  const m = r.masterRegion;
  switch (m.kind) {
    case 'known':
      return `region ${m.region} (from ${m.source})`;
    case 'none':
      return `no fault domain (from ${m.source}); region check not applicable`;
    case 'unknown':
      return `region unknown (${m.why}); region check skipped`;
    default:
      return assertNever(m, 'master region');
  }
}

function describeAgents(agents: readonly AgentSummary[]): string {
  const perDc = new Map<string, { all: number; pub: number }>();
  for (const a of agents) {
    const dc = a.dc.kind === 'unknown' ? 'unknown DC' : a.dc.dc;
    const entry = perDc.get(dc) ?? { all: 0, pub: 0 };
    entry.all += 1;
    if (a.isPublic) entry.pub += 1;
    perDc.set(dc, entry);
  }
  // Topology DCs first (in the order agents were sorted: by host name), agents of no DC last.
  const entries = [...perDc].sort(([a], [b]) => Number(a === 'unknown DC') - Number(b === 'unknown DC'));
  const parts = entries.map(([dc, n]) => `${dc} ${n.all} (${n.pub} public)`);
  return `${agents.length}: ${parts.join(', ')}`;
}

function renderScenario(s: Scenario): string[] {
  const out = [`If ${s.lostDc} is lost (${s.survivingDc} survives):`];
  if (s.apps.length === 0) out.push('  no Marathon apps');
  const idWidth = Math.max(3, ...s.apps.map((a) => a.id.length + (a.critical ? 11 : 0)));
  for (const a of s.apps) {
    const id = a.critical ? `${a.id} [critical]` : a.id;
    const counts = `${a.keep} kept + ${a.replace} re-placed of ${a.instances}`;
    out.push(`  ${formatVerdict(a.verdict).padEnd(18)} ${id.padEnd(idWidth)}  ${counts}`);
    out.push(`      ${a.reason}`);
  }
  const f = s.freeAfter;
  out.push(
    `  public agents left in ${s.survivingDc}: ${s.publicAgentsLeft}${s.publicAgentsLeft === 0 ? ' (no north-south entry point)' : ''}`,
  );
  out.push(`  free in ${s.survivingDc} after re-placement: ${f.cpus} cpus, ${f.mem} MB mem, ${f.disk} MB disk`);
  out.push(`  critical apps at risk: ${s.criticalAtRisk.length === 0 ? 'none' : s.criticalAtRisk.join(', ')}`);
  return out;
}
