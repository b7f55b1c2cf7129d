/**
 * The human rendering of a plan: what it assumes, per-cluster quorum before and after, warnings
 * and refusals in words, then numbered steps. Steps of one parallel group share a number.
 */
import { CLUSTERS, CLUSTER_TITLE } from '../core/clusters.js';
import type { Plan, Step } from '../plan/plan.js';

function stepTarget(step: Step): string {
  if (step.node) return step.node;
  if (step.cluster) return CLUSTER_TITLE[step.cluster];
  return 'local';
}

/** Step numbers: consecutive steps of one group share a number (they run in parallel). */
export function numberSteps(steps: readonly Step[]): { no: number; sub: string; step: Step }[] {
  const out: { no: number; sub: string; step: Step }[] = [];
  let no = 0;
  let letter = 0;
  steps.forEach((step, i) => {
    const prev = steps[i - 1];
    const sameGroup = prev !== undefined && step.group !== undefined && prev.group === step.group;
    if (sameGroup) {
      letter += 1;
    } else {
      no += 1;
      letter = 0;
    }
    const next = steps[i + 1];
    const isGroup = sameGroup || (next !== undefined && step.group !== undefined && next.group === step.group);
    out.push({ no, sub: isGroup ? String.fromCharCode(97 + (letter % 26)) : '', step });
  });
  return out;
}

export function renderPlanText(plan: Plan): string {
  const lines: string[] = [];
  const title =
    plan.runbook === 'failover'
      ? `Failover of ${plan.cluster}: ${plan.from} is lost, ${plan.to} takes over`
      : `Failback of ${plan.cluster}: ${plan.to} returns, from ${plan.from}`;
  lines.push(title);
  lines.push(
    plan.mode === 'offline'
      ? '(offline plan: derived from the topology alone, nothing was observed; it cannot be applied)'
      : "(online plan: derived from the nodes' own files and services)",
  );
  lines.push('');
  lines.push('Quorum                 before           after');
  for (const c of CLUSTERS) {
    const q = plan.quorum[c];
    if (!q) continue;
    const fig = (f: { members: number; quorum: number }) => `${f.quorum} of ${f.members}`.padEnd(17);
    lines.push(`  ${CLUSTER_TITLE[c].padEnd(21)}${fig(q.before)}${fig(q.after).trimEnd()}`);
  }
  if (plan.refusals.length > 0) {
    lines.push('');
    lines.push(`REFUSED: this ${plan.runbook} is unsafe and will not run:`);
    for (const r of plan.refusals) lines.push(`  [${r.code}] ${r.message}`);
  }
  if (plan.warnings.length > 0) {
    lines.push('');
    lines.push('Warnings:');
    for (const w of plan.warnings) lines.push(`  [${w.code}] ${w.message}`);
  }
  if (plan.steps.length > 0) {
    const changes = plan.steps.filter((s) => s.action !== 'verify').length;
    lines.push('');
    lines.push(
      `Steps (${plan.steps.length}: ${changes} changes, ${plan.steps.length - changes} verifications; lettered steps run in parallel):`,
    );
    const tracks = [...new Set(plan.steps.map((s) => s.track).filter((x): x is string => x !== undefined))];
    if (tracks.length > 1)
      lines.push(`  (the ${tracks.join(' and ')} steps run side by side: independent clusters, each track in order)`);
    for (const { no, sub, step } of numberSteps(plan.steps)) {
      const label = `${no}${sub}.`.padEnd(6);
      lines.push(`  ${label}${stepTarget(step).padEnd(14)} ${step.track ? `[${step.track}] ` : ''}${step.summary}`);
    }
  } else if (plan.refusals.length === 0) {
    lines.push('');
    lines.push('Steps: none. Nothing needs to change.');
  }
  lines.push('');
  lines.push(plan.safe ? `Verdict: safe (${plan.steps.length} steps)` : 'Verdict: REFUSED');
  return `${lines.join('\n')}\n`;
}
