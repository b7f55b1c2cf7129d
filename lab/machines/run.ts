/** Running host commands for the machines lab: one shape for success and failure, a deadline always. */
import { execa } from 'execa';

export interface RunResult {
  readonly exitCode: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly timedOut: boolean;
}

export class LabError extends Error {}

export async function run(file: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<RunResult> {
  const r = await execa(file, args, {
    reject: false,
    timeout: opts.timeoutMs ?? 30_000,
    input: opts.input,
    stdin: opts.input === undefined ? 'ignore' : 'pipe',
    maxBuffer: 16 * 1024 * 1024,
    stripFinalNewline: false,
  });
  return { exitCode: r.exitCode ?? (r.timedOut ? 124 : 1), stdout: String(r.stdout ?? ''), stderr: String(r.stderr ?? ''), timedOut: r.timedOut };
}

/** Runs a command that must succeed; throws a LabError naming it and its stderr otherwise. */
export async function must(file: string, args: readonly string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<string> {
  const r = await run(file, args, opts);
  if (r.exitCode !== 0) throw new LabError(`${file} ${args.join(' ')}: exit ${r.exitCode}${r.timedOut ? ' (timed out)' : ''}: ${r.stderr.trim() || r.stdout.trim()}`);
  return r.stdout;
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls until `fn` returns a value that is not undefined/false, or throws with the last reason. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs: number, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      last = (err as Error).message;
    }
    if (Date.now() >= deadline) throw new LabError(`timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${last}` : ''}`);
    await sleep(everyMs);
  }
}
