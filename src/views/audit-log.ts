/**
 * The audit log: pino JSON lines to `--log-file`, written synchronously so a kill loses nothing.
 * The file is private (0600; hook output lands in it) and opened by us, never through a symbolic
 * link: a link planted at its name would otherwise get our lines appended to its target.
 */
import { closeSync, constants, fstatSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import { pino, type Logger } from 'pino';
import { UserError } from '../errors.js';

export function auditLog(file: string | undefined, level: string, base: Record<string, unknown>): Logger | null {
  if (!file) return null;
  mkdirSync(dirname(file), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(file, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'ELOOP') throw new UserError('unsafe-path', `${file} is a symbolic link: refusing to log through it`);
    throw new UserError('log-file', `cannot open the log file ${file}: ${code ?? String(e)}`);
  }
  const st = fstatSync(fd);
  const uid = process.getuid?.() ?? 0;
  const refuse = (why: string): never => {
    closeSync(fd);
    throw new UserError('unsafe-path', `${file} ${why}: refusing to log to it`);
  };
  if (!st.isFile()) refuse('is not a regular file');
  if (st.uid !== uid) refuse(`belongs to uid ${st.uid}`);
  if ((st.mode & 0o077) !== 0)
    refuse(`is readable or writable by others (mode ${(st.mode & 0o777).toString(8)}; chmod 600 it)`);
  return pino({ level, base, timestamp: pino.stdTimeFunctions.isoTime }, pino.destination({ fd, sync: true }));
}
