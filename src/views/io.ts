/**
 * The terminal a command writes to: the only way out for what dcfail prints. Commands are plain
 * async functions returning an exit code (or throwing a DcfailError), so tests call them
 * directly with a captured Io.
 */
export interface Io {
  out(text: string): void;
  err(text: string): void;
  readonly isTTY: boolean;
  /** Asks the operator a question on the terminal; undefined when there is no TTY. */
  readonly ask?: ((question: string) => Promise<string>) | undefined;
}

/** An Io that collects output, for tests and for callers that render later. */
export function captureIo(isTTY = false): Io & { stdout: string; stderr: string } {
  const io = {
    stdout: '',
    stderr: '',
    isTTY,
    out(text: string) {
      io.stdout += text.endsWith('\n') ? text : `${text}\n`;
    },
    err(text: string) {
      io.stderr += text.endsWith('\n') ? text : `${text}\n`;
    },
  };
  return io;
}

export function processIo(): Io {
  const isTTY = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  return {
    out: (text) => process.stdout.write(text.endsWith('\n') ? text : `${text}\n`),
    err: (text) => process.stderr.write(text.endsWith('\n') ? text : `${text}\n`),
    isTTY,
    ask: isTTY
      ? async (question) => {
          const { createInterface } = await import('node:readline/promises');
          const rl = createInterface({ input: process.stdin, output: process.stdout });
          try {
            return await rl.question(question);
          } finally {
            rl.close();
          }
        }
      : undefined,
  };
}
