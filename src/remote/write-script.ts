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

/**
 * Reads a file under the C locale, so that "absent" is recognisable in its message: a regular
 * file only (a FIFO would block, a device never end), at most `maxBytes + 1` bytes (the caller
 * refuses more than `maxBytes`). `head` opens the path itself; the `-f` test is what refuses.
 */
export function renderReadCommand(path: string, maxBytes: number): string {
  assertRemotePath(path);
  if (!Number.isSafeInteger(maxBytes) || maxBytes <= 0) throw new InternalError(`bad read cap ${maxBytes}`);
  const p = quote(path);
  return `LC_ALL=C; export LC_ALL; if [ -e ${p} ] && [ ! -f ${p} ]; then printf 'dcfail-read: not-regular: %s is not a regular file\\n' ${p} >&2; exit 3; fi; exec head -c ${maxBytes + 1} -- ${p}`;
}

/** Whether a read failed only because the file does not exist (ENOENT, not a permission problem). */
export function isAbsentRead(result: ExecResult): boolean {
  if (result.exitCode !== 1) return false;
  const lines = result.stderr.trimEnd().split('\n');
  return (
    lines.length === 1 &&
    (lines[0]!.startsWith('cat: ') || lines[0]!.startsWith('head: ')) &&
    lines[0]!.endsWith(': No such file or directory')
  );
}

/** The text of a read, or the refusal of one larger than its cap. */
export function checkReadSize(text: string, maxBytes: number, who: string, path: string): string {
  if (Buffer.byteLength(text, 'utf8') > maxBytes)
    throw new OperationError('remote-read', `${who}: ${path} is larger than ${maxBytes} bytes: refusing to read it`);
  return text;
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
  | 'resolve'
  | 'unsafe-dir'
  | 'resolution-changed'
  | 'temp'
  | 'upload'
  | 'owner'
  | 'mode'
  | 'sync'
  | 'backup-exists'
  | 'backup'
  | 'rename';

/**
 * The script that replaces a file atomically; run by `sh -c`, the new content on stdin.
 *
 * 1. resolve the real target (`readlink -f`): a symlink is edited through, never replaced; every
 *    directory on the way (each link's and the target's, up to /) must belong to root or to
 *    the writer and be writable by nobody else (sticky excepted), else `unsafe-dir`; the
 *    target's directory is entered (`cd -P`) and the final rename is relative to it, after
 *    checking the target still resolves to the same file (`resolution-changed`);
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
# A client that died (kill -9) leaves nobody reading: the first message would raise SIGPIPE,
# whose default kills the shell before its EXIT trap removes the temp file.
trap 'exit 141' PIPE
fail() { printf 'dcfail-write: %s: %s\\n' "$1" "$2" >&2; exit 1; }
sha() { s=$(sha256sum < "$1") && printf '%s' "\${s%% *}"; }
me=$(id -u)
# A directory on the way that someone else may write (or that belongs to someone else) lets
# them swap a name under us: as root we would then write where they chose.
check_dir() {
  d=$1
  while :; do
    st=$(stat -c '%u %a' -- "$d") || fail resolve "cannot stat $d"
    u=\${st%% *}; m=\${st#* }
    if [ "$u" != 0 ] && [ "$u" != "$me" ]; then
      fail unsafe-dir "$d is owned by uid $u: refusing to write as uid $me through it"
    fi
    if [ $(( 0$m & 022 )) -ne 0 ] && [ $(( 0$m & 01000 )) -eq 0 ]; then
      fail unsafe-dir "$d is writable by others than its owner (mode $m): refusing to write as uid $me through it"
    fi
    [ "$d" = / ] && break
    d=\${d%/*}; [ -n "$d" ] || d=/
  done
}
p=$target
hops=0
while :; do
  pd=$(cd -P -- "$(dirname -- "$p")" 2>/dev/null && pwd -P) || fail resolve "cannot resolve $target (its directory is missing?)"
  check_dir "$pd"
  [ -L "$p" ] || break
  l=$(readlink -- "$p") || fail resolve "cannot read the link $p"
  case $l in /*) p=$l ;; *) p=$pd/$l ;; esac
  hops=$((hops + 1))
  [ "$hops" -lt 40 ] || fail resolve "$target: too many levels of symbolic links"
done
real=$(readlink -f -- "$target") && [ -n "$real" ] || fail resolve "cannot resolve $target (its directory is missing?)"
[ -d "$real" ] && fail resolve "$real is a directory"
if [ -f "$real" ] && [ "$(sha "$real" 2>/dev/null)" = "$want_sha" ]; then
  printf 'unchanged\\000%s\\000' "$real"
  exit 0
fi
dir=\${real%/*}
[ -n "$dir" ] || dir=/
base=\${real##*/}
check_dir "$dir"
cd -P -- "$dir" || fail resolve "cannot enter $dir"
[ "$(pwd -P)" = "$dir" ] || fail resolution-changed "$dir moved while it was being resolved"
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
  check_dir "$(cd -P -- "\${backup%/*}" && pwd -P)"
  if ! (umask 077 && cp --preserve=mode,timestamps --no-preserve=ownership -- "./$base" "$backup") || ! chmod go-rwx,u-s,g-s -- "$backup" || ! sync -- "$backup"; then rm -f -- "$backup"; fail backup "cannot copy $real to $backup"; fi
fi
[ "$(readlink -f -- "$target")" = "$real" ] && [ "$(pwd -P)" = "$dir" ] || fail resolution-changed "$target no longer resolves to $real: refusing to write"
mv -f -T -- "$tmp" "./$base" || fail rename "cannot rename $tmp to $real"
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
