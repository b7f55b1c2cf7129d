/**
 * Re-planning from the observed state after an interrupted run: finished phases are skipped,
 * and a half-joined etcd member (added, started, not promoted) leaves before it joins afresh
 * (restarted without its data it would crash against the leader's view of it).
 */
import { describe, expect, it } from 'vitest';
import { parseTopology } from '../../src/topology/load.js';
import { offlineFacts, type ClusterFacts } from '../../src/plan/facts.js';
import { failedOverConfig, planFailover } from '../../src/plan/failover.js';
import { failedOverFacts, planFailback } from '../../src/plan/failback.js';
import { topologyFor } from '../model/topologies.js';

const t = parseTopology(topologyFor({ masters: 3, mastersInMain: 2, etcd: 3, etcdInMain: 2, colocated: true }));
const names = t.nodes.map((n) => n.name);
const [m1, m2, m3] = names as [string, string, string];
const peer = (n: string) => offlineFacts(t).nodes.find((x) => x.name === n)!.etcdPeerUrl;

/** Mid-failback: ZooKeeper and the first etcd member are back; m2 was added and started as a learner. */
function midFailback(): ClusterFacts {
  const f = failedOverFacts(offlineFacts(t), 'madrid');
  for (const n of f.nodes) {
    if (n.roles.includes('exhibitor')) {
      n.config.ensemble = f.original[n.name]!.ensemble!;
      n.config.masterCount = f.original[n.name]!.masterCount!;
    }
  }
  f.mode = 'online';
  f.live = {
    zkServing: [m1, m2, m3],
    mesosLeader: m3,
    etcd: {
      members: [
        { name: m3, peerUrl: peer(m3), learner: false, started: true },
        { name: m1, peerUrl: peer(m1), learner: false, started: true },
        { name: m2, peerUrl: peer(m2), learner: true, started: true },
      ],
    },
    active: {
      [m1]: { exhibitor: true, etcd: true, mesos: false },
      [m2]: { exhibitor: true, etcd: true, mesos: false },
      [m3]: { exhibitor: true, etcd: true, mesos: true },
    },
  };
  return f;
}

describe('re-planning after an interrupted failback', () => {
  it('skips ZooKeeper and the member that rejoined, and removes the half-joined learner before re-adding it', () => {
    const plan = planFailback(midFailback(), { returningDc: 'madrid' });
    const changes = plan.steps.filter((s) => s.action !== 'verify');
    expect(changes.some((s) => s.cluster === 'exhibitor')).toBe(false);
    expect(changes.filter((s) => s.cluster === 'etcd' && s.node === m1 && s.action !== 'edit-file')).toEqual([]);
    const etcdOps = changes
      .filter((s) => s.cluster === 'etcd' && s.action !== 'edit-file')
      .map((s) => `${s.action}@${s.node}`);
    expect(etcdOps).toEqual([
      `disable@${m2}`,
      `move-aside@${m2}`,
      `etcd-member-remove@${m3}`,
      `etcd-member-add@${m3}`,
      `start@${m2}`,
      `etcd-member-promote@${m3}`,
    ]);
  });

  it('a completed failback plans nothing but what still differs', () => {
    const f = midFailback();
    f.live!.etcd!.members[2] = { name: m2, peerUrl: peer(m2), learner: false, started: true };
    for (const n of f.nodes) Object.assign(n.config, f.original[n.name]);
    f.live!.active[m1]!.mesos = true;
    f.live!.active[m2]!.mesos = true;
    expect(planFailback(f, { returningDc: 'madrid' }).steps).toEqual([]);
  });
});

describe('re-planning after an interrupted failover', () => {
  it('5 masters: a forced etcd cluster is kept, the half-joined survivor leaves and joins afresh', () => {
    const t5 = parseTopology(topologyFor({ masters: 5, mastersInMain: 3, etcd: 5, etcdInMain: 3, colocated: true }));
    const f = offlineFacts(t5);
    const target = failedOverConfig(f, 'madrid');
    const [s1, s2] = f.nodes.filter((n) => n.dc === 'barcelona');
    for (const n of [s1!, s2!])
      Object.assign(n.config, {
        ...target[n.name],
        etcdInitialCluster: n.config.etcdInitialCluster,
        etcdInitialClusterState: n.config.etcdInitialClusterState,
      });
    f.mode = 'online';
    f.live = {
      zkServing: [s1!.name, s2!.name],
      mesosLeader: s1!.name,
      etcd: {
        members: [
          { name: s1!.name, peerUrl: s1!.etcdPeerUrl, learner: false, started: true },
          { name: s2!.name, peerUrl: s2!.etcdPeerUrl, learner: true, started: true },
        ],
      },
      active: {},
    };
    const plan = planFailover(f, { lostDc: 'madrid' });
    const ops = plan.steps
      .filter((s) => s.action !== 'verify' && s.action !== 'edit-file')
      .map((s) => `${s.action}@${s.node}`);
    expect(ops).toEqual([
      `stop@${s2!.name}`,
      `etcd-member-remove@${s1!.name}`,
      `move-aside@${s2!.name}`,
      `etcd-member-add@${s1!.name}`,
      `start@${s2!.name}`,
      `etcd-member-promote@${s1!.name}`,
    ]);
  });
});
