/**
 * The batch script, run by a real shell on this machine: each item answers as it would have
 * as an exec of its own (content, absent, unreadable; exit status, output, timeout).
 */
import { execa } from 'execa';
import { mkdtempSync } from 'node:fs';
import { chmod, mkdir, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseBatchOutput, renderBatchScript, type BatchItem } from '../../src/remote/batch.js';
import type { ExecResult } from '../../src/remote/types.js';
import { needs } from '../support/skips.js';

async function runBatch(items: BatchItem[], timeoutMs?: number): Promise<ExecResult> {
  const r = await execa('sh', ['-c', renderBatchScript(items)], {
    reject: false,
    ...(timeoutMs ? { timeout: timeoutMs } : {}),
  });
  return {
    exitCode: r.exitCode ?? null,
    signal: r.signal ? r.signal.replace(/^SIG/, '') : null,
    stdout: String(r.stdout),
    stderr: String(r.stderr),
    timedOut: Boolean(r.timedOut),
    durationMs: r.durationMs,
  };
}

describe('renderBatchScript + parseBatchOutput', () => {
  it('reads, absences, exit statuses and awkward content come back item by item', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'dcfail-batch-'));
    const awkward =
      'MESOS_QUORUM=2\ndcfail-batch 0 0 AAAA AAAA\n\'quotes\' "and" $(not run) `nor this`\n\n\u00e9\u00e8 trailing\n\n';
    await writeFile(join(dir, 'env'), awkward);
    await writeFile(join(dir, 'empty'), '');
    await mkdir(join(dir, 'a-dir'));
    const items: BatchItem[] = [
      { kind: 'read', path: join(dir, 'env') },
      { kind: 'read', path: join(dir, 'missing') },
      { kind: 'read', path: join(dir, 'a-dir') },
      { kind: 'read', path: join(dir, 'empty') },
      { kind: 'run', command: 'echo out; echo err >&2; exit 3' },
      { kind: 'run', command: 'printf \'%s\' "$0" | wc -c' },
    ];
    const answers = parseBatchOutput(items, await runBatch(items));
    expect(answers[0]).toEqual({ kind: 'read', path: join(dir, 'env'), content: awkward });
    expect(answers[1]).toEqual({ kind: 'read', path: join(dir, 'missing'), content: null });
    expect(answers[2]).toMatchObject({
      kind: 'read',
      content: null,
      error: expect.stringMatching(/cannot read .*a-dir: cat: .*Is a directory/),
    });
    expect(answers[3]).toEqual({ kind: 'read', path: join(dir, 'empty'), content: '' });
    expect(answers[4]).toMatchObject({
      kind: 'run',
      result: { exitCode: 3, stdout: 'out\n', stderr: 'err\n', timedOut: false },
    });
    expect(answers[5]).toMatchObject({ kind: 'run', result: { exitCode: 0 } });
  });

  it('items run side by side, and one past its own timeout does not take the others with it', async () => {
    const items: BatchItem[] = [
      { kind: 'run', command: 'sleep 30', timeoutMs: 300 },
      { kind: 'run', command: 'sleep 0.4; echo late-but-fine' },
      { kind: 'run', command: 'sleep 0.4; exit 1' },
    ];
    const t0 = Date.now();
    const answers = parseBatchOutput(items, await runBatch(items));
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(answers[0]).toMatchObject({ kind: 'run', result: { exitCode: null, timedOut: true } });
    expect(answers[1]).toMatchObject({ kind: 'run', result: { exitCode: 0, stdout: 'late-but-fine\n' } });
    expect(answers[2]).toMatchObject({ kind: 'run', result: { exitCode: 1, timedOut: false } });
  });

  it('a batch that never ran (no sudo) answers every item with its failure, command outcomes unknown', () => {
    const items: BatchItem[] = [
      { kind: 'read', path: '/etc/x' },
      { kind: 'run', command: 'true' },
    ];
    const failed: ExecResult = {
      exitCode: 1,
      signal: null,
      stdout: '',
      stderr: 'sudo: a password is required\n',
      timedOut: false,
      durationMs: 5,
    };
    const answers = parseBatchOutput(items, failed);
    expect(answers[0]).toEqual({
      kind: 'read',
      path: '/etc/x',
      content: null,
      error: 'cannot read /etc/x: sudo: a password is required',
    });
    expect(answers[1]).toMatchObject({
      kind: 'run',
      result: { exitCode: null, stderr: 'sudo: a password is required' },
    });
  });

  it('refuses relative paths and bad timeouts before anything runs', () => {
    expect(() => renderBatchScript([{ kind: 'read', path: 'etc/passwd' }])).toThrow(/absolute/);
    expect(() => renderBatchScript([{ kind: 'run', command: 'true', timeoutMs: -1 }])).toThrow(/bad timeout/);
    expect(() => renderBatchScript([])).toThrow(/empty batch/);
  });

  it.runIf(needs(process.getuid?.() === 0, 'batch: reading a file the shell user may not read needs root'))(
    'a file the shell user may not read is an error, not an absence (needs root to switch to nobody)',
    async () => {
      const dir = mkdtempSync(join(tmpdir(), 'dcfail-batch-'));
      const secret = join(dir, 'secret');
      await writeFile(secret, 'x');
      await chmod(secret, 0o600);
      await chmod(dir, 0o755);
      const items: BatchItem[] = [{ kind: 'read', path: secret }];
      const r = await execa('su', ['-s', '/bin/sh', 'nobody', '-c', renderBatchScript(items)], { reject: false });
      const answers = parseBatchOutput(items, {
        exitCode: r.exitCode ?? null,
        signal: null,
        stdout: String(r.stdout),
        stderr: String(r.stderr),
        timedOut: false,
        durationMs: 0,
      });
      expect(answers[0]).toMatchObject({ content: null, error: expect.stringMatching(/Permission denied/) });
    },
  );
});
