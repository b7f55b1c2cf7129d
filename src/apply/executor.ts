/**
 * The executor: runs exactly the steps of a plan, in order; the steps of one group (independent
 * nodes) in parallel. Every verify step must hold within its budget before the next step starts;
 * the first failure stops the run. It never prints: it emits events that the terminal renderer,
 * `--json` and the audit log subscribe to.
 */
import { DcfailError, OperationError } from '../errors.js';
import { batchesOf, sectionsOf } from '../plan/batches.js';
import type { Check, Plan, Step } from '../plan/plan.js';

/**
 * What the executor does to the world, injected: the real one is `nodeEffects` (effects.ts);
 * a test passes its own and checks order, parallelism and stopping without a cluster.
 */
export interface Effects {
  /** Runs one change step; returns what it did. */
  perform(step: Step): Promise<string>;
  /** Resolves once the check holds, or throws after `budgetMs`. */
  verify(node: string | null, check: Check, budgetMs: number): Promise<void>;
}

export type RunEvent =
  | { kind: 'run-started'; runId: string; runbook: Plan['runbook']; steps: number; at: string }
  | { kind: 'batch-started'; index: number; total: number; steps: Step[] }
  | { kind: 'step-finished'; step: Step; ms: number; detail: string }
  | { kind: 'step-failed'; step: Step; ms: number; error: string }
  | { kind: 'run-finished'; ok: boolean; ms: number };

export interface RunOptions {
  runId: string;
  emit: (e: RunEvent) => void;
  /** How long a verify step may take to hold. */
  verifyTimeoutMs: number;
  /** Per step, when given: how long that verify step may take (the service's own figure). */
  budgetOf?: (step: Step) => number;
  /** Called before each batch; throws to stop the run (e.g. a lost-DC node came back). */
  guard?: () => Promise<void>;
  /** Checked before each batch: once aborted (Ctrl-C), the run stops there with its reason. */
  signal?: AbortSignal;
  /** Called once after the last step when all went well; throws to turn the run into a failure. */
  finalGuard?: () => Promise<void>;
}

export type RunOutcome =
  | { kind: 'done'; done: Step[]; ms: number }
  | { kind: 'failed'; done: Step[]; failed: Step; error: DcfailError; ms: number };

function asError(err: unknown): DcfailError {
  if (err instanceof DcfailError) return err;
  return new OperationError('step-error', err instanceof Error ? err.message : String(err), [], { cause: err });
}

export async function executePlan(plan: Plan, effects: Effects, opts: RunOptions): Promise<RunOutcome> {
  const started = Date.now();
  const done: Step[] = [];
  const total = batchesOf(plan.steps).length;
  let index = 0;
  let failure: { failed: Step; error: DcfailError } | null = null;
  opts.emit({
    kind: 'run-started',
    runId: opts.runId,
    runbook: plan.runbook,
    steps: plan.steps.length,
    at: new Date(started).toISOString(),
  });

  const runBatch = async (batch: Step[]): Promise<boolean> => {
    if (failure) return false;
    if (opts.signal?.aborted) {
      const error = asError(opts.signal.reason);
      opts.emit({ kind: 'step-failed', step: batch[0]!, ms: 0, error: error.message });
      failure ??= { failed: batch[0]!, error };
      return false;
    }
    if (opts.guard) {
      try {
        await opts.guard();
      } catch (err) {
        const error = asError(err);
        opts.emit({ kind: 'step-failed', step: batch[0]!, ms: 0, error: error.message });
        failure ??= { failed: batch[0]!, error };
        return false;
      }
    }
    if (failure) return false;
    opts.emit({ kind: 'batch-started', index: index++, total, steps: batch });
    const results = await Promise.all(
      batch.map(async (step) => {
        const t0 = Date.now();
        try {
          const detail =
            step.action === 'verify'
              ? (await effects.verify(step.node, step.check, opts.budgetOf?.(step) ?? opts.verifyTimeoutMs), 'holds')
              : await effects.perform(step);
          opts.emit({ kind: 'step-finished', step, ms: Date.now() - t0, detail });
          return { step, ok: true as const };
        } catch (err) {
          const error = asError(err);
          opts.emit({ kind: 'step-failed', step, ms: Date.now() - t0, error: error.message });
          return { step, ok: false as const, error };
        }
      }),
    );
    for (const r of results) if (r.ok) done.push(r.step);
    const bad = results.find((r) => !r.ok);
    if (bad && !bad.ok) {
      failure ??= { failed: bad.step, error: bad.error };
      return false;
    }
    return true;
  };

  for (const section of sectionsOf(plan.steps)) {
    // A failing track stops the others before their next batch.
    await Promise.all(
      section.tracks.map(async (batches) => {
        for (const batch of batches) if (!(await runBatch(batch))) return;
      }),
    );
    if (failure) break;
  }
  if (failure === null && opts.finalGuard && plan.steps.length > 0) {
    const last = plan.steps.at(-1)!;
    try {
      await opts.finalGuard();
    } catch (err) {
      const error = asError(err);
      opts.emit({ kind: 'step-failed', step: last, ms: 0, error: error.message });
      failure = { failed: last, error };
    }
  }
  const ms = Date.now() - started;
  opts.emit({ kind: 'run-finished', ok: failure === null, ms });
  if (failure) {
    const f: { failed: Step; error: DcfailError } = failure;
    return { kind: 'failed', done, failed: f.failed, error: f.error, ms };
  }
  return { kind: 'done', done, ms };
}
