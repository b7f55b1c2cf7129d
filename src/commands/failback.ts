/** `dcfail failback`: the run (apply/run.ts) rendered for the terminal. */
import type { ExitCode } from '../errors.js';
import { runRunbook } from '../apply/run.js';
import type { Io } from '../views/io.js';
import { terminalHost } from '../views/runbook.js';
import type { RunbookOptions } from './options.js';

export function failback(opts: RunbookOptions, io: Io): Promise<ExitCode> {
  return runRunbook('failback', opts, terminalHost(io, opts));
}
