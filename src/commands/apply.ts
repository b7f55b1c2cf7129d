/**
 * `dcfail apply <plan file>`: a saved online plan, read and validated (plan/saved-plan.ts),
 * refused when stale, resumed where an earlier apply stopped (its progress record).
 */
import { createHash } from 'node:crypto';
import { mkdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { EXIT, type ExitCode, UserError } from '../errors.js';
import type { Io } from '../views/io.js';
import type { RunbookOptions } from './options.js';
import { readApplyProgress, readSavedPlan } from '../plan/saved-plan.js';
import { runRunbook } from '../apply/run.js';
import { stateDir } from '../apply/state.js';
import { terminalHost } from '../views/runbook.js';
/** `dcfail apply <plan file>`: a saved online plan, refused when stale, resumed where it stopped. */
export async function applyPlan(opts: RunbookOptions & { file: string }, io: Io): Promise<ExitCode> {
  let text: string;
  try {
    text = await readFile(opts.file, 'utf8');
  } catch (err) {
    throw new UserError(
      'plan-unreadable',
      `${opts.file}: cannot read the plan: ${(err as NodeJS.ErrnoException).code ?? String(err)}`,
    );
  }
  const saved = readSavedPlan(text, opts.file);
  const dir = join(stateDir(), 'applied');
  await mkdir(dir, { recursive: true });
  const progressFile = join(dir, `${createHash('sha256').update(text).digest('hex').slice(0, 32)}.json`);
  const progressText = await readFile(progressFile, 'utf8').catch(() => null);
  let done: string[] = [];
  if (progressText !== null) {
    const read = readApplyProgress(progressText);
    if (read === null) {
      throw new UserError(
        'progress-invalid',
        `${progressFile}: the record of which steps of ${opts.file} were applied cannot be read; remove it to apply the plan from its first step (a step already done is then refused as stale)`,
      );
    }
    done = read;
  }
  if (done.length === saved.plan.steps.length) {
    io.out(`${opts.file}: every step of this plan was applied already.`);
    return EXIT.ok;
  }
  const to = saved.plan.runbook === 'failover' ? saved.plan.to : undefined;
  return runRunbook(saved.plan.runbook, { ...opts, ...(to ? { to } : {}) }, terminalHost(io, opts), {
    saved,
    progressFile,
    done,
  });
}
