/**
 * How far a stopped master's replica has got, read on its node with Mesos' own tool:
 * `mesos-log read --path=<replica>` (apache/mesos src/log/tool/read.cpp) prints every action of the
 * replica from its beginning to its end, each as `Action::PrintDebugString` after a line of dashes.
 * Only the top-level fields matter here (`position: N`, `learned: true`); a value's bytes are one
 * escaped, indented line. The tool opens the replica's LevelDB database, so it fails while the
 * master runs (LevelDB's LOCK: "Failed to recover the log: IO error: lock ..."); that is its answer
 * then, and the caller knows no position.
 *
 * The node summarises the listing itself (awk, one line), so what crosses the network is a few
 * bytes whatever the log's size. Pure: the command is a string of quoted values, the answer is
 * parsed strictly here.
 */
import { quote } from '../../remote/shell.js';

/** What a replica's listing says: positions as decimal strings (uint64 does not fit a number). */
export type LogReading =
  | {
      kind: 'read';
      /** How many actions the replica holds. */
      actions: number;
      /** Its last position (the log's end on this replica), if it holds any. */
      end?: string;
      /** The highest learned position, if any. */
      lastLearned?: string;
      /** How many of its positions are not learned (accepted, but not known to be chosen). */
      unlearned: number;
    }
  /** No replica there (no directory, or an empty one): the tool would create one, so it is not run. */
  | { kind: 'absent' }
  /** The tool failed (the master runs and holds the lock, the tool is missing, ...): why, one line. */
  | { kind: 'unreadable'; reason: string };

const TAG = 'dcfail-log';
const REASON_MAX = 300;

/**
 * The command: nothing is run on a missing or empty directory (LevelDB's create_if_missing would
 * make a replica there); else the tool's listing, stdout and stderr, goes through awk, which keeps
 * the counts and the last line that is not part of an action (the tool's error, if it failed).
 */
export function renderLogReadCommand(tool: string, path: string, timeoutMs: number): string {
  const secs = Math.max(1, Math.ceil(timeoutMs / 1000));
  const awk = [
    `/^dcfail-rc [0-9]+$/ { rc = $2; next }`,
    `/^position: [0-9]+$/ { if (n > 0 && !l) u++; n++; cur = $2; end = $2; l = 0; next }`,
    `/^learned: true$/ { l = 1; learned = cur; next }`,
    `/^(promised|performed|learned|type): / { next }`,
    `/^(nop|append|truncate) [{]$/ || /^[}]$/ || /^[ \\t]/ || /^-+$/ || /^$/ { next }`,
    `{ other = $0 }`,
    `END { if (n > 0 && !l) u++; printf "${TAG} rc=%s actions=%d end=%s learned=%s unlearned=%d\\n", rc, n, end, learned, u;`,
    ` if (other != "") printf "${TAG}-error %s\\n", substr(other, 1, ${REASON_MAX}) }`,
  ].join('\n');
  return [
    `p=${quote(path)}`,
    `if [ ! -d "$p" ] || [ -z "$(ls -A "$p" 2>/dev/null)" ]; then echo '${TAG} absent'; exit 0; fi`,
    `{ timeout -k 2 ${secs + 5} ${quote(tool)} read --path="$p" --timeout=${secs}secs 2>&1; echo "dcfail-rc $?"; } | awk ${quote(awk)}`,
  ].join('\n');
}

const SUMMARY = /^dcfail-log rc=(\d+) actions=(\d+) end=(\d*) learned=(\d*) unlearned=(\d+)$/;
const DECIMAL = /^(0|[1-9]\d{0,19})$/;

/** One line, printable, bounded: a reason that came from a node. */
// eslint-disable-next-line no-control-regex -- control characters are exactly what it drops
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/g;

function cleanReason(s: string): string {
  return s.replace(CONTROL, '?').trim().slice(0, REASON_MAX);
}

/** Parses the command's answer; anything else than its own lines is an unreadable replica. */
export function parseLogReading(stdout: string, exitCode: number | null, stderr = ''): LogReading {
  const lines = stdout.split('\n').filter((l) => l !== '');
  if (lines.length === 1 && lines[0] === `${TAG} absent`) return { kind: 'absent' };
  const m = lines.length >= 1 ? SUMMARY.exec(lines[0]!) : null;
  const error = lines.find((l) => l.startsWith(`${TAG}-error `))?.slice(TAG.length + 7);
  if (exitCode !== 0 || !m || lines.length > 2 || (lines.length === 2 && error === undefined)) {
    const why = error ?? (stderr.trim().split('\n').pop() || `exit ${exitCode ?? 'none'}`);
    return { kind: 'unreadable', reason: cleanReason(m ? why : `unexpected answer: ${why}`) };
  }
  const [, rc, actions, end, learned, unlearned] = m;
  if (rc !== '0') return { kind: 'unreadable', reason: cleanReason(error ?? `mesos-log exited ${rc}`) };
  for (const p of [end!, learned!])
    if (p !== '' && !DECIMAL.test(p)) return { kind: 'unreadable', reason: `bad position ${cleanReason(p)}` };
  const n = Number(actions);
  const u = Number(unlearned);
  if (!Number.isSafeInteger(n) || !Number.isSafeInteger(u) || u > n || n > 0 !== (end !== ''))
    return { kind: 'unreadable', reason: 'inconsistent summary' };
  return {
    kind: 'read',
    actions: n,
    ...(end !== '' ? { end } : {}),
    ...(learned !== '' ? { lastLearned: learned } : {}),
    unlearned: u,
  };
}

/** Words for a reading, in a plan's finding. */
export function describeReading(r: LogReading): string {
  switch (r.kind) {
    case 'absent':
      return 'no replica';
    case 'unreadable':
      return `unreadable (${r.reason})`;
    case 'read':
      return r.actions === 0
        ? 'an empty replica'
        : `last learned position ${r.lastLearned ?? 'none'}, end ${r.end}${r.unlearned > 0 ? `, ${r.unlearned} unlearned` : ''}`;
  }
}

/**
 * The most advanced of several replicas of one log, by what they hold: the highest learned
 * position first; then the fewer unlearned positions (Mesos copies from the leader's host because
 * an unlearned entry, copied, may assemble a false quorum: docs/replicated-log-internals.md); then
 * the given order. Only replicas that were read and hold a learned position are candidates.
 */
export function mostAdvanced<T>(candidates: readonly { item: T; reading: LogReading }[]): T | undefined {
  let best: { item: T; learned: bigint; unlearned: number } | undefined;
  for (const c of candidates) {
    if (c.reading.kind !== 'read' || c.reading.lastLearned === undefined) continue;
    const learned = BigInt(c.reading.lastLearned);
    const unlearned = c.reading.unlearned;
    if (!best || learned > best.learned || (learned === best.learned && unlearned < best.unlearned))
      best = { item: c.item, learned, unlearned };
  }
  return best?.item;
}
