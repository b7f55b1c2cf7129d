/**
 * `dcfail plan failover|failback`: prints the plan. Offline (`--offline`), from the topology
 * alone; online planning (observing the nodes) arrives with the execute issue.
 */
import { EXIT, UserError, type ExitCode } from '../errors.js';
import { loadTopology } from '../topology/load.js';
import { otherDc, resolveDc, type Topology } from '../topology/model.js';
import { offlineFacts } from '../runbooks/facts.js';
import { planFailover } from '../runbooks/failover.js';
import { failedOverFacts, planFailback } from '../runbooks/failback.js';
import type { Plan } from '../runbooks/plan.js';
import { renderPlanText } from '../output/plan-text.js';
import type { GlobalOptions, Io } from './context.js';

export interface PlanOptions extends GlobalOptions {
  runbook: 'failover' | 'failback';
  to?: string;
  assumeDown?: string;
  offline?: boolean;
  out?: string;
}

/** The offline failover plan: `to` takes over, `assumeDown` (default: the other DC) is lost. */
export function offlineFailoverPlan(t: Topology, to: string, assumeDown?: string): Plan {
  const toDc = resolveDc(t, to, '--to');
  const lost = assumeDown === undefined ? otherDc(t, toDc) : resolveDc(t, assumeDown, '--assume-down');
  if (lost === toDc) {
    throw new UserError('bad-flag', `--to ${to} and --assume-down ${assumeDown}: the DC that takes over cannot be the one that is down`);
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
    throw new UserError('online-plan-unavailable', 'online planning (observing the nodes) is not available yet: use --offline --assume-down <dc>');
  }
  if (opts.out) {
    throw new UserError('bad-flag', '--out saves online plans only: an offline plan observed nothing and cannot be applied');
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
  io.out(opts.json ? JSON.stringify(p, null, 2) : renderPlanText(p));
  return p.safe ? EXIT.ok : EXIT.refused;
}
