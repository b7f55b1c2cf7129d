/** Issue 15: the pure parts of the bad-day fixes (items 1, 4 and 6), without a lab. */
import { describe, expect, it } from 'vitest';
import { parseDuration } from '../../src/commands/options.js';
import { zookeeperPointEpoch, zookeeperTopologyDisagreements } from '../../src/components/zookeeper/judge.js';
import type { ClusterObservation, NodeObservation } from '../../src/observe/observation.js';
import { parseTopology } from '../../src/topology/load.js';

const topo = (ids: number[]) =>
  parseTopology({
    cluster: 'prod',
    datacenters: { main: 'madrid', secondary: 'barcelona' },
    nodes: [
      { name: 'm1', dc: 'madrid', address: '10.1.0.1', roles: ['mesos', 'exhibitor', 'etcd'], zkId: ids[0] },
      { name: 'm2', dc: 'madrid', address: '10.1.0.2', roles: ['mesos', 'exhibitor', 'etcd'], zkId: ids[1] },
      { name: 'm3', dc: 'barcelona', address: '10.2.0.1', roles: ['mesos', 'exhibitor', 'etcd'], zkId: ids[2] },
    ],
  });

const node = (name: string, ensemble: string | null): NodeObservation => ({
  name,
  dc: name === 'm3' ? 'barcelona' : 'madrid',
  address: '',
  roles: ['mesos', 'exhibitor', 'etcd'],
  ssh: { ok: ensemble !== null },
  ports: {},
  config: ensemble === null ? null : { ensemble },
  fileErrors: [],
  units: {},
});
const obs = (...nodes: NodeObservation[]): ClusterObservation => ({ cluster: 'prod', observedAt: '', nodes });
const exhibitors = (ids: number[]) => topo(ids).nodes.filter((n) => n.roles.includes('exhibitor'));

describe('item 1: zookeeperTopologyDisagreements', () => {
  const files = '1:10.1.0.1,2:10.1.0.2,3:10.2.0.1';

  it('agrees: nothing to say', () => {
    expect(
      zookeeperTopologyDisagreements(exhibitors([1, 2, 3]), obs(node('m1', null), node('m3', files)), {
        failedOver: false,
      }),
    ).toEqual([]);
  });

  it('names every node whose id differs, lost-DC nodes included (read from the survivor)', () => {
    expect(
      zookeeperTopologyDisagreements(exhibitors([2, 1, 4]), obs(node('m1', null), node('m3', files)), {
        failedOver: false,
      }),
    ).toEqual([
      'm1: topology zkId 2, EXHIBITOR_STATICENSEMBLE on m3 says 1:10.1.0.1',
      'm2: topology zkId 1, EXHIBITOR_STATICENSEMBLE on m3 says 2:10.1.0.2',
      'm3: topology zkId 4, EXHIBITOR_STATICENSEMBLE on m3 says 3:10.2.0.1',
    ]);
  });

  it('a failed-over ensemble (survivors only) is compared entry by entry, not for completeness', () => {
    const o = obs(node('m3', '3:10.2.0.1'));
    expect(zookeeperTopologyDisagreements(exhibitors([1, 2, 3]), o, { failedOver: true })).toEqual([]);
    expect(zookeeperTopologyDisagreements(exhibitors([1, 2, 3]), o, { failedOver: false })).toHaveLength(2);
  });
});

describe('item 4: the failover point epoch', () => {
  it('is the newest of the zxids epochs and the accepted epochs on disk', () => {
    const zxidAtEpoch2 = ((2n << 32n) + 5n).toString();
    expect(zookeeperPointEpoch([{ zkZxid: zxidAtEpoch2 }])).toBe(2n);
    expect(zookeeperPointEpoch([{ zkZxid: zxidAtEpoch2, zkEpoch: '3' }])).toBe(3n);
    expect(zookeeperPointEpoch([])).toBeUndefined();
  });
});

describe('item 6: parseDuration', () => {
  const range = { minMs: 1000, maxMs: 3_600_000 };
  it.each([
    ['90s', 90_000],
    ['2m', 120_000],
    ['90000', 90_000],
    ['1500ms', 1500],
  ])('%s is %d ms', (raw, ms) => expect(parseDuration('--verify-timeout', raw, range)).toBe(ms));
  it.each(['1e3', '0', '-5', 'abc', '90 s', '90x', '1.5.2', '99999999999999999999', '2h', ''])(
    '%j is bad input naming the flag and the value',
    (raw) => {
      expect(() => parseDuration('--verify-timeout', raw, range)).toThrow(/--verify-timeout/);
      try {
        parseDuration('--verify-timeout', raw, range);
      } catch (err) {
        expect((err as { exitCode: number }).exitCode).toBe(2);
        expect((err as Error).message).toContain(JSON.stringify(raw));
      }
    },
  );
});
