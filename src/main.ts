#!/usr/bin/env node
/** The entry point: the only place that turns errors into exit statuses (../shared/spec/CLI.md). */
import { runCli } from './cli.js';
import { processIo } from './views/io.js';
import { DcfailError, EXIT } from './errors.js';

async function main(): Promise<number> {
  const json = process.argv.includes('--json');
  const io = processIo(json);
  try {
    return await runCli(process.argv.slice(2), io);
  } catch (err) {
    if (err instanceof DcfailError) {
      if (json) {
        process.stdout.write(
          `${JSON.stringify({ error: { code: err.code, source: err.source, message: err.message, details: err.details } }, null, 2)}\n`,
        );
      }
      io.err(`dcfail: ${err.message}`);
      for (const line of err.details) io.err(`  ${line}`);
      return err.exitCode;
    }
    io.err(
      `dcfail: internal error (a bug in dcfail, please report it): ${err instanceof Error ? `${err.name}: ${err.message}` : String(err)}`,
    );
    return EXIT.failed;
  }
}

// Exit as soon as the command is done: a connection still being attempted to a dead DC (a SYN
// to a blackholed address is retried for about two minutes) must not hold the operator's shell.
// stdout and stderr are synchronous for files and pipes on Linux, so nothing written is lost.
main().then(
  (code) => process.exit(code),
  () => process.exit(EXIT.failed),
);
