/** The audit log: pino JSON lines to `--log-file`, written synchronously so a kill loses nothing. */
import { pino, type Logger } from 'pino';
import { UserError } from '../errors.js';

export function auditLog(file: string | undefined, level: string, base: Record<string, unknown>): Logger | null {
  if (!file) return null;
  let dest;
  try {
    dest = pino.destination({ dest: file, sync: true, mkdir: true });
  } catch (err) {
    // cli.ts checks the path first; what is left (a permission, a race) is still the operator's input.
    throw new UserError('bad-log-file', `--log-file ${file}: ${err instanceof Error ? err.message : String(err)}`);
  }
  return pino({ level, base, timestamp: pino.stdTimeFunctions.isoTime }, dest);
}
