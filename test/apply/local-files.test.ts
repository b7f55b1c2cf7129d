/** Local state files are replaced whole: the reader sees the old text or the new, never a part. */
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { existsSync, mkdtempSync } from 'node:fs';
import { mkdir, readdir, readFile, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileAtomic } from '../../src/apply/local-files.js';
import { needs } from '../support/skips.js';

describe('writeFileAtomic', () => {
  it('replaces the file, with the mode asked for, and leaves no temporary file beside it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dcfail-atomic-'));
    const path = join(dir, 'progress.json');
    await writeFile(path, 'old');
    await writeFileAtomic(path, '{"done":["a"]}');
    expect(await readFile(path, 'utf8')).toBe('{"done":["a"]}');
    expect((await stat(path)).mode & 0o777).toBe(0o600);
    await writeFileAtomic(join(dir, 'plan.json'), '{}', 0o644);
    expect((await stat(join(dir, 'plan.json'))).mode & 0o777).toBe(0o644 & ~process.umask());
    expect((await readdir(dir)).sort()).toEqual(['plan.json', 'progress.json']);
  });

  it('a write whose rename fails throws, leaves what was there, and no temporary file', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dcfail-atomic-'));
    // A non-empty directory in the way of the rename: the temporary file is written, the rename fails.
    await mkdir(join(dir, 'blocked'));
    await writeFile(join(dir, 'blocked', 'x'), 'kept');
    await expect(writeFileAtomic(join(dir, 'blocked'), 'new')).rejects.toThrow();
    expect(await readFile(join(dir, 'blocked', 'x'), 'utf8')).toBe('kept');
    expect(await readdir(dir)).toEqual(['blocked']);
  });

  it('parallel writes to one file leave one of the texts whole', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dcfail-atomic-'));
    const path = join(dir, 'p.json');
    const texts = Array.from({ length: 20 }, (_, i) =>
      JSON.stringify({ done: Array.from({ length: 200 + i }, (_, k) => `step-${k}`) }),
    );
    await Promise.all(texts.map((x) => writeFileAtomic(path, x)));
    expect(texts).toContain(await readFile(path, 'utf8'));
    expect(await readdir(dir)).toEqual(['p.json']);
  });
});

const BIN = 'dist/bin/dcfail.js';

describe.runIf(needs(existsSync(BIN), `apply progress: ${BIN} is not built (npm test builds it)`))(
  'dcfail apply with an unreadable progress record',
  () => {
    it('exit 2 naming the record and what to do, nothing run', async () => {
      const state = mkdtempSync(join(tmpdir(), 'dcfail-apply-state-'));
      const file = join(state, 'plan.json');
      const text = `${JSON.stringify({ format: 'dcfail-plan/1', createdAt: '2026-01-01T00:00:00Z', topology: 'x', fingerprint: 'sha256:0', basis: {}, plan: { runbook: 'failover', mode: 'online', to: 'barcelona', steps: [{ id: 'a' }] } })}\n`;
      await writeFile(file, text);
      await mkdir(join(state, 'applied'));
      const progress = join(state, 'applied', `${createHash('sha256').update(text).digest('hex').slice(0, 32)}.json`);
      await writeFile(progress, '{"done":["a"');
      const r = await execa('node', [BIN, 'apply', file, '-t', 'fixtures/topologies/example.yaml', '--yes', '--json'], {
        reject: false,
        env: { DCFAIL_STATE_DIR: state },
      });
      expect(r.exitCode).toBe(2);
      expect(JSON.parse(r.stdout)).toMatchObject({ error: { code: 'progress-invalid' } });
      expect(r.stdout).toContain(progress);
      expect(await readFile(progress, 'utf8')).toBe('{"done":["a"');
    });
  },
);
