/**
 * A plan is a plain serialisable value: `plan` prints it, `failover`/`failback` execute exactly
 * it. Its JSON shape is a contract (../shared/spec/CLI.md): runbook, from, to, safe, refusals,
 * warnings, quorum, steps[{ id, cluster, node, action, summary, file?, changes? }]. Fields
 * beyond those are additions.
 */
import type { ClusterName } from '../core/clusters.js';
import type { Finding } from '../core/safety.js';
import type { EtcdCheck, EtcdStep } from '../components/etcd/steps.js';
import type { MesosCheck, MesosStep } from '../components/mesos/steps.js';
import type { ZookeeperCheck } from '../components/zookeeper/steps.js';

import type { Changes } from '../core/env-file.js';

export type { Changes };

/**
 * `disable` is the quarantine's hold (flag, drop-in, stop: src/apply/units.ts); the name stays for
 * the plan's JSON readers. `enable` is not planned any more (a held unit's start lifts its hold).
 */
export type ServiceOp = 'start' | 'stop' | 'restart' | 'disable' | 'enable';

/** The checks any component's steps use: files, units, paths, a whole DC. */
type GenericCheck =
  /** The named files hold the given settings. */
  | { kind: 'file'; file: string; changes: Changes }
  /** The unit is not running. */
  | { kind: 'stopped'; unit: string }
  /** The unit is not running and is held: its hold flag and drop-in are there (read back). */
  | { kind: 'held'; unit: string }
  /** The path no longer exists (its content was moved to `backup`). */
  | { kind: 'moved'; path: string }
  /** Every node of the DC fails every health check. */
  | { kind: 'dc-down'; dc: string }
  /** The surviving DC's nodes answer SSH and none of their units is held or masked (the fence hit the right DC). */
  | { kind: 'survivors-up'; dc: string };

/**
 * What a verify step checks. Every change is followed by one before the next change runs. The
 * union of the generic checks and each component's (components/<name>/steps.ts).
 */
export type Check = GenericCheck | ComponentCheck;

/** The checks only one component has. */
export type ComponentCheck = ZookeeperCheck | MesosCheck | EtcdCheck;

export interface StepBase {
  /** Stable across re-plans of the same state, so a journal can say which steps are done. */
  id: string;
  cluster: ClusterName | null;
  node: string | null;
  summary: string;
  /** Steps that share a group run in parallel (independent nodes of one step). */
  group?: string;
  /**
   * Consecutive steps with tracks form a section whose tracks run side by side, each in order:
   * independent clusters (etcd beside ZooKeeper then Mesos) need not wait for each other.
   */
  track?: string;
}

/** The steps only one component has (components/<name>/steps.ts). */
export type ComponentStep = MesosStep | EtcdStep;

export type Step =
  | (StepBase & { action: 'fence'; dc: string; command: string })
  | (StepBase & { action: 'edit-file'; file: string; changes: Changes; format: 'env' | 'value' })
  /** `enableFirst`: lift the unit's hold (remove its flag) right before starting it: a quarantined unit. */
  | (StepBase & { action: ServiceOp; unit: string; enableFirst?: boolean })
  | (StepBase & { action: 'move-aside'; path: string; what: StaleState })
  | ComponentStep
  | (StepBase & { action: 'verify'; check: Check });

/** What a failback moves aside on a returning node: a replica's state. */
export type StaleState = 'etcd-data' | 'zookeeper-data' | 'replicated-log' | 'overlay-log';

export interface QuorumFigure {
  members: number;
  quorum: number;
}

export interface Plan {
  runbook: 'failover' | 'failback';
  /** The DC the cluster moves away from and the one it moves to. */
  from: string;
  to: string;
  safe: boolean;
  refusals: Finding[];
  warnings: Finding[];
  quorum: Partial<Record<ClusterName, { before: QuorumFigure; after: QuorumFigure }>>;
  steps: Step[];
  /** Additions to the contract. */
  cluster: string;
  /** `offline`: derived from the topology alone; it observed nothing and cannot be applied. */
  mode: 'offline' | 'online';
  /**
   * The DC the failover lost: in a failover plan the one it moves away from (`from`), in a
   * failback plan the one that returns (`to`). The name is kept for the JSON's readers; read
   * `from`/`to` for direction.
   */
  lostDc: string;
}

/** Collects steps with stable ids; a group makes consecutive steps one parallel step. */
export class StepList {
  readonly steps: Step[] = [];
  private readonly ids = new Set<string>();
  private track: string | undefined;

  /** Steps added from now on belong to `track` (undefined: to none). */
  setTrack(track: string | undefined): void {
    this.track = track;
  }

  /** Steps added inside `fn` belong to `track`. */
  inTrack(track: string, fn: () => void): void {
    const before = this.track;
    this.track = track;
    try {
      fn();
    } finally {
      this.track = before;
    }
  }

  add<S extends Step>(step: S): S {
    let id = step.id;
    for (let n = 2; this.ids.has(id); n += 1) id = `${step.id}#${n}`;
    this.ids.add(id);
    const s = { ...step, id, ...(this.track !== undefined ? { track: this.track } : {}) };
    this.steps.push(s);
    return s;
  }
}
