/**
 * The terminal a command writes to: the only way out for what dcfail prints. Commands are plain
 * async functions returning an exit code (or throwing a DcfailError), so tests call them
 * directly with a captured Io.
 */
import { safeText } from './escape.js';

export interface Io {
  out(text: string): void;
  err(text: string): void;
  readonly isTTY: boolean;
  /** Asks the operator a question on the terminal; undefined when there is no TTY. */
  readonly ask?: ((question: string) => Promise<string>) | undefined;
  /**
   * Only when stdout is a terminal: clears it and draws these lines from the top, each marked
   * line in reverse video (`status --watch`). The text is escaped like every other output.
   */
  readonly redraw?: ((lines: readonly { text: string; changed: boolean }[]) => void) | undefined;
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

/**
 * The process's stdout and stderr. Human output is escaped (views/escape.ts) at this one choke
 * point, whatever renderer produced it; with `json`, stdout carries JSON documents, exact (JSON
 * escapes control characters itself), and only stderr is escaped.
 */
export function processIo(json = false): Io {
  const isTTY = Boolean(process.stdin.isTTY && process.stdout.isTTY);
  // The only control sequences dcfail writes: cursor home, erase the screen, reverse video on and off.
  const HOME_CLEAR = '\x1b[H\x1b[2J';
  const MARK = '\x1b[7m';
  const PLAIN = '\x1b[0m';
  const line = (text: string) => (text.endsWith('\n') ? text : `${text}\n`);
  return {
    out: (text) => process.stdout.write(json ? line(text) : safeText(line(text))),
    err: (text) => process.stderr.write(safeText(line(text))),
    isTTY,
    ask: isTTY
      ? async (question) => {
          const { createInterface } = await import('node:readline/promises');
          const rl = createInterface({ input: process.stdin, output: process.stdout });
          try {
            return await rl.question(safeText(question));
          } finally {
            rl.close();
          }
        }
      : undefined,
    redraw:
      process.stdout.isTTY && !json
        ? (lines) =>
            process.stdout.write(
              `${HOME_CLEAR}${lines.map((l) => (l.changed ? `${MARK}* ${safeText(l.text)}${PLAIN}` : `  ${safeText(l.text)}`)).join('\n')}\n`,
            )
        : undefined,
  };
}
