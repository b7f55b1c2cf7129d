/** The step and check kinds only etcd has: membership changes, and what a healthy cluster is. */
import type { StepBase } from '../../plan/plan.js';

export type EtcdStep =
  | (StepBase & { action: 'etcd-member-add'; member: string; peerUrls: string[]; learner: boolean })
  | (StepBase & { action: 'etcd-member-promote'; member: string; peerUrl: string })
  /** A half-joined member (added, maybe started, never promoted) leaves before it joins afresh. */
  | (StepBase & { action: 'etcd-member-remove'; member: string; peerUrl: string });

export type EtcdCheck =
  /** etcd has exactly these voting members (and learners), healthy, and accepts a test write. */
  | { kind: 'etcd'; members: string[]; learners: string[] }
  /** The member is listed (added, not started yet). */
  | { kind: 'etcd-member-listed'; member: string; peerUrl: string; learner: boolean }
  /** No member has this peer URL. */
  | { kind: 'etcd-member-absent'; member: string; peerUrl: string };
