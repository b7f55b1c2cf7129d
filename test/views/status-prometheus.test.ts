/**
 * `status --format prometheus` over hand-made reports, read back by Prometheus' own checker
 * (`promtool check metrics`, Debian's prometheus package) and by a parse of the samples here.
 */
import { describe, expect, it } from 'vitest';
import { escapeLabelValue, renderStatusPrometheus } from '../../src/views/status-prometheus.js';
import type { StatusResult } from '../../src/views/status.js';
import { hasPromtool, promtoolCheck, samples } from '../support/prometheus.js';
import { needs } from '../support/skips.js';

const split: StatusResult = {
  cluster: 'prod "eu" \\ west',
  observedAt: '2026-12-01T03:00:00.500Z',
  mode: 'split-brain-risk',
  hazards: [
    { code: 'split-brain', cluster: 'etcd', message: 'two leaders' },
    { code: 'dc-unreachable', message: 'x' },
    { code: 'dc-unreachable', message: 'y' },
  ],
  notes: [{ code: 'n', message: 'a note' }],
  nodes: [],
  clusters: [
    {
      cluster: 'etcd',
      members: ['a', 'b', 'c'],
      quorums: [
        { members: ['a'], leader: 'a' },
        { members: ['b', 'c'], leader: 'b' },
      ],
      positions: {},
    },
    { cluster: 'mesos', members: ['a', 'b', 'c'], quorums: [], positions: {} },
  ],
  dcs: { 'dc\nnew"line': { nodes: 2, sshReachable: 1 } },
  versions: {},
  returning: [],
  otherQuorumServices: [],
};

describe('status --format prometheus', () => {
  it('label values escape backslash, double quote and line feed', () => {
    expect(escapeLabelValue('a\\b"c\nd')).toBe('a\\\\b\\"c\\nd');
  });

  it('a split brain: the samples say what the report says', () => {
    const s = samples(renderStatusPrometheus(split, 5));
    const c = 'cluster="prod \\"eu\\" \\\\ west"';
    expect(s.get(`dcfail_status_exit_code{${c}}`)).toBe(5);
    expect(s.get(`dcfail_mode{${c},mode="split-brain-risk"}`)).toBe(1);
    expect(s.get(`dcfail_mode{${c},mode="normal"}`)).toBe(0);
    expect(s.get(`dcfail_observation_timestamp_seconds{${c}}`)).toBe(Date.parse(split.observedAt) / 1000);
    expect(s.get(`dcfail_cluster_quorums{${c},component="etcd"}`)).toBe(2);
    expect(s.get(`dcfail_cluster_quorum_present{${c},component="etcd"}`)).toBe(0);
    expect(s.get(`dcfail_cluster_leader_present{${c},component="etcd"}`)).toBe(2);
    expect(s.get(`dcfail_cluster_quorum_members{${c},component="etcd"}`)).toBe(2);
    expect(s.get(`dcfail_cluster_quorum_members{${c},component="mesos"}`)).toBe(0);
    expect(s.get(`dcfail_cluster_members{${c},component="mesos"}`)).toBe(3);
    expect(s.has(`dcfail_cluster_members{${c},component="exhibitor"}`)).toBe(false);
    expect(s.get(`dcfail_hazards{${c},kind="dc-unreachable"}`)).toBe(2);
    expect(s.get(`dcfail_hazards{${c},kind="split-brain"}`)).toBe(1);
    expect(s.get(`dcfail_hazards_found{${c}}`)).toBe(3);
    expect(s.get(`dcfail_dc_ssh_reachable{${c},dc="dc\\nnew\\"line"}`)).toBe(1);
  });

  it.runIf(needs(hasPromtool(), 'promtool is not installed (apt-get install prometheus)'))(
    'promtool accepts it, escapes included, and rejects a broken copy (the check can fail)',
    async () => {
      const text = renderStatusPrometheus(split, 5);
      expect(await promtoolCheck(text)).toEqual({ exitCode: 0, output: '' });
      const broken = text.replace('dc\\nnew', 'dc\nnew');
      expect((await promtoolCheck(broken)).exitCode).not.toBe(0);
    },
  );
});
