/**
 * A saved plan (`dcfail plan ... --out <file>`, read back by `dcfail apply <file>`): its own
 * versioned format, written and read here only. The reader validates what apply relies on (the
 * format version, the fingerprint of the state the plan assumed, the runbook, the DCs, each
 * step's id) and says what is wrong, one line per problem, instead of trusting a cast.
 * `createdAt`, `topology` and `basis` are display-only: they explain a refusal as stale, they
 * never steer apply (the fingerprint does).
 */
import { z } from 'zod';
import { UserError } from '../errors.js';
import type { FingerprintBasis } from '../observe/fingerprint.js';
import { formatIssues } from '../topology/load.js';
import type { Plan } from './plan.js';

export const SAVED_PLAN_FORMAT = 'dcfail-plan/1';

export interface SavedPlan {
  format: typeof SAVED_PLAN_FORMAT;
  /** Display-only: when the plan was made. */
  createdAt: string;
  /** Display-only: the topology file it was made from. */
  topology: string;
  /** What apply compares with the cluster now: a different one refuses the plan as stale. */
  fingerprint: string;
  /** Display-only: what the fingerprint was made of, to say what drifted. */
  basis: FingerprintBasis;
  plan: Plan;
}

export function savedPlanOf(
  plan: Plan,
  topology: string,
  fingerprint: string,
  basis: FingerprintBasis,
  now: Date,
): SavedPlan {
  return { format: SAVED_PLAN_FORMAT, createdAt: now.toISOString(), topology, fingerprint, basis, plan };
}

// Loose objects: a plan made by a later version may carry additions this one does not use.
const SavedPlanSchema = z.looseObject({
  format: z.literal(SAVED_PLAN_FORMAT),
  createdAt: z.string(),
  topology: z.string(),
  fingerprint: z.string(),
  basis: z.looseObject({}),
  plan: z.looseObject({
    runbook: z.enum(['failover', 'failback']),
    mode: z.literal('online'),
    to: z.string(),
    steps: z.array(z.looseObject({ id: z.string() })),
  }),
});

/** Parses and validates a saved plan's text; `file` names it in the errors (exit 2). */
export function readSavedPlan(text: string, file: string): SavedPlan {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    throw new UserError('plan-invalid', `${file}: not a saved dcfail plan (not JSON)`);
  }
  const v = value as { mode?: unknown; plan?: { mode?: unknown } } | null;
  if (v?.plan?.mode === 'offline' || v?.mode === 'offline') {
    throw new UserError(
      'offline-plan',
      `${file}: an offline plan observed nothing and cannot be applied; make an online plan with dcfail plan ... --out`,
    );
  }
  const result = SavedPlanSchema.safeParse(value, { reportInput: true });
  if (!result.success) {
    throw new UserError(
      'plan-invalid',
      `${file}: not a saved dcfail plan (format ${SAVED_PLAN_FORMAT} expected)`,
      formatIssues(result.error.issues),
    );
  }
  // Validated above for what apply reads; the steps' bodies are the executor's to refuse.
  return result.data as unknown as SavedPlan;
}

const ProgressSchema = z.object({ done: z.array(z.string()) });

/** The record of which steps of a saved plan were applied; null when it cannot be read. */
export function readApplyProgress(text: string): string[] | null {
  try {
    const r = ProgressSchema.safeParse(JSON.parse(text));
    return r.success ? r.data.done : null;
  } catch {
    return null;
  }
}
