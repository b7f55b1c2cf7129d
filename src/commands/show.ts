/** `dcfail show <run> [--json]`: one run's journal, for people (or validated, as JSON). */
import { EXIT, type ExitCode, UserError } from '../errors.js';
import { stateDir } from '../apply/state.js';
import { type RunJournal, findJournal } from '../runs/journal-file.js';
import { renderRun } from '../views/runs.js';
import type { GlobalOptions } from './options.js';
import type { Io } from '../views/io.js';

/** The named run's journal, validated; a corrupt or foreign one is bad input (exit 2), said in one line. */
export async function journalOf(which: string): Promise<RunJournal> {
  const r = await findJournal(stateDir(), which);
  if (r.kind === 'bad') throw new UserError('journal-invalid', `${r.file}: ${r.why}`);
  return r.journal;
}

export async function show(opts: GlobalOptions & { run: string }, io: Io): Promise<ExitCode> {
  const j = await journalOf(opts.run);
  if (opts.json) io.out(JSON.stringify(j, null, 2));
  else for (const line of renderRun(j)) io.out(line);
  return EXIT.ok;
}
