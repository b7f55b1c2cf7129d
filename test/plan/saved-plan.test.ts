/** The saved-plan format: what the reader accepts, and the one line per problem it says when not. */
import { describe, expect, it } from 'vitest';
import { DcfailError, EXIT } from '../../src/errors.js';
import { readApplyProgress, readSavedPlan, savedPlanOf } from '../../src/plan/saved-plan.js';
import { planFailover } from '../../src/plan/failover.js';
import { offlineFacts } from '../../src/plan/facts.js';
import { loadTopology } from '../../src/topology/load.js';

async function onlinePlanText(): Promise<string> {
  const t = await loadTopology('fixtures/topologies/example.yaml');
  const plan = { ...planFailover(offlineFacts(t), { lostDc: 'madrid' }), mode: 'online' as const };
  const basis = { cluster: t.cluster, nodes: [], etcdMembers: [] };
  return JSON.stringify(savedPlanOf(plan, 'dcfail.yaml', 'sha256:0', basis, new Date(0)));
}

function refusal(text: string): DcfailError {
  try {
    readSavedPlan(text, 'p.json');
  } catch (err) {
    if (err instanceof DcfailError) return err;
    throw err;
  }
  throw new Error('accepted');
}

describe('readSavedPlan', () => {
  it('reads back what savedPlanOf wrote', async () => {
    const text = await onlinePlanText();
    const saved = readSavedPlan(text, 'p.json');
    expect(saved).toEqual(JSON.parse(text));
    expect(saved.format).toBe('dcfail-plan/1');
    expect(saved.plan.steps.length).toBeGreaterThan(0);
  });

  it('refuses text that is not JSON (exit 2)', () => {
    const e = refusal('{"format": ');
    expect([e.code, e.exitCode, e.message]).toEqual([
      'plan-invalid',
      EXIT.badInput,
      'p.json: not a saved dcfail plan (not JSON)',
    ]);
  });

  it('refuses an offline plan, saved whole or as the plan alone', async () => {
    const saved = JSON.parse(await onlinePlanText());
    saved.plan.mode = 'offline';
    expect(refusal(JSON.stringify(saved)).code).toBe('offline-plan');
    expect(refusal(JSON.stringify(saved.plan)).code).toBe('offline-plan');
  });

  it('says where a saved plan is malformed, one line per problem', async () => {
    const saved = JSON.parse(await onlinePlanText());
    saved.format = 'dcfail-plan/2';
    delete saved.fingerprint;
    saved.plan.steps[1].id = 7;
    const e = refusal(JSON.stringify(saved));
    expect(e.code).toBe('plan-invalid');
    expect(e.message).toBe('p.json: not a saved dcfail plan (format dcfail-plan/1 expected)');
    expect(e.details).toEqual(
      expect.arrayContaining([
        'format: Invalid input: expected "dcfail-plan/1"',
        'fingerprint: required',
        'plan.steps[1].id: expected a string, got a number',
      ]),
    );
  });
});

describe('readApplyProgress', () => {
  it('reads the ids of the steps done, or null when the record is not one', () => {
    expect(readApplyProgress('{"done":["a","b"]}')).toEqual(['a', 'b']);
    expect(readApplyProgress('{"done":["a"')).toBeNull();
    expect(readApplyProgress('{"done":"a"}')).toBeNull();
  });
});
