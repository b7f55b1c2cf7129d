/**
 * An independent model of the three clusters, for checking plans: a simple state machine over
 * nodes, the configuration each one holds (files) and runs, and the data each replica holds.
 * It interprets a plan's steps by their plain JSON fields and parses the changed settings itself;
 * it shares no logic with the plan builders.
 *
 * Data is a number per replica: higher is newer, 0 is empty, -1 is a registry that Mesos
 * initialised from nothing. `latest` is the newest committed data that must not be lost.
 * A DC/OS master holds a second replicated log, the overlay module's (`overlay`): the same
 * rules as the registry's, its own data.
 *
 * Invariants, checked after every step (a run can be killed after any of them):
 * (a) no two disjoint groups of live nodes could each form a quorum under the configuration
 *     they hold;
 * (b) every group that could form a quorum contains a replica holding the latest data.
 */
import type { Topology } from '../../src/topology/model.js';

type C = 'exhibitor' | 'mesos' | 'etcd';
const CS: C[] = ['exhibitor', 'mesos', 'etcd'];

interface EtcdMember {
  name: string;
  learner: boolean;
}

interface MNode {
  name: string;
  dc: string;
  address: string;
  roles: string[];
  zkId: number | undefined;
  paths: {
    masterCount: string;
    mesosEnv: string;
    exhibitorEnv: string;
    etcdEnv: string;
    etcdData: string;
    zkData: string;
    log: string;
    overlayLog: string | null;
  };
  /** Settings as the node's files hold them. */
  files: Record<string, string | undefined>;
  up: Record<C, boolean>;
  masked: Record<C, boolean>;
  data: Record<C, number>;
  /** The overlay module's replicated log on a master, like data.mesos. */
  overlay: number;
  /** ZooKeeper: the ensemble (node names) the running server uses. */
  zkRunning: string[] | null;
  /** Mesos: the quorum the running master uses. */
  mesosQuorum: number;
  /** etcd: the membership stored with the member's data (null: empty data dir). */
  etcdMembers: EtcdMember[] | null;
  /** Lost-DC nodes are down and fenced until quarantined by a failback. */
  lost: boolean;
}

export class ModelError extends Error {}

function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

export interface PlanStepJson {
  id: string;
  cluster: string | null;
  node: string | null;
  action: string;
  summary: string;
  group?: string;
  [k: string]: unknown;
}

export class ClusterModel {
  readonly nodes = new Map<string, MNode>();
  latest: Record<C, number> = { exhibitor: 0, mesos: 0, etcd: 0 };
  latestOverlay = 0;
  readonly log: string[] = [];

  /** A healthy cluster as the topology declares it; the main DC holds newer data (worst case). */
  constructor(readonly topology: Topology) {
    const zk = topology.nodes.filter((n) => n.roles.includes('exhibitor'));
    const masters = topology.nodes.filter((n) => n.roles.includes('mesos'));
    const etcd = topology.nodes.filter((n) => n.roles.includes('etcd'));
    const ensemble = zk.map((n) => `${n.zkId}:${n.address}`).join(',');
    const initial = etcd.map((n) => `${n.name}=http://${n.address}:${n.services.etcd.peerPort}`).join(',');
    for (const n of topology.nodes) {
      const isMain = n.dc === topology.datacenters.main;
      const files: Record<string, string | undefined> = {};
      if (n.roles.includes('mesos')) {
        files['master_count'] = String(zk.length);
        files['MESOS_QUORUM'] = String(majority(masters.length));
      }
      if (n.roles.includes('exhibitor')) files['EXHIBITOR_STATICENSEMBLE'] = ensemble;
      if (n.roles.includes('etcd')) {
        files['ETCD_INITIAL_CLUSTER'] = initial;
        files['ETCD_INITIAL_CLUSTER_STATE'] = 'new';
      }
      const has = (c: C) => n.roles.includes(c);
      this.nodes.set(n.name, {
        name: n.name,
        dc: n.dc,
        address: n.address,
        roles: [...n.roles],
        zkId: n.zkId,
        paths: {
          masterCount: n.services.mesos.masterCountFile,
          mesosEnv: n.services.mesos.envFile,
          exhibitorEnv: n.services.exhibitor.envFile,
          etcdEnv: n.services.etcd.envFile,
          etcdData: n.services.etcd.dataDir ?? `\${ETCD_DATA_DIR from ${n.services.etcd.envFile}}`,
          zkData: n.services.exhibitor.zkDataDir,
          log: `${n.services.mesos.workDir}/replicated_log`,
          overlayLog:
            n.services.mesos.overlayLogDir === null
              ? null
              : `${n.services.mesos.overlayLogDir.replace(/\/+$/, '')}/overlay_replicated_log`,
        },
        files,
        up: { exhibitor: has('exhibitor'), mesos: has('mesos'), etcd: has('etcd') },
        masked: { exhibitor: false, mesos: false, etcd: false },
        data: {
          exhibitor: has('exhibitor') ? (isMain ? 2 : 1) : 0,
          mesos: has('mesos') ? (isMain ? 2 : 1) : 0,
          etcd: has('etcd') ? (isMain ? 2 : 1) : 0,
        },
        overlay: has('mesos') && n.services.mesos.overlayLogDir !== null ? (isMain ? 2 : 1) : 0,
        zkRunning: has('exhibitor') ? zk.map((z) => z.name) : null,
        mesosQuorum: majority(masters.length),
        etcdMembers: has('etcd') ? etcd.map((e) => ({ name: e.name, learner: false })) : null,
        lost: false,
      });
    }
    this.latest = { exhibitor: 2, mesos: 2, etcd: 2 };
    this.latestOverlay = Math.max(0, ...[...this.nodes.values()].map((n) => n.overlay));
  }

  /**
   * The DC dies: its nodes go down. The newest data that survives is the survivors' best. What
   * the lost nodes hold becomes a diverged lineage (1000+): never the latest, and newer than
   * anything the survivors hold, so a quorum that mixes them in loses the survivors' writes.
   */
  loseDc(dc: string): void {
    for (const c of CS) {
      const alive = [...this.nodes.values()].filter((n) => n.dc !== dc && n.roles.includes(c));
      this.latest[c] = Math.max(0, ...alive.map((n) => n.data[c]));
    }
    this.latestOverlay = Math.max(0, ...[...this.nodes.values()].filter((n) => n.dc !== dc).map((n) => n.overlay));
    for (const n of this.nodes.values()) {
      if (n.dc !== dc) continue;
      n.lost = true;
      for (const c of CS) {
        n.up[c] = false;
        if (n.data[c] > 0) n.data[c] += 1000;
      }
      if (n.overlay > 0) n.overlay += 1000;
    }
  }

  /** Clients write to every cluster that serves: the group's replicas move to a newer version. */
  write(): void {
    for (const c of CS) {
      const groups = this.capableGroups(c).filter((g) => g.some((n) => n.data[c] === this.latest[c]));
      if (groups.length !== 1) continue;
      const synced = groups[0]!.filter((n) => n.data[c] === this.latest[c]);
      const need =
        c === 'mesos'
          ? Math.max(...groups[0]!.map((n) => n.mesosQuorum))
          : c === 'exhibitor'
            ? majority(groups[0]![0]!.zkRunning!.length)
            : majority(voters(groups[0]![0]!).length);
      if (synced.length < need) continue;
      this.latest[c] += 1;
      for (const n of synced) n.data[c] = this.latest[c];
    }
    // The overlay module writes its log through the masters too (agents registering).
    const groups = this.capableGroups('mesos').filter((g) => g.some((n) => n.overlay === this.latestOverlay));
    if (groups.length === 1 && this.latestOverlay !== 0) {
      const synced = groups[0]!.filter((n) => n.overlay === this.latestOverlay);
      if (synced.length >= Math.max(...groups[0]!.map((n) => n.mesosQuorum))) {
        this.latestOverlay += 1;
        for (const n of synced) n.overlay = this.latestOverlay;
      }
    }
  }

  private node(name: string | null, step: PlanStepJson): MNode {
    const n = name === null ? undefined : this.nodes.get(name);
    if (!n) throw new ModelError(`${step.id}: no such node ${String(name)}`);
    return n;
  }

  private nodeByAddress(address: string): MNode {
    const n = [...this.nodes.values()].find((x) => x.address === address);
    if (!n) throw new ModelError(`ensemble names unknown address ${address}`);
    return n;
  }

  /** Applies one plan step; throws ModelError when the step is impossible or its check fails. */
  apply(step: PlanStepJson): void {
    this.log.push(`${step.id}: ${step.summary}`);
    const n = step.node === null ? null : this.node(step.node, step);
    const c = step.cluster as C | null;
    if (n?.lost && !(step.action === 'disable')) {
      if (!CS.every((x) => !n.roles.includes(x) || n.masked[x])) {
        throw new ModelError(`${step.id}: acts on ${n.name} of the lost DC before it is quarantined`);
      }
    }
    switch (step.action) {
      case 'fence':
        break;
      case 'edit-file': {
        const file = step['file'] as string;
        const changes = step['changes'] as Record<string, string | null>;
        const known = Object.values(n!.paths);
        if (!known.includes(file)) throw new ModelError(`${step.id}: ${file} is not a file of ${n!.name}`);
        for (const [k, v] of Object.entries(changes)) {
          if (
            ![
              'master_count',
              'MESOS_QUORUM',
              'EXHIBITOR_STATICENSEMBLE',
              'ETCD_INITIAL_CLUSTER',
              'ETCD_INITIAL_CLUSTER_STATE',
              'ETCD_FORCE_NEW_CLUSTER',
            ].includes(k)
          ) {
            throw new ModelError(`${step.id}: unexpected setting ${k}`);
          }
          if (v === null) delete n!.files[k];
          else n!.files[k] = v;
        }
        break;
      }
      case 'stop':
        n!.up[c!] = false;
        break;
      case 'disable':
        n!.masked[c!] = true;
        n!.up[c!] = false;
        if (n!.lost && CS.every((x) => !n!.roles.includes(x) || n!.masked[x])) n!.lost = false; // quarantined: it may be powered on
        break;
      case 'enable':
        n!.masked[c!] = false;
        break;
      case 'start':
      case 'restart':
        if (n!.masked[c!]) {
          if (!step['enableFirst']) throw new ModelError(`${step.id}: starts masked ${c} on ${n!.name}`);
          n!.masked[c!] = false;
        }
        this.start(n!, c!, step);
        break;
      case 'move-aside': {
        const what = step['what'] as string;
        const cl: C = what === 'etcd-data' ? 'etcd' : what === 'zookeeper-data' ? 'exhibitor' : 'mesos';
        if (n!.up[cl]) throw new ModelError(`${step.id}: moves ${what} of a running ${cl} on ${n!.name}`);
        if (what === 'overlay-log') n!.overlay = 0;
        else n!.data[cl] = 0;
        if (cl === 'etcd') n!.etcdMembers = null;
        break;
      }
      case 'etcd-member-remove': {
        const member = step['member'] as string;
        for (const m of [...this.nodes.values()].filter((x) => x.etcdMembers && sameMembers(x, n!))) {
          m.etcdMembers = m.etcdMembers!.filter((e) => e.name !== member);
        }
        break;
      }
      case 'etcd-member-add':
      case 'etcd-member-promote': {
        const group = this.capableGroups('etcd').find((g) => g.includes(n!));
        if (!group || !n!.up.etcd) throw new ModelError(`${step.id}: ${n!.name} is not part of an etcd quorum`);
        const member = step['member'] as string;
        for (const m of [...this.nodes.values()].filter((x) => x.etcdMembers && sameMembers(x, n!))) {
          if (step.action === 'etcd-member-add') {
            if (m.etcdMembers!.some((e) => e.name === member))
              throw new ModelError(`${step.id}: ${member} is already a member`);
            m.etcdMembers = [...m.etcdMembers!, { name: member, learner: Boolean(step['learner']) }];
          } else {
            const joiner = this.nodes.get(member);
            if (!joiner?.up.etcd || joiner.data.etcd !== this.latest.etcd)
              throw new ModelError(`${step.id}: promotes ${member} before it caught up`);
            m.etcdMembers = m.etcdMembers!.map((e) => (e.name === member ? { ...e, learner: false } : e));
          }
        }
        break;
      }
      case 'copy-replicated-log': {
        const from = this.node(step['from'] as string, step);
        if (from.up.mesos || n!.up.mesos)
          throw new ModelError(`${step.id}: copies a replicated log while a master runs`);
        if (step['log'] === 'overlay') n!.overlay = from.overlay;
        else n!.data.mesos = from.data.mesos;
        break;
      }
      case 'verify':
        this.verify(n, c, step['check'] as Record<string, unknown>, step);
        break;
      default:
        throw new ModelError(`${step.id}: unknown action ${step.action}`);
    }
    this.sync();
    this.checkInvariants(step.id);
  }

  private start(n: MNode, c: C, step: PlanStepJson): void {
    if (!n.roles.includes(c)) throw new ModelError(`${step.id}: ${n.name} has no ${c} role`);
    n.up[c] = true;
    if (c === 'exhibitor') {
      const ensemble = (n.files['EXHIBITOR_STATICENSEMBLE'] ?? '')
        .split(',')
        .filter(Boolean)
        .map((p) => {
          const [id, addr] = p.split(':');
          const member = this.nodeByAddress(addr!);
          if (member.zkId !== Number(id))
            throw new ModelError(`${step.id}: ensemble gives ${member.name} id ${id}, its id is ${member.zkId}`);
          return member.name;
        });
      if (!ensemble.includes(n.name)) {
        n.up[c] = false; // Exhibitor refuses to start outside the ensemble
        return;
      }
      n.zkRunning = ensemble;
    } else if (c === 'mesos') {
      n.mesosQuorum = Number(n.files['MESOS_QUORUM']);
      if (!Number.isInteger(n.mesosQuorum) || n.mesosQuorum < 1)
        throw new ModelError(`${step.id}: MESOS_QUORUM is ${n.files['MESOS_QUORUM']}`);
    } else {
      if (n.files['ETCD_FORCE_NEW_CLUSTER'] === 'true') {
        if (n.data.etcd === 0) throw new ModelError(`${step.id}: forces a new cluster from an empty data dir`);
        n.etcdMembers = [{ name: n.name, learner: false }];
      } else if (n.etcdMembers === null) {
        const initial = (n.files['ETCD_INITIAL_CLUSTER'] ?? '')
          .split(',')
          .filter(Boolean)
          .map((p) => p.split('=')[0]!);
        if (!initial.includes(n.name)) {
          n.up.etcd = false;
          return;
        }
        if (n.files['ETCD_INITIAL_CLUSTER_STATE'] === 'existing') {
          // Joins only a cluster that lists it; the member then holds that cluster's membership.
          const host = [...this.nodes.values()].find(
            (x) => x !== n && x.up.etcd && x.etcdMembers?.some((e) => e.name === n.name),
          );
          if (!host) {
            n.up.etcd = false; // etcd exits: not a member of any running cluster
            return;
          }
          n.etcdMembers = host.etcdMembers!.map((e) => ({ ...e }));
        } else {
          n.etcdMembers = initial.map((name) => ({ name, learner: false })); // a brand-new cluster
          n.data.etcd = 0;
        }
      }
    }
  }

  /** Up members of a cluster grouped by the configuration they run, each group able to form a quorum. */
  capableGroups(c: C): MNode[][] {
    const up = [...this.nodes.values()].filter((n) => n.up[c]);
    if (c === 'mesos') {
      // A leader with quorum q recovers from any q replicas: two leaders need disjoint sets.
      return up.length > 0 && up.some((n) => n.mesosQuorum <= up.length) ? [up] : [];
    }
    const key = (n: MNode) =>
      c === 'exhibitor' ? [...n.zkRunning!].sort().join(',') : voters(n).sort().join(',') + (n.etcdMembers ? '' : '!');
    const byConfig = new Map<string, MNode[]>();
    for (const n of up) byConfig.set(key(n), [...(byConfig.get(key(n)) ?? []), n]);
    const out: MNode[][] = [];
    for (const group of byConfig.values()) {
      const members = c === 'exhibitor' ? group[0]!.zkRunning! : voters(group[0]!);
      const inConfig = group.filter((n) => members.includes(n.name) || (c === 'etcd' && isLearner(n)));
      const votingUp = inConfig.filter((n) => members.includes(n.name));
      if (votingUp.length >= majority(members.length)) out.push(inConfig);
    }
    return out;
  }

  /** Replication: a group that can form a quorum brings its members to its newest data. */
  private sync(): void {
    for (const c of CS) {
      for (const g of this.capableGroups(c)) {
        if (c === 'mesos') {
          const q = Math.min(...g.map((n) => n.mesosQuorum));
          const voting = g.filter((n) => n.data.mesos !== 0);
          if (voting.length === 0 && g.length >= q) {
            for (const n of g) n.data.mesos = -1; // all EMPTY: an empty registry is initialised
          } else if (voting.length >= q) {
            const best = Math.max(...voting.map((n) => n.data.mesos));
            for (const n of g) n.data.mesos = best;
          }
          // The overlay log: the same recovery, auto-initialisation always on (overlay/master.cpp).
          const withOverlay = g.filter((n) => n.paths.overlayLog !== null);
          const overlayVoting = withOverlay.filter((n) => n.overlay !== 0);
          if (overlayVoting.length === 0 && withOverlay.length >= q) {
            for (const n of withOverlay) n.overlay = -1;
          } else if (overlayVoting.length >= q) {
            const best = Math.max(...overlayVoting.map((n) => n.overlay));
            for (const n of withOverlay) n.overlay = best;
          }
        } else {
          const best = Math.max(...g.map((n) => n.data[c]));
          for (const n of g) n.data[c] = best;
        }
      }
    }
  }

  checkInvariants(where: string): void {
    for (const c of CS) {
      const groups = this.capableGroups(c);
      if (c === 'mesos') {
        const up = [...this.nodes.values()].filter((n) => n.up.mesos);
        const qs = up.map((n) => n.mesosQuorum).sort((a, b) => a - b);
        if (qs.length >= 2 && qs[0]! + qs[1]! <= up.length) {
          throw new ModelError(
            `${where}: invariant (a) broken for mesos: ${up.length} live masters with quorums ${qs.join(',')} could elect two leaders`,
          );
        }
        for (const l of up) {
          const staleVoting = up.filter((n) => n.data.mesos !== 0 && n.data.mesos !== this.latest.mesos);
          if (staleVoting.length >= l.mesosQuorum) {
            throw new ModelError(
              `${where}: invariant (b) broken for mesos: ${staleVoting.map((n) => `${n.name}(${n.data.mesos})`).join(', ')} could form a quorum without the latest registry (${this.latest.mesos})`,
            );
          }
          const staleOverlay = up.filter((n) => n.overlay !== 0 && n.overlay !== this.latestOverlay);
          if (this.latestOverlay !== 0 && staleOverlay.length >= l.mesosQuorum) {
            throw new ModelError(
              `${where}: invariant (b) broken for the overlay log: ${staleOverlay.map((n) => `${n.name}(${n.overlay})`).join(', ')} could form a quorum without the latest overlay state (${this.latestOverlay})`,
            );
          }
        }
        continue;
      }
      if (groups.length > 1) {
        throw new ModelError(
          `${where}: invariant (a) broken for ${c}: disjoint quorums ${groups.map((g) => `{${g.map((n) => n.name).join(',')}}`).join(' and ')}`,
        );
      }
      for (const g of groups) {
        if (!g.some((n) => n.data[c] === this.latest[c])) {
          throw new ModelError(
            `${where}: invariant (b) broken for ${c}: quorum {${g.map((n) => `${n.name}(${n.data[c]})`).join(',')}} lacks the latest data (${this.latest[c]})`,
          );
        }
      }
    }
  }

  private verify(n: MNode | null, c: C | null, check: Record<string, unknown>, step: PlanStepJson): void {
    const fail = (why: string): never => {
      throw new ModelError(`${step.id}: verification would fail: ${why}`);
    };
    switch (check['kind']) {
      case 'file': {
        for (const [k, v] of Object.entries(check['changes'] as Record<string, string | null>)) {
          if ((n!.files[k] ?? null) !== v) fail(`${n!.name} ${k}=${n!.files[k]}, expected ${v}`);
        }
        break;
      }
      case 'stopped':
        if (n!.up[c!]) fail(`${c} runs on ${n!.name}`);
        break;
      case 'held':
        // The quarantine's hold (the model's `masked`): stopped, and it cannot start.
        if (n!.up[c!]) fail(`${c} runs on ${n!.name}`);
        if (!n!.masked[c!]) fail(`${c} is not held on ${n!.name}`);
        break;
      case 'moved': {
        const path = check['path'] as string;
        const cl: C = path === n!.paths.etcdData ? 'etcd' : path === n!.paths.zkData ? 'exhibitor' : 'mesos';
        if ((path === n!.paths.overlayLog ? n!.overlay : n!.data[cl]) !== 0) fail(`${path} still holds data`);
        break;
      }
      case 'dc-down':
        if ([...this.nodes.values()].some((x) => x.dc === check['dc'] && CS.some((cl) => x.up[cl])))
          fail(`${String(check['dc'])} is up`);
        break;
      case 'survivors-up':
        // The model's fence only ever takes down the lost DC (it has no wrong hook, no masking):
        // the survivors are there, so this check holds. Issue 15 item 9 is tested on the lab.
        break;
      case 'zookeeper': {
        const servers = check['servers'] as string[];
        const g = this.capableGroups('exhibitor')[0];
        if (!g) fail('ZooKeeper has no quorum');
        const names = g!.map((x) => x.name).sort();
        if (names.join(',') !== [...servers].sort().join(','))
          fail(`ZooKeeper serves on ${names.join(',')}, expected ${servers.join(',')}`);
        if (check['mode'] === 'standalone' && g!.length !== 1) fail('not standalone');
        break;
      }
      case 'zookeeper-waiting':
        if (!n!.up.exhibitor) fail(`ZooKeeper is down on ${n!.name}`);
        if (this.capableGroups('exhibitor').some((g) => g.includes(n!))) fail(`ZooKeeper on ${n!.name} serves already`);
        break;
      case 'etcd': {
        const members = check['members'] as string[];
        const learners = check['learners'] as string[];
        const g = this.capableGroups('etcd')[0];
        if (!g) fail('etcd has no quorum');
        const m = g!.find((x) => members.includes(x.name))!.etcdMembers!;
        const got = m
          .filter((e) => !e.learner)
          .map((e) => e.name)
          .sort()
          .join(',');
        if (got !== [...members].sort().join(',')) fail(`etcd voters ${got}, expected ${members.join(',')}`);
        const gotL = m
          .filter((e) => e.learner)
          .map((e) => e.name)
          .sort()
          .join(',');
        if (gotL !== [...learners].sort().join(',')) fail(`etcd learners ${gotL}, expected ${learners.join(',')}`);
        for (const name of [...members, ...learners]) {
          const x = this.nodes.get(name)!;
          if (!x.up.etcd || x.data.etcd !== this.latest.etcd) fail(`${name} is not up to date`);
        }
        break;
      }
      case 'etcd-member-listed':
        if (!n!.etcdMembers?.some((e) => e.name === check['member'] && e.learner === check['learner']))
          fail(`${String(check['member'])} not listed`);
        break;
      case 'etcd-member-absent':
        if (n!.etcdMembers?.some((e) => e.name === check['member'])) fail(`${String(check['member'])} still listed`);
        break;
      case 'mesos': {
        const masters = check['masters'] as string[];
        const up = masters.map((m) => this.nodes.get(m)!);
        if (up.some((x) => !x.up.mesos)) fail('a master is down');
        if (up.some((x) => x.mesosQuorum !== check['quorum'])) fail(`quorum is not ${String(check['quorum'])}`);
        const voting = up.filter((x) => x.data.mesos === this.latest.mesos);
        if (voting.length < (check['quorum'] as number))
          fail(`only ${voting.length} voting replicas hold the latest registry: no leader can recover`);
        break;
      }
      case 'mesos-waiting':
        if (!n!.up.mesos) fail(`no master runs on ${n!.name}`);
        break;
      case 'log-copied': {
        const from = this.nodes.get(check['from'] as string)!;
        if (check['log'] === 'overlay' ? n!.overlay !== from.overlay : n!.data.mesos !== from.data.mesos)
          fail(`${String(check['log'])} logs differ`);
        break;
      }
      default:
        fail(`unknown check ${String(check['kind'])}`);
    }
  }

  /** Per node and cluster: up, masked, data; and the files. For end-state assertions. */
  snapshot() {
    return [...this.nodes.values()].map((n) => ({
      name: n.name,
      dc: n.dc,
      up: { ...n.up },
      masked: { ...n.masked },
      data: { ...n.data },
      overlay: n.overlay,
      files: { ...n.files },
      etcd: n.etcdMembers,
      zk: n.zkRunning,
      mesosQuorum: n.mesosQuorum,
    }));
  }
}

function voters(n: MNode): string[] {
  return (n.etcdMembers ?? []).filter((e) => !e.learner).map((e) => e.name);
}

function isLearner(n: MNode): boolean {
  return (n.etcdMembers ?? []).some((e) => e.name === n.name && e.learner);
}

function sameMembers(a: MNode, b: MNode): boolean {
  return JSON.stringify(a.etcdMembers) === JSON.stringify(b.etcdMembers);
}
