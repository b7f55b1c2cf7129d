/**
 * Quorum arithmetic. A quorum is a strict majority: any two quorums of the same membership share
 * a member, which is what makes a single leader (and no split brain) possible.
 */

/** The smallest strict majority of n members: floor(n/2)+1. */
export function majorityOf(n: number): number {
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`majorityOf: ${n} is not a member count`);
  return Math.floor(n / 2) + 1;
}

/** How many members may be lost while a quorum remains. */
export function faultToleranceOf(n: number): number {
  return n === 0 ? 0 : n - majorityOf(n);
}

/** True when neither side holds a strict majority of the whole. */
export function isEvenSplit(a: number, b: number): boolean {
  return a + b > 0 && a === b;
}

/** True when `part` members out of `total` can form a quorum on their own. */
export function holdsMajority(part: number, total: number): boolean {
  return total > 0 && part >= majorityOf(total);
}
