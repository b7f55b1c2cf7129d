/**
 * The failover marker's Mesos records: a marker written by an older dcfail (a registry "version"
 * read from a metric Mesos does not have) stays readable and its number is dropped, never
 * trusted; the registry records that replace it are validated like every other field.
 */
import { describe, expect, it } from 'vitest';
import { readMarker } from '../../src/apply/marker.js';
import { RefusedError } from '../../src/errors.js';
import type { ClusterObservation, NodeObservation } from '../../src/observe/observe.js';
import { parseTopology } from '../../src/topology/load.js';

const t = parseTopology({
  cluster: 'prod',
  datacenters: { main: 'madrid', secondary: 'barcelona' },
  nodes: [
    { name: 'm1', dc: 'madrid', address: '10.1.0.1', roles: ['mesos', 'exhibitor', 'etcd'] },
    { name: 'm2', dc: 'madrid', address: '10.1.0.2', roles: ['mesos', 'exhibitor', 'etcd'] },
    { name: 'm3', dc: 'barcelona', address: '10.2.0.1', roles: ['mesos', 'exhibitor', 'etcd'] },
  ],
});

const withMarker = (marker: unknown): ClusterObservation => ({
  cluster: 'prod',
  observedAt: '2026-12-01T00:00:00.000Z',
  nodes: [{ name: 'm3', marker: JSON.stringify(marker) } as NodeObservation],
});
const base = {
  runId: 'r1',
  lostDc: 'madrid',
  at: '2026-12-01T00:00:00.000Z',
  operator: 'op',
  original: { m3: { masterCount: '3', mesosQuorum: '2' } },
};
const record = {
  leader: 'm3',
  agents: ['A-S0', 'A-S1'],
  agentCount: 2,
  sizeBytes: 812,
  at: '2026-12-01T00:00:00.000Z',
};

describe('readMarker: Mesos records', () => {
  it("reads an older marker's point.mesosRegistryVersion without trusting it: the number is dropped", () => {
    const m = readMarker(withMarker({ ...base, point: { m3: { zkZxid: '4294967300', mesosRegistryVersion: 7 } } }), t);
    expect(m?.point).toEqual({ m3: { zkZxid: '4294967300' } });
  });

  it('keeps the registry a survivor held as leader, and the one a failback recorded before its first change', () => {
    const m = readMarker(
      withMarker({
        ...base,
        point: { m3: { mesosRegistry: record } },
        failbackRunId: 'r2',
        failbackMesosRegistry: record,
      }),
      t,
    );
    expect(m?.point['m3']?.mesosRegistry).toEqual(record);
    expect(m?.failbackMesosRegistry).toEqual(record);
  });

  it('refuses a registry record of the wrong shape, naming the node and the field', () => {
    const bad = { ...record, agents: ['A-S0\nrm -rf /'] };
    let err: unknown;
    try {
      readMarker(withMarker({ ...base, point: { m3: { mesosRegistry: bad } } }), t);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(RefusedError);
    expect((err as RefusedError).code).toBe('marker-invalid');
    expect((err as Error).message).toContain('m3: the failover marker');
    expect((err as Error).message).toContain(
      'point.m3.mesosRegistry.agents[0]: expected one short line without control characters',
    );
    expect(() =>
      readMarker(withMarker({ ...base, point: {}, failbackMesosRegistry: { ...record, extra: 1 } }), t),
    ).toThrow(/failbackMesosRegistry/);
  });
});
