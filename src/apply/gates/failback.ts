/**
 * The gates of a failback: every node reachable; one surviving quorum per cluster (unless it
 * resumes); the returning DC did not run on its own (its writes are archived, and it is refused
 * without --discard-divergent); the safety core's verdict; the pre-hook. A failback whose
 * cluster already reads normal only clears a marker left by an interrupted run.
 */
import { CLUSTERS } from '../../core/clusters.js';
import type { ClusterObservation } from '../../observe/observation.js';
import { type Prepared, originalFrom, registryBefore } from './common.js';
import { RefusedError } from '../../errors.js';
import type { RunNote } from '../host.js';
import type { RunbookOptions } from '../../commands/options.js';
import type { Session } from '../session.js';
import { copyState } from '../replica-copies.js';
import { divergence } from '../../observe/divergence.js';
import { type StatusReport, factsFromObservation, judge } from '../../observe/judge.js';
import type { Finding } from '../../core/safety.js';
import type { Topology, TopologyNode } from '../../topology/model.js';
import { holdUnit, readHold } from '../units.js';
import { planFailback } from '../../plan/failback.js';
import { preHook } from '../hooks.js';
import { readMarker, removeMarker, writeMarker } from '../marker.js';
import { topologyDirOf } from '../effects.js';
import { holdPerUnit, publishGuardState } from '../guard-state.js';
import { topologyDisagreements } from './failover.js';
export async function prepareFailback(
  s: Session,
  opts: RunbookOptions,
  notify: (e: RunNote) => void,
  returningDc: string,
  observation: ClusterObservation,
): Promise<Prepared> {
  const { t } = s;
  const marker = readMarker(observation, t);
  const status = judge(t, observation);
  const resuming = marker?.lostDc === returningDc && marker.failbackRunId !== undefined;
  const unreachable = unreachableNodes(observation);
  if (unreachable.length > 0)
    throw new RefusedError(
      'unreachable',
      `failback needs every node reachable; not reachable: ${unreachable.join(', ')}. Nothing was changed`,
    );
  const survivorsOf = t.nodes.filter((n) => n.dc !== returningDc);
  const original = originalFrom(t, marker, { observation, dc: returningDc });
  if (status.mode === 'normal' && status.hazards.length === 0) {
    const plan = planFailback(factsFromObservation(t, observation, original), { returningDc });
    if (plan.steps.length === 0 || !marker) {
      // A marker here is left by a failback killed after its last step but before its clean-up:
      // it must go, or a later failover would start from its stale original files and point.
      return {
        plan: { ...plan, steps: [] },
        confirmDc: returningDc,
        extra: {},
        early: `Nothing to do: status reads normal, every cluster has its full membership.${marker ? ' The failover marker left by an interrupted run is cleared.' : ''}`,
        ...(marker || t.guard
          ? {
              afterSuccess: async () => {
                if (marker) await removeMarker(s.pool, survivorsOf, s.runId);
                await publishGuardState(
                  t,
                  s.pool,
                  survivorsOf.filter((n) => n.roles.length > 0),
                  { kind: 'normal' },
                );
              },
            }
          : {}),
      };
    }
  }
  const disagreements = topologyDisagreements(t, observation);
  if (disagreements.length > 0)
    throw new RefusedError(
      'topology-disagrees',
      "the topology disagrees with what the nodes' files say: nothing was changed. Fix the topology (or the nodes) first",
      disagreements,
    );
  const diverged = divergence(t, returningDc, observation, marker);
  if (diverged.length > 0) {
    const archived = await copyState(
      s,
      t.nodes.filter((n) => n.dc === returningDc),
      'archive',
      observation,
    );
    s.journal.data.notes['divergent'] = diverged;
    s.journal.data.notes['archived'] = archived;
    await s.journal.save();
    if (!opts.discardDivergent) {
      // Refused, but not left serving next to the survivors: its services are held and stopped.
      const returning = t.nodes.filter((n) => n.dc === returningDc && n.roles.length > 0);
      const q = await quarantine(s, returning);
      s.journal.data.notes['quarantine'] = q;
      await s.journal.save();
      const units = [
        ...new Set(
          returning.flatMap((n) => CLUSTERS.filter((c) => n.roles.includes(c)).map((c) => n.services[c].unit)),
        ),
      ];
      throw new RefusedError(
        'divergent',
        `${returningDc} ran as a cluster of its own after the failover and may hold writes the survivors do not have. They are archived; --discard-divergent drops them from the cluster. ${
          q.failed.length === 0
            ? `${returningDc} is quarantined: ${returning.map((n) => n.name).join(', ')} (${units.join(', ')} held and stopped; they stay down across reboots)`
            : `${returningDc} STILL SERVES its own quorum: on ${returning.map((n) => n.name).join(', ')}, hold and stop ${units.join(', ')}: for each unit U, \`touch ${holdExample(returning)}/hold.U\`, a drop-in /etc/systemd/system/U.service.d/dcfail-hold.conf with "[Unit]" and "ConditionPathExists=!${holdExample(returning)}/hold.U", then \`systemctl daemon-reload && systemctl stop U\` (systemctl mask fails on DC/OS's units)`
        }`,
        [
          ...diverged,
          ...Object.entries(archived).map(([n, p]) => `archived on ${n}: ${p}`),
          ...(q.done.length > 0 ? [`quarantined: ${q.done.join(', ')}`] : []),
          ...q.failed.map((f) => `not quarantined: ${f}`),
        ],
      );
    }
    notify({
      kind: 'warning',
      code: 'divergent-discarded',
      message: `discarding what ${returningDc} wrote on its own (archived): ${diverged.join('; ')}`,
      details: [],
    });
  }
  if (!resuming) {
    const unhealthy = survivorsUnhealthy(t, status, returningDc);
    if (unhealthy.length > 0)
      throw new RefusedError(
        'survivors-unhealthy',
        'the cluster on the surviving DC is not healthy: fix it before a failback',
        unhealthy,
      );
  }
  const facts = factsFromObservation(t, observation, original);
  const plan = planFailback(facts, { returningDc });
  if (!plan.safe)
    throw new RefusedError(
      'plan-refused',
      'the safety core refuses this failback',
      plan.refusals.map((r) => `[${r.code}] ${r.message}`),
    );
  if (plan.steps.length > 0)
    await preHook('preFailback', t.hooks.preFailback, topologyDirOf(opts.topology), s.hookEnv, t.hooks.env);
  // Recorded before the first change (a resumed run's is the marker's): the returning masters
  // start from a copy of a survivor's log, and the leader after them must know every agent.
  const mesosRegistryBefore = registryBefore(
    observation,
    survivorsOf,
    resuming ? marker?.failbackMesosRegistry : undefined,
  );
  s.journal.data.notes['mesosRegistryBefore'] = mesosRegistryBefore ?? {
    unknown: 'no survivor leads with a recovered registrar: nothing to compare the new registry with',
  };
  return {
    plan,
    confirmDc: returningDc,
    extra: {
      ...(mesosRegistryBefore ? { mesosRegistryBefore } : {}),
      beforeRun: async () => {
        s.journal.data.notes['copies'] = await copyState(
          s,
          survivorsOf.filter((n) => n.roles.length > 0),
          'copies',
          observation,
        );
        await s.journal.save();
        // The return guard: survivors say a failback is under way (each returning unit is then
        // judged by membership, and is a member when the plan starts it); an operator's DC-wide
        // hold becomes one hold per unit, lifted as the plan starts each.
        await holdPerUnit(
          t,
          s.pool,
          t.nodes.filter((n) => n.dc === returningDc && n.roles.length > 0),
        );
        await publishGuardState(
          t,
          s.pool,
          survivorsOf.filter((n) => n.roles.length > 0),
          { kind: 'failing-back', dc: returningDc, run: s.runId },
        );
        if (marker && !resuming)
          await writeMarker(
            s.pool,
            t.nodes.filter((n) => n.dc !== returningDc && n.roles.length > 0),
            // The returning nodes' own files, as read before the first change, join the original.
            {
              ...marker,
              original,
              failbackRunId: s.runId,
              ...(mesosRegistryBefore ? { failbackMesosRegistry: mesosRegistryBefore } : {}),
            },
          );
      },
    },
    afterSuccess: async () => {
      await removeMarker(s.pool, survivorsOf, s.runId);
      await publishGuardState(
        t,
        s.pool,
        survivorsOf.filter((n) => n.roles.length > 0),
        { kind: 'normal' },
      );
    },
  };
}

function unreachableNodes(observation: ClusterObservation): string[] {
  return observation.nodes.filter((n) => !n.ssh.ok).map((n) => n.name);
}

/** Each cluster whose surviving side does not have exactly one quorum. */
function survivorsUnhealthy(t: Topology, status: StatusReport, returningDc: string): string[] {
  return CLUSTERS.flatMap((c) => {
    const lc = status.clusters.find((x) => x.cluster === c);
    if (!lc) return [];
    const q = lc.quorums.filter((g) => g.members.some((m) => t.nodes.find((n) => n.name === m)!.dc !== returningDc));
    return q.length === 1 ? [] : [`${c}: the surviving side has ${q.length === 0 ? 'no quorum' : 'several quorums'}`];
  });
}

/**
 * What `dcfail failback` would refuse on, for an online plan (read-only: nothing is archived):
 * unreachable nodes, an unhealthy surviving side, a returning DC that ran on its own.
 */
export function failbackRefusals(t: Topology, observation: ClusterObservation, returningDc: string): Finding[] {
  const marker = readMarker(observation, t);
  const status = judge(t, observation);
  const out: Finding[] = [];
  const unreachable = unreachableNodes(observation);
  if (unreachable.length > 0)
    out.push({
      code: 'unreachable',
      message: `failback needs every node reachable; not reachable: ${unreachable
        .map((n) => `${n} (${observation.nodes.find((o) => o.name === n)?.ssh.error ?? 'no SSH'})`)
        .join(', ')}: failback would refuse`,
    });
  const resuming = marker?.lostDc === returningDc && marker.failbackRunId !== undefined;
  if (!resuming)
    for (const u of survivorsUnhealthy(t, status, returningDc))
      out.push({ code: 'survivors-unhealthy', message: `${u}: failback would refuse` });
  for (const d of divergence(t, returningDc, observation, marker))
    out.push({ code: 'divergent', message: `${d}: failback would refuse without --discard-divergent` });
  return out;
}

function holdExample(nodes: readonly TopologyNode[]): string {
  return `${nodes[0]?.services.dcfail.stateDir ?? '/var/lib/dcfail'}/guard`;
}

/**
 * Holds and stops every unit of the returning nodes (what the failback plan's quarantine does
 * first: flag, drop-in, reload, stop; src/apply/units.ts), then reads each hold back and checks the
 * unit is inactive. Under the run lock already held. Returns what was quarantined (`node/unit`) and
 * what could not be, with why.
 */
async function quarantine(s: Session, nodes: readonly TopologyNode[]): Promise<{ done: string[]; failed: string[] }> {
  const done: string[] = [];
  const failed: string[] = [];
  await Promise.all(
    nodes.map(async (n) => {
      let remote;
      try {
        remote = await s.pool.get(n);
      } catch (err) {
        failed.push(`${n.name}: ${(err as Error).message}`);
        return;
      }
      for (const c of CLUSTERS.filter((x) => n.roles.includes(x))) {
        const unit = n.services[c].unit;
        try {
          await holdUnit(remote, n, unit, n.services[c].commandTimeoutMs);
          const h = await readHold(remote, n, unit, 10_000);
          if (h.active) throw new Error('still active after stop');
          if (!h.flag || !h.dropIn) throw new Error(`hold not in place (flag ${h.flag}, drop-in ${h.dropIn})`);
          done.push(`${n.name}/${unit}`);
        } catch (err) {
          failed.push(`${n.name}/${unit}: ${(err as Error).message}`);
        }
      }
    }),
  );
  return { done: done.sort(), failed: failed.sort() };
}
