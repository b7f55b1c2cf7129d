/**
 * The Mesos verification's judgement, on what real Mesos reports (src/components/mesos/probe.ts):
 * pure, over recorded probe answers.
 */
import { describe, expect, it } from 'vitest';
import { judgeMesosCheck, type MesosRegistryRecord } from '../../../src/components/mesos/judge.js';
import type { MesosMasterStatus } from '../../../src/components/mesos/probe.js';

const follower: MesosMasterStatus = {
  url: 'http://10.0.0.2:5050',
  reachable: true,
  elected: false,
  replicaRecovered: true,
  registrarRecovered: false,
  quorum: 2,
};
/** A leader as real Mesos shows one that recovered: the size gauge, GET_HEALTH healthy, its registry. */
const leader = (over: Partial<MesosMasterStatus> = {}): MesosMasterStatus => ({
  url: 'http://10.0.0.1:5050',
  reachable: true,
  elected: true,
  replicaRecovered: true,
  registrarRecovered: true,
  registrySizeBytes: 512,
  ensembleSize: 3,
  quorum: 2,
  healthy: true,
  registry: { agents: ['A-S0', 'A-S1'], sizeBytes: 512 },
  ...over,
});
const down: MesosMasterStatus = {
  url: 'http://10.0.0.3:5050',
  reachable: false,
  error: '/metrics/snapshot: ECONNREFUSED',
};
const before: MesosRegistryRecord = {
  leader: 'm1',
  agents: ['A-S0', 'A-S1'],
  agentCount: 2,
  at: '2026-12-01T03:00:00Z',
};

const masters = (...s: MesosMasterStatus[]) => s.map((status, i) => ({ name: `m${i + 1}`, status }));

describe('judgeMesosCheck', () => {
  it('holds for one elected master whose registrar recovered, with the quorum of its /flags and every agent recorded before', () => {
    expect(judgeMesosCheck(masters(leader(), follower, down), { quorum: 2, before })).toEqual({
      kind: 'holds',
      leader: 'm1',
    });
  });

  it('an elected master whose own replica is VOTING (registrar/log/recovered = 1) but whose registrar did not fetch the registry does not pass', () => {
    const stuck = leader({
      registrarRecovered: false,
      healthy: false,
      health: 'GET_HEALTH answered 503 (Master has not finished recovery)',
      ensembleSize: 1,
    });
    delete stuck.registrySizeBytes;
    delete stuck.registry;
    const v = judgeMesosCheck(masters(stuck, down, down), { quorum: 2 });
    expect(v).toEqual({
      kind: 'not-yet',
      why: 'leader m1 elected but its registrar has not recovered: the replicated log has no quorum to fetch the registry from (it needs 2 replicas VOTING; 1 replica in its ZooKeeper group; registrar/registry_size_bytes absent)',
    });
  });

  it('the size gauge alone is not enough: the leader must answer GET_HEALTH healthy (its recovery stored its MasterInfo)', () => {
    const v = judgeMesosCheck(
      masters(leader({ healthy: false, health: 'GET_HEALTH answered 503 (Master has not finished recovery)' })),
      { quorum: 2 },
    );
    expect(v).toEqual({
      kind: 'not-yet',
      why: 'leader m1 fetched its registry but has not finished recovery (GET_HEALTH answered 503 (Master has not finished recovery))',
    });
  });

  it('the quorum is the one /flags reports, never assumed: unread is not a pass, another value is not a pass', () => {
    const unread = leader({ error: '/flags answered HTTP 500' });
    delete unread.quorum;
    expect(judgeMesosCheck(masters(unread), { quorum: 2 })).toEqual({
      kind: 'not-yet',
      why: 'leader m1: its quorum is unknown (/flags answered HTTP 500)',
    });
    expect(judgeMesosCheck(masters(leader({ quorum: 1 })), { quorum: 2 })).toEqual({
      kind: 'not-yet',
      why: 'leader m1 runs with quorum 1, want 2',
    });
  });

  it('a registry that lost an agent recorded before the run is older: not a pass (an auto-initialised empty registry among them)', () => {
    const empty = leader({ registry: { agents: [] } });
    expect(judgeMesosCheck(masters(empty), { quorum: 2, before })).toEqual({
      kind: 'not-yet',
      why: 'the registry of leader m1 is older than the one m1 held before the run (2026-12-01T03:00:00Z): 2 of the 2 agents it knew are missing (A-S0, A-S1); it holds 0',
    });
    // A newer one (an agent more) passes; without a record the registry is judged only as present.
    expect(
      judgeMesosCheck(masters(leader({ registry: { agents: ['A-S0', 'A-S1', 'A-S2'] } })), { quorum: 2, before }).kind,
    ).toBe('holds');
    expect(judgeMesosCheck(masters(empty), { quorum: 2 }).kind).toBe('holds');
  });

  it('a leader whose registry cannot be read is not a pass', () => {
    const unread = leader({ error: '/registrar(1)/registry answered HTTP 401 (Unauthorized)' });
    delete unread.registry;
    expect(judgeMesosCheck(masters(unread), { quorum: 2, before })).toEqual({
      kind: 'not-yet',
      why: 'leader m1: its registry is unread (/registrar(1)/registry answered HTTP 401 (Unauthorized))',
    });
  });

  it('no leader, or two, is not a pass; the masters are named with what each said', () => {
    const bad: MesosMasterStatus = {
      url: 'http://10.0.0.2:5050',
      reachable: true,
      error: '/metrics/snapshot: master/elected: expected 0 or 1',
    };
    expect(judgeMesosCheck(masters(follower, bad, down), { quorum: 2 })).toEqual({
      kind: 'not-yet',
      why: 'no Mesos master is elected (m1: follower, m2: /metrics/snapshot: master/elected: expected 0 or 1, m3: down (/metrics/snapshot: ECONNREFUSED))',
    });
    expect(judgeMesosCheck(masters(leader(), leader()), { quorum: 2 })).toEqual({
      kind: 'not-yet',
      why: '2 Mesos masters say they are elected (m1: elected, m2: elected)',
    });
  });
});
