/**
 * The parse of a replica's summary as the node sends it (log-position.ts): only its own lines are
 * believed; anything else, a failed tool, a bad position or counts that contradict each other is an
 * unreadable replica with a printable, bounded reason. And the ranking of replicas.
 */
import { describe, expect, it } from 'vitest';
import { describeReading, mostAdvanced, parseLogReading } from '../../../src/components/mesos/log-position.js';

describe('a replica summary from a node', () => {
  it('reads a summary, an empty replica and an absent one', () => {
    expect(parseLogReading('dcfail-log rc=0 actions=4 end=18446744073709551615 learned=17 unlearned=1\n', 0)).toEqual({
      kind: 'read',
      actions: 4,
      end: '18446744073709551615',
      lastLearned: '17',
      unlearned: 1,
    });
    expect(parseLogReading('dcfail-log rc=0 actions=0 end= learned= unlearned=0\n', 0)).toEqual({
      kind: 'read',
      actions: 0,
      unlearned: 0,
    });
    expect(parseLogReading('dcfail-log absent\n', 0)).toEqual({ kind: 'absent' });
  });

  it("a failed tool is unreadable, with the tool's last line as the reason", () => {
    expect(
      parseLogReading(
        'dcfail-log rc=1 actions=0 end= learned= unlearned=0\ndcfail-log-error Failed to recover the log: IO error: lock /x/LOCK: Resource temporarily unavailable\n',
        0,
      ),
    ).toEqual({
      kind: 'unreadable',
      reason: 'Failed to recover the log: IO error: lock /x/LOCK: Resource temporarily unavailable',
    });
    expect(parseLogReading('dcfail-log rc=127 actions=0 end= learned= unlearned=0\n', 0)).toEqual({
      kind: 'unreadable',
      reason: 'mesos-log exited 127',
    });
    expect(parseLogReading('', null, 'ssh: timed out')).toEqual({
      kind: 'unreadable',
      reason: 'unexpected answer: ssh: timed out',
    });
  });

  it('believes nothing else: extra lines, bad numbers, contradictions, control characters', () => {
    const bad = [
      'dcfail-log rc=0 actions=2 end=5 learned=5 unlearned=0\nposition: 9\n',
      'dcfail-log rc=0 actions=2 end=5x learned=5 unlearned=0\n',
      'dcfail-log rc=0 actions=2 end=05 learned=5 unlearned=0\n',
      'dcfail-log rc=0 actions=2 end=123456789012345678901 learned=5 unlearned=0\n',
      'dcfail-log rc=0 actions=1 end=5 learned=5 unlearned=2\n',
      'dcfail-log rc=0 actions=0 end=5 learned= unlearned=0\n',
      'dcfail-log rc=0 actions=3 end= learned= unlearned=0\n',
      'something else\n',
    ];
    for (const b of bad) expect(parseLogReading(b, 0).kind, b).toBe('unreadable');
    const r = parseLogReading(
      `dcfail-log rc=1 actions=0 end= learned= unlearned=0\ndcfail-log-error \u001b]52;c;AAAA\u0007${'x'.repeat(500)}\n`,
      0,
    );
    expect(r.kind).toBe('unreadable');
    const reason = r.kind === 'unreadable' ? r.reason : '';
    expect([...reason].some((c) => c.charCodeAt(0) < 0x20)).toBe(false);
    expect(reason.length).toBeLessThanOrEqual(300);
  });

  it('ranks by the last learned position, then the fewer unlearned, then the given order; unread ones never win', () => {
    const read = (learned: string | undefined, unlearned: number) => ({
      kind: 'read' as const,
      actions: 1,
      end: '1',
      ...(learned ? { lastLearned: learned } : {}),
      unlearned,
    });
    expect(
      mostAdvanced([
        { item: 'a', reading: read('9', 0) },
        { item: 'b', reading: read('10', 3) },
      ]),
    ).toBe('b');
    expect(
      mostAdvanced([
        { item: 'a', reading: read('10', 1) },
        { item: 'b', reading: read('10', 0) },
      ]),
    ).toBe('b');
    expect(
      mostAdvanced([
        { item: 'a', reading: read('10', 0) },
        { item: 'b', reading: read('10', 0) },
      ]),
    ).toBe('a');
    // Positions compare as numbers, not strings, beyond 2^53.
    expect(
      mostAdvanced([
        { item: 'a', reading: read('9007199254740993', 0) },
        { item: 'b', reading: read('9007199254740992', 0) },
      ]),
    ).toBe('a');
    expect(
      mostAdvanced([
        { item: 'a', reading: { kind: 'unreadable', reason: 'x' } },
        { item: 'b', reading: read(undefined, 1) },
      ]),
    ).toBeUndefined();
    expect(describeReading(read('10', 2))).toBe('last learned position 10, end 1, 2 unlearned');
  });
});
