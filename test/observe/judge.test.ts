/**
 * The pure judge over hand-made observations (no servers): the mode from the nodes' files, the
 * live quorums from their probes, and the hazards. The configurations are written out by hand
 * here, not computed by the code under test.
 */
import { describe, expect, it } from 'vitest';
import { statusExitCode } from '../../src/commands/status.js';
import type { StatusResult } from '../../src/views/status.js';
import { configKind, isDetermined, judge } from '../../src/observe/judge.js';
import type { ClusterObservation, NodeObservation } from '../../src/observe/observe.js';
import type { NodeConfig } from '../../src/plan/facts.js';
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

const INITIAL = 'm1=http://10.1.0.1:2380,m2=http://10.1.0.2:2380,m3=http://10.2.0.1:2380';
const DECLARED: NodeConfig = {
  masterCount: '3',
  mesosQuorum: '2',
  ensemble: '1:10.1.0.1,2:10.1.0.2,3:10.2.0.1',
  etcdInitialCluster: INITIAL,
  etcdInitialClusterState: 'new',
};
const FAILED_OVER: NodeConfig = {
  masterCount: '1',
  mesosQuorum: '1',
  ensemble: '3:10.2.0.1',
  etcdInitialCluster: INITIAL,
  etcdInitialClusterState: 'new',
};

const CLUSTER_ID = '1111';
const ID: Record<string, string> = { m1: '101', m2: '102', m3: '103' };
const ADDR: Record<string, string> = { m1: '10.1.0.1', m2: '10.1.0.2', m3: '10.2.0.1' };
const DC: Record<string, string> = { m1: 'madrid', m2: 'madrid', m3: 'barcelona' };

type Live = {
  zk: 'leader' | 'follower' | 'standalone' | 'not-serving' | 'down';
  etcdLeader: string | null;
  mesos: 'leader' | 'follower' | 'down';
  zxid?: string;
  applied?: bigint;
  registry?: number;
};

/** A node that answers SSH, with these files and this live state. */
function up(name: string, config: NodeConfig, live: Live): NodeObservation {
  const address = ADDR[name]!;
  return {
    name,
    dc: DC[name]!,
    address,
    roles: ['mesos', 'exhibitor', 'etcd'],
    ssh: { ok: true },
    ports: {
      ssh: 'open',
      exhibitor: live.zk === 'down' ? 'refused' : 'open',
      mesos: live.mesos === 'down' ? 'refused' : 'open',
      etcd: live.etcdLeader === null ? 'refused' : 'open',
    },
    config,
    fileErrors: [],
    units: {
      exhibitor: live.zk === 'down' ? 'inactive' : 'active',
      mesos: live.mesos === 'down' ? 'inactive' : 'active',
      etcd: live.etcdLeader === null ? 'inactive' : 'active',
    },
    ...(live.etcdLeader === null
      ? { etcd: { endpoint: `http://${address}:2379`, ok: false, error: 'ECONNREFUSED' } }
      : {
          etcd: {
            endpoint: `http://${address}:2379`,
            ok: true,
            memberId: ID[name]!,
            leader: live.etcdLeader,
            clusterId: CLUSTER_ID,
            appliedIndex: live.applied ?? 10n,
            raftIndex: live.applied ?? 10n,
            version: '3.4.23',
          },
        }),
    zk: {
      address,
      port: 2181,
      mode: live.zk,
      ...(live.zxid ? { zxid: live.zxid } : live.zk === 'down' ? {} : { zxid: '4294967300' }),
    },
    mesos:
      live.mesos === 'down'
        ? { url: `http://${address}:5050`, reachable: false, error: 'ECONNREFUSED' }
        : {
            url: `http://${address}:5050`,
            reachable: true,
            elected: live.mesos === 'leader',
            replicaRecovered: true,
            registrarRecovered: live.mesos === 'leader',
            quorum: 2,
            ...(live.mesos === 'leader'
              ? { healthy: true, registry: { agents: Array.from({ length: live.registry ?? 7 }, (_, i) => `S${i}`) } }
              : {}),
          },
  };
}

/** A node that does not answer at all (its DC is lost). */
function lost(name: string): NodeObservation {
  const address = ADDR[name]!;
  return {
    name,
    dc: DC[name]!,
    address,
    roles: ['mesos', 'exhibitor', 'etcd'],
    ssh: { ok: false, error: 'timed out', code: 'timeout' },
    ports: { ssh: 'timeout', exhibitor: 'timeout', mesos: 'timeout', etcd: 'timeout' },
    config: null,
    fileErrors: [],
    units: {},
    etcd: { endpoint: `http://${address}:2379`, ok: false, error: 'deadline exceeded' },
    zk: { address, port: 2181, mode: 'down', error: 'timeout' },
    mesos: { url: `http://${address}:5050`, reachable: false, error: 'no answer within 2000 ms' },
  };
}

const obs = (...nodes: NodeObservation[]): ClusterObservation => ({
  cluster: 'prod',
  observedAt: '2026-01-01T00:00:00.000Z',
  nodes,
});
const exit = (o: ClusterObservation) =>
  statusExitCode({
    ...judge(t, o),
    otherQuorumServices: [],
    ...(isDetermined(o) ? {} : { undetermined: true }),
  } as StatusResult & { undetermined?: boolean });
const codes = (r: { hazards: { code: string; cluster?: string }[] }) =>
  r.hazards.map((h) => `${h.code}${h.cluster ? `:${h.cluster}` : ''}`);
const quorums = (r: ReturnType<typeof judge>, c: string) => r.clusters.find((x) => x.cluster === c)!.quorums;

/** The healthy cluster: m1 leads ZooKeeper, m2 Mesos, m3 etcd. */
const normal = () =>
  obs(
    up('m1', DECLARED, { zk: 'leader', etcdLeader: ID['m3']!, mesos: 'follower' }),
    up('m2', DECLARED, { zk: 'follower', etcdLeader: ID['m3']!, mesos: 'leader' }),
    up('m3', DECLARED, { zk: 'follower', etcdLeader: ID['m3']!, mesos: 'follower' }),
  );

/** Barcelona after a failover, madrid lost. */
const failedOver = () =>
  obs(lost('m1'), lost('m2'), up('m3', FAILED_OVER, { zk: 'standalone', etcdLeader: ID['m3']!, mesos: 'leader' }));

describe('judge: mode', () => {
  it('normal: every node holds the declared configuration and each cluster has one leader', () => {
    const r = judge(t, normal());
    expect(r.mode).toBe('normal');
    expect(r.hazards).toEqual([]);
    expect(r.returning).toEqual([]);
    expect(r.nodes.map((n) => n.configKind)).toEqual(['declared', 'declared', 'declared']);
    expect(quorums(r, 'exhibitor')).toEqual([{ members: ['m1', 'm2', 'm3'], leader: 'm1' }]);
    expect(quorums(r, 'mesos')).toEqual([{ members: ['m1', 'm2', 'm3'], leader: 'm2' }]);
    expect(quorums(r, 'etcd')).toEqual([{ members: ['m1', 'm2', 'm3'], leader: 'm3' }]);
    expect(r.dcs).toEqual({ madrid: { nodes: 2, sshReachable: 2 }, barcelona: { nodes: 1, sshReachable: 1 } });
    expect(exit(normal())).toBe(0);
  });

  it("positions: etcd applied index, ZooKeeper zxid, and the agents of the Mesos leader's registry", () => {
    const o = obs(
      up('m1', DECLARED, {
        zk: 'leader',
        etcdLeader: ID['m1']!,
        mesos: 'leader',
        applied: 42n,
        zxid: '8589934593',
        registry: 9,
      }),
      up('m2', DECLARED, {
        zk: 'follower',
        etcdLeader: ID['m1']!,
        mesos: 'follower',
        applied: 41n,
        zxid: '8589934592',
        registry: 9,
      }),
      up('m3', DECLARED, {
        zk: 'follower',
        etcdLeader: ID['m1']!,
        mesos: 'follower',
        applied: 40n,
        zxid: '8589934591',
        registry: 8,
      }),
    );
    const r = judge(t, o);
    expect(r.clusters.find((c) => c.cluster === 'etcd')!.positions).toEqual({ m1: '42', m2: '41', m3: '40' });
    expect(r.clusters.find((c) => c.cluster === 'exhibitor')!.positions).toEqual({
      m1: '8589934593',
      m2: '8589934592',
      m3: '8589934591',
    });
    expect(r.clusters.find((c) => c.cluster === 'mesos')!.positions).toEqual({ m1: '9' });
  });

  it('failed-over: the survivors hold the failed-over configuration and the lost DC stays down (exit 0)', () => {
    const r = judge(t, failedOver());
    expect(r.mode).toBe('failed-over');
    expect(r.nodes.map((n) => n.configKind)).toEqual(['unknown', 'unknown', 'failed-over']);
    expect(r.hazards).toEqual([]);
    expect(r.notes.map((n) => n.code)).toContain('dc-unreachable');
    expect(r.returning).toEqual([]);
    for (const c of ['exhibitor', 'mesos', 'etcd']) expect(quorums(r, c)).toEqual([{ members: ['m3'], leader: 'm3' }]);
    expect(exit(failedOver())).toBe(0);
  });

  it('failed-over, main back but quiet (no service runs): ready for failback, no hazard', () => {
    const o = obs(
      up('m1', DECLARED, { zk: 'down', etcdLeader: null, mesos: 'down' }),
      up('m2', DECLARED, { zk: 'down', etcdLeader: null, mesos: 'down' }),
      up('m3', FAILED_OVER, { zk: 'standalone', etcdLeader: ID['m3']!, mesos: 'leader' }),
    );
    const r = judge(t, o);
    expect(r.mode).toBe('failed-over');
    expect(r.hazards).toEqual([]);
    expect(r.returning).toEqual([]);
    expect(r.notes.map((n) => n.code)).toContain('returning-quiet');
    expect(exit(o)).toBe(0);
  });

  it('split-brain-risk: main came back with its old files and runs services', () => {
    const o = obs(
      up('m1', DECLARED, { zk: 'not-serving', etcdLeader: '0', mesos: 'follower' }),
      up('m2', DECLARED, { zk: 'not-serving', etcdLeader: '0', mesos: 'follower' }),
      up('m3', FAILED_OVER, { zk: 'standalone', etcdLeader: ID['m3']!, mesos: 'leader' }),
    );
    const r = judge(t, o);
    expect(r.mode).toBe('split-brain-risk');
    expect(r.returning).toEqual(['m1', 'm2']);
    expect(codes(r)).toEqual(['split-brain-risk']);
    expect(r.hazards[0]!.message).toContain('m1, m2 of madrid');
    expect(exit(o)).toBe(5);
  });

  it('mixed: a node whose files are neither declared nor failed over', () => {
    const o = normal();
    o.nodes[1] = { ...o.nodes[1]!, config: { ...DECLARED, mesosQuorum: '3' } };
    const r = judge(t, o);
    expect(r.mode).toBe('mixed');
    expect(r.notes).toContainEqual(
      expect.objectContaining({ code: 'config-disagrees', message: expect.stringContaining('m2: files hold') }),
    );
    expect(configKind(t, o.nodes[1]!)).toBe('other');
    // Issue 15 item 10: mixed is a hazard for monitoring (a run stopped halfway), even with one quorum per cluster.
    expect(codes(r)).toEqual(['half-done']);
    expect(exit(o)).toBe(5);
  });
});

describe('judge: hazards', () => {
  it('split-brain: two quorums of one cluster are named with their leaders, whatever the files say', () => {
    // Both sides still hold the declared files (no failover by dcfail), yet two etcd leaders
    // answer: a forced new cluster keeps its cluster id, so the split is seen by leader.
    const o = obs(
      up('m1', DECLARED, { zk: 'leader', etcdLeader: ID['m1']!, mesos: 'leader' }),
      up('m2', DECLARED, { zk: 'follower', etcdLeader: ID['m1']!, mesos: 'follower' }),
      up('m3', DECLARED, { zk: 'follower', etcdLeader: ID['m3']!, mesos: 'follower' }),
    );
    const r = judge(t, o);
    expect(r.mode).toBe('split-brain-risk');
    expect(codes(r)).toEqual(['split-brain:etcd']);
    expect(quorums(r, 'etcd')).toEqual([
      { members: ['m1', 'm2'], leader: 'm1' },
      { members: ['m3'], leader: 'm3' },
    ]);
    expect(r.hazards[0]!.message).toBe('etcd has 2 leaders: {m1, m2} led by m1 and {m3} led by m3');
    expect(exit(o)).toBe(5);
  });

  it('split-brain: two ZooKeeper ensembles serving, and two recovered Mesos leaders', () => {
    const o = obs(
      up('m1', DECLARED, { zk: 'leader', etcdLeader: null, mesos: 'leader' }),
      up('m2', DECLARED, { zk: 'follower', etcdLeader: null, mesos: 'follower' }),
      up('m3', FAILED_OVER, { zk: 'standalone', etcdLeader: ID['m3']!, mesos: 'leader' }),
    );
    const r = judge(t, o);
    expect(r.mode).toBe('split-brain-risk');
    expect(codes(r)).toEqual(['split-brain-risk', 'split-brain:exhibitor', 'split-brain:mesos']);
    expect(quorums(r, 'exhibitor')).toEqual([
      { members: ['m1', 'm2'], leader: 'm1' },
      { members: ['m3'], leader: 'm3' },
    ]);
    expect(quorums(r, 'mesos').map((q) => q.leader)).toEqual(['m1', 'm3']);
    expect(exit(o)).toBe(5);
  });

  it('no-quorum: the survivor of a lost main DC serves nothing; the unreachable DC is a hazard too', () => {
    const o = obs(
      lost('m1'),
      lost('m2'),
      up('m3', DECLARED, { zk: 'not-serving', etcdLeader: '0', mesos: 'follower' }),
    );
    const r = judge(t, o);
    expect(codes(r)).toEqual(['no-quorum:exhibitor', 'no-quorum:mesos', 'no-quorum:etcd', 'dc-unreachable']);
    expect(r.hazards.find((h) => h.code === 'dc-unreachable')!.message).toBe('madrid: none of its 2 nodes answers SSH');
    for (const c of ['exhibitor', 'mesos', 'etcd']) expect(quorums(r, c)).toEqual([]);
    expect(r.returning).toEqual([]);
    expect(exit(o)).toBe(5);
  });

  it('no-quorum: a Mesos master elected but not recovered serves nothing', () => {
    const o = normal();
    const { registry: _none, healthy: _no, ...elected } = o.nodes[1]!.mesos!;
    o.nodes[1] = { ...o.nodes[1]!, mesos: { ...elected, registrarRecovered: false, ensembleSize: 1 } };
    const r = judge(t, o);
    expect(quorums(r, 'mesos')).toEqual([{ members: ['m1', 'm2', 'm3'], leader: 'm2' }]);
    expect(codes(r)).toEqual(['no-quorum:mesos']);
    expect(r.hazards[0]!.message).toBe(
      'Mesos masters: leader m2 elected but its registrar has not recovered: the replicated log has no quorum to fetch the registry from (it needs 2 replicas VOTING; 1 replica in its ZooKeeper group; registrar/registry_size_bytes absent)',
    );
    expect(exit(o)).toBe(5);
  });

  it('an unreachable secondary DC while main keeps every quorum: dc-unreachable, and no fault tolerance left in any cluster', () => {
    const o = obs(
      up('m1', DECLARED, { zk: 'leader', etcdLeader: ID['m1']!, mesos: 'leader' }),
      up('m2', DECLARED, { zk: 'follower', etcdLeader: ID['m1']!, mesos: 'follower' }),
      lost('m3'),
    );
    const r = judge(t, o);
    expect(r.mode).toBe('normal');
    // Issue 15 item 10: 2 of 3 up is a quorum that cannot lose one more member.
    expect(codes(r)).toEqual([
      'no-fault-tolerance:exhibitor',
      'no-fault-tolerance:mesos',
      'no-fault-tolerance:etcd',
      'dc-unreachable',
    ]);
    expect(r.hazards[0]!.message).toBe(
      'ZooKeeper: 2 of 3 members up (m3 down): no fault tolerance left, losing one more stops it',
    );
    expect(r.hazards[3]!.message).toBe('barcelona: none of its 1 nodes answers SSH');
    expect(r.dcs).toEqual({ madrid: { nodes: 2, sshReachable: 2 }, barcelona: { nodes: 1, sshReachable: 0 } });
    expect(exit(o)).toBe(5);
  });

  it('force-new-cluster left behind: noted on the node whose etcd file still forces a new cluster', () => {
    const o = failedOver();
    o.nodes[2] = { ...o.nodes[2]!, config: { ...FAILED_OVER, etcdForceNewCluster: 'true' } };
    const r = judge(t, o);
    expect(r.notes).toContainEqual({
      code: 'force-new-cluster-left',
      cluster: 'etcd',
      message: 'm3: ETCD_FORCE_NEW_CLUSTER=true is still set; a restart would fork the cluster again',
    });
    // The file is neither declared nor the failed-over end state.
    expect(r.nodes[2]!.configKind).toBe('other');
    expect(r.mode).toBe('mixed');
  });

  it('no node answers: the state is undetermined (exit 1), not a hazard verdict', () => {
    const o = obs(lost('m1'), lost('m2'), lost('m3'));
    expect(isDetermined(o)).toBe(false);
    expect(exit(o)).toBe(1);
  });
});

describe('issue 15: pure judgements behind the bad-day fixes', () => {
  it('item 3: a serving node whose files could not be read (sudo) joins the one known ensemble; status is undetermined, not split brain', () => {
    const o = obs(
      up('m1', DECLARED, { zk: 'leader', etcdLeader: ID['m1']!, mesos: 'leader' }),
      {
        ...up('m2', DECLARED, { zk: 'follower', etcdLeader: ID['m1']!, mesos: 'follower' }),
        config: null,
        fileErrors: ['files unreadable: sudo: a password is required'],
      },
      up('m3', DECLARED, { zk: 'follower', etcdLeader: ID['m1']!, mesos: 'follower' }),
    );
    const r = judge(t, o);
    expect(r.mode).toBe('normal');
    expect(quorums(r, 'exhibitor')).toEqual([{ members: ['m1', 'm3', 'm2'], leader: 'm1' }]);
    expect(r.notes).toContainEqual({
      code: 'files-unreadable',
      message: 'm2: files unreadable: sudo: a password is required: status undetermined',
    });
    expect(isDetermined(o)).toBe(false);
    expect(exit(o)).toBe(1);
  });

  it('item 10: a normal cluster at 2 of 3 has no fault tolerance left (hazard, exit 5); failed over, it is only a note', () => {
    const o = obs(
      up('m1', DECLARED, { zk: 'leader', etcdLeader: ID['m1']!, mesos: 'leader' }),
      up('m2', DECLARED, { zk: 'down', etcdLeader: null, mesos: 'down' }),
      up('m3', DECLARED, { zk: 'follower', etcdLeader: ID['m1']!, mesos: 'follower' }),
    );
    const r = judge(t, o);
    expect(r.mode).toBe('normal');
    expect(codes(r)).toEqual(['no-fault-tolerance:exhibitor', 'no-fault-tolerance:mesos', 'no-fault-tolerance:etcd']);
    expect(r.hazards[1]!.message).toBe(
      'Mesos masters: 2 of 3 members up (m2 down): no fault tolerance left, losing one more stops it',
    );
    expect(exit(o)).toBe(5);
  });
});
