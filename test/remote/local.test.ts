/** LocalRemote: the same Remote contract on this machine (tests run as root). */
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { OperationError } from '../../src/errors.js';
import { LocalRemote } from '../../src/remote/local.js';

const dir = mkdtempSync(join(tmpdir(), 'dcfail-local-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const local = new LocalRemote();

function tempFilesIn(d: string): string[] {
  return readdirSync(d).filter((f) => f.includes('.dcfail-'));
}

describe('exec', () => {
  it('returns exit code, stdout and stderr in one shape', async () => {
    expect(await local.exec('echo out; echo err >&2; exit 4')).toMatchObject({
      exitCode: 4,
      signal: null,
      stdout: 'out\n',
      stderr: 'err\n',
      timedOut: false,
    });
    expect((await local.exec('cat', { stdin: "$(x) 'y'\n" })).stdout).toBe("$(x) 'y'\n");
    expect((await local.exec('cat; echo eof')).stdout).toBe('eof\n');
    expect((await local.exec('id -u', { sudo: true })).stdout).toBe('0\n');
  });

  it('times out a hung command and returns, even when its children hold the output open', async () => {
    const r = await local.exec('echo started; sleep 30; echo never', { timeoutMs: 200 });
    expect(r).toMatchObject({ timedOut: true, exitCode: null, stdout: 'started\n' });
    const viaSudo = await local.exec('sleep 30', { timeoutMs: 200, sudo: true });
    expect(viaSudo).toMatchObject({ timedOut: true });
  });
});

describe('files', () => {
  it('reads a file, or null when absent', async () => {
    writeFileSync(join(dir, 'r'), 'hi');
    expect(await local.readFile(join(dir, 'r'))).toBe('hi');
    expect(await local.readFile(join(dir, 'absent'))).toBeNull();
    expect(await local.readFile(join(dir, 'absent'), { sudo: true })).toBeNull();
    expect(await local.readFile(join(dir, 'r'), { sudo: true })).toBe('hi');
  });

  for (const sudo of [false, true]) {
    describe(sudo ? 'writes through sudo (the remote script)' : 'writes with node:fs', () => {
      const base = join(dir, sudo ? 'sudo' : 'fs');
      mkdirSync(base);

      it('edits through a symlink, keeps owner and mode, backs up, never overwrites a backup', async () => {
        mkdirSync(join(base, 'pkg'));
        const real = join(base, 'pkg', 'conf');
        writeFileSync(real, 'v1\n', { mode: 0o640 });
        symlinkSync('pkg/conf', join(base, 'link'));
        const backupDir = join(base, 'bk');

        const first = await local.writeFileAtomic(join(base, 'link'), 'v2\n', { backupDir, sudo });

        expect(first).toEqual({ path: real, backup: `${backupDir}${real}`, changed: true });
        expect(lstatSync(join(base, 'link')).isSymbolicLink()).toBe(true);
        expect(readlinkSync(join(base, 'link'))).toBe('pkg/conf');
        expect(readFileSync(real, 'utf8')).toBe('v2\n');
        expect(statSync(real).mode & 0o7777).toBe(0o640);
        expect(readFileSync(first.backup!, 'utf8')).toBe('v1\n');

        await expect(local.writeFileAtomic(join(base, 'link'), 'v3\n', { backupDir, sudo })).rejects.toMatchObject({
          code: 'backup-exists',
        });
        expect(readFileSync(first.backup!, 'utf8')).toBe('v1\n');
        expect(readFileSync(real, 'utf8')).toBe('v2\n');
        expect(tempFilesIn(join(base, 'pkg'))).toEqual([]);

        expect(await local.writeFileAtomic(join(base, 'link'), 'v2\n', { backupDir: join(base, 'bk2'), sudo })).toEqual(
          { path: real, backup: null, changed: false },
        );
        expect(existsSync(join(base, 'bk2'))).toBe(false);
      });

      it('creates a new file 0644, and fails cleanly when the directory is missing', async () => {
        const path = join(base, 'new');
        expect(await local.writeFileAtomic(path, 'n', { sudo })).toEqual({ path, backup: null, changed: true });
        expect(statSync(path).mode & 0o7777).toBe(0o644);
        const err = await local.writeFileAtomic(join(base, 'missing', 'f'), 'x', { sudo }).catch((e: unknown) => e);
        expect(err).toBeInstanceOf(OperationError);
        expect((err as OperationError).message).toContain('(resolve)');
      });

      it('writes through a dangling symlink to the file it names', async () => {
        symlinkSync('dangling-target', join(base, 'dangling'));
        const r = await local.writeFileAtomic(join(base, 'dangling'), 'd', { sudo });
        expect(r.path).toBe(join(base, 'dangling-target'));
        expect(lstatSync(join(base, 'dangling')).isSymbolicLink()).toBe(true);
        expect(readFileSync(join(base, 'dangling-target'), 'utf8')).toBe('d');
      });
    });
  }
});
