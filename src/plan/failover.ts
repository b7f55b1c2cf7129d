/**
 * The failover plan: pure. Facts (what the nodes hold now) and the lost DC in, a Plan out.
 *
 * Order, and why:
 * 1. fence the lost DC (its old majority must not come back and elect its own leaders);
 * 2. ZooKeeper: the survivors' ensemble and master_count change together, Exhibitor restarts,
 *    ZooKeeper must serve (DC/OS starts a Mesos master only once the serving ZooKeeper servers
 *    equal master_count, so Mesos must come after);
 * 3. Mesos: MESOS_QUORUM = majority of the new master count, restart, one leader recovered;
 * 4. etcd: stop every survivor, force a new cluster on the freshest one, remove the force line,
 *    then add the other survivors back one at a time as learners with fresh data dirs.
 * Nothing runs on a node of the lost DC.
 */
import { CLUSTERS, type ClusterName } from '../core/clusters.js';
import { majorityOf } from '../core/quorum.js';
import { assessFailover, type Finding } from '../core/safety.js';
import { renderEnsemble } from '../clusters/exhibitor.js';
import { renderInitialCluster } from '../clusters/etcd.js';
import { factsMembers, type ClusterFacts, type NodeConfig, type NodeFacts } from './facts.js';
import { StepList, type Plan, type QuorumFigure } from './plan.js';
import { addEdits, addServiceOp, addVerify, editsToward } from './steps.js';

export interface FailoverOptions {
  lostDc: string;
  /** The fence hook of the lost DC, if the topology has one. */
  fenceCommand?: string | undefined;
}

/** The freshest replica first; ties keep file order (offline: the first in the file). */
export function byFreshness<N extends NodeFacts>(nodes: readonly N[], position: (n: N) => bigint | undefined): N[] {
  return nodes
    .map((n, i) => ({ n, i, p: position(n) ?? -1n }))
    .sort((a, b) => (a.p === b.p ? a.i - b.i : a.p > b.p ? -1 : 1))
    .map((x) => x.n);
}

export const etcdPosition = (n: NodeFacts): bigint | undefined =>
  n.etcdAppliedIndex === undefined ? undefined : BigInt(n.etcdAppliedIndex);
const zkPosition = (n: NodeFacts): bigint | undefined => (n.zkZxid === undefined ? undefined : BigInt(n.zkZxid));
export const mesosPosition = (n: NodeFacts): bigint | undefined =>
  n.mesosLogVersion === undefined ? undefined : BigInt(n.mesosLogVersion);

/** The configuration every survivor holds at the end of a failover away from `lostDc`. */
export function failedOverConfig(facts: ClusterFacts, lostDc: string): Record<string, NodeConfig> {
  const surviving = (c: ClusterName) => factsMembers(facts, c).filter((n) => n.dc !== lostDc);
  const zk = surviving('exhibitor');
  const masters = surviving('mesos');
  const etcd = byFreshness(surviving('etcd'), etcdPosition);
  const ensemble = renderEnsemble(zk.map((n) => ({ id: n.zkId!, address: n.address })));
  const out: Record<string, NodeConfig> = {};
  for (const n of facts.nodes) {
    if (n.dc === lostDc) continue;
    const c: NodeConfig = { ...n.config };
    if (n.roles.includes('mesos')) {
      c.masterCount = String(zk.length);
      c.mesosQuorum = String(majorityOf(masters.length));
    }
    if (n.roles.includes('exhibitor')) c.ensemble = ensemble;
    if (n.roles.includes('etcd')) {
      delete c.etcdForceNewCluster;
      const i = etcd.findIndex((e) => e.name === n.name);
      if (i > 0) {
        // Re-added survivors joined an existing cluster of the members before them.
        c.etcdInitialCluster = renderInitialCluster(
          etcd.slice(0, i + 1).map((e) => ({ name: e.etcdName, peerUrl: e.etcdPeerUrl })),
        );
        c.etcdInitialClusterState = 'existing';
      }
    }
    out[n.name] = c;
  }
  return out;
}

function quorumFigures(facts: ClusterFacts, lostDc: string): Plan['quorum'] {
  const out: Plan['quorum'] = {};
  for (const c of CLUSTERS) {
    const all = factsMembers(facts, c);
    if (all.length === 0) continue;
    const after = all.filter((n) => n.dc !== lostDc).length;
    const fig = (n: number): QuorumFigure => ({ members: n, quorum: majorityOf(n) });
    out[c] = { before: fig(all.length), after: lostDc === facts.secondary ? fig(all.length) : fig(after) };
  }
  return out;
}

export function planFailover(observed: ClusterFacts, opts: FailoverOptions): Plan {
  const { lostDc } = opts;
  // The planner edits its own copy of each node's settings as it plans.
  const facts = structuredClone(observed);
  const to = lostDc === facts.main ? facts.secondary : facts.main;
  const verdict = assessFailover(facts, lostDc);
  const base = {
    runbook: 'failover' as const,
    from: lostDc,
    to,
    cluster: facts.cluster,
    mode: facts.mode,
    lostDc,
    quorum: quorumFigures(facts, lostDc),
  };
  switch (verdict.kind) {
    case 'refused':
      return { ...base, safe: false, refusals: verdict.refusals, warnings: verdict.warnings, steps: [] };
    case 'no-action':
      return {
        ...base,
        safe: true,
        refusals: [],
        warnings: [
          ...verdict.warnings,
          {
            code: 'no-action-needed',
            message: `${lostDc} holds a minority of every cluster: ${to} keeps every quorum. Nothing to change; bring ${lostDc} back when it can be.`,
          },
        ],
        steps: [],
      };
    case 'failover':
      break;
    default: {
      const never: never = verdict;
      return never;
    }
  }

  const warnings: Finding[] = [...verdict.warnings];
  const list = new StepList();
  const target = failedOverConfig(facts, lostDc);
  const survivors = (c: ClusterName) => factsMembers(facts, c).filter((n) => n.dc !== lostDc);

  // 1. Fence.
  if (opts.fenceCommand) {
    list.add({
      id: `fence:${lostDc}`,
      cluster: null,
      node: null,
      action: 'fence',
      dc: lostDc,
      command: opts.fenceCommand,
      summary: `run the fence hook for ${lostDc} (locally): it must stay down until failback`,
    });
    addVerify(list, null, null, { kind: 'dc-down', dc: lostDc }, `${lostDc} fails every health check`, `fence:verify`);
  } else {
    warnings.push({
      code: 'no-fence-hook',
      message: `no fence hook for ${lostDc}: the operator must attest that it is kept down (--attest-fenced "<how>")`,
    });
  }

  // 2-3. ZooKeeper, then Mesos, in one track; 4. etcd in another, side by side: the clusters are
  // independent (Calico's etcd does not wait for ZooKeeper, nor ZooKeeper for it).
  const zk = survivors('exhibitor');
  const live = facts.live;
  const holds = (n: NodeFacts, fields: (keyof NodeConfig)[]) => fields.every((f) => n.config[f] === target[n.name]![f]);
  const zkDone =
    live !== undefined &&
    zk.length > 0 &&
    zk.every((n) => holds(n, ['ensemble', 'masterCount']) && live.zkServing.includes(n.name));
  list.inTrack('zookeeper-mesos', () => {
    if (zk.length > 1 && facts.mode === 'online' && !zkDone) {
      // ZooKeeper elects its freshest server itself when the survivors restart together; say who.
      const ranked = byFreshness(zk, zkPosition);
      const top = ranked[0]!;
      const behind = (n: NodeFacts) =>
        top.zkZxid !== undefined && n.zkZxid !== undefined
          ? `${BigInt(top.zkZxid) - BigInt(n.zkZxid)} transactions behind`
          : 'position unknown';
      warnings.push({
        code: 'zookeeper-freshest',
        cluster: 'exhibitor',
        message: `ZooKeeper: ${top.name} is the most advanced (zxid 0x${BigInt(top.zkZxid ?? '0').toString(16)}); ${ranked
          .slice(1)
          .map((n) => `${n.name} ${behind(n)}`)
          .join(', ')}`,
      });
    }
    if (zk.length > 0 && !zkDone) {
      addEdits(
        list,
        zk.flatMap((n) => editsToward(n, target[n.name]!, ['ensemble', 'masterCount'])),
        'zk:config',
        'ensemble of the survivors; master_count follows it',
      );
      addServiceOp(list, 'exhibitor', 'restart', zk, 'zk:restart', 'ZooKeeper comes back with the new ensemble');
      addVerify(
        list,
        'exhibitor',
        null,
        { kind: 'zookeeper', servers: zk.map((n) => n.name), mode: zk.length === 1 ? 'standalone' : 'quorum' },
        `ZooKeeper serves on ${zk.map((n) => n.name).join(', ')} and takes a test write`,
        'zk:verify',
      );
    }

    // 3. Mesos.
    const masters = survivors('mesos');
    const mesosDone =
      live !== undefined &&
      masters.every((n) => holds(n, ['mesosQuorum'])) &&
      live.mesosLeader !== null &&
      masters.some((n) => n.name === live.mesosLeader);
    if (masters.length > 0 && !mesosDone) {
      const quorum = majorityOf(masters.length);
      addEdits(
        list,
        masters.flatMap((n) => editsToward(n, target[n.name]!, ['mesosQuorum'])),
        'mesos:config',
        `majority of ${masters.length} master${masters.length === 1 ? '' : 's'}`,
      );
      addServiceOp(
        list,
        'mesos',
        'restart',
        masters,
        'mesos:restart',
        'the master recovers its registry with the new quorum',
      );
      addVerify(
        list,
        'mesos',
        null,
        { kind: 'mesos', masters: masters.map((n) => n.name), quorum },
        `one Mesos leader, registrar recovered, quorum ${quorum}`,
        'mesos:verify',
      );
    }
  });

  list.inTrack('etcd', () => {
    // 4. etcd.
    const etcd = byFreshness(survivors('etcd'), etcdPosition);
    // Online, a re-run finds the forced cluster already there: its members are the survivors.
    const forced =
      live?.etcd && live.etcd.members.every((m) => etcd.some((n) => n.etcdPeerUrl === m.peerUrl)) ? live.etcd : null;
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
  });

  return { ...base, safe: true, refusals: [], warnings, steps: list.steps };
}

/**
 * One member joins a running etcd cluster: its stale data moved aside, added as a learner, its
 * env file naming the current members with state `existing`, started, caught up, promoted.
 */
export function addEtcdJoin(
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
