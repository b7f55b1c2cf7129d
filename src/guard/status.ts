/**
 * What `status` says of a lost DC that came back while the cluster runs failed over, when its
 * guard keeps it down (pure): `guarded`, instead of only "reachable with old files, no service".
 */
import type { Finding } from '../core/safety.js';
import type { StatusReport } from '../observe/judge.js';
import type { Topology } from '../topology/model.js';
import type { GuardNodeReport } from './inspect.js';

/** The returning nodes that are guarded now, and the report's notes with `guarded` in place of `returning-quiet` for them. */
export function withGuarded(
  t: Topology,
  report: StatusReport,
  guards: readonly GuardNodeReport[],
): { guarded: string[]; notes: Finding[] } {
  if (report.mode !== 'failed-over') return { guarded: [], notes: report.notes };
  const main = t.datacenters.main;
  const quiet = report.nodes.filter(
    (n) => n.dc === main && n.configKind !== 'unknown' && !Object.values(n.units).some((u) => u === 'active'),
  );
  const guarded = quiet.filter((n) => {
    const g = guards.find((x) => x.node === n.name);
    return g?.state?.scriptVersion != null && g.state.units.every((u) => u.dropIn);
  });
  if (guarded.length === 0) return { guarded: [], notes: report.notes };
  const names = guarded.map((n) => n.name);
  const held = guarded.flatMap((n) => {
    const h = guards.find((x) => x.node === n.name)?.state?.holds ?? [];
    return h.length > 0 ? [`${n.name} held (${h.join(', ')})`] : [];
  });
  const unguarded = quiet.filter((n) => !names.includes(n.name)).map((n) => n.name);
  const notes = report.notes.filter((f) => f.code !== 'returning-quiet');
  notes.push({
    code: 'guarded',
    message: `${names.join(', ')} of ${main} came back with their old files and are GUARDED: their return guard keeps every quorum unit down while the cluster runs failed over${held.length > 0 ? ` (${held.join('; ')})` : ' (the survivors publish the failover)'}; dcfail failback brings them back`,
  });
  if (unguarded.length > 0)
    notes.push({
      code: 'returning-quiet',
      message: `${unguarded.join(', ')} of ${main} are reachable with their old files and no service running, WITHOUT a complete guard: nothing keeps them down at their next start (dcfail guard hold ${main})`,
    });
  return { guarded: names, notes };
}
