/**
 * The remote side of reads and atomic writes, as POSIX shell scripts built from quoted values.
 * Pure: the scripts are strings (unit-tested for quoting), their output is parsed here too.
 * They need GNU coreutils on the node (readlink -f, chown/chmod --reference, sha256sum), as
 * every DC/OS master has.
 */
import { createHash } from 'node:crypto';
import { InternalError, OperationError } from '../errors.js';
import { quote } from './shell.js';
import type { ExecResult, WriteResult } from './types.js';

/** A remote path dcfail may touch: absolute, one line, no NUL. */
export function assertRemotePath(path: string, what = 'path'): void {
  if (!path.startsWith('/') || /[\0\n\r]/.test(path)) {
    throw new InternalError(`${what} ${JSON.stringify(path)} is not an absolute single-line path`);
  }
}

/** `cat`s a file under the C locale, so that "absent" is recognisable in its message. */
export function renderReadCommand(path: string): string {
  assertRemotePath(path);
  return `LC_ALL=C exec cat -- ${quote(path)}`;
}

/** Whether a read failed only because the file does not exist (ENOENT, not a permission problem). */
export function isAbsentRead(result: ExecResult): boolean {
  if (result.exitCode !== 1) return false;
  const lines = result.stderr.trimEnd().split('\n');
  return lines.length === 1 && lines[0]!.startsWith('cat: ') && lines[0]!.endsWith(': No such file or directory');
}

export interface WriteScriptInput {
  /** The path to write; symlinks are followed to their final target. */
  readonly target: string;
  /** Backups go to `<backupDir><real path>`; null keeps none. */
  readonly backupDir: string | null;
  /** SHA-256 (hex) and length of the content sent on stdin: a short or garbled upload is refused. */
  readonly sha256: string;
  readonly bytes: number;
}

export function contentDigest(content: string): { sha256: string; bytes: number } {
  const buf = Buffer.from(content, 'utf8');
  return { sha256: createHash('sha256').update(buf).digest('hex'), bytes: buf.length };
}

/** Why a write script stopped: its stage names, as printed on stderr (`dcfail-write: <stage>: ...`). */
export type WriteStage =
  'resolve' | 'temp' | 'upload' | 'owner' | 'mode' | 'sync' | 'backup-exists' | 'backup' | 'rename';

/**
 * The script that replaces a file atomically; run by `sh -c`, the new content on stdin.
 *
 * 1. resolve the real target (`readlink -f`): a symlink is edited through, never replaced;
 * 2. same content as the old file (by SHA-256): print `unchanged`, touch nothing (no temp
 *    file, no backup, stdin left unread);
 * 3. write stdin to a temp file in the target's directory (so the rename is atomic) and check
 *    its length and SHA-256: a cut-off upload never becomes the file;
 * 4. give the temp file the old file's owner and mode (`--reference`; a new file gets 0644 and
 *    the writer as owner), fsync it;
 * 5. copy the old file to the backup path, refusing if a backup is already there; fsync;
 * 6. `mv -f` the temp file over the target (rename(2)), fsync the directory.
 * Any failure exits non-zero before step 6 with the old file intact; the EXIT trap removes
 * the temp file.
 */
export function renderWriteScript(input: WriteScriptInput): string {
  assertRemotePath(input.target, 'target');
  if (input.backupDir !== null) assertRemotePath(input.backupDir, 'backup directory');
  if (!/^[0-9a-f]{64}$/.test(input.sha256) || !Number.isSafeInteger(input.bytes) || input.bytes < 0) {
    throw new InternalError('bad content digest for a write script');
  }
  const backupDir = input.backupDir === null ? '' : input.backupDir.replace(/\/+$/, '');
  return `set -u
target=${quote(input.target)}
backup_dir=${quote(backupDir)}
want_sha=${input.sha256}
want_bytes=${input.bytes}
tmp=
trap 'if [ -n "$tmp" ]; then rm -f -- "$tmp"; fi' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM
fail() { printf 'dcfail-write: %s: %s\\n' "$1" "$2" >&2; exit 1; }
sha() { s=$(sha256sum < "$1") && printf '%s' "\${s%% *}"; }
real=$(readlink -f -- "$target") && [ -n "$real" ] || fail resolve "cannot resolve $target (its directory is missing?)"
[ -d "$real" ] && fail resolve "$real is a directory"
if [ -f "$real" ] && [ "$(sha "$real" 2>/dev/null)" = "$want_sha" ]; then
  printf 'unchanged\\000%s\\000' "$real"
  exit 0
fi
dir=\${real%/*}
[ -n "$dir" ] || dir=/
base=\${real##*/}
tmp=$(mktemp "$dir/.$base.dcfail-XXXXXX") || { tmp=; fail temp "cannot create a temp file in $dir"; }
cat > "$tmp" || fail upload "cannot write $tmp"
got_bytes=$(wc -c < "$tmp") && [ "$got_bytes" -eq "$want_bytes" ] && [ "$(sha "$tmp")" = "$want_sha" ] || fail upload "the content arrived incomplete or altered"
if [ -e "$real" ]; then
  chown --reference="$real" -- "$tmp" || fail owner "cannot give $tmp the owner of $real"
  chmod --reference="$real" -- "$tmp" || fail mode "cannot give $tmp the mode of $real"
else
  chmod 0644 -- "$tmp" || fail mode "cannot set the mode of $tmp"
fi
sync -- "$tmp" || fail sync "cannot fsync $tmp"
backup=
if [ -n "$backup_dir" ] && [ -e "$real" ]; then
  backup=$backup_dir$real
  if [ -e "$backup" ] || [ -L "$backup" ]; then fail backup-exists "$backup already exists; a backup is never overwritten"; fi
  (umask 077 && mkdir -p -- "\${backup%/*}") || fail backup "cannot create \${backup%/*}"
  if ! cp -p -- "$real" "$backup" || ! sync -- "$backup"; then rm -f -- "$backup"; fail backup "cannot copy $real to $backup"; fi
fi
mv -f -- "$tmp" "$real" || fail rename "cannot rename $tmp to $real"
tmp=
sync -- "$dir" 2>/dev/null || :
printf 'changed\\000%s\\000%s\\000' "$real" "$backup"
`;
}

/** Reads what the write script printed; a failure becomes an OperationError naming where it stopped. */
export function parseWriteResult(result: ExecResult, who: string, target: string): WriteResult {
  if (result.exitCode === 0) {
    const fields = result.stdout.split('\0');
    if (fields[0] === 'unchanged' && fields[1]) return { path: fields[1], backup: null, changed: false };
    if (fields[0] === 'changed' && fields[1] && fields[2] !== undefined) {
      return { path: fields[1], backup: fields[2] === '' ? null : fields[2], changed: true };
    }
    throw new OperationError('remote-write', `${who}: writing ${target}: unexpected output from the write script`, [
      JSON.stringify(result.stdout.slice(0, 200)),
    ]);
  }
  if (result.timedOut)
    throw new OperationError(
      'remote-write',
      `${who}: writing ${target} timed out; the old file is intact unless the rename had already happened`,
    );
  const line = result.stderr.split('\n').find((l) => l.startsWith('dcfail-write: '));
  const match = line?.match(/^dcfail-write: ([a-z-]+): (.*)$/);
  const stage = match?.[1] as WriteStage | undefined;
  const why = match?.[2] ?? (result.stderr.trim() || `exit ${result.exitCode ?? result.signal}`);
  const code = stage === 'backup-exists' ? 'backup-exists' : 'remote-write';
  return fail(
    code,
    `${who}: writing ${target} failed${stage ? ` (${stage})` : ''}: ${why}; the old file is intact`,
    result.stderr,
  );
}

function fail(code: string, message: string, stderr: string): never {
  const details = stderr.split('\n').filter((l) => l.trim() !== '' && !l.startsWith('dcfail-write: '));
  throw new OperationError(code, message, details);
}
