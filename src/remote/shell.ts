/**
 * Building remote shell commands from values. Pure: every value that reaches a remote shell goes
 * through `quote`, so a value can never become shell syntax, whatever it contains.
 */
import { InternalError } from '../errors.js';

/**
 * POSIX single-quote quoting: the result is one shell word whose value is exactly `value`.
 * Inside single quotes nothing is special except the quote itself, which is written as `'\''`.
 * A word made only of characters no shell treats specially is left bare, for readable logs;
 * `=` is not among them (a bare `a=b` in command position is an assignment).
 * A NUL byte cannot be passed through a shell at all, so it is refused (a bug in the caller).
 */
export function quote(value: string): string {
  if (value.includes('\0')) throw new InternalError('a shell argument contains a NUL byte');
  if (value !== '' && /^[A-Za-z0-9_@%+:,./-]+$/.test(value)) return value;
  return `'${value.replaceAll("'", `'\\''`)}'`;
}

/** Quotes each argument and joins them: `quoteArgs(['cat', '--', p])` -> `cat -- 'p'`. */
export function quoteArgs(args: readonly string[]): string {
  return args.map(quote).join(' ');
}

export interface TemplateValues {
  readonly unit: string;
  readonly node: string;
}

const PLACEHOLDER = /\{([^{}]*)\}/g;

/**
 * Fills a command template (`systemctl stop {unit}`) with quoted values. The template's own words
 * were validated at the boundary (no shell syntax); the values are quoted here, so a unit or node
 * name cannot inject anything either. An unknown placeholder or a stray brace is a bug: the schema
 * only lets `{unit}` and `{node}` through.
 */
export function renderCommand(template: string, values: TemplateValues): string {
  const rendered = template.replace(PLACEHOLDER, (whole, key: string) => {
    if (key === 'unit') return quote(values.unit);
    if (key === 'node') return quote(values.node);
    throw new InternalError(`unknown placeholder ${whole} in command template ${JSON.stringify(template)}`);
  });
  // Braces left after substitution were unbalanced in the template.
  const rest = template.replace(PLACEHOLDER, '');
  if (rest.includes('{') || rest.includes('}')) {
    throw new InternalError(`unbalanced brace in command template ${JSON.stringify(template)}`);
  }
  return rendered;
}

/** `sudo -n sh -c '<command>'`: runs a whole command line as root, never prompting. */
export function wrapSudo(command: string): string {
  return `sudo -n sh -c ${quote(command)}`;
}

export interface ExecLineOptions {
  readonly sudo: boolean;
  readonly timeoutMs?: number | undefined;
}

/** How much longer the remote `timeout` waits than the local timer: the local timer decides `timedOut`. */
const REMOTE_TIMEOUT_MARGIN_MS = 1000;

/**
 * The command line sent to a node: `[sudo -n] [timeout -k 2 <s>s] sh -c '<command>'`.
 * Always `sh -c`, so a command means the same whatever the login shell. With a timeout, GNU
 * `timeout` runs inside sudo (as root, so it may kill everything the command started): it kills
 * the command's whole process group shortly after the local timer has given up on it, so a
 * timed-out command does not carry on behind our back. Closing an SSH channel kills nothing.
 */
export function buildExecLine(command: string, opts: ExecLineOptions): string {
  const parts: string[] = [];
  if (opts.sudo) parts.push('sudo -n');
  if (opts.timeoutMs !== undefined) {
    if (!Number.isFinite(opts.timeoutMs) || opts.timeoutMs <= 0)
      throw new InternalError(`bad timeout ${opts.timeoutMs}`);
    const seconds = ((opts.timeoutMs + REMOTE_TIMEOUT_MARGIN_MS) / 1000).toFixed(3);
    parts.push(`timeout -k 2 ${seconds}s`);
  }
  parts.push(`sh -c ${quote(command)}`);
  return parts.join(' ');
}
