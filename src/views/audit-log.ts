/** The audit log: pino JSON lines to `--log-file`, written synchronously so a kill loses nothing. */
import { pino, type Logger } from 'pino';

export function auditLog(file: string | undefined, level: string, base: Record<string, unknown>): Logger | null {
  if (!file) return null;
  return pino(
    { level, base, timestamp: pino.stdTimeFunctions.isoTime },
    pino.destination({ dest: file, sync: true, mkdir: true }),
  );
}
