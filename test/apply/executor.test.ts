/**
 * The executor with effects injected: order, parallel groups, tracks side by side, stopping at
 * the first failure and at a guard, events. No cluster, no transport: the effects are recorded.
 */
import { describe, expect, it } from 'vitest';
import { executePlan, type Effects, type RunEvent } from '../../src/apply/executor.js';
import { OperationError, RefusedError } from '../../src/errors.js';
import type { Plan, Step } from '../../src/plan/plan.js';

function plan(steps: Step[]): Plan {
  return {
    runbook: 'failover',
    from: 'main',
    to: 'secondary',
    safe: true,
    refusals: [],
    warnings: [],
    quorum: {},
    steps,
    cluster: 'test',
    mode: 'online',
    lostDc: 'main',
  };
}

const restart = (id: string, node: string, extra: Partial<Step> = {}): Step =>
  ({ id, cluster: 'mesos', node, summary: id, action: 'restart', unit: 'u', ...extra }) as Step;
const verify = (id: string, extra: Partial<Step> = {}): Step =>
  ({
    id,
    cluster: 'mesos',
    node: null,
    summary: id,
    action: 'verify',
    check: { kind: 'mesos-waiting' },
    ...extra,
  }) as Step;

/** Effects that record what ran, when it started and ended, and fail the steps named. */
function recording(fail: string[] = [], ms = 5) {
  const log: string[] = [];
  const running = new Set<string>();
  let maxParallel = 0;
  const run = async (id: string) => {
    log.push(`start ${id}`);
    running.add(id);
    maxParallel = Math.max(maxParallel, running.size);
    await new Promise((r) => setTimeout(r, ms));
    running.delete(id);
    log.push(`end ${id}`);
    if (fail.includes(id)) throw new OperationError('step-command-failed', `${id} failed`);
  };
  const effects: Effects = {
    perform: async (step) => {
      await run(step.id);
      return `did ${step.id}`;
    },
    verify: () => run('verify'),
  };
  return { effects, log, maxParallel: () => maxParallel };
}

describe('executePlan with injected effects', () => {
  it('runs the steps in order, a group in parallel, and emits one event per step', async () => {
    const r = recording();
    const events: RunEvent[] = [];
    const steps = [restart('a', 'n1', { group: 'g' }), restart('b', 'n2', { group: 'g' }), restart('c', 'n1')];
    const outcome = await executePlan(plan(steps), r.effects, {
      runId: 'r1',
      verifyTimeoutMs: 1000,
      emit: (e) => events.push(e),
    });
    expect(outcome.kind).toBe('done');
    expect(outcome.done.map((s) => s.id)).toEqual(['a', 'b', 'c']);
    expect(r.maxParallel()).toBe(2);
    expect(r.log.indexOf('start c')).toBeGreaterThan(r.log.indexOf('end a'));
    expect(r.log.indexOf('start c')).toBeGreaterThan(r.log.indexOf('end b'));
    expect(events.map((e) => e.kind)).toEqual([
      'run-started',
      'batch-started',
      'step-finished',
      'step-finished',
      'batch-started',
      'step-finished',
      'run-finished',
    ]);
  });

  it('runs tracks side by side, each in its own order', async () => {
    const r = recording();
    const steps = [
      restart('zk1', 'n1', { track: 'zookeeper-mesos' }),
      restart('mesos1', 'n1', { track: 'zookeeper-mesos' }),
      restart('etcd1', 'n1', { track: 'etcd' }),
    ];
    const outcome = await executePlan(plan(steps), r.effects, { runId: 'r', verifyTimeoutMs: 1000, emit: () => {} });
    expect(outcome.kind).toBe('done');
    expect(r.log.indexOf('start etcd1')).toBeLessThan(r.log.indexOf('end zk1'));
    expect(r.log.indexOf('start mesos1')).toBeGreaterThan(r.log.indexOf('end zk1'));
  });

  it('stops at the first failure: nothing after it runs, the failure is reported with what was done', async () => {
    const r = recording(['b']);
    const steps = [restart('a', 'n1'), restart('b', 'n1'), restart('c', 'n1')];
    const outcome = await executePlan(plan(steps), r.effects, { runId: 'r', verifyTimeoutMs: 1000, emit: () => {} });
    expect(outcome.kind).toBe('failed');
    if (outcome.kind !== 'failed') return;
    expect(outcome.failed.id).toBe('b');
    expect(outcome.error.code).toBe('step-command-failed');
    expect(outcome.done.map((s) => s.id)).toEqual(['a']);
    expect(r.log).not.toContain('start c');
  });

  it('passes a verify step to the effects with its check and budget', async () => {
    const seen: unknown[] = [];
    const effects: Effects = {
      perform: async () => 'ok',
      verify: async (node, check, budget) => {
        seen.push({ node, check, budget });
      },
    };
    await executePlan(plan([verify('v')]), effects, { runId: 'r', verifyTimeoutMs: 1234, emit: () => {} });
    expect(seen).toEqual([{ node: null, check: { kind: 'mesos-waiting' }, budget: 1234 }]);
  });

  it('a guard that throws stops the run before the next batch, with the guard error', async () => {
    const r = recording();
    let calls = 0;
    const outcome = await executePlan(plan([restart('a', 'n1'), restart('b', 'n1')]), r.effects, {
      runId: 'r',
      verifyTimeoutMs: 1000,
      emit: () => {},
      guard: async () => {
        calls += 1;
        if (calls === 2) throw new RefusedError('lost-dc-returned', 'main came back');
      },
    });
    expect(outcome.kind).toBe('failed');
    if (outcome.kind !== 'failed') return;
    expect(outcome.error.code).toBe('lost-dc-returned');
    expect(outcome.failed.id).toBe('b');
    expect(r.log).toEqual(['start a', 'end a']);
  });
});
