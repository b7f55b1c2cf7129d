/**
 * The model must catch the mistakes the plans are built to avoid; otherwise the enumeration
 * proves nothing. Each case takes a correct plan, breaks it the way a hand-run runbook goes
 * wrong, and expects the model to object.
 */
import { describe, expect, it } from 'vitest';
import { parseTopology } from '../../src/topology/load.js';
import { offlineFacts } from '../../src/plan/facts.js';
import { planFailover } from '../../src/plan/failover.js';
import { failedOverFacts, planFailback } from '../../src/plan/failback.js';
import type { Plan, Step } from '../../src/plan/plan.js';
import { ClusterModel, ModelError, type PlanStepJson } from '../model/cluster-model.js';
import { topologyFor } from '../model/topologies.js';

const three = parseTopology(topologyFor({ masters: 3, mastersInMain: 2, etcd: 3, etcdInMain: 2, colocated: true }));
const five = parseTopology(topologyFor({ masters: 5, mastersInMain: 3, etcd: 5, etcdInMain: 3, colocated: true }));

function steps(plan: Plan | Step[]): PlanStepJson[] {
  return JSON.parse(JSON.stringify(Array.isArray(plan) ? plan : plan.steps)) as PlanStepJson[];
}

function failedOver(t: typeof three): ClusterModel {
  const model = new ClusterModel(t);
  model.loseDc('madrid');
  for (const s of steps(planFailover(offlineFacts(t), { lostDc: 'madrid' }))) model.apply(s);
  model.write();
  return model;
}

function failback(t: typeof three): Step[] {
  return planFailback(failedOverFacts(offlineFacts(t), 'madrid'), { returningDc: 'madrid' }).steps;
}

function runAll(model: ClusterModel, list: PlanStepJson[]): void {
  for (const s of list) model.apply(s);
}

describe('the model catches broken runbooks', () => {
  it('the correct plans pass (the baseline the mutations break)', () => {
    for (const t of [three, five]) {
      const model = failedOver(t);
      expect(() => runAll(model, steps(failback(t)))).not.toThrow();
    }
  });

  it('reviving the lost DC without quarantine: its old majority forms a second quorum (a)', () => {
    const model = failedOver(three);
    for (const n of model.nodes.values()) {
      if (n.dc !== 'madrid') continue;
      n.lost = false;
      n.up = { exhibitor: true, mesos: false, etcd: false };
    }
    expect(() => model.checkInvariants('revived')).toThrow(/invariant \(a\) broken for exhibitor/);
  });

  it('wiped ZooKeeper servers started before the survivor takes the full ensemble: an empty quorum beside it', () => {
    const model = failedOver(three);
    const plan = failback(three);
    // Start the returning servers first, with no verification, then the survivor.
    const survivorsRestart = plan.filter(
      (s) => s.id.startsWith('zk:grow:restart') || s.id.startsWith('zk:grow:config'),
    );
    const rest = plan.filter(
      (s) => !survivorsRestart.includes(s) && !(s.action === 'verify' && s.cluster === 'exhibitor'),
    );
    const firstEtcd = rest.findIndex((s) => s.cluster === 'etcd' && s.id.startsWith('etcd:grow'));
    const mutated = [
      ...rest.slice(0, firstEtcd),
      ...survivorsRestart.filter((s) => s.action !== 'verify'),
      ...rest.slice(firstEtcd),
    ];
    // The empty pair forms a quorum of the full ensemble while the survivor still serves alone:
    // both invariants break at once (the model names the first it checks).
    expect(() => runAll(model, steps(mutated))).toThrow(
      /invariant \((a|b)\) broken for exhibitor: .*master-1.*master-2/,
    );
  });

  it('failback without copying the replicated log: no leader can recover the registry', () => {
    const model = failedOver(three);
    const mutated = failback(three).filter(
      (s) => s.action !== 'copy-replicated-log' && !(s.action === 'verify' && s.check.kind === 'log-copied'),
    );
    expect(() => runAll(model, steps(mutated))).toThrow(/no leader can recover/);
  });

  it('returning masters with their stale log and without quarantine could outvote the survivor (b)', () => {
    const model = failedOver(three);
    const mutated = failback(three).filter(
      (s) =>
        !(s.action === 'move-aside' && s.what === 'replicated-log') &&
        s.action !== 'copy-replicated-log' &&
        !(
          s.action === 'verify' &&
          (s.check.kind === 'log-copied' || (s.check.kind === 'moved' && s.cluster === 'mesos'))
        ),
    );
    expect(() => runAll(model, steps(mutated))).toThrow(/invariant \(b\) broken for mesos/);
  });

  it("failback that handles only the registry's log: the overlay module's stale replicas outvote the survivor (b)", () => {
    const model = failedOver(three);
    const overlay = (s: Step) =>
      (s.action === 'move-aside' && s.what === 'overlay-log') ||
      (s.action === 'copy-replicated-log' && s.log === 'overlay') ||
      (s.action === 'verify' &&
        ((s.check.kind === 'log-copied' && s.check.log === 'overlay') ||
          (s.check.kind === 'moved' && s.check.path.endsWith('/overlay_replicated_log'))));
    const full = failback(three);
    expect(full.filter(overlay).length).toBeGreaterThan(0);
    expect(() => runAll(failedOver(three), steps(full))).not.toThrow();
    expect(() => runAll(model, steps(full.filter((s) => !overlay(s))))).toThrow(
      /invariant \(b\) broken for the overlay log/,
    );
  });

  it('forcing a new etcd cluster on two survivors: two disjoint quorums (a)', () => {
    const model = new ClusterModel(five);
    model.loseDc('madrid');
    const plan = planFailover(offlineFacts(five), { lostDc: 'madrid' }).steps;
    const force = plan.filter((s) => s.id.startsWith('etcd:force'));
    const other = plan.find((s) => s.action === 'move-aside')!.node!;
    const cut = plan.findIndex((s) => s.id.startsWith('etcd:unforce'));
    const twin = force
      .filter((s) => s.action !== 'verify')
      .map((s) => ({ ...s, id: `${s.id}-twin`, node: other, ...(s.action === 'edit-file' ? { file: s.file } : {}) }));
    const mutated = [...plan.slice(0, cut), ...twin];
    expect(() => runAll(model, steps(mutated))).toThrow(/invariant \(a\) broken for etcd/);
  });

  it('seeding etcd from a survivor that is behind loses the newer writes (b)', () => {
    const facts = offlineFacts(five);
    const [s1, s2] = facts.nodes.filter((n) => n.dc === 'barcelona' && n.roles.includes('etcd'));
    // Online facts: the second survivor in file order is the freshest.
    s1!.etcdAppliedIndex = 100;
    s2!.etcdAppliedIndex = 250;
    const plan = planFailover(facts, { lostDc: 'madrid' });
    expect(plan.steps.find((s) => s.id.startsWith('etcd:force:') && s.action === 'edit-file')!.node).toBe(s2!.name);

    const model = () => {
      const m = new ClusterModel(five);
      m.nodes.get(s1!.name)!.data.etcd = 1;
      m.nodes.get(s2!.name)!.data.etcd = 2;
      m.loseDc('madrid');
      return m;
    };
    expect(() => runAll(model(), steps(plan))).not.toThrow();

    // The same plan with the seed swapped for the stale survivor.
    const swapped = steps(plan).map((s) => ({
      ...s,
      node: s.node === s2!.name ? s1!.name : s.node === s1!.name ? s2!.name : s.node,
    }));
    expect(() => runAll(model(), swapped)).toThrow(ModelError);
  });

  it('a step on a node of the lost DC during the failover is rejected', () => {
    const model = new ClusterModel(three);
    model.loseDc('madrid');
    const plan = planFailover(offlineFacts(three), { lostDc: 'madrid' }).steps;
    const wrong = steps(plan).map((s) =>
      s.action === 'restart' && s.cluster === 'exhibitor' ? { ...s, node: 'master-1' } : s,
    );
    expect(() => runAll(model, wrong)).toThrow(/lost DC before it is quarantined/);
  });
});
