/**
 * The node-to-node copy of a replicated log against two real sshds: identical bytes, flat
 * memory in this process (which every byte crosses), both ends' digests compared, and a failing
 * end stopping the other. About 20 s here for the 512 MiB copy (2 cores), so it stays in the
 * default suite.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Transform } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperationError } from '../../src/errors.js';
import { streamTree } from '../../src/remote/stream-copy.js';
import type { Remote } from '../../src/remote/types.js';
import {
  makeLogTree,
  rssBytes,
  sampleRss,
  startCopyRig,
  treeDigest,
  type CopyRig,
} from '../support/stream-copy-rig.js';
import { needs } from '../support/skips.js';

const MiB = 1024 * 1024;
const canRun = needs(process.getuid?.() === 0 && existsSync('/usr/sbin/sshd'), 'stream copy: needs root and sshd');

let rig: CopyRig;
/** The source log: 512 MiB, far more than a buffered copy could hide under the memory bound. */
let from: string;

beforeAll(async () => {
  if (!canRun) return;
  rig = await startCopyRig(['127.0.31.1', '127.0.31.2'], 2222);
  from = join(rig.dir, 'a', 'replicated_log');
  makeLogTree(from, 512);
}, 120_000);

afterAll(async () => {
  await rig?.stop();
});

/** The destination, with every byte of its input stream passed through `tamper` first. */
function tampered(remote: Remote, tamper: Transform): Remote {
  return {
    node: remote.node,
    address: remote.address,
    exec: (command, opts = {}) =>
      remote.exec(command, opts.stdinFrom ? { ...opts, stdinFrom: opts.stdinFrom.pipe(tamper) } : opts),
    readFile: (p, o) => remote.readFile(p, o),
    writeFileAtomic: (p, c, o) => remote.writeFileAtomic(p, c, o),
    close: () => remote.close(),
  };
}

describe.runIf(canRun)('streamTree between two nodes over SSH', () => {
  it('copies 512 MiB byte for byte, digests agreeing on both ends, with this process flat in memory', async () => {
    const into = join(rig.dir, 'b', 'incoming');
    global.gc?.();
    const before = rssBytes();
    const sampler = sampleRss(20);
    const r = await streamTree(rig.src, from, rig.dst, into, { timeoutMs: 120_000 });
    const { peak, samples } = sampler.stop();
    expect(await treeDigest(into)).toEqual(await treeDigest(from));
    expect(r.bytes).toBeGreaterThan(512 * MiB);
    expect(r.sha256).toMatch(/^[0-9a-f]{64}$/);
    // A buffered copy holds the whole stream (512 MiB, more as base64) at once; streaming holds a
    // few SSH windows and whatever garbage the collector has not taken yet.
    expect(samples).toBeGreaterThan(10);
    expect(peak - before).toBeLessThan(128 * MiB);
    process.stderr.write(
      `stream copy 512 MiB: ${r.durationMs} ms, ${((r.bytes / MiB / r.durationMs) * 1000).toFixed(0)} MiB/s, RSS +${((peak - before) / MiB).toFixed(1)} MiB over ${samples} samples\n`,
    );
  }, 180_000);

  it('refuses a stream altered between the nodes: the digests differ', async () => {
    const into = join(rig.dir, 'b', 'tampered');
    let seen = 0;
    const flip = new Transform({
      transform(chunk: Buffer, _e, done) {
        // One bit of file content, well past the first tar header: tar still extracts it.
        const at = 4 * MiB - seen;
        if (at >= 0 && at < chunk.length) {
          chunk = Buffer.from(chunk);
          chunk[at] = chunk[at]! ^ 1;
        }
        seen += chunk.length;
        done(null, chunk);
      },
    });
    const err = await streamTree(rig.src, from, tampered(rig.dst, flip), into, { timeoutMs: 120_000 }).catch(
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(OperationError);
    expect((err as OperationError).code).toBe('copy-failed');
    expect((err as Error).message).toMatch(/digests differ/);
  }, 180_000);

  it("a receiver that fails ends the copy without waiting for the sender's timeout", async () => {
    // Its parent is a regular file: mkdir fails before a byte is read.
    const into = join(rig.dir, 'a', 'replicated_log', 'METADATA', 'incoming');
    const started = Date.now();
    const err = await streamTree(rig.src, from, rig.dst, into, { timeoutMs: 120_000 }).catch((e: unknown) => e);
    expect((err as OperationError).code).toBe('copy-failed');
    expect((err as Error).message).toMatch(/receiving/);
    expect(Date.now() - started).toBeLessThan(20_000);
  }, 60_000);

  it('a source that is missing fails the copy, naming the sending side', async () => {
    const err = await streamTree(rig.src, join(rig.dir, 'nothing-here'), rig.dst, join(rig.dir, 'b', 'x'), {
      timeoutMs: 60_000,
    }).catch((e: unknown) => e);
    expect((err as OperationError).code).toBe('copy-failed');
    expect((err as Error).message).toMatch(/node-a: sending .*nothing-here.*tar exited/s);
  }, 60_000);
});
