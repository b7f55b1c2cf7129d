/**
 * `dcfail plan` without --offline: observe the nodes (read-only), plan from what they hold, and
 * the saved-plan value `--out` writes. Its own module, imported lazily: an offline plan must not
 * load ssh2 and the probe clients.
 */
import { originalFrom } from '../apply/gates/common.js';
import { readMarker } from '../apply/marker.js';
import { fingerprintBasis, fingerprintOf } from '../observe/fingerprint.js';
import { factsFromObservation } from '../observe/judge.js';
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
    const observation = await observeCluster(t, { pool });
    const marker = readMarker(observation, t);
    const facts = factsFromObservation(t, observation, originalFrom(t, marker));
    const plan =
      runbook === 'failover'
        ? planFailover(facts, { lostDc: otherDc(t, to), fenceCommand: t.hooks.fence?.[otherDc(t, to)] })
        : planFailback(facts, { returningDc: t.datacenters.main });
    return {
      plan,
      saved: savedPlanOf(plan, topologyFile, fingerprintOf(observation), fingerprintBasis(observation), new Date()),
    };
  } finally {
    await pool.closeAll();
  }
}
