// Local state files (journal, progress of a saved plan, lock owner, saved plans, audit log):
// written whole or not at all, private (0600 in 0700 directories), and never through a link. A
// run killed with -9 mid-write must leave the previous version, never a truncated file that the
// re-run cannot read; a symlink planted at a file's name (or its temporary name) must not turn a
// write into a write of somebody else's file.

import { randomBytes } from 'node:crypto';
import { constants, lstatSync, mkdirSync, type Stats } from 'node:fs';
import { lstat, open, rename, rm, stat } from 'node:fs/promises';
import { basename, dirname, join, resolve } from 'node:path';
import { UserError } from '../errors.js';

const uid = (): number => process.getuid?.() ?? 0;

/** Refuses a directory that someone other than us (or root) could plant a name in. */
function checkDirectory(dir: string, st: Stats): void {
  if (!st.isDirectory()) throw new UserError('unsafe-path', `${dir} is not a directory: refusing to write into it`);
  if (st.uid !== uid() && st.uid !== 0)
    throw new UserError('unsafe-path', `${dir} belongs to uid ${st.uid}: refusing to write dcfail's files into it`);
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0)
    throw new UserError(
      'unsafe-path',
      `${dir} is writable by others (mode ${(st.mode & 0o7777).toString(8)}) without the sticky bit: refusing to write into it`,
    );
}

/** Refuses an existing file at `path` that is a link, not a regular file, or not ours. */
function checkExistingFile(path: string, st: Stats): void {
  if (st.isSymbolicLink())
    throw new UserError('unsafe-path', `${path} is a symbolic link: refusing to write through it`);
  if (!st.isFile()) throw new UserError('unsafe-path', `${path} is not a regular file: refusing to write to it`);
  if (st.uid !== uid()) throw new UserError('unsafe-path', `${path} belongs to uid ${st.uid}: refusing to replace it`);
}

/**
 * Creates `dir` (and its parents) 0700 if missing; refuses it when it is a symbolic link, or is
 * writable by others without the sticky bit, or belongs to someone else.
 */
export function ensurePrivateDir(dir: string): void {
  const abs = resolve(dir);
  mkdirSync(abs, { recursive: true, mode: 0o700 });
  const st = lstatSync(abs);
  if (st.isSymbolicLink())
    throw new UserError('unsafe-path', `${abs} is a symbolic link: refusing to keep dcfail's state through it`);
  checkDirectory(abs, st);
}

async function lstatOrNull(path: string): Promise<Stats | null> {
  try {
    return await lstat(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw e;
  }
}

/**
 * Writes `text` to a fresh temporary file beside `path` (a random name, created exclusively,
 * O_NOFOLLOW, `mode`), flushes it to disk, then renames it over `path`. Refuses (exit 2) when
 * `path` is a symbolic link or somebody else's file, or its directory is shared-writable.
 */
export async function writeFileAtomic(path: string, text: string, mode = 0o600): Promise<void> {
  const dir = dirname(resolve(path));
  checkDirectory(dir, await stat(dir));
  const existing = await lstatOrNull(path);
  if (existing) checkExistingFile(path, existing);
  const tmp = join(dir, `.${basename(path)}.${randomBytes(12).toString('hex')}.tmp`);
  let created = false;
  try {
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, mode);
    created = true;
    try {
      await fh.chmod(mode);
      await fh.writeFile(text, 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    const now = await lstatOrNull(path);
    if (now) checkExistingFile(path, now);
    await rename(tmp, path);
  } catch (err) {
    if (created) await rm(tmp, { force: true });
    throw err;
  }
}
