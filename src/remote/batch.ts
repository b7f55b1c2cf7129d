/**
 * Several reads and commands in one remote exec: one SSH channel, one `sudo`, one shell per node
 * instead of one each. Observing a master takes four file reads, three unit states and the
 * marker; as separate execs that was eight sudo sessions per node, which on a 20-node fan-out
 * cost more CPU than the SSH handshakes (bench/PERFORMANCE.md), and eight round trips across
 * a WAN. The items run side by side in the script; each keeps its own exit status, stdout and
 * stderr, so every answer means what it meant as an exec of its own.
 *
 * Pure: the script is a string built from quoted values, and its output is parsed here.
 */
import { InternalError } from '../errors.js';
import { quote } from './shell.js';
import { READ_MAX_BYTES, READ_TIMEOUT_MS, type ExecResult } from './types.js';
import { assertRemotePath, isAbsentRead, renderReadCommand } from './write-script.js';

/** `timeoutMs`: the item is killed after this long (its answer then has `timedOut`); the others go on. */
export type BatchItem = ({ kind: 'read'; path: string } | { kind: 'run'; command: string }) & { timeoutMs?: number };

export type BatchAnswer =
  { kind: 'read'; path: string; content: string | null; error?: string } | { kind: 'run'; result: ExecResult };

const TAG = 'dcfail-batch';

/**
 * The script: each item runs in the background with its output in a private temporary
 * directory; once all are done, one line per item: `dcfail-batch <i> <status> <stdout b64> <stderr b64>`.
 */
export function renderBatchScript(items: readonly BatchItem[]): string {
  if (items.length === 0) throw new InternalError('an empty batch');
  // `trap ... PIPE`: a caller that died leaves nobody reading, and SIGPIPE's default would skip the EXIT trap.
  const lines = ['t=$(mktemp -d) || exit 70', 'trap \'rm -rf "$t"\' EXIT', "trap 'exit 141' PIPE"];
  items.forEach((item, i) => {
    const out = `>"$t/o${i}" 2>"$t/e${i}"; echo $? >"$t/r${i}"`;
    if (item.timeoutMs !== undefined && !(Number.isFinite(item.timeoutMs) && item.timeoutMs > 0))
      throw new InternalError(`bad timeout ${item.timeoutMs}`);
    const limit = item.timeoutMs === undefined ? '' : `timeout -k 2 ${(item.timeoutMs / 1000).toFixed(3)}s `;
    switch (item.kind) {
      case 'read':
        assertRemotePath(item.path);
        // A regular file only, capped (renderReadCommand), under a deadline even when the item has none.
        lines.push(
          `{ ${limit || `timeout -k 2 ${(READ_TIMEOUT_MS / 1000).toFixed(3)}s `}sh -c ${quote(renderReadCommand(item.path, READ_MAX_BYTES))} </dev/null ${out}; } &`,
        );
        break;
      case 'run':
        lines.push(`{ ${limit}sh -c ${quote(item.command)} </dev/null ${out}; } &`);
        break;
      default: {
        const never: never = item;
        throw new InternalError(`unknown batch item ${JSON.stringify(never)}`);
      }
    }
  });
  lines.push('wait');
  // Builtins where they do: on a fan-out every process forked here is CPU on the node.
  items.forEach((_item, i) => {
    lines.push(
      `read r <"$t/r${i}"; printf '${TAG} ${i} %s ' "$r"; [ -s "$t/o${i}" ] && base64 -w0 <"$t/o${i}"; printf ' '; [ -s "$t/e${i}" ] && base64 -w0 <"$t/e${i}"; printf '\\n'`,
    );
  });
  return lines.join('\n');
}

/**
 * The answers, in the items' order. A batch that did not finish (timed out, killed, no shell)
 * answers every item with the batch's own failure: reads as errors, commands as that result.
 */
export function parseBatchOutput(items: readonly BatchItem[], batch: ExecResult): BatchAnswer[] {
  const found = new Map<number, { code: number; stdout: string; stderr: string }>();
  for (const line of batch.stdout.split('\n')) {
    const m = new RegExp(`^${TAG} (\\d+) (\\d+) ([A-Za-z0-9+/=]*) ([A-Za-z0-9+/=]*)$`).exec(line);
    if (!m) continue;
    found.set(Number(m[1]), {
      code: Number(m[2]),
      stdout: Buffer.from(m[3]!, 'base64').toString('utf8'),
      stderr: Buffer.from(m[4]!, 'base64').toString('utf8'),
    });
  }
  const whole = batch.timedOut ? 'timed out' : batch.stderr.trim() || `exit ${batch.exitCode ?? batch.signal}`;
  return items.map((item, i) => {
    const f = found.get(i);
    // timeout(1) exits 124 when it killed the item (137 when it had to use KILL).
    const timedOut = f !== undefined && item.timeoutMs !== undefined && (f.code === 124 || f.code === 137);
    const result: ExecResult = f
      ? {
          exitCode: timedOut ? null : f.code,
          signal: timedOut ? 'TERM' : null,
          stdout: f.stdout,
          stderr: timedOut ? `${f.stderr}timed out after ${item.timeoutMs} ms` : f.stderr,
          timedOut,
          durationMs: batch.durationMs,
        }
      : {
          exitCode: null,
          signal: batch.signal,
          stdout: '',
          stderr: whole,
          timedOut: batch.timedOut,
          durationMs: batch.durationMs,
        };
    if (item.kind === 'run') return { kind: 'run', result };
    if (f && result.exitCode === 0 && Buffer.byteLength(result.stdout, 'utf8') > READ_MAX_BYTES)
      return {
        kind: 'read',
        path: item.path,
        content: null,
        error: `cannot read ${item.path}: larger than ${READ_MAX_BYTES} bytes`,
      };
    if (f && result.exitCode === 0) return { kind: 'read', path: item.path, content: result.stdout };
    if (f && isAbsentRead(result)) return { kind: 'read', path: item.path, content: null };
    return {
      kind: 'read',
      path: item.path,
      content: null,
      error: `cannot read ${item.path}: ${result.stderr.trim() || `exit ${result.exitCode ?? result.signal}`}`,
    };
  });
}
