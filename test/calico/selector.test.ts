/** Calico selectors: what each form selects, and what is refused (untrusted text from etcd). */
import { describe, expect, it } from 'vitest';
import { matchesSelector, parseSelector } from '../../src/calico/selector.js';

const rr = { 'route-reflector': 'true', dc: 'madrid' };
const agent = { dc: 'barcelona', tier: 'public-agent' };
const bare = {};
const sel = (s: string) => [rr, agent, bare].map((l) => matchesSelector(parseSelector(s), l));

describe('Calico selectors', () => {
  it('each form selects the nodes Calico would', () => {
    expect(sel('all()')).toEqual([true, true, true]);
    expect(sel('')).toEqual([true, true, true]);
    expect(sel('has(route-reflector)')).toEqual([true, false, false]);
    expect(sel('!has(route-reflector)')).toEqual([false, true, true]);
    expect(sel("dc == 'madrid'")).toEqual([true, false, false]);
    expect(sel('dc != "madrid"')).toEqual([false, true, true]); // != also selects a node without the label
    expect(sel("dc in {'madrid', 'barcelona'}")).toEqual([true, true, false]);
    expect(sel("dc not in {'madrid'}")).toEqual([false, true, true]);
    expect(sel("tier contains 'public'")).toEqual([false, true, false]);
    expect(sel("tier starts with 'pub'")).toEqual([false, true, false]);
    expect(sel("tier ends with 'agent'")).toEqual([false, true, false]);
    expect(sel("has(route-reflector) && dc == 'madrid' || tier == 'public-agent'")).toEqual([true, true, false]);
    expect(sel("has(route-reflector) && (dc == 'barcelona' || has(tier))")).toEqual([false, false, false]);
    expect(sel("!(dc == 'madrid')")).toEqual([false, true, true]);
  });

  it('refuses what is not a selector, saying where', () => {
    expect(() => parseSelector("dc = 'madrid'")).toThrow(/unexpected '=' at 4/);
    expect(() => parseSelector("dc == 'madrid")).toThrow(/unterminated string at 7/);
    expect(() => parseSelector('has(dc')).toThrow(/expected '\)'/);
    expect(() => parseSelector("dc == 'a' extra")).toThrow(/expected an operator|unexpected text/);
    expect(() => parseSelector('x'.repeat(1025))).toThrow(/longer than 1024/);
    expect(() => parseSelector(`${'('.repeat(100)}all()${')'.repeat(100)}`)).toThrow(/nested deeper than 64/);
  });

  it('a long hostile selector is parsed in linear time', () => {
    const long = Array.from({ length: 80 }, (_, i) => `has(k${i})`).join(' || ');
    expect(long.length).toBeLessThanOrEqual(1024);
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) expect(matchesSelector(parseSelector(long), { k79: '' })).toBe(true);
    expect(matchesSelector(parseSelector(long), { k80: '' })).toBe(false);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});
