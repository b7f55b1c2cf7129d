/**
 * Every topology of up to 7 members per cluster, every DC split, etcd on the masters or on nodes
 * of its own: the plans are checked step by step against the independent model in
 * test/model/cluster-model.ts, whose invariants hold after every prefix of a plan.
 */
import { describe, expect, it } from 'vitest';
import { DcfailError } from '../../src/errors.js';
import { parseTopology } from '../../src/topology/load.js';
import type { Topology } from '../../src/topology/model.js';
import { offlineFacts } from '../../src/plan/facts.js';
import { planFailover } from '../../src/plan/failover.js';
import { failedOverFacts, planFailback } from '../../src/plan/failback.js';
import type { Plan, Step } from '../../src/plan/plan.js';
import { sectionsOf } from '../../src/plan/batches.js';
import { ClusterModel, ModelError, type PlanStepJson } from '../model/cluster-model.js';
import { majority, topologyFor, type Shape } from '../model/topologies.js';

function shapes(): Shape[] {
  const out: Shape[] = [];
  for (let masters = 0; masters <= 7; masters += 1) {
    for (let mastersInMain = 0; mastersInMain <= masters; mastersInMain += 1) {
      for (let etcd = 0; etcd <= 7; etcd += 1) {
        for (let etcdInMain = 0; etcdInMain <= etcd; etcdInMain += 1) {
          if (masters + etcd === 0) continue;
          out.push({ masters, mastersInMain, etcd, etcdInMain, colocated: true });
          if (masters > 0 && etcd > 0) out.push({ masters, mastersInMain, etcd, etcdInMain, colocated: false });
        }
      }
    }
  }
  return out;
}

/** What the rules say for a shape, worked out here from the counts alone. */
function expected(s: Shape): 'invalid' | 'main-not-majority' | 'no-survivor' | 'failover' {
  const splits = [
    [s.masters, s.mastersInMain],
    [s.etcd, s.etcdInMain],
  ].filter(([n]) => n! > 0);
  if (splits.some(([n, inMain]) => inMain! * 2 === n!)) return 'invalid';
  if (splits.some(([n, inMain]) => inMain! < majority(n!))) return 'main-not-majority';
  if (splits.some(([n, inMain]) => n! - inMain! === 0)) return 'no-survivor';
  return 'failover';
}

function json(plan: Plan): PlanStepJson[] {
  return JSON.parse(JSON.stringify(plan.steps)) as PlanStepJson[];
}

function run(model: ClusterModel, plan: Plan): void {
  for (const step of json(plan)) model.apply(step);
}

/** Every change is verified before a change of another group runs. */
function assertVerifiedChanges(steps: readonly Step[]): void {
  let pending: Step | undefined;
  for (const step of steps) {
    if (step.action === 'verify') {
      pending = undefined;
      continue;
    }
    if (pending && pending.group !== step.group)
      throw new Error(`change ${pending.id} is not verified before ${step.id}`);
    pending ??= step;
    if (pending.group === undefined) pending = step;
  }
  if (pending) throw new Error(`the last change ${pending.id} is not verified`);
}

/** Tracks that run side by side touch disjoint clusters, and every tracked step names one. */
function assertTracksIndependent(steps: readonly Step[]): void {
  for (const section of sectionsOf(steps)) {
    if (section.tracks.length < 2) continue;
    const sets = section.tracks.map((batches) => new Set(batches.flat().map((st) => st.cluster)));
    for (const set of sets) if (set.has(null)) throw new Error('a tracked step without a cluster');
    for (let i = 0; i < sets.length; i += 1) {
      for (let j = i + 1; j < sets.length; j += 1) {
        const shared = [...sets[i]!].filter((c) => sets[j]!.has(c));
        if (shared.length > 0) throw new Error(`tracks share ${shared.join(', ')}`);
      }
    }
  }
}

/** The other extreme interleaving of side-by-side tracks: the last track first. */
function reversedTracks(plan: Plan): Plan {
  const steps = sectionsOf(plan.steps).flatMap((section) => [...section.tracks].reverse().flat(2));
  return { ...plan, steps };
}

function failoverEndState(model: ClusterModel, t: Topology): void {
  const survivors = t.nodes.filter((n) => n.dc === 'barcelona');
  const zk = survivors.filter((n) => n.roles.includes('exhibitor'));
  const masters = survivors.filter((n) => n.roles.includes('mesos'));
  const etcd = survivors.filter((n) => n.roles.includes('etcd'));
  const snap = model.snapshot();
  for (const n of snap.filter((x) => x.dc === 'barcelona')) {
    if (zk.some((z) => z.name === n.name)) {
      expect(n.up.exhibitor && n.up.mesos).toBe(true);
      expect(n.files['master_count']).toBe(String(zk.length));
      expect(n.files['MESOS_QUORUM']).toBe(String(majority(masters.length)));
      expect(
        n.files['EXHIBITOR_STATICENSEMBLE']!.split(',')
          .map((p) => p.split(':')[1])
          .sort(),
      ).toEqual(zk.map((z) => z.address).sort());
      expect(n.data.exhibitor).toBe(model.latest.exhibitor);
    }
    if (etcd.some((e) => e.name === n.name)) {
      expect(n.up.etcd).toBe(true);
      expect(n.files['ETCD_FORCE_NEW_CLUSTER']).toBeUndefined();
      expect(n.etcd!.map((e) => `${e.name}${e.learner ? '?' : ''}`).sort()).toEqual(etcd.map((e) => e.name).sort());
      expect(n.data.etcd).toBe(model.latest.etcd);
    }
  }
  for (const c of ['exhibitor', 'etcd'] as const) {
    const members = c === 'exhibitor' ? zk : etcd;
    if (members.length === 0) continue;
    const groups = model.capableGroups(c);
    expect(groups).toHaveLength(1);
    expect(groups[0]!.map((n) => n.name).sort()).toEqual(members.map((n) => n.name).sort());
  }
}

function failbackEndState(model: ClusterModel, t: Topology, original: ReturnType<ClusterModel['snapshot']>): void {
  const snap = model.snapshot();
  for (const n of snap) {
    const before = original.find((o) => o.name === n.name)!;
    expect(n.files, `files of ${n.name}`).toEqual(before.files);
    for (const c of ['exhibitor', 'mesos', 'etcd'] as const) {
      const has = t.nodes.find((x) => x.name === n.name)!.roles.includes(c);
      expect(n.up[c], `${c} up on ${n.name}`).toBe(has);
      expect(n.masked[c]).toBe(false);
      if (has) expect(n.data[c], `${c} data on ${n.name}`).toBe(model.latest[c]);
    }
    if (t.nodes.find((x) => x.name === n.name)!.roles.includes('mesos'))
      expect(n.overlay, `overlay log on ${n.name}`).toBe(model.latestOverlay);
    if (before.etcd)
      expect(n.etcd!.map((e) => `${e.name}${e.learner ? '?' : ''}`).sort()).toEqual(
        before.etcd.map((e) => e.name).sort(),
      );
    if (before.zk) expect([...n.zk!].sort()).toEqual([...before.zk].sort());
    expect(n.mesosQuorum).toBe(before.mesosQuorum);
  }
}

const ALL = shapes();

describe('enumeration of topologies up to 7 members per cluster', () => {
  it('covers every split of every size', () => {
    // 36 (masters, split) pairs x 36 (etcd, split) pairs, less the empty one, plus the separate-etcd variants.
    expect(ALL.length).toBe(36 * 36 - 1 + 35 * 35);
  });

  it('every shape gets the verdict its counts imply, and every safe plan keeps both invariants at every prefix', () => {
    const tally = { invalid: 0, 'main-not-majority': 0, 'no-survivor': 0, failover: 0, steps: 0 };
    for (const s of ALL) {
      const label = JSON.stringify(s);
      const want = expected(s);
      tally[want] += 1;
      let t: Topology;
      try {
        t = parseTopology(topologyFor(s), label);
      } catch (err) {
        expect(want, `${label}: rejected: ${String((err as DcfailError).details)}`).toBe('invalid');
        expect((err as DcfailError).exitCode).toBe(2);
        expect((err as DcfailError).details.join('\n')).toMatch(/^nodes: .* split evenly/m);
        continue;
      }
      expect(want, label).not.toBe('invalid');

      // Losing the secondary needs nothing, whenever the topology is sound.
      const secondaryLost = planFailover(offlineFacts(t), { lostDc: 'barcelona' });
      if (want === 'main-not-majority') {
        expect(secondaryLost.safe).toBe(false);
      } else {
        expect(secondaryLost.safe, label).toBe(true);
        expect(secondaryLost.steps, label).toHaveLength(0);
      }

      const plan = planFailover(offlineFacts(t), { lostDc: 'madrid', fenceCommand: './fence.sh madrid' });
      if (want !== 'failover') {
        expect(plan.safe, label).toBe(false);
        expect(plan.steps).toHaveLength(0);
        expect(
          plan.refusals.map((r) => r.code),
          label,
        ).toContain(want);
        continue;
      }
      expect(plan.safe, `${label}: ${JSON.stringify(plan.refusals)}`).toBe(true);
      expect(plan.warnings.map((w) => w.code)).toContain('forced-failover-data-loss');
      expect(
        plan.steps.filter((st) => st.node !== null && t.nodes.find((n) => n.name === st.node)!.dc === 'madrid'),
        label,
      ).toEqual([]);
      assertVerifiedChanges(plan.steps);
      assertTracksIndependent(plan.steps);
      expect(plan).toEqual(JSON.parse(JSON.stringify(plan)));

      const model = new ClusterModel(t);
      const original = model.snapshot();
      model.loseDc('madrid');
      try {
        run(model, plan);
        failoverEndState(model, t);
        model.write();

        const back = planFailback(failedOverFacts(offlineFacts(t), 'madrid'), { returningDc: 'madrid' });
        expect(back.safe, label).toBe(true);
        assertVerifiedChanges(back.steps);
        assertTracksIndependent(back.steps);
        run(model, back);
        failbackEndState(model, t, original);
        tally.steps += plan.steps.length + back.steps.length;

        // The tracks in the other order: the same end states, both invariants at every prefix.
        const other = new ClusterModel(t);
        other.loseDc('madrid');
        run(other, reversedTracks(plan));
        failoverEndState(other, t);
        other.write();
        run(other, reversedTracks(back));
        failbackEndState(other, t, original);
      } catch (err) {
        if (err instanceof ModelError) throw new Error(`${label}: ${err.message}\n${model.log.slice(-8).join('\n')}`);
        throw err;
      }
    }
    expect(tally.failover).toBeGreaterThan(100);
    expect(tally.invalid).toBeGreaterThan(100);
    expect(tally['main-not-majority']).toBeGreaterThan(100);
    expect(tally['no-survivor']).toBeGreaterThan(10);
    console.log(`enumerated ${ALL.length} topologies:`, tally);
  });
});
