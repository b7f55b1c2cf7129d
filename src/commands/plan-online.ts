/**
 * `dcfail plan` without --offline: observe the nodes (read-only), plan from what they hold, and
 * the saved-plan value `--out` writes. Its own module, imported lazily: an offline plan must not
 * load ssh2 and the probe clients.
 */
import { originalFrom } from '../apply/gates/common.js';
import { readMarker } from '../apply/marker.js';
import { failbackRefusals } from '../apply/gates/failback.js';
import { alreadyFailedOver, settlingMessage, topologyDisagreements } from '../apply/gates/failover.js';
import { certifyLoss } from '../apply/gates/loss-certificate.js';
import type { Finding } from '../core/safety.js';
import type { ClusterObservation } from '../observe/observation.js';
import { fingerprintBasis, fingerprintOf } from '../observe/fingerprint.js';
import { companionWarnings, factsFromObservation } from '../observe/judge.js';
import { observeCluster } from '../observe/observe.js';
import { planFailback } from '../plan/failback.js';
import { planFailover } from '../plan/failover.js';
import type { Plan } from '../plan/plan.js';
import { savedPlanOf, type SavedPlan } from '../plan/saved-plan.js';
import { RemotePool } from '../remote/ssh.js';
import { otherDc, type Topology } from '../topology/model.js';

/** The online plan, as `dcfail plan` (without --offline) shows and saves it: read-only. */
export async function planOnline(
  t: Topology,
  topologyFile: string,
  runbook: Plan['runbook'],
  to: string,
): Promise<{ plan: Plan; saved: SavedPlan }> {
  const pool = new RemotePool();
  try {
    const observation = await observeCluster(t, {
      pool,
      companions: runbook === 'failover',
      forFailback: runbook === 'failback',
    });
    const marker = readMarker(observation, t);
    const facts = factsFromObservation(
      t,
      observation,
      originalFrom(t, marker, runbook === 'failback' ? { observation, dc: t.datacenters.main } : undefined),
    );
    const planned =
      runbook === 'failover'
        ? planFailover(facts, { lostDc: otherDc(t, to), fenceCommand: t.hooks.fence?.[otherDc(t, to)] })
        : planFailback(facts, { returningDc: t.datacenters.main });
    // The gates the command itself would apply: the plan's verdict is the command's.
    const gates =
      runbook === 'failover'
        ? await failoverRefusals(t, observation, otherDc(t, to), to)
        : failbackRefusals(t, observation, t.datacenters.main);
    // Display only: the other quorum services on the masters, and what the failover means for them.
    const informed =
      runbook === 'failover'
        ? { ...planned, warnings: [...planned.warnings, ...companionWarnings(observation, otherDc(t, to))] }
        : planned;
    const plan: Plan =
      gates.length === 0 ? informed : { ...informed, safe: false, refusals: [...informed.refusals, ...gates] };
    return {
      plan,
      saved: savedPlanOf(plan, topologyFile, fingerprintOf(observation), fingerprintBasis(observation), new Date()),
    };
  } finally {
    await pool.closeAll();
  }
}

/**
 * What `dcfail failover` would refuse on, for an online plan: the loss certificate (with this
 * observation as its first look). A cluster already failed over needs no certificate.
 */
async function failoverRefusals(
  t: Topology,
  observation: ClusterObservation,
  lostDc: string,
  to: string,
): Promise<Finding[]> {
  if (alreadyFailedOver(t, observation, lostDc, to)) return [];
  const disagreements = topologyDisagreements(t, observation).map((d) => ({
    code: 'topology-disagrees',
    message: `${d}: failover would refuse`,
  }));
  const evidence = await certifyLoss(t, lostDc, observation);
  if (evidence.verdict === 'alive')
    return [
      ...disagreements,
      {
        code: 'loss-not-certified',
        message: `${lostDc} answers as a cluster member (${evidence.answeringAsMembers.join('; ')}): failover would refuse`,
      },
    ];
  if (evidence.verdict === 'settling')
    return [
      ...disagreements,
      { code: 'loss-settling', message: `${settlingMessage(evidence)}: failover would refuse until then` },
    ];
  if (evidence.verdict === 'inconclusive')
    return [
      ...disagreements,
      {
        code: 'loss-inconclusive',
        message: `the evidence that ${lostDc} is down is inconclusive (${evidence.reasons.join('; ')}): failover would refuse without --override-loss-check`,
      },
    ];
  return disagreements;
}
