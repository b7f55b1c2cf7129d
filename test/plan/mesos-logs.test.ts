/**
 * The two replicated logs of a DC/OS master in a failback: both moved aside on the returning
 * masters, both copied from the same source, both verified; the source is the Mesos leader's host
 * (Mesos' own rule), and the overlay module's log follows the topology's path or is absent.
 */
import { describe, expect, it } from 'vitest';
import { parseTopology } from '../../src/topology/load.js';
import { offlineFacts, type ClusterFacts } from '../../src/plan/facts.js';
import { failedOverFacts, planFailback } from '../../src/plan/failback.js';
import type { Step } from '../../src/plan/plan.js';
import { topologyFor } from '../model/topologies.js';

const five = (services?: unknown) =>
  parseTopology({
    ...(topologyFor({ masters: 5, mastersInMain: 3, etcd: 5, etcdInMain: 3, colocated: true }) as object),
    ...(services ? { services } : {}),
  });

function failbackFacts(t: ReturnType<typeof five>, leader: string | null): ClusterFacts {
  const f = failedOverFacts(offlineFacts(t), 'madrid');
  if (leader === null) return f;
  return {
    ...f,
    mode: 'online',
    live: { zkServing: [], mesosLeader: leader, etcd: null, active: {} },
  };
}

const copies = (steps: Step[]) => steps.flatMap((s) => (s.action === 'copy-replicated-log' ? [s] : []));

describe('failback: the Mesos logs', () => {
  const t = five();
  const survivors = t.nodes.filter((n) => n.dc === 'barcelona').map((n) => n.name);
  const returning = t.nodes.filter((n) => n.dc === 'madrid').map((n) => n.name);

  it('copies both logs from the leader, not from the first survivor', () => {
    const leader = survivors[1]!;
    const plan = planFailback(failbackFacts(t, leader), { returningDc: 'madrid' });
    const c = copies(plan.steps);
    expect(c.map((s) => [s.node, s.log]).sort()).toEqual(
      returning
        .flatMap((r) => [
          [r, 'overlay'],
          [r, 'registry'],
        ])
        .sort(),
    );
    expect(new Set(c.map((s) => s.from))).toEqual(new Set([leader]));
    expect(c.filter((s) => s.log === 'overlay').map((s) => s.fromPath)).toEqual(
      returning.map(() => '/var/lib/dcos/mesos/master/overlay_replicated_log'),
    );
    expect(plan.warnings.map((w) => w.code)).not.toContain('mesos-log-source');
    // Each copy is verified against the same source and path.
    for (const s of c)
      expect(plan.steps).toContainEqual(
        expect.objectContaining({
          action: 'verify',
          node: s.node,
          check: { kind: 'log-copied', log: s.log, from: leader, fromPath: s.fromPath, path: s.path },
        }),
      );
  });

  it('moves both stale logs aside before any copy, and copies only while every master is stopped', () => {
    const plan = planFailback(failbackFacts(t, survivors[0]!), { returningDc: 'madrid' });
    const moved = plan.steps.flatMap((s, i) => (s.action === 'move-aside' && s.cluster === 'mesos' ? [[s, i]] : []));
    expect(moved.map(([s]) => (s as Step & { what: string }).what).sort()).toEqual(
      returning.flatMap(() => ['overlay-log', 'replicated-log']).sort(),
    );
    const firstCopy = plan.steps.findIndex((s) => s.action === 'copy-replicated-log');
    expect(Math.max(...moved.map(([, i]) => i as number))).toBeLessThan(firstCopy);
    const stop = plan.steps.findIndex((s) => s.id.startsWith('mesos:grow:stop'));
    expect(stop).toBeGreaterThan(-1);
    expect(stop).toBeLessThan(firstCopy);
  });

  it('without a leader seen, says where it copies from instead of pretending', () => {
    const plan = planFailback(failbackFacts(t, null), { returningDc: 'madrid' });
    const w = plan.warnings.find((x) => x.code === 'mesos-log-source');
    expect(w?.message).toMatch(new RegExp(`copied from ${survivors[0]}`));
    // A leader in the returning DC (a divergent one) is not a source: it holds stale logs.
    const wrong = planFailback(failbackFacts(t, returning[0]!), { returningDc: 'madrid' });
    expect(new Set(copies(wrong.steps).map((s) => s.from))).toEqual(new Set([survivors[0]]));
    expect(wrong.warnings.map((x) => x.code)).toContain('mesos-log-source');
  });

  it("follows the topology's overlay path, and has no overlay step when the module is off", () => {
    const moved = five({ mesos: { overlayLogDir: '/srv/overlay/' } });
    const plan = planFailback(failbackFacts(moved, survivors[0]!), { returningDc: 'madrid' });
    expect(
      copies(plan.steps)
        .filter((s) => s.log === 'overlay')
        .map((s) => s.path),
    ).toEqual(returning.map(() => '/srv/overlay/overlay_replicated_log'));
    const off = five({ mesos: { overlayLogDir: null } });
    const plainPlan = planFailback(failbackFacts(off, survivors[0]!), { returningDc: 'madrid' });
    expect(copies(plainPlan.steps).map((s) => s.log)).toEqual(returning.map(() => 'registry'));
    expect(JSON.stringify(plainPlan.steps)).not.toMatch(/overlay/);
  });
});
