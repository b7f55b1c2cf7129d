/**
 * The run's journal: who ran what, the evidence it acted on, the failover point, each step with
 * its outcome and duration, where backups and copies went. Written atomically after every
 * event, so a killed run leaves an accurate record behind.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { stateDir } from './state.js';
import type { Plan } from '../plan/plan.js';
import type { RunEvent } from './executor.js';
import type { RunNote } from './host.js';
import { ensurePrivateDir, writeFileAtomic } from './local-files.js';

export interface JournalStep {
  id: string;
  node: string | null;
  summary: string;
  status: 'done' | 'failed';
  ms: number;
  detail: string;
  /** When the step began (its end is `ms` later): the report's timeline. Absent in older journals. */
  startedAt?: string;
  /** Where the step ran in parallel with others (plan steps' `track`), for the timeline's rows. */
  track?: string;
  action?: string;
}

export interface JournalData {
  runId: string;
  runbook: Plan['runbook'];
  cluster: string;
  operator: string;
  host: string;
  topology: string;
  /** The DC given up and the DC that takes over (failover), or the returning one (failback). */
  from?: string;
  to?: string;
  startedAt: string;
  /** When the loss certificate was made (failover). */
  evidenceAt?: string;
  confirmedAt?: string;
  finishedAt?: string;
  outcome?: 'done' | 'failed' | 'refused' | 'aborted' | 'interrupted';
  /** From confirmation to the last verification. */
  timeToRecoveryMs?: number;
  flags: Record<string, string | boolean>;
  evidence?: unknown;
  failoverPoint?: unknown;
  plan?: Plan;
  steps: JournalStep[];
  /** What the run went on against, as asked (--override-loss-check, --discard-divergent). */
  warnings?: { code: string; message: string; details: readonly string[] }[];
  notes: Record<string, unknown>;
  error?: { code: string; message: string; details: readonly string[] };
}

export class Journal {
  readonly dir: string;

  constructor(readonly data: JournalData) {
    this.dir = join(stateDir(), 'runs', data.runId);
  }

  get planFile(): string {
    return join(this.dir, 'plan.json');
  }

  private saving: Promise<void> = Promise.resolve();

  /** Saves are queued one after the other: parallel steps finish at the same time. */
  save(): Promise<void> {
    this.saving = this.saving.then(
      () => this.write(),
      () => this.write(),
    );
    return this.saving;
  }

  private async write(): Promise<void> {
    ensurePrivateDir(stateDir());
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(
      join(this.dir, 'journal.json'),
      `${JSON.stringify(this.data, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)}\n`,
    );
  }

  async savePlan(plan: Plan): Promise<void> {
    this.data.plan = plan;
    ensurePrivateDir(stateDir());
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    await writeFileAtomic(this.planFile, `${JSON.stringify(plan, null, 2)}\n`);
    await this.save();
  }

  /** Subscriber for the executor's events and the gates' warnings. */
  onEvent(e: RunEvent | RunNote): void {
    if (e.kind === 'warning') {
      (this.data.warnings ??= []).push({ code: e.code, message: e.message, details: e.details });
      this.save().catch(() => undefined);
      return;
    }
    if (e.kind === 'step-finished' || e.kind === 'step-failed') {
      this.data.steps.push({
        id: e.step.id,
        node: e.step.node,
        summary: e.step.summary,
        status: e.kind === 'step-finished' ? 'done' : 'failed',
        ms: e.ms,
        detail: e.kind === 'step-finished' ? e.detail : e.error,
        startedAt: new Date(Date.now() - e.ms).toISOString(),
        action: e.step.action,
        ...(e.step.track !== undefined ? { track: e.step.track } : {}),
      });
      this.save().catch(() => undefined);
    }
  }
}

export function newRunId(now = new Date()): string {
  const stamp = now.toISOString().replace(/[-:]/g, '').replace(/\..*$/, '').replace('T', '-');
  return `${stamp}-${Math.random().toString(36).slice(2, 8)}`;
}
