/**
 * The run's host: the engine never prints or reads a terminal. It notifies the host of typed
 * events (the plan it will run, each step, warnings, the final report) and asks it to confirm.
 * views/runbook.ts renders them for a terminal or as --json; a test passes a recording host and
 * asserts on the events. --yes and a run without a terminal are just other answers.
 */
import type { Plan } from '../plan/plan.js';
import type { RunEvent } from './executor.js';

export type RunbookEvent =
  | RunEvent
  /** The plan the run will execute, before it asks for confirmation. */
  | { kind: 'plan-ready'; plan: Plan }
  /** The run goes on against a gate's advice, as asked (--override-loss-check, --discard-divergent). */
  | { kind: 'warning'; code: string; message: string; details: readonly string[] }
  | { kind: 'notice'; message: string }
  /** The outcome: `body` is the --json document, `text` the lines for people. */
  | { kind: 'report'; body: Record<string, unknown>; text: string[] };

/** What the gates say beside the steps: the journal and the audit log record them too. */
export type RunNote = Extract<RunbookEvent, { kind: 'warning' | 'notice' }>;

/** Confirm a run that changes the cluster by typing the name of the DC it acts for. */
export interface ConfirmRequest {
  kind: 'confirm';
  what: Plan['runbook'];
  dc: string;
}

export interface RunHost {
  notify(e: RunbookEvent): void;
  /** What the operator answered; null when nobody can answer (no terminal, no --yes). */
  request(r: ConfirmRequest): Promise<string | null>;
}
