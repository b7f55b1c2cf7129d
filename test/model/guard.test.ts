/**
 * The return guard in the independent model (guard-model.ts): for every topology of up to 5 masters and 5 etcd
 * members that fails over, the lost DC powered on after ANY prefix of the failover and the failback (both
 * interleavings of their tracks), with nobody running dcfail for it, never forms a quorum while the cluster is
 * failed over, both invariants of cluster-model.ts hold at every step, and the guard never blocks a start the
 * failback makes. Without the guard, or without the published failover state, it does break: the guard and the
 * marker are both needed.
 */
import { describe, expect, it } from 'vitest';
import { parseTopology } from '../../src/topology/load.js';
import type { Topology } from '../../src/topology/model.js';
import { offlineFacts } from '../../src/plan/facts.js';
import { planFailover } from '../../src/plan/failover.js';
import { failedOverFacts, planFailback } from '../../src/plan/failback.js';
import type { Plan } from '../../src/plan/plan.js';
import { sectionsOf } from '../../src/plan/batches.js';
import { ModelError, type PlanStepJson } from './cluster-model.js';
import { guardEvents, runGuarded, type GuardEvent, type GuardRunOptions } from './guard-model.js';
import { topologyFor, type Shape } from './topologies.js';

function shapes(max: number): Shape[] {
  const out: Shape[] = [];
  for (let masters = 1; masters <= max; masters += 1) {
    for (let mastersInMain = 0; mastersInMain <= masters; mastersInMain += 1) {
      for (let etcd = 0; etcd <= max; etcd += 1) {
        for (let etcdInMain = 0; etcdInMain <= etcd; etcdInMain += 1) {
          out.push({ masters, mastersInMain, etcd, etcdInMain, colocated: true });
          if (etcd > 0) out.push({ masters, mastersInMain, etcd, etcdInMain, colocated: false });
        }
      }
    }
  }
  return out;
}

const json = (steps: Plan['steps']): PlanStepJson[] => JSON.parse(JSON.stringify(steps)) as PlanStepJson[];
const reversed = (plan: Plan): PlanStepJson[] =>
  json(sectionsOf(plan.steps).flatMap((section) => [...section.tracks].reverse().flat(2)));

interface Case {
  label: string;
  t: Topology;
  events: GuardEvent[][];
}

function cases(max: number): Case[] {
  const out: Case[] = [];
  for (const s of shapes(max)) {
    let t: Topology;
    try {
      t = parseTopology(topologyFor(s), JSON.stringify(s));
    } catch {
      continue; // an even split: refused by the topology rules
    }
    const plan = planFailover(offlineFacts(t), { lostDc: 'madrid', fenceCommand: './fence.sh madrid' });
    if (!plan.safe || plan.steps.length === 0) continue;
    const back = planFailback(failedOverFacts(offlineFacts(t), 'madrid'), { returningDc: 'madrid' });
    out.push({
      label: JSON.stringify(s),
      t,
      events: [guardEvents(json(plan.steps), json(back.steps)), guardEvents(reversed(plan), reversed(back))],
    });
  }
  return out;
}

/** Every power-on point (the event it follows) that breaks, in the plans' own order. */
function breaks(c: Case, opts: GuardRunOptions): string[] {
  const events = c.events[0]!;
  const out: string[] = [];
  for (let i = 1; i <= events.length; i += 1) {
    try {
      runGuarded(c.t, 'madrid', events, i, opts);
    } catch (err) {
      if (!(err instanceof ModelError)) throw err;
      const after = events[i - 1]!;
      out.push(after.kind === 'step' ? after.step.id : after.kind === 'publish' ? `publish ${after.state}` : 'write');
    }
  }
  return out;
}

/** The first power-on point that breaks, with its reason; undefined when none does. */
function firstBreak(c: Case, opts: GuardRunOptions): string | undefined {
  for (const events of c.events) {
    for (let i = 1; i <= events.length; i += 1) {
      try {
        runGuarded(c.t, 'madrid', events, i, opts);
      } catch (err) {
        if (!(err instanceof ModelError)) throw err;
        const after = events[i - 1]!;
        return `power-on after ${after.kind === 'step' ? after.step.id : after.kind === 'publish' ? `publish ${after.state}` : 'write'}: ${err.message}`;
      }
    }
  }
  return undefined;
}

const ALL = cases(5);
const THREE = ALL.find(
  (c) => c.label === JSON.stringify({ masters: 3, mastersInMain: 2, etcd: 3, etcdInMain: 2, colocated: true }),
)!;
const FIVE = ALL.find(
  (c) => c.label === JSON.stringify({ masters: 5, mastersInMain: 3, etcd: 5, etcdInMain: 3, colocated: true }),
)!;

describe('the return guard in the model', () => {
  it('with the guard and the published state, a powered-on lost DC never forms a quorum at any prefix of failover and failback', () => {
    let runs = 0;
    for (const c of ALL) {
      // Never powered on: the guard does not get in the failback's way.
      for (const events of c.events) runGuarded(c.t, 'madrid', events, undefined, { guard: true, marker: true });
      const broke = firstBreak(c, { guard: true, marker: true });
      expect(broke, c.label).toBeUndefined();
      runs += c.events.reduce((n, e) => n + e.length, 0);
    }
    expect(ALL.length).toBeGreaterThan(30);
    console.log(`guard model: ${ALL.length} topologies, ${runs} power-on points, none forms a lost-DC quorum`);
  }, 300_000);

  it('without the guard, the powered-on lost DC breaks the cluster (3 and 5 masters)', () => {
    for (const c of [THREE, FIVE])
      expect(firstBreak(c, { guard: false, marker: false }), c.label).toMatch(/power-on after publish failed-over/);
  });

  it('without the published state, membership evidence alone leaves a window between the first change and the survivors restarting', () => {
    for (const c of [THREE, FIVE]) {
      const b = breaks(c, { guard: true, marker: false });
      console.log(
        `guard model without the marker, ${c.label}: ${b.length} of ${c.events[0]!.length} power-on points break, after: ${b.join(', ')}`,
      );
      expect(b.length).toBeGreaterThan(0);
      // Once the survivors run their new membership, it alone keeps the lost DC down.
      expect(b).not.toContain('write');
    }
  });
});
