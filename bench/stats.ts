/** Medians with min and max beside them, and how they are printed. */

export interface Figure {
  median: number;
  min: number;
  max: number;
  n: number;
  samples: number[];
}

export function figure(samples: readonly number[]): Figure {
  const s = [...samples].sort((a, b) => a - b);
  const n = s.length;
  if (n === 0) return { median: NaN, min: NaN, max: NaN, n: 0, samples: [] };
  const median = n % 2 === 1 ? s[(n - 1) / 2]! : (s[n / 2 - 1]! + s[n / 2]!) / 2;
  return { median: round(median), min: round(s[0]!), max: round(s[n - 1]!), n, samples: samples.map(round) };
}

function round(x: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
}

/** `1234.5 ms` or `2.35 s`. */
export function ms(x: number): string {
  if (!Number.isFinite(x)) return '-';
  return x >= 10_000 ? `${(x / 1000).toFixed(1)} s` : x >= 1000 ? `${(x / 1000).toFixed(2)} s` : `${x.toFixed(0)} ms`;
}

export function fmtFigure(f: Figure | undefined): string {
  if (!f || f.n === 0) return '-';
  return `${ms(f.median)} (${ms(f.min)}..${ms(f.max)})`;
}

export function ratio(a: number, b: number): number {
  return b === 0 || !Number.isFinite(a) || !Number.isFinite(b) ? NaN : round(a / b, 2);
}
