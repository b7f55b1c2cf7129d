/**
 * The terminal renderer of a run: one line per step with its duration, a live line for the step
 * in progress on a TTY, and the failure report. It only listens to the executor's events.
 */
import { safeText } from './escape.js';
import type { Io } from './io.js';
import { numberSteps } from './plan-text.js';
import type { Plan, Step } from '../plan/plan.js';
import type { RunEvent } from '../apply/executor.js';

function seconds(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`;
}

export function progressRenderer(io: Io, plan: Plan): (e: RunEvent) => void {
  const numbers = new Map(numberSteps(plan.steps).map((x) => [x.step.id, `${x.no}${x.sub}`]));
  let live = false;
  const clearLive = () => {
    if (live) process.stdout.write('\r\x1b[K');
    live = false;
  };
  const label = (s: Step) =>
    `${(numbers.get(s.id) ?? '?').padStart(4)}. ${(s.node ?? s.cluster ?? 'local').padEnd(12)} ${s.summary}`;
  return (e) => {
    switch (e.kind) {
      case 'run-started':
        io.out(`Run ${e.runId}: ${e.steps} steps`);
        break;
      case 'batch-started':
        if (io.isTTY) {
          clearLive();
          process.stdout.write(
            safeText(
              `  ...  ${label(e.steps[0]!)}${e.steps.length > 1 ? ` (+${e.steps.length - 1} in parallel)` : ''}`,
            ),
          );
          live = true;
        }
        break;
      case 'step-finished':
        clearLive();
        io.out(`  ok   ${label(e.step)}  [${seconds(e.ms)}]`);
        break;
      case 'step-failed':
        clearLive();
        io.out(`  FAIL ${label(e.step)}  [${seconds(e.ms)}]`);
        io.out(`       ${e.error}`);
        break;
      case 'run-finished':
        clearLive();
        break;
    }
  };
}

export { seconds };
