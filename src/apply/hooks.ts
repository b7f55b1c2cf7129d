/**
 * The topology's hooks (pre, post, on failure, fence), run locally from the topology file's
 * directory, without a shell: the command line is split into words (src/core/words.ts), and the
 * hook gets a minimal environment: PATH, HOME, LANG, LC_ALL, TZ, USER, LOGNAME, dcfail's own
 * DCFAIL_* variables (the operator's and the run's), and the names the topology lists in `hooks.env`. The operator's other
 * variables (tokens, agent sockets) are not the hook's.
 */
import { execa } from 'execa';
import { splitWords } from '../core/words.js';
import { RefusedError, UserError } from '../errors.js';

const BASE_ENV = ['PATH', 'HOME', 'LANG', 'LC_ALL', 'TZ', 'USER', 'LOGNAME'] as const;

function hookEnvironment(dcfailEnv: Record<string, string>, pass: readonly string[] = []): Record<string, string> {
  const env: Record<string, string> = {};
  for (const k of [...BASE_ENV, ...pass]) {
    const v = process.env[k];
    if (v !== undefined) env[k] = v;
  }
  env['PATH'] ??= '/usr/sbin:/usr/bin:/sbin:/bin';
  for (const [k, v] of Object.entries(process.env)) if (k.startsWith('DCFAIL_') && v !== undefined) env[k] = v;
  for (const [k, v] of Object.entries(dcfailEnv)) if (k.startsWith('DCFAIL_')) env[k] = v;
  return env;
}

function hookWords(name: string, command: string): [string, ...string[]] {
  const w = splitWords(command);
  if (!w.ok) throw new UserError('hook-invalid', `the ${name} hook's command has ${w.error}`);
  return w.words as [string, ...string[]];
}

export async function runHook(
  name: string,
  command: string | undefined,
  cwd: string,
  env: Record<string, string>,
  timeoutMs = 120_000,
  passEnv: readonly string[] = [],
): Promise<{ ran: boolean; exitCode?: number; output?: string }> {
  if (!command) return { ran: false };
  const [cmd, ...args] = hookWords(name, command);
  const r = await execa(cmd, args, {
    cwd,
    env: hookEnvironment(env, passEnv),
    extendEnv: false,
    reject: false,
    timeout: timeoutMs,
    all: true,
  });
  return {
    ran: true,
    exitCode: r.exitCode ?? -1,
    // Only the last line: hook output goes to the journal and the audit log.
    output:
      String(r.all ?? '')
        .trim()
        .split('\n')
        .slice(-1)[0] ?? '',
  };
}

export async function preHook(
  name: string,
  command: string | undefined,
  cwd: string,
  env: Record<string, string>,
  passEnv: readonly string[] = [],
): Promise<void> {
  const r = await runHook(name, command, cwd, env, 120_000, passEnv);
  if (r.ran && r.exitCode !== 0)
    throw new RefusedError(
      'hook-refused',
      `the ${name} hook exited ${r.exitCode}: nothing was changed`,
      r.output ? [r.output] : [],
    );
}
