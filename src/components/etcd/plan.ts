/**
 * etcd's part of the plans: pure. How a failover forces a new cluster on the freshest survivor
 * and adds the others back as learners; how a failback adds the returning members one at a
 * time and restores every env file. The runbooks (plan/failover.ts, plan/failback.ts) say when.
 */
import type { Finding } from '../../core/safety.js';
import { factsMembers, type ClusterFacts, type LiveFacts, type NodeConfig, type NodeFacts } from '../../plan/facts.js';
import type { StepList } from '../../plan/plan.js';
import { addEdits, addServiceOp, addVerify, byFreshness, editsToward } from '../../plan/steps.js';
import { renderInitialCluster } from './settings.js';

/** How far a member has got: its applied index. */
const etcdPosition = (n: NodeFacts): bigint | undefined =>
  n.etcdAppliedIndex === undefined ? undefined : BigInt(n.etcdAppliedIndex);

/**
 * The etcd settings of a survivor at the end of a failover: no force line; the members re-added
 * after the seed joined an existing cluster of the members before them.
 */
export function failedOverEtcdSettings(survivors: readonly NodeFacts[]): (n: NodeFacts, c: NodeConfig) => void {
  const etcd = byFreshness(survivors, etcdPosition);
  return (n, c) => {
    delete c.etcdForceNewCluster;
    const i = etcd.findIndex((e) => e.name === n.name);
    if (i > 0) {
      // Re-added survivors joined an existing cluster of the members before them.
      c.etcdInitialCluster = renderInitialCluster(
        etcd.slice(0, i + 1).map((e) => ({ name: e.etcdName, peerUrl: e.etcdPeerUrl })),
      );
      c.etcdInitialClusterState = 'existing';
    }
  };
}

/**
 * The cluster an earlier, interrupted failover forced, if the live membership is one: every
 * member listed is a survivor. Before the force, the membership still lists the lost DC's
 * members (a cluster without quorum still lists them), so it is not one.
 */
function forcedClusterOf(live: LiveFacts | undefined, survivors: readonly NodeFacts[]): LiveFacts['etcd'] {
  const membership = live?.etcd;
  if (!membership) return null;
  return membership.members.every((m) => survivors.some((n) => n.etcdPeerUrl === m.peerUrl)) ? membership : null;
}

/**
 * Failover: stop every survivor, force a new cluster on the freshest one, remove the force line,
 * then add the others back one at a time as learners with fresh data dirs. Online, a re-run
 * continues from the forced cluster it finds.
 */
export function planEtcdFailover(
  list: StepList,
  facts: ClusterFacts,
  survivors: readonly NodeFacts[],
  warnings: Finding[],
): void {
  const etcd = byFreshness(survivors, etcdPosition);
  const forced = forcedClusterOf(facts.live, etcd);
  const isVoter = (n: NodeFacts) =>
    forced?.members.some((m) => m.peerUrl === n.etcdPeerUrl && m.started && !m.learner) ?? false;
  const seed = forced ? etcd.find(isVoter) : etcd[0];
  if (seed) {
    const rest = etcd.filter((n) => n !== seed);
    if (!forced) {
      addServiceOp(
        list,
        'etcd',
        'stop',
        etcd,
        'etcd:stop',
        'every survivor stops before one is forced into a new cluster',
      );
      for (const n of etcd)
        addVerify(
          list,
          'etcd',
          n.name,
          { kind: 'stopped', unit: n.units.etcd },
          `${n.units.etcd} is stopped`,
          'etcd:stop:verify',
        );
      if (rest.length > 0 && facts.mode === 'online') {
        warnings.push({
          code: 'etcd-seed',
          cluster: 'etcd',
          message: `etcd seed: ${seed.name} (applied index ${seed.etcdAppliedIndex ?? '?'}); ${rest.map((r) => `${r.name} is ${seed.etcdAppliedIndex !== undefined && r.etcdAppliedIndex !== undefined ? seed.etcdAppliedIndex - r.etcdAppliedIndex : '?'} behind`).join(', ')}`,
        });
      }
      addEdits(
        list,
        editsToward(seed, { ...seed.config, etcdForceNewCluster: 'true' }, ['etcdForceNewCluster']),
        'etcd:force',
        'a one-member cluster that keeps its data',
      );
      addServiceOp(list, 'etcd', 'start', [seed], 'etcd:force:start', 'forced new cluster');
      addVerify(
        list,
        'etcd',
        seed.name,
        { kind: 'etcd', members: [seed.name], learners: [] },
        `etcd runs as one member on ${seed.name} and takes a test write`,
        'etcd:force:verify',
      );
    }
    addEdits(
      list,
      editsToward(seed, { ...seed.config, etcdForceNewCluster: undefined }, ['etcdForceNewCluster']),
      'etcd:unforce',
      'a later restart must not force again',
    );
    const members = forced ? etcd.filter(isVoter) : [seed];
    for (const r of rest) {
      if (isVoter(r)) continue;
      members.push(r);
      if (forced) {
        // Left half-joined by an interrupted run: start its join again from a stopped member.
        addServiceOp(
          list,
          'etcd',
          'stop',
          [r],
          `etcd:join:${r.name}:stop`,
          'a half-joined member starts its join again',
        );
        addVerify(
          list,
          'etcd',
          r.name,
          { kind: 'stopped', unit: r.units.etcd },
          `${r.units.etcd} is stopped`,
          `etcd:join:${r.name}:stop:verify`,
        );
      }
      const join: NodeConfig = {
        ...r.config,
        etcdInitialCluster: renderInitialCluster(members.map((m) => ({ name: m.etcdName, peerUrl: m.etcdPeerUrl }))),
        etcdInitialClusterState: 'existing',
      };
      delete join.etcdForceNewCluster;
      const listed = forced?.members.some((m) => m.peerUrl === r.etcdPeerUrl) ?? false;
      addEtcdJoin(list, seed, r, members, join, `etcd:join:${r.name}`, {
        enableFirst: false,
        dataMovedAside: false,
        removeFirst: listed,
      });
    }
  }
}

/** Failback: has this returning member rejoined already (a started voter beside the survivors)? */
export function etcdRejoined(facts: ClusterFacts, survivors: readonly NodeFacts[]): (n: NodeFacts) => boolean {
  const live = facts.live;
  return (n) =>
    live?.etcd !== undefined &&
    live.etcd !== null &&
    live.etcd.members.some((m) => m.peerUrl === n.etcdPeerUrl && m.started && !m.learner) &&
    survivors.some((s) => live.etcd!.members.some((m) => m.peerUrl === s.etcdPeerUrl));
}

/** Failback: the returning member's stale state, moved aside before it joins afresh. */
export function etcdStaleState(n: NodeFacts): { path: string; what: 'etcd-data'; why: string } {
  return { path: n.dirs.etcdData, what: 'etcd-data', why: 'a stale member fails with a cluster ID mismatch' };
}

/**
 * Failback: each returning member joins as a learner (its data moved aside, its hold lifted as it starts),
 * is promoted once caught up; then every etcd env file is restored as before the failover.
 */
export function planEtcdFailback(
  list: StepList,
  facts: ClusterFacts,
  survivors: readonly NodeFacts[],
  returning: readonly NodeFacts[],
  pending: readonly NodeFacts[],
  want: (n: NodeFacts) => NodeConfig,
): void {
  const etcdSurvivors = byFreshness(survivors, etcdPosition);
  const seed = etcdSurvivors[0];
  if (seed) {
    const members = [...etcdSurvivors, ...returning.filter((r) => !pending.includes(r))];
    for (const r of pending) {
      members.push(r);
      const join: NodeConfig = {
        ...r.config,
        etcdInitialCluster: members.map((m) => `${m.etcdName}=${m.etcdPeerUrl}`).join(','),
        etcdInitialClusterState: 'existing',
      };
      delete join.etcdForceNewCluster;
      const listed = facts.live?.etcd?.members.some((m) => m.peerUrl === r.etcdPeerUrl) ?? false;
      addEtcdJoin(list, seed, r, members, join, `etcd:grow:${r.name}`, {
        enableFirst: true,
        dataMovedAside: true,
        removeFirst: listed,
      });
    }
    const restore = factsMembers(facts, 'etcd').flatMap((n) =>
      editsToward(n, want(n), ['etcdInitialCluster', 'etcdInitialClusterState', 'etcdForceNewCluster']),
    );
    addEdits(
      list,
      restore,
      'etcd:restore',
      'as before the failover; etcd reads these settings only when its data dir is empty',
    );
  }
}

/**
 * One member joins a running etcd cluster: its stale data moved aside, added as a learner, its
 * env file naming the current members with state `existing`, started, caught up, promoted.
 */
function addEtcdJoin(
  list: StepList,
  via: NodeFacts,
  joiner: NodeFacts,
  membersAfter: readonly NodeFacts[],
  joinerConfig: NodeConfig,
  group: string,
  opts: { enableFirst: boolean; dataMovedAside: boolean; removeFirst?: boolean },
): void {
  const names = membersAfter.map((m) => m.name);
  const voters = names.filter((n) => n !== joiner.name);
  if (opts.removeFirst) {
    // An interrupted run left it added (and maybe started) but not promoted: its data is going,
    // and a member restarted without its data would crash the leader's view of it. It leaves first.
    list.add({
      id: `${group}:remove`,
      cluster: 'etcd',
      node: via.name,
      action: 'etcd-member-remove',
      member: joiner.etcdName,
      peerUrl: joiner.etcdPeerUrl,
      summary: `etcdctl member remove ${joiner.etcdName} (half-joined by an interrupted run)`,
    });
    addVerify(
      list,
      'etcd',
      via.name,
      { kind: 'etcd-member-absent', member: joiner.etcdName, peerUrl: joiner.etcdPeerUrl },
      `${joiner.etcdName} is no longer listed`,
      `${group}:remove:verify`,
    );
  }
  if (!opts.dataMovedAside) {
    list.add({
      id: `${group}:move-aside`,
      cluster: 'etcd',
      node: joiner.name,
      action: 'move-aside',
      path: joiner.dirs.etcdData,
      what: 'etcd-data',
      summary: `move ${joiner.dirs.etcdData} aside (kept as a backup): a stale member fails with a cluster ID mismatch`,
    });
    addVerify(
      list,
      'etcd',
      joiner.name,
      { kind: 'moved', path: joiner.dirs.etcdData },
      `${joiner.dirs.etcdData} is gone, its backup kept`,
      `${group}:move-aside:verify`,
    );
  }
  list.add({
    id: `${group}:add`,
    cluster: 'etcd',
    node: via.name,
    action: 'etcd-member-add',
    member: joiner.etcdName,
    peerUrls: [joiner.etcdPeerUrl],
    learner: true,
    summary: `etcdctl member add ${joiner.etcdName} --learner --peer-urls=${joiner.etcdPeerUrl}`,
  });
  addVerify(
    list,
    'etcd',
    via.name,
    { kind: 'etcd-member-listed', member: joiner.etcdName, peerUrl: joiner.etcdPeerUrl, learner: true },
    `${joiner.etcdName} is listed as a learner`,
    `${group}:add:verify`,
  );
  addEdits(
    list,
    editsToward(joiner, joinerConfig, ['etcdInitialCluster', 'etcdInitialClusterState', 'etcdForceNewCluster']),
    `${group}:config`,
    'join the existing cluster',
  );
  addServiceOp(
    list,
    'etcd',
    'start',
    [joiner],
    `${group}:start`,
    'joins as a learner and catches up',
    opts.enableFirst,
  );
  addVerify(
    list,
    'etcd',
    joiner.name,
    { kind: 'etcd', members: voters, learners: [joiner.name] },
    `${joiner.name} runs as a learner and has caught up`,
    `${group}:start:verify`,
  );
  list.add({
    id: `${group}:promote`,
    cluster: 'etcd',
    node: via.name,
    action: 'etcd-member-promote',
    member: joiner.etcdName,
    peerUrl: joiner.etcdPeerUrl,
    summary: `etcdctl member promote ${joiner.etcdName}`,
  });
  addVerify(
    list,
    'etcd',
    null,
    { kind: 'etcd', members: names, learners: [] },
    `etcd members ${names.join(', ')} healthy, test write accepted`,
    `${group}:promote:verify`,
  );
}
