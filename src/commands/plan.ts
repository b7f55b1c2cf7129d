/**
 * `dcfail plan failover|failback`: prints the plan. Offline (`--offline`), from the topology
 * alone; online planning (observing the nodes) arrives with the execute issue.
 */
import { EXIT, UserError, type ExitCode } from '../errors.js';
import { loadTopology } from '../topology/load.js';
import { otherDc, resolveDc, type Topology } from '../topology/model.js';
import { offlineFacts } from '../plan/facts.js';
import { planFailover } from '../plan/failover.js';
import { failedOverFacts, planFailback } from '../plan/failback.js';
import type { Plan } from '../plan/plan.js';
import { renderPlanText } from '../views/plan-text.js';
import type { SurvivalSummary } from '../survival/report.js';
import type { GlobalOptions } from './options.js';
import type { Io } from '../views/io.js';

export interface PlanOptions extends GlobalOptions {
  runbook: 'failover' | 'failback';
  to?: string;
  assumeDown?: string;
  offline?: boolean;
  out?: string;
  /** Saved Marathon apps and Mesos agents: the plan then carries the survival summary. */
  apps?: string;
  agents?: string;
}

/**
 * The survival summary for a failover plan: it informs and never changes `safe` or the exit
 * code. Offline, only from saved files (no network); a problem with them becomes a warning.
 */
async function survivalFor(
  t: Topology,
  p: Plan,
  opts: PlanOptions,
): Promise<{ survival?: SurvivalSummary; warning?: { code: string; message: string } }> {
  if (p.runbook !== 'failover' || p.steps.length === 0 || (opts.apps === undefined && opts.agents === undefined))
    return {};
  try {
    const { loadSurvivalInputs } = await import('../survival/sources.js');
    const { survivalSummaryForPlan } = await import('../survival/report.js');
    const inputs = await loadSurvivalInputs(t, { apps: opts.apps, agents: opts.agents, preferDc: p.to });
    return { survival: survivalSummaryForPlan(t, p.lostDc, inputs) };
  } catch (err) {
    return {
      warning: { code: 'survival-unavailable', message: `survival summary unavailable: ${(err as Error).message}` },
    };
  }
}

/** The offline failover plan: `to` takes over, `assumeDown` (default: the other DC) is lost. */
export function offlineFailoverPlan(t: Topology, to: string, assumeDown?: string): Plan {
  const toDc = resolveDc(t, to, '--to');
  const lost = assumeDown === undefined ? otherDc(t, toDc) : resolveDc(t, assumeDown, '--assume-down');
  if (lost === toDc) {
    throw new UserError(
      'bad-flag',
      `--to ${to} and --assume-down ${assumeDown}: the DC that takes over cannot be the one that is down`,
    );
  }
  return planFailover(offlineFacts(t), { lostDc: lost, fenceCommand: t.hooks.fence?.[lost] });
}

/** The offline failback: the main DC returns to the end state of the offline failover. */
export function offlineFailbackPlan(t: Topology): Plan {
  const returning = t.datacenters.main;
  return planFailback(failedOverFacts(offlineFacts(t), returning), { returningDc: returning });
}

export async function plan(opts: PlanOptions, io: Io): Promise<ExitCode> {
  const t = await loadTopology(opts.topology);
  if (!opts.offline) {
    if (opts.assumeDown !== undefined)
      throw new UserError(
        'bad-flag',
        '--assume-down goes with --offline: online, the plan starts from what the nodes say',
      );
    if (opts.runbook === 'failover' && !opts.to) throw new UserError('bad-flag', 'plan failover needs --to <dc>');
    const to = opts.runbook === 'failover' ? resolveDc(t, opts.to!, '--to') : t.datacenters.main;
    // Loaded only for an online plan: an offline one must not pay for ssh2 and the probes.
    const { planOnline } = await import('./plan-online.js');
    const { plan: p, saved } = await planOnline(t, opts.topology, opts.runbook, to);
    if (opts.out) {
      const { writeFileAtomic } = await import('../apply/local-files.js');
      await writeFileAtomic(opts.out, `${JSON.stringify(saved, null, 2)}\n`);
    }
    io.out(
      opts.json
        ? JSON.stringify(p, null, 2)
        : `${renderPlanText(p)}${opts.out && p.safe ? `Saved to ${opts.out} (fingerprint ${saved.fingerprint.slice(0, 19)}...): dcfail apply ${opts.out}\n` : ''}`,
    );
    return p.safe ? EXIT.ok : EXIT.refused;
  }
  if (opts.out) {
    throw new UserError(
      'bad-flag',
      '--out saves online plans only: an offline plan observed nothing and cannot be applied',
    );
  }
  let p: Plan;
  if (opts.runbook === 'failover') {
    if (!opts.to) throw new UserError('bad-flag', 'plan failover needs --to <dc>');
    p = offlineFailoverPlan(t, opts.to, opts.assumeDown);
  } else {
    if (opts.to !== undefined && resolveDc(t, opts.to, '--to') !== t.datacenters.main) {
      throw new UserError('bad-flag', `a failback returns to the main DC (${t.datacenters.main})`);
    }
    p = offlineFailbackPlan(t);
  }
  const extra = await survivalFor(t, p, opts);
  const shown: Plan & { survival?: SurvivalSummary } = {
    ...p,
    warnings: extra.warning ? [...p.warnings, extra.warning] : p.warnings,
    ...(extra.survival ? { survival: extra.survival } : {}),
  };
  if (opts.json) {
    io.out(JSON.stringify(shown, null, 2));
  } else {
    io.out(renderPlanText(shown));
    if (extra.survival)
      io.out(
        [
          'Survival of the apps (informs; it does not change the verdict):',
          ...extra.survival.lines.map((l) => `  ${l}`),
        ].join('\n'),
      );
  }
  return p.safe ? EXIT.ok : EXIT.refused;
}
