/**
 * What etcd's steps and checks do on the live cluster, through its client port (etcd3): every
 * action looks first and does nothing when its effect is already there.
 */
import { OperationError } from '../../errors.js';
import { checkTimeoutOf, NotYet, retry, type CheckEffects, type StepEffects } from '../../apply/effect-kit.js';
import { nodeByName, type TopologyNode } from '../../topology/model.js';
import {
  etcdClientUrl,
  etcdMemberAdd,
  etcdMemberList,
  etcdMemberPromote,
  etcdMemberRemove,
  etcdTestWrite,
  probeEtcdEndpoint,
} from './probe.js';
import { LEARNER_CAUGHT_UP_WITHIN } from './settings.js';
import type { EtcdCheck, EtcdStep } from './steps.js';

function etcdUrl(n: TopologyNode): string {
  return etcdClientUrl(n.address, n.services.etcd.clientPort);
}

export const etcdStepEffects = {
  'etcd-member-add': async (ctx, step) => {
    const timeoutMs = ctx.commandTimeoutMs;
    const via = nodeByName(ctx.topology, step.node!);
    const members = await etcdMemberList([etcdUrl(via)], timeoutMs);
    if (members.some((m) => m.peerURLs.some((u) => step.peerUrls.includes(u))))
      return `${step.member} is already a member`;
    // Right after a change etcd refuses another for ~5 s (strict reconfig check): retry.
    await retry(timeoutMs * 3, async () => etcdMemberAdd([etcdUrl(via)], step.peerUrls, step.learner, timeoutMs));
    return `added ${step.member}${step.learner ? ' as a learner' : ''}`;
  },
  'etcd-member-promote': async (ctx, step) => {
    const timeoutMs = ctx.commandTimeoutMs;
    const via = nodeByName(ctx.topology, step.node!);
    await retry(timeoutMs * 6, async () => {
      const m = (await etcdMemberList([etcdUrl(via)], timeoutMs)).find((x) => x.peerURLs.includes(step.peerUrl));
      if (!m) throw new OperationError('etcd-member-missing', `${step.member} (${step.peerUrl}) is not a member`);
      if (!m.isLearner) return;
      await etcdMemberPromote([etcdUrl(via)], m.id, timeoutMs);
    });
    return `promoted ${step.member}`;
  },
  'etcd-member-remove': async (ctx, step) => {
    const timeoutMs = ctx.commandTimeoutMs;
    const via = nodeByName(ctx.topology, step.node!);
    const m = (await etcdMemberList([etcdUrl(via)], timeoutMs)).find((x) => x.peerURLs.includes(step.peerUrl));
    if (!m) return `${step.member} is not a member`;
    await retry(timeoutMs * 3, async () => etcdMemberRemove([etcdUrl(via)], m.id, timeoutMs));
    return `removed ${step.member}`;
  },
} satisfies StepEffects<EtcdStep>;

export const etcdCheckEffects = {
  etcd: async (ctx, nodeName, check) => {
    const t = ctx.topology;
    const timeoutMs = checkTimeoutOf(ctx);
    const nodes = [...check.members, ...check.learners].map(
      (m) => t.nodes.find((n) => n.name === m) ?? nodeByName(t, m),
    );
    const voters = check.members.map((m) => nodeByName(t, m));
    let list;
    try {
      list = await etcdMemberList(voters.map(etcdUrl), timeoutMs);
    } catch (err) {
      throw new NotYet(`etcd member list failed: ${(err as Error).message.split('\n')[0]}`);
    }
    const peer = (n: TopologyNode) => `:${n.services.etcd.peerPort}`;
    const hostOf = (u: string) => new URL(u).hostname.replace(/^\[|\]$/g, '');
    const listed = (n: TopologyNode) =>
      list.find((m) => m.peerURLs.some((u) => hostOf(u) === n.address && u.endsWith(peer(n))));
    const problems: string[] = [];
    if (list.length !== nodes.length) problems.push(`${list.length} members listed, want ${nodes.length}`);
    for (const n of nodes) {
      const m = listed(n);
      const wantLearner = check.learners.includes(n.name);
      if (!m) problems.push(`${n.name} not listed`);
      else if (m.name === '') problems.push(`${n.name} listed but not started`);
      else if (m.isLearner !== wantLearner) problems.push(`${n.name} is ${m.isLearner ? 'a learner' : 'a voter'}`);
    }
    if (problems.length > 0) throw new NotYet(`etcd: ${problems.join('; ')}`);
    if (check.learners.length > 0) {
      const st = await Promise.all(nodes.map((n) => probeEtcdEndpoint(etcdUrl(n), timeoutMs)));
      const leaderIdx = st.reduce(
        (a, s) => (s.appliedIndex !== undefined && s.appliedIndex > a ? s.appliedIndex : a),
        0n,
      );
      for (const [i, s] of st.entries()) {
        if (!s.ok || s.appliedIndex === undefined || leaderIdx - s.appliedIndex > LEARNER_CAUGHT_UP_WITHIN)
          throw new NotYet(`${nodes[i]!.name} has not caught up (applied ${s.appliedIndex ?? '?'} of ${leaderIdx})`);
      }
      return;
    }
    try {
      await etcdTestWrite(
        voters.map(etcdUrl),
        `/dcfail/verify/${ctx.runId}`,
        `${Date.now()}`,
        Math.max(timeoutMs, 3000),
      );
    } catch (err) {
      throw new NotYet(`etcd test write failed: ${(err as Error).message.split('\n')[0]}`);
    }
    return;
  },
  'etcd-member-listed': async (ctx, nodeName, check) => {
    const t = ctx.topology;
    const timeoutMs = checkTimeoutOf(ctx);
    const via = nodeByName(t, nodeName!);
    const list = await etcdMemberList([etcdUrl(via)], timeoutMs).catch((e: Error) => {
      throw new NotYet(`etcd member list failed: ${e.message.split('\n')[0]}`);
    });
    const m = list.find((x) => x.peerURLs.includes(check.peerUrl));
    if (!m || m.isLearner !== check.learner)
      throw new NotYet(
        `${check.member} (${check.peerUrl}) is ${m ? (m.isLearner ? 'a learner' : 'a voter') : 'not listed'}`,
      );
    return;
  },
  'etcd-member-absent': async (ctx, nodeName, check) => {
    const t = ctx.topology;
    const timeoutMs = checkTimeoutOf(ctx);
    const via = nodeByName(t, nodeName!);
    const list = await etcdMemberList([etcdUrl(via)], timeoutMs).catch((e: Error) => {
      throw new NotYet(`etcd member list failed: ${e.message.split('\n')[0]}`);
    });
    if (list.some((x) => x.peerURLs.includes(check.peerUrl)))
      throw new NotYet(`${check.member} (${check.peerUrl}) is still listed`);
    return;
  },
} satisfies CheckEffects<EtcdCheck>;
