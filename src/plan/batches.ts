/**
 * How the executor walks a plan: steps sharing a group are one batch (independent nodes, run in
 * parallel); consecutive tracked steps form a section whose tracks run side by side. Pure, so
 * the model can check the interleavings the executor may produce.
 */
import type { Step } from './plan.js';

/** Consecutive steps with the same group form one batch. */
export function batchesOf(steps: readonly Step[]): Step[][] {
  const out: Step[][] = [];
  for (const s of steps) {
    const last = out.at(-1);
    if (last && s.group !== undefined && last[0]!.group === s.group) last.push(s);
    else out.push([s]);
  }
  return out;
}

/**
 * The plan cut into sections: a section of steps without a track runs batch after batch; a
 * section of consecutive tracked steps runs its tracks side by side (each track's batches in
 * order). Tracks touch disjoint clusters, so any interleaving of them is the same run.
 */
export function sectionsOf(steps: readonly Step[]): { tracks: Step[][][] }[] {
  const out: { tracks: Step[][][] }[] = [];
  let i = 0;
  while (i < steps.length) {
    if (steps[i]!.track === undefined) {
      let j = i;
      while (j < steps.length && steps[j]!.track === undefined) j += 1;
      out.push({ tracks: [batchesOf(steps.slice(i, j))] });
      i = j;
    } else {
      let j = i;
      while (j < steps.length && steps[j]!.track !== undefined) j += 1;
      const names = [...new Set(steps.slice(i, j).map((x) => x.track!))];
      out.push({ tracks: names.map((name) => batchesOf(steps.slice(i, j).filter((x) => x.track === name))) });
      i = j;
    }
  }
  return out;
}
