/** `dcfail report <run> --html <file>`: the incident report, one self-contained HTML file. */
import { resolve } from 'node:path';
import { DcfailError, EXIT, type ExitCode, UserError } from '../errors.js';
import { writeFileAtomic } from '../apply/local-files.js';
import { renderReportHtml } from '../views/report-html.js';
import { journalOf } from './show.js';
import type { GlobalOptions } from './options.js';
import type { Io } from '../views/io.js';

export async function report(opts: GlobalOptions & { run: string; html: string }, io: Io): Promise<ExitCode> {
  const j = await journalOf(opts.run);
  const file = resolve(opts.html);
  // Private as the journal it comes from: it holds the evidence, node names and paths.
  await writeFileAtomic(file, renderReportHtml(j)).catch((err: unknown) => {
    if (err instanceof DcfailError) throw err;
    throw new UserError(
      'report-unwritable',
      `${file}: cannot write the report (${(err as NodeJS.ErrnoException).code ?? String(err)})`,
    );
  });
  if (opts.json) io.out(JSON.stringify({ runId: j.runId, file, steps: j.steps.length }, null, 2));
  else io.out(`${file}: the report of run ${j.runId} (${j.runbook}, ${j.steps.length} steps on the timeline)`);
  return EXIT.ok;
}
