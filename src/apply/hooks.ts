/** The topology's hooks (pre, post, on failure), run locally from the topology file's directory. */
import { execa } from 'execa';
import { RefusedError } from '../errors.js';

export async function runHook(
  name: string,
  command: string | undefined,
  cwd: string,
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<{ ran: boolean; exitCode?: number; output?: string }> {
  if (!command) return { ran: false };
  const [cmd, ...args] = command.split(/\s+/);
  const r = await execa(cmd!, args, {
    cwd,
    env: { ...process.env, ...env },
    reject: false,
    timeout: timeoutMs,
    all: true,
  });
  return {
    ran: true,
    exitCode: r.exitCode ?? -1,
    output: String(r.all ?? '')
      .trim()
      .split('\n')
      .slice(-3)
      .join(' / '),
  };
}

export async function preHook(
  name: string,
  command: string | undefined,
  cwd: string,
  env: Record<string, string>,
): Promise<void> {
  const r = await runHook(name, command, cwd, env);
  if (r.ran && r.exitCode !== 0)
    throw new RefusedError(
      'hook-refused',
      `the ${name} hook exited ${r.exitCode}: nothing was changed`,
      r.output ? [r.output] : [],
    );
}
