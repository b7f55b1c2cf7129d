/**
 * The remote write and read scripts as values: their quoting, their output parsing, and (run
 * here with /bin/sh, no SSH) the failure the transport cannot provoke: a cut-off upload.
 */
import { execFileSync, spawn, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InternalError, OperationError } from '../../src/errors.js';
import type { ExecResult } from '../../src/remote/types.js';
import {
  contentDigest,
  isAbsentRead,
  parseWriteResult,
  renderReadCommand,
  renderWriteScript,
} from '../../src/remote/write-script.js';

const dir = mkdtempSync(join(tmpdir(), 'dcfail-ws-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function result(partial: Partial<ExecResult>): ExecResult {
  return { exitCode: 0, signal: null, stdout: '', stderr: '', timedOut: false, durationMs: 1, ...partial };
}

/** Runs a write script here; `sent` is what arrives on stdin (normally the content). */
function runScript(target: string, content: string, opts: { backupDir?: string; sent?: string } = {}): ExecResult {
  const script = renderWriteScript({ target, backupDir: opts.backupDir ?? null, ...contentDigest(content) });
  const r = spawnSync('/bin/sh', ['-c', script], { input: opts.sent ?? content, encoding: 'utf8' });
  return result({ exitCode: r.status, stdout: r.stdout, stderr: r.stderr });
}

describe('renderWriteScript', () => {
  const evil = "/tmp/a b/'$(touch pwned)'/`id`; rm -rf x";

  it('holds the target and backup directory literally', () => {
    const script = renderWriteScript({ target: evil, backupDir: `${evil}/bk/`, ...contentDigest('x') });
    const header = script.split('\n').slice(0, 3).join('\n');
    const out = execFileSync('/bin/sh', ['-c', `${header}\nprintf '%s|%s' "$target" "$backup_dir"`], {
      cwd: dir,
      encoding: 'utf8',
    });
    expect(out).toBe(`${evil}|${evil}/bk`);
    expect(readdirSync(dir)).toEqual([]);
    execFileSync('/bin/sh', ['-n', '-c', script]);
  });

  it('accepts only absolute single-line paths and a real digest', () => {
    const d = contentDigest('x');
    expect(() => renderWriteScript({ target: 'relative/path', backupDir: null, ...d })).toThrow(InternalError);
    expect(() => renderWriteScript({ target: '/a\nb', backupDir: null, ...d })).toThrow(InternalError);
    expect(() => renderWriteScript({ target: '/a', backupDir: 'bk', ...d })).toThrow(InternalError);
    expect(() => renderWriteScript({ target: '/a', backupDir: null, sha256: 'zz', bytes: 1 })).toThrow(InternalError);
  });

  it('counts bytes, not characters', () => {
    expect(contentDigest('ü').bytes).toBe(2);
  });
});

describe('the write script, run locally', () => {
  it('refuses a cut-off upload: old file intact, no temp file, no backup', () => {
    const d = join(dir, 'upload');
    mkdirSync(d);
    const path = join(d, 'conf');
    writeFileSync(path, 'old\n');

    const r = runScript(path, 'MESOS_QUORUM=2\n', { sent: 'MESOS_QUO', backupDir: join(d, 'bk') });

    expect(r.exitCode).toBe(1);
    expect(() => parseWriteResult(r, 'here', path)).toThrow(/\(upload\).*incomplete/);
    expect(readFileSync(path, 'utf8')).toBe('old\n');
    expect(readdirSync(d)).toEqual(['conf']);
  });

  it('leaves no temp file when the caller is gone (kill -9: a cut-off upload, stdout and stderr closed)', async () => {
    const d = join(dir, 'gone');
    mkdirSync(d);
    const path = join(d, 'conf');
    writeFileSync(path, 'old\n');
    const script = renderWriteScript({ target: path, backupDir: null, ...contentDigest('MESOS_QUORUM=2\n') });
    const child = spawn('/bin/sh', ['-c', script], { stdio: ['pipe', 'pipe', 'pipe'] });
    // What sshd leaves a remote command whose client died: nobody reads what it prints.
    child.stdout.destroy();
    child.stderr.destroy();
    child.stdin.end('MESOS_QUO');
    const [code, signal] = await new Promise<[number | null, string | null]>((resolve) =>
      child.on('close', (c, s) => resolve([c, s])),
    );

    expect({ code, signal }).not.toEqual({ code: 0, signal: null });
    expect(readFileSync(path, 'utf8')).toBe('old\n');
    expect(readdirSync(d)).toEqual(['conf']);
  });

  it('refuses a directory and a path whose directory is missing', () => {
    expect(() => parseWriteResult(runScript(dir, 'x'), 'here', dir)).toThrow(/\(resolve\)/);
    const missing = join(dir, 'no', 'such', 'file');
    expect(() => parseWriteResult(runScript(missing, 'x'), 'here', missing)).toThrow(/\(resolve\)/);
  });
});

describe('parseWriteResult', () => {
  it('reads changed and unchanged', () => {
    expect(parseWriteResult(result({ stdout: 'changed\0/real/f\0/bk/real/f\0' }), 'n', '/f')).toEqual({
      path: '/real/f',
      backup: '/bk/real/f',
      changed: true,
    });
    expect(parseWriteResult(result({ stdout: 'changed\0/real/f\0\0' }), 'n', '/f')).toEqual({
      path: '/real/f',
      backup: null,
      changed: true,
    });
    expect(parseWriteResult(result({ stdout: 'unchanged\0/real/f\0' }), 'n', '/f')).toEqual({
      path: '/real/f',
      backup: null,
      changed: false,
    });
  });

  it('turns failures into OperationErrors naming the stage', () => {
    const fail = (r: ExecResult) => {
      try {
        parseWriteResult(r, 'master-1 (10.0.0.1:22)', '/etc/x');
      } catch (err) {
        return err as OperationError;
      }
      throw new Error('expected a failure');
    };
    const exists = fail(
      result({
        exitCode: 1,
        stderr: 'dcfail-write: backup-exists: /bk/etc/x already exists; a backup is never overwritten\n',
      }),
    );
    expect(exists).toBeInstanceOf(OperationError);
    expect(exists).toMatchObject({ code: 'backup-exists', exitCode: 1 });
    expect(exists.message).toContain('master-1 (10.0.0.1:22): writing /etc/x failed (backup-exists)');
    const owner = fail(
      result({
        exitCode: 1,
        stderr:
          "chown: changing ownership of 'x': Operation not permitted\ndcfail-write: owner: cannot give x the owner of /etc/x\n",
      }),
    );
    expect(owner).toMatchObject({ code: 'remote-write' });
    expect(owner.details).toEqual(["chown: changing ownership of 'x': Operation not permitted"]);
    const sudo = fail(result({ exitCode: 1, stderr: 'sudo: a password is required\n' }));
    expect(sudo.message).toContain('sudo: a password is required');
    expect(fail(result({ exitCode: 0, stdout: 'garbage' })).code).toBe('remote-write');
    expect(fail(result({ exitCode: null, timedOut: true })).message).toContain('timed out');
  });
});

describe('reads', () => {
  it('quotes the path and tells absence from other failures', () => {
    expect(renderReadCommand("/a b/'c'", 100)).toBe(
      "LC_ALL=C; export LC_ALL; if [ -e '/a b/'\\''c'\\''' ] && [ ! -f '/a b/'\\''c'\\''' ]; then printf 'dcfail-read: not-regular: %s is not a regular file\\n' '/a b/'\\''c'\\''' >&2; exit 3; fi; exec head -c 101 -- '/a b/'\\''c'\\'''",
    );
    expect(
      isAbsentRead(result({ exitCode: 1, stderr: "head: cannot open '/x' for reading: No such file or directory\n" })),
    ).toBe(true);
    expect(isAbsentRead(result({ exitCode: 1, stderr: 'cat: /x: No such file or directory\n' }))).toBe(true);
    expect(isAbsentRead(result({ exitCode: 1, stderr: 'cat: /x: Permission denied\n' }))).toBe(false);
    expect(
      isAbsentRead(
        result({ exitCode: 1, stderr: 'sudo: a password is required\ncat: /x: No such file or directory\n' }),
      ),
    ).toBe(false);
    expect(isAbsentRead(result({ exitCode: 0 }))).toBe(false);
  });
});
