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
import type { LogReading } from '../../src/components/mesos/log-position.js';

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

  describe('without a leader: the most advanced replica by `mesos-log read`', () => {
    const read = (end: number, lastLearned: number | undefined, unlearned = 0): LogReading => ({
      kind: 'read',
      actions: end,
      end: String(end),
      ...(lastLearned === undefined ? {} : { lastLearned: String(lastLearned) }),
      unlearned,
    });
    /** The failed-over facts, no leader, with each survivor's readings of the two logs. */
    const withReadings = (readings: Record<string, Partial<Record<'registry' | 'overlay', LogReading>>>) => {
      const f = failbackFacts(t, null);
      return { ...f, nodes: f.nodes.map((n) => (readings[n.name] ? { ...n, mesosLogs: readings[n.name] } : n)) };
    };
    const sourceOf = (plan: ReturnType<typeof planFailback>, log: 'registry' | 'overlay') => [
      ...new Set(
        copies(plan.steps)
          .filter((s) => s.log === log)
          .map((s) => s.from),
      ),
    ];

    it('copies each log from the survivor whose replica has learned the most, told with every reading', () => {
      const [a, b] = survivors as [string, string];
      const plan = planFailback(
        withReadings({
          [a]: { registry: read(40, 40), overlay: read(9, 9) },
          [b]: { registry: read(41, 41), overlay: read(8, 8) },
        }),
        { returningDc: 'madrid' },
      );
      expect(sourceOf(plan, 'registry')).toEqual([b]);
      expect(sourceOf(plan, 'overlay')).toEqual([a]);
      const words = plan.warnings.filter((w) => w.code === 'mesos-log-source').map((w) => w.message);
      expect(words).toHaveLength(2);
      expect(words[0]).toContain(`registry log is copied from ${b}, the most advanced replica by \`mesos-log read\``);
      expect(words[0]).toContain(`${a}: last learned position 40, end 40; ${b}: last learned position 41, end 41`);
      expect(words[1]).toContain(`overlay log is copied from ${a}`);
      // Each copy is verified against its own source.
      for (const s of copies(plan.steps))
        expect(plan.steps).toContainEqual(
          expect.objectContaining({
            action: 'verify',
            node: s.node,
            check: expect.objectContaining({ log: s.log, from: s.from }),
          }),
        );
    });

    it('between equally learned replicas, prefers the one without unlearned entries, and warns when the source has some', () => {
      const [a, b] = survivors as [string, string];
      const tie = planFailback(withReadings({ [a]: { registry: read(12, 10, 2) }, [b]: { registry: read(10, 10) } }), {
        returningDc: 'madrid',
      });
      expect(sourceOf(tie, 'registry')).toEqual([b]);
      expect(tie.warnings.find((w) => w.message.includes('registry log'))?.message).not.toMatch(/unlearned position/);
      const ahead = planFailback(
        withReadings({ [a]: { registry: read(12, 11, 1) }, [b]: { registry: read(10, 10) } }),
        {
          returningDc: 'madrid',
        },
      );
      expect(sourceOf(ahead, 'registry')).toEqual([a]);
      expect(ahead.warnings.find((w) => w.message.includes('registry log'))?.message).toMatch(
        /holds 1 unlearned position: a copied unlearned entry may assemble a false quorum/,
      );
    });

    it('a replica that could not be read is never the source, and the plan says which were not read and why', () => {
      const [a, b] = survivors as [string, string];
      const plan = planFailback(
        withReadings({
          [a]: { registry: { kind: 'unreadable', reason: 'Failed to recover the log: IO error: lock' } },
          [b]: { registry: read(5, 5) },
        }),
        { returningDc: 'madrid' },
      );
      expect(sourceOf(plan, 'registry')).toEqual([b]);
      expect(plan.warnings.find((w) => w.message.includes('registry log'))?.message).toContain(
        `${a}: unreadable (Failed to recover the log: IO error: lock)`,
      );
      // No position known at all: the first survivor, and the plan says how to get a better source.
      const none = planFailback(
        withReadings({ [a]: { registry: { kind: 'absent' } }, [b]: { registry: read(0, undefined) } }),
        {
          returningDc: 'madrid',
        },
      );
      expect(sourceOf(none, 'registry')).toEqual([a]);
      expect(none.warnings.find((w) => w.message.includes('registry log'))?.message).toMatch(
        /no replica's position known .*copied from .*the first survivor.*mesos-log read/,
      );
    });

    it('a leader among the survivors wins over any reading', () => {
      const [a, b] = survivors as [string, string];
      const f = withReadings({ [a]: { registry: read(50, 50) }, [b]: { registry: read(5, 5) } });
      const plan = planFailback(
        { ...f, mode: 'online', live: { zkServing: [], mesosLeader: b, etcd: null, active: {} } },
        {
          returningDc: 'madrid',
        },
      );
      expect(sourceOf(plan, 'registry')).toEqual([b]);
      expect(plan.warnings.map((w) => w.code)).not.toContain('mesos-log-source');
    });
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
