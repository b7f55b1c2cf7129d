/**
 * The gates of a failover, in order: the loss certificate (the lost DC really is down), fencing
 * (a hook, or the operator's attestation), the safety core's verdict on the plan, the pre-hook.
 * Returns the plan, and what to do before the first step: copies of every survivor's replicas,
 * then the failover marker (the files as they were and the failover point) on the survivors.
 */
import type { ClusterObservation } from '../../observe/observation.js';
import { type LossEvidence, certifyLoss } from './loss-certificate.js';
import { secondsUp } from './settling.js';
import { type Prepared, registryBefore, originalFrom } from './common.js';
import { RefusedError } from '../../errors.js';
import type { RunNote } from '../host.js';
import type { RunbookOptions } from '../../commands/options.js';
import type { Session } from '../session.js';
import { copyState } from '../replica-copies.js';
import type { NodeConfig } from '../../plan/facts.js';
import { companionWarnings, factsFromObservation, judge } from '../../observe/judge.js';
import type { Plan } from '../../plan/plan.js';
import type { Topology } from '../../topology/model.js';
import { failoverPointOf, readMarker, writeMarker } from '../marker.js';
import { planFailover } from '../../plan/failover.js';
import { preHook } from '../hooks.js';
import { zookeeperTopologyDisagreements } from '../../components/zookeeper/judge.js';
import { etcdTopologyDisagreements } from '../../components/etcd/judge.js';
import { topologyDirOf } from '../effects.js';
import { publishGuardState } from '../guard-state.js';
export async function prepareFailover(
  s: Session,
  opts: RunbookOptions,
  notify: (e: RunNote) => void,
  lostDc: string,
  to: string,
  observation: ClusterObservation,
): Promise<Prepared> {
  const { t } = s;
  const survivors = t.nodes.filter((n) => n.dc !== lostDc);
  const done = alreadyFailedOver(t, observation, lostDc, to);
  if (done) return { plan: { ...done.plan, steps: [] }, confirmDc: to, extra: {}, early: done.message };
  const evidence: LossEvidence = await certifyLoss(t, lostDc, observation);
  s.journal.data.evidence = evidence;
  s.journal.data.evidenceAt = new Date().toISOString();
  await s.journal.save();
  if (evidence.verdict === 'alive') {
    throw new RefusedError(
      'lost-dc-alive',
      `${lostDc} is not down: it answers as a cluster member. A failover now would be split brain.`,
      evidence.answeringAsMembers,
    );
  }
  if (evidence.verdict === 'inconclusive' || evidence.verdict === 'settling') {
    if (!opts.overrideLossCheck)
      throw evidence.verdict === 'settling'
        ? new RefusedError('loss-settling', settlingMessage(evidence), evidence.reasons)
        : new RefusedError(
            'loss-inconclusive',
            `the evidence that ${lostDc} is down is inconclusive; --override-loss-check "<reason>" proceeds anyway`,
            evidence.reasons,
          );
    notify({
      kind: 'warning',
      code: 'loss-inconclusive-overridden',
      message: `proceeding on inconclusive loss evidence, as asked: ${opts.overrideLossCheck}`,
      details: evidence.reasons,
    });
  }
  const disagreements = topologyDisagreements(t, observation);
  if (disagreements.length > 0)
    throw new RefusedError(
      'topology-disagrees',
      "the topology disagrees with what the nodes' files say: nothing was changed. Fix the topology (or the nodes) first",
      disagreements,
    );
  const fence = t.hooks.fence?.[lostDc];
  if (!fence && !opts.attestFenced) {
    throw new RefusedError(
      'unfenced',
      `${lostDc} has no fence hook: it must stay down until failback. Add hooks.fence.${lostDc}, or attest how it is kept down with --attest-fenced "<how>"`,
    );
  }
  const marker = readMarker(observation, t);
  const facts = factsFromObservation(t, observation, originalFrom(t, marker));
  const planned = planFailover(facts, { lostDc, fenceCommand: fence });
  // Display only: the other quorum services on the masters (IAM down while failed over...).
  const plan = { ...planned, warnings: [...planned.warnings, ...companionWarnings(observation, lostDc)] };
  if (!plan.safe)
    throw new RefusedError(
      'plan-refused',
      'the safety core refuses this failover',
      plan.refusals.map((r) => `[${r.code}] ${r.message}`),
    );
  if (plan.steps.length > 0)
    await preHook('preFailover', t.hooks.preFailover, topologyDirOf(opts.topology), s.hookEnv, t.hooks.env);
  s.journal.data.failoverPoint =
    marker?.point ??
    failoverPointOf(
      observation,
      survivors.map((n) => n.name),
    );
  // The registry a Mesos verification judges against: the marker's point (a resumed run's),
  // else the survivors' recovered leader's now; none when the survivors lead nothing.
  const recorded = Object.values(marker?.point ?? {}).find((p) => p.mesosRegistry)?.mesosRegistry;
  const mesosRegistryBefore = registryBefore(observation, survivors, recorded);
  s.journal.data.notes['mesosRegistryBefore'] = mesosRegistryBefore ?? {
    unknown: 'no survivor leads with a recovered registrar: nothing to compare the new registry with',
  };
  return {
    plan,
    confirmDc: to,
    extra: {
      guardLostDc: lostDc,
      ...(mesosRegistryBefore ? { mesosRegistryBefore } : {}),
      beforeRun: async () => {
        // Before anything destructive: a copy of every survivor's replicas (the seeds among them).
        s.journal.data.notes['copies'] = await copyState(
          s,
          survivors.filter((n) => n.roles.length > 0),
          'copies',
          observation,
        );
        await s.journal.save();
        // The return guard's evidence, on every survivor before the first change (a re-run
        // publishes it again: the same line). A survivor that cannot take it stops the run here.
        await publishGuardState(
          t,
          s.pool,
          survivors.filter((n) => n.roles.length > 0),
          { kind: 'failed-over', dc: lostDc, run: marker?.runId ?? s.runId },
        );
        if (marker) return;
        // Before the first change: the files as they were, and where each survivor's replicas stood.
        // Only what was read from a node's own disk: a lost node's files are taken from that node
        // when it returns (the failback records them before its first change), never from the topology.
        const original: Record<string, NodeConfig> = {};
        for (const o of observation.nodes) if (o.config) original[o.name] = o.config;
        await writeMarker(s.pool, survivors, {
          runId: s.runId,
          lostDc,
          at: new Date().toISOString(),
          operator: s.journal.data.operator,
          original,
          point: failoverPointOf(
            observation,
            survivors.map((n) => n.name),
          ),
        });
      },
    },
  };
}

/**
 * The refusal of a certificate whose only doubt is survivors still settling: who, and how long to
 * wait before running again (the longest of their waits).
 */
export function settlingMessage(e: LossEvidence): string {
  const who = [...new Set(e.settling.map((x) => x.node))].join(', ');
  const wait = secondsUp(Math.max(0, ...e.settling.map((x) => x.waitMs)));
  return `${e.dc} looks down (no probe reaches it), but ${who} still count${e.settling.length === 1 ? 's' : ''} it in: a server notices a lost leader only when its own timeout runs out. Wait ${wait} s and run again; --override-loss-check "<reason>" proceeds anyway`;
}

/**
 * A failover that already finished (its marker, no failback begun, status failed-over, nothing
 * left to change without the fence): said so, with when and which run; no hook, no fence, no
 * warning is repeated. An unfinished failover (steps left) continues as any re-run does.
 */
export function alreadyFailedOver(
  t: Topology,
  observation: ClusterObservation,
  lostDc: string,
  to: string,
): { plan: Plan; message: string } | null {
  const marker = readMarker(observation, t);
  if (!marker || marker.lostDc !== lostDc || marker.failbackRunId !== undefined) return null;
  if (judge(t, observation).mode !== 'failed-over') return null;
  const plan = planFailover(factsFromObservation(t, observation, originalFrom(t, marker)), { lostDc });
  if (!plan.safe || plan.steps.length > 0) return null;
  return {
    plan,
    message: `Already failed over to ${to}: since ${marker.at} by run ${marker.runId} (${marker.operator}). Nothing changed.`,
  };
}

/**
 * Where the topology disagrees with the readable nodes' own files (ZooKeeper ids and addresses,
 * etcd members): a failover planned from a wrong topology rewrites the survivors with wrong ids.
 * With a failover marker, the survivors' files may hold the reduced ensemble: only what they list is compared.
 */
export function topologyDisagreements(t: Topology, observation: ClusterObservation): string[] {
  const failedOver = readMarker(observation, t) !== null;
  return [
    ...zookeeperTopologyDisagreements(
      t.nodes.filter((n) => n.roles.includes('exhibitor')),
      observation,
      { failedOver },
    ),
    ...etcdTopologyDisagreements(t, observation),
  ];
}
