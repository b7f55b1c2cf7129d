/** The frames of `status --watch` over hand-made reports: what is marked as changed, and the words for it. */
import { describe, expect, it } from 'vitest';
import { statusChanges, watchFrame, watchFrameText, type Observed } from '../../src/views/status-watch.js';
import type { StatusResult } from '../../src/views/status.js';

function report(over: Partial<StatusResult> = {}): StatusResult {
  return {
    cluster: 'prod',
    observedAt: '2026-12-01T03:00:00.000Z',
    mode: 'normal',
    hazards: [],
    notes: [],
    nodes: [],
    clusters: [
      {
        cluster: 'etcd',
        members: ['m1', 'm2', 'm3'],
        quorums: [{ members: ['m1', 'm2', 'm3'], leader: 'm1' }],
        positions: {},
      },
    ],
    dcs: { madrid: { nodes: 2, sshReachable: 2 }, barcelona: { nodes: 1, sshReachable: 1 } },
    versions: {},
    returning: [],
    otherQuorumServices: [],
    ...over,
  };
}

const normal: Observed = { report: report(), exitCode: 0 };
const lost: Observed = {
  report: report({
    observedAt: '2026-12-01T03:00:05.000Z',
    clusters: [{ cluster: 'etcd', members: ['m1', 'm2', 'm3'], quorums: [], positions: {} }],
    dcs: { madrid: { nodes: 2, sshReachable: 0 }, barcelona: { nodes: 1, sshReachable: 1 } },
    hazards: [{ code: 'no-quorum', cluster: 'etcd', message: 'etcd has no quorum' }],
  }),
  exitCode: 5,
};

describe('status --watch frames', () => {
  it('the first frame marks nothing and says nothing about changes', () => {
    const lines = watchFrame(undefined, normal, { count: 1, intervalMs: 5000 });
    expect(lines.filter((l) => l.changed)).toEqual([]);
    expect(lines[0]!.text).toMatch(/^-- observation 1 at 2026-12-01T03:00:00.000Z, every 5s .*exit code 0$/);
    expect(lines.some((l) => /changed since|no change/.test(l.text))).toBe(false);
  });

  it('the same state again: only the time moved, nothing marked', () => {
    const again: Observed = { report: report({ observedAt: '2026-12-01T03:00:05.000Z' }), exitCode: 0 };
    const lines = watchFrame(normal, again, { count: 2, intervalMs: 5000 });
    expect(lines.filter((l) => l.changed)).toEqual([]);
    expect(lines.map((l) => l.text)).toContain('no change since the previous observation');
  });

  it('a lost quorum: the words say what changed, and exactly the differing lines are marked', () => {
    expect(statusChanges(normal, lost)).toEqual([
      'exit code 0 -> 5',
      'etcd: {m1, m2, m3} leader m1 -> NO QUORUM',
      'madrid: 2 -> 0 of 2 nodes answer SSH',
      '+ hazard [no-quorum:etcd] etcd has no quorum',
    ]);
    const marked = watchFrame(normal, lost, { count: 2, intervalMs: 5000 })
      .filter((l) => l.changed)
      .map((l) => l.text.trim());
    // The changes in words, then the report's lines that are new: the etcd row and the hazard section.
    expect(marked).toEqual([
      'exit code 0 -> 5',
      'etcd: {m1, m2, m3} leader m1 -> NO QUORUM',
      'madrid: 2 -> 0 of 2 nodes answer SSH',
      '+ hazard [no-quorum:etcd] etcd has no quorum',
      'etcd           NO QUORUM',
      'HAZARDS:',
      '[no-quorum] etcd has no quorum',
    ]);
    // And back: the hazard is said to be cleared; a mode change marks the report's first line.
    const back: Observed = { report: report({ mode: 'failed-over' }), exitCode: 0 };
    expect(statusChanges(lost, back)).toContain('- hazard cleared [no-quorum:etcd] etcd has no quorum');
    const first = watchFrame(lost, back, { count: 3, intervalMs: 5000 }).find((l) => l.text.startsWith('prod: mode'));
    expect(first).toEqual({ text: expect.stringMatching(/^prod: mode FAILED-OVER/), changed: true });
  });

  it('as plain text, marked lines carry a star in the gutter and the others two spaces', () => {
    const text = watchFrameText(watchFrame(normal, lost, { count: 2, intervalMs: 1000 }));
    expect(text).toMatch(/^\* {3}exit code 0 -> 5$/m);
    expect(text).toMatch(/^ {2}-- observation 2 /m);
    expect(text).toMatch(/^\* etcd {11}NO QUORUM$/m);
  });
});
