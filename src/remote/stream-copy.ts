/**
 * A directory copied from one node to another, streamed through this process: the source node's
 * `tar` over its SSH channel, piped with back-pressure into the destination node's `tar` over
 * its own. Nothing is held whole here, so memory stays flat whatever the size. Integrity: the
 * source hashes the stream it sends, the destination the stream it receives, and this process the
 * bytes that pass through it; all three SHA-256 digests and the byte count must agree, else the
 * copy fails and the destination's previous content is left in place.
 */
import { createHash } from 'node:crypto';
import { Transform } from 'node:stream';
import { OperationError } from '../errors.js';
import { quote } from './shell.js';
import type { ExecResult, Remote } from './types.js';

export interface StreamCopyOptions {
  /** Each side's command is killed after this long. */
  readonly timeoutMs: number;
  /** Run as root through `sudo -n` on both nodes (default: each node's `ssh.sudo`). */
  readonly sudo?: boolean;
}

export interface StreamCopyResult {
  /** Bytes of the tar stream that crossed. */
  readonly bytes: number;
  /** The SHA-256 of that stream, the same on both nodes and here. */
  readonly sha256: string;
  readonly durationMs: number;
}

const DIGEST_LINE = /^dcfail-sha256 ([0-9a-f]{64})$/m;

/**
 * What both sides run after their own checks (under `set -e`): a private directory holding a FIFO that `sha256sum`
 * reads in the background while `tee` feeds it the stream (POSIX sh has no pipefail, so each
 * stage records its own failure in a file).
 */
const PROLOGUE = [
  `d=$(mktemp -d)`,
  `trap 'rm -rf "$d"' EXIT`,
  // A caller that died leaves nobody reading: SIGPIPE's default would skip the EXIT trap.
  `trap 'exit 141' PIPE`,
  `mkfifo "$d/f"`,
  `sha256sum < "$d/f" > "$d/sum" &`,
  `h=$!`,
];
const EPILOGUE = [
  `wait "$h"`,
  `if [ -e "$d/fail" ]; then cat "$d/fail" >&2; exit 1; fi`,
  `printf 'dcfail-sha256 %s\\n' "$(cut -d' ' -f1 "$d/sum")" >&2`,
];

/** Sends the tree under `path` as a tar stream on stdout; its digest on stderr. */
function renderSendScript(path: string): string {
  return [
    `set -e`,
    ...PROLOGUE,
    `{ tar -C ${quote(path)} -cf - . || echo "tar exited $?" > "$d/fail"; } | tee "$d/f"`,
    ...EPILOGUE,
  ].join('\n');
}

/**
 * Receives a tar stream on stdin into `incoming` (created fresh, private), its digest on stderr.
 * The archive's owners and modes are the other node's to claim: nothing is taken from it but the
 * files' content and their timestamps.
 */
function renderReceiveScript(incoming: string): string {
  return [
    `set -e`,
    `rm -rf -- ${quote(incoming)}`,
    `(umask 077 && mkdir -p -- ${quote(incoming)})`,
    ...PROLOGUE,
    `tee "$d/f" | { tar -C ${quote(incoming)} --no-same-owner --no-same-permissions -xf - || echo "tar exited $?" > "$d/fail"; }`,
    ...EPILOGUE,
  ].join('\n');
}

function digestOf(r: ExecResult, who: string): string {
  const m = DIGEST_LINE.exec(r.stderr);
  if (r.exitCode !== 0 || !m)
    throw new OperationError(
      'copy-failed',
      `${who}: ${r.timedOut ? 'timed out' : `exit ${r.exitCode ?? r.signal}`}: ${r.stderr.replace(DIGEST_LINE, '').trim().slice(0, 2000)}`,
    );
  return m[1]!;
}

/**
 * Streams `srcPath` on `src` into `incoming` on `dst` (which it replaces). Throws
 * OperationError `copy-failed` when either side fails or the digests differ; `incoming` may then
 * hold a partial copy, which the caller must not use.
 */
export async function streamTree(
  src: Remote,
  srcPath: string,
  dst: Remote,
  incoming: string,
  opts: StreamCopyOptions,
): Promise<StreamCopyResult> {
  const started = performance.now();
  const hash = createHash('sha256');
  let bytes = 0;
  const through = new Transform({
    transform(chunk: Buffer, _enc, done) {
      hash.update(chunk);
      bytes += chunk.length;
      done(null, chunk);
    },
  });
  // Either side failing stops the other: a sender blocked on a dead receiver would wait for its timeout.
  // The side that failed first is the cause; the other one's failure is the stop.
  const stop = new AbortController();
  let firstFailed: 'sender' | 'receiver' | undefined;
  // Stopped: what still comes from the sender is dropped, so that a sender blocked on a full pipe
  // can see its end (its channel closed, its command killed) instead of waiting for room.
  stop.signal.addEventListener('abort', () => {
    through.unpipe();
    through.resume();
  });
  const side = (who: 'sender' | 'receiver', p: Promise<ExecResult>) =>
    p.then(
      (r) => {
        if (r.exitCode !== 0) {
          firstFailed ??= who;

          stop.abort();
        }
        return r;
      },
      (err: unknown) => {
        firstFailed ??= who;
        stop.abort();
        throw err;
      },
    );
  const common = {
    timeoutMs: opts.timeoutMs,
    signal: stop.signal,
    ...(opts.sudo !== undefined ? { sudo: opts.sudo } : {}),
  };
  const [sent, received] = await Promise.all([
    side('sender', src.exec(renderSendScript(srcPath), { ...common, stdoutTo: through })),
    side('receiver', dst.exec(renderReceiveScript(incoming), { ...common, stdinFrom: through })),
  ]);
  const sending = () => digestOf(sent, `${src.node}: sending ${srcPath}`);
  const receiving = () => digestOf(received, `${dst.node}: receiving into ${incoming}`);
  if (firstFailed === 'receiver') receiving();
  const sentDigest = sending();
  const receivedDigest = receiving();
  const passed = hash.digest('hex');
  if (sentDigest !== receivedDigest || sentDigest !== passed)
    throw new OperationError(
      'copy-failed',
      `${src.node}:${srcPath} -> ${dst.node}:${incoming}: the stream's digests differ (sent ${sentDigest}, passed ${passed}, received ${receivedDigest})`,
    );
  return { bytes, sha256: passed, durationMs: Math.round(performance.now() - started) };
}
