import { describe, expect, it } from 'vitest';
import { faultToleranceOf, holdsMajority, isEvenSplit, majorityOf } from '../../src/core/quorum.js';
import { assessFailover, topologyRefusals } from '../../src/core/safety.js';

describe('quorum arithmetic', () => {
  it('majority is floor(n/2)+1 and any two majorities of n intersect', () => {
    for (let n = 1; n <= 9; n += 1) {
      const q = majorityOf(n);
      expect(q).toBe(Math.floor(n / 2) + 1);
      expect(q + q).toBeGreaterThan(n);
      expect(faultToleranceOf(n)).toBe(n - q);
    }
    expect([1, 2, 3, 4, 5, 6, 7].map(majorityOf)).toEqual([1, 2, 2, 3, 3, 4, 4]);
    expect(() => majorityOf(-1)).toThrow(RangeError);
    expect(() => majorityOf(1.5)).toThrow(RangeError);
  });

  it('even splits and majorities', () => {
    expect(isEvenSplit(2, 2)).toBe(true);
    expect(isEvenSplit(2, 1)).toBe(false);
    expect(isEvenSplit(0, 0)).toBe(false);
    expect(holdsMajority(2, 3)).toBe(true);
    expect(holdsMajority(1, 3)).toBe(false);
    expect(holdsMajority(0, 0)).toBe(false);
  });
});

describe('the safety core', () => {
  const node = (name: string, dc: string, roles = ['mesos', 'exhibitor', 'etcd']) => ({ name, dc, roles });
  const input = (nodes: ReturnType<typeof node>[]) => ({ main: 'a', secondary: 'b', nodes });

  it('losing the main DC of 2+1 is a failover to one member per cluster, with warnings', () => {
    const v = assessFailover(input([node('1', 'a'), node('2', 'a'), node('3', 'b')]), 'a');
    expect(v.kind).toBe('failover');
    expect(v.splits.map((s) => s.survivors)).toEqual([['3'], ['3'], ['3']]);
    expect(v.warnings.map((w) => w.code)).toEqual([
      'forced-failover-data-loss',
      'no-redundancy',
      'no-redundancy',
      'no-redundancy',
    ]);
  });

  it('losing the secondary DC needs no action', () => {
    expect(assessFailover(input([node('1', 'a'), node('2', 'a'), node('3', 'b')]), 'b').kind).toBe('no-action');
  });

  it('refuses with a code per cluster: minority main, even split, no survivor', () => {
    const minority = assessFailover(input([node('1', 'a'), node('2', 'b'), node('3', 'b')]), 'a');
    expect(minority.kind === 'refused' && minority.refusals.map((r) => [r.code, r.cluster])).toEqual([
      ['main-not-majority', 'exhibitor'],
      ['main-not-majority', 'mesos'],
      ['main-not-majority', 'etcd'],
    ]);
    expect(topologyRefusals(input([node('1', 'a'), node('2', 'b')])).map((r) => r.code)).toEqual([
      'even-split',
      'even-split',
      'even-split',
    ]);
    const none = assessFailover(
      input([
        node('1', 'a', ['mesos', 'exhibitor']),
        node('2', 'a'),
        node('3', 'a', ['etcd']),
        node('4', 'b', ['mesos', 'exhibitor']),
      ]),
      'a',
    );
    expect(none.kind === 'refused' && none.refusals.map((r) => [r.code, r.cluster])).toEqual([['no-survivor', 'etcd']]);
  });
});
