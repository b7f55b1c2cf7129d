/**
 * The operator's own machine behind the same `Remote` interface: local hooks, and tests of code
 * that needs a Remote but no cluster. exec runs `sh -c` through execa; files go through node:fs,
 * so this also works where GNU coreutils are missing (an operator's Mac). A sudo write runs the
 * remote write script locally (root-owned files cannot be written otherwise).
 */
import { constants as fsConstants } from 'node:fs';
import {
  chmod,
  chown,
  copyFile,
  lstat,
  mkdir,
  open,
  readFile,
  readlink,
  realpath,
  rename,
  stat,
  unlink,
} from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { dirname, basename, join } from 'node:path';
import { execa } from 'execa';
import { OperationError } from '../errors.js';
import { buildExecLine } from './shell.js';
import {
  EXEC_DEFAULT_TIMEOUT_MS,
  EXEC_MAX_OUTPUT,
  READ_MAX_BYTES,
  READ_TIMEOUT_MS,
  type ExecOptions,
  type ExecResult,
  type ReadOptions,
  type Remote,
  type WriteOptions,
  type WriteResult,
} from './types.js';
import {
  assertRemotePath,
  checkReadSize,
  contentDigest,
  isAbsentRead,
  parseWriteResult,
  renderReadCommand,
  renderWriteScript,
} from './write-script.js';

export interface LocalRemoteOptions {
  /** Whether exec/read/write go through `sudo -n` by default. */
  readonly sudo?: boolean;
}

export class LocalRemote implements Remote {
  readonly node = 'local';
  readonly address = 'localhost';
  private readonly sudo: boolean;

  constructor(options: LocalRemoteOptions = {}) {
    this.sudo = options.sudo ?? false;
  }

  async exec(command: string, opts: ExecOptions = {}): Promise<ExecResult> {
    const sudo = opts.sudo ?? this.sudo;
    // The command runs in its own process group, killed whole on timeout: killing only the
    // shell would leave its children holding the output pipes open. Under sudo the group is
    // root's, so GNU timeout (run as root by buildExecLine) does the killing there.
    const timeoutMs = opts.timeoutMs ?? EXEC_DEFAULT_TIMEOUT_MS;
    const line = sudo ? buildExecLine(command, { sudo, timeoutMs }) : command;
    const started = performance.now();
    const subprocess = execa('/bin/sh', ['-c', line], {
      reject: false,
      stripFinalNewline: false,
      encoding: 'utf8',
      detached: true,
      maxBuffer: opts.maxOutputBytes ?? EXEC_MAX_OUTPUT,
      // Streamed stdout is piped to its reader with back-pressure, not collected.
      buffer: { stdout: opts.stdoutTo === undefined, stderr: true },
      ...(opts.stdin !== undefined
        ? { input: opts.stdin }
        : { stdin: opts.stdinFrom !== undefined ? ('pipe' as const) : ('ignore' as const) }),
    });
    if (opts.stdoutTo) subprocess.stdout.pipe(opts.stdoutTo);
    if (opts.stdinFrom) {
      const input = opts.stdinFrom;
      input.on('error', () => subprocess.stdin?.end());
      subprocess.stdin?.on('error', () => undefined); // the command closed its input: its exit says why
      input.pipe(subprocess.stdin!);
    }
    const onAbort = () => killGroup(subprocess.pid);
    if (opts.signal?.aborted) onAbort();
    else opts.signal?.addEventListener('abort', onAbort, { once: true });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      killGroup(subprocess.pid);
    }, timeoutMs);
    const result = await subprocess.finally(() => {
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
    });
    if (result.isMaxBuffer) {
      killGroup(subprocess.pid);
      throw new OperationError('local-exec', `local: the command's output exceeded its size cap; it was killed`);
    }
    return {
      exitCode: timedOut ? null : (result.exitCode ?? null),
      signal: result.signal ? result.signal.replace(/^SIG/, '') : null,
      stdout: typeof result.stdout === 'string' ? result.stdout : '',
      stderr: result.stderr,
      timedOut,
      durationMs: Math.round(performance.now() - started),
    };
  }

  async readFile(path: string, opts: ReadOptions = {}): Promise<string | null> {
    const max = opts.maxBytes ?? READ_MAX_BYTES;
    if (opts.sudo ?? this.sudo) {
      const result = await this.exec(renderReadCommand(path, max), {
        sudo: true,
        timeoutMs: READ_TIMEOUT_MS,
        maxOutputBytes: max + 1,
      });
      if (result.exitCode === 0) return checkReadSize(result.stdout, max, 'local', path);
      if (isAbsentRead(result)) return null;
      throw new OperationError('local-read', `local: cannot read ${path}: ${result.stderr.trim()}`);
    }
    try {
      // Regular files only (a FIFO would block, a device never end), opened without blocking.
      const fh = await open(path, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
      try {
        const st = await fh.stat();
        if (!st.isFile()) throw new OperationError('local-read', `local: ${path} is not a regular file`);
        const buf = Buffer.alloc(max + 1);
        const { bytesRead } = await fh.read(buf, 0, max + 1, 0);
        return checkReadSize(buf.subarray(0, bytesRead).toString('utf8'), max, 'local', path);
      } finally {
        await fh.close();
      }
    } catch (err) {
      if (err instanceof OperationError) throw err;
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
      throw new OperationError('local-read', `local: cannot read ${path}: ${(err as Error).message}`, [], {
        cause: err,
      });
    }
  }

  async writeFileAtomic(path: string, content: string, opts: WriteOptions = {}): Promise<WriteResult> {
    assertRemotePath(path);
    if (opts.sudo ?? this.sudo) {
      const script = renderWriteScript({ target: path, backupDir: opts.backupDir ?? null, ...contentDigest(content) });
      return parseWriteResult(await this.exec(script, { sudo: true, stdin: content }), 'local', path);
    }
    return writeLocal(path, content, opts.backupDir ?? null);
  }

  async close(): Promise<void> {}
}

/** The write script's steps (see renderWriteScript) with node:fs. */
async function writeLocal(target: string, content: string, backupDir: string | null): Promise<WriteResult> {
  const step = async <T>(stage: string, what: string, f: () => Promise<T>): Promise<T> => {
    try {
      return await f();
    } catch (err) {
      if (err instanceof OperationError) throw err;
      const code = stage === 'backup-exists' ? 'backup-exists' : 'local-write';
      throw new OperationError(
        code,
        `local: writing ${target} failed (${stage}): ${what}: ${(err as Error).message}; the old file is intact`,
        [],
        { cause: err },
      );
    }
  };
  const real = await step('resolve', `cannot resolve ${target}`, () => resolveTarget(target));
  const old = await stat(real).catch(() => null);
  if (old?.isDirectory())
    throw new OperationError('local-write', `local: writing ${target} failed (resolve): ${real} is a directory`);
  const data = Buffer.from(content, 'utf8');
  if (old?.isFile()) {
    const current = await readFile(real).catch(() => null);
    if (current?.equals(data)) return { path: real, backup: null, changed: false };
  }
  const dir = dirname(real);
  const tmp = join(dir, `.${basename(real)}.dcfail-${randomBytes(4).toString('hex')}`);
  let isTmpLeft = false;
  try {
    await step('temp', `cannot create a temp file in ${dir}`, async () => {
      const fh = await open(tmp, 'wx', 0o600);
      isTmpLeft = true;
      try {
        await fh.writeFile(data);
        await fh.sync();
      } finally {
        await fh.close();
      }
    });
    if (old) {
      await step('owner', `cannot give ${tmp} the owner of ${real}`, () => chown(tmp, old.uid, old.gid));
      await step('mode', `cannot give ${tmp} the mode of ${real}`, () => chmod(tmp, old.mode & 0o7777));
    } else {
      await step('mode', `cannot set the mode of ${tmp}`, () => chmod(tmp, 0o644));
    }
    let backup: string | null = null;
    if (backupDir !== null && old) {
      assertRemotePath(backupDir, 'backup directory');
      const path = backupDir.replace(/\/+$/, '') + real;
      if (
        await lstat(path).then(
          () => true,
          () => false,
        )
      ) {
        throw new OperationError(
          'backup-exists',
          `local: writing ${target} failed (backup-exists): ${path} already exists; a backup is never overwritten; the old file is intact`,
        );
      }
      await step('backup', `cannot copy ${real} to ${path}`, async () => {
        await mkdir(dirname(path), { recursive: true, mode: 0o700 });
        await copyFile(real, path, fsConstants.COPYFILE_EXCL);
        await chown(path, old.uid, old.gid).catch(() => undefined);
        await chmod(path, old.mode & 0o7777);
        await syncPath(path);
      });
      backup = path;
    }
    await step('rename', `cannot rename ${tmp} to ${real}`, () => rename(tmp, real));
    isTmpLeft = false;
    await syncPath(dir).catch(() => undefined);
    return { path: real, backup, changed: true };
  } finally {
    if (isTmpLeft) await unlink(tmp).catch(() => undefined);
  }
}

/** Like `readlink -f`: every symlink followed; the last component may be missing. */
async function resolveTarget(path: string): Promise<string> {
  try {
    return await realpath(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  const link = await lstat(path).catch(() => null);
  if (link?.isSymbolicLink()) {
    // A dangling link: write the file it names.
    const dest = await readlink(path);
    return resolveTarget(dest.startsWith('/') ? dest : join(dirname(path), dest));
  }
  return join(await realpath(dirname(path)), basename(path));
}

function killGroup(pid: number | undefined): void {
  if (pid === undefined) return;
  try {
    process.kill(-pid, 'SIGKILL');
  } catch {
    // Already gone, or (under sudo) root's: GNU timeout kills those.
  }
}

async function syncPath(path: string): Promise<void> {
  const fh = await open(path, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
