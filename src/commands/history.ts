/** `dcfail history [--json]`: every run this machine journaled, newest first. */
import { join } from 'node:path';
import { EXIT, type ExitCode } from '../errors.js';
import { stateDir } from '../apply/state.js';
import { readAllJournals } from '../runs/journal-file.js';
import { summaryOf } from '../runs/digest.js';
import { renderHistory } from '../views/runs.js';
import type { GlobalOptions } from './options.js';
import type { Io } from '../views/io.js';

export async function history(opts: GlobalOptions, io: Io): Promise<ExitCode> {
  const dir = stateDir();
  const read = await readAllJournals(dir);
  if (opts.json) {
    io.out(
      JSON.stringify(
        {
          runs: read.flatMap((r) => (r.kind === 'ok' ? [summaryOf(r.journal)] : [])),
          unreadable: read.flatMap((r) => (r.kind === 'bad' ? [{ file: r.file, why: r.why }] : [])),
        },
        null,
        2,
      ),
    );
  } else for (const line of renderHistory(read, join(dir, 'runs'))) io.out(line);
  return EXIT.ok;
}
