/**
 * Small builders shared by the runbooks: a change and the verify step that must follow it.
 * Pure: they only append plain values to a StepList.
 */
import type { ClusterName } from '../core/clusters.js';
import { ZOOKEEPER_SETTINGS } from '../components/zookeeper/settings.js';
import { ETCD_SETTINGS } from '../components/etcd/settings.js';
import type { SettingRef } from '../core/env-file.js';
import { MESOS_SETTINGS } from '../components/mesos/settings.js';
import type { NodeConfig, NodeFacts } from './facts.js';
import type { Changes, Check, ServiceOp, Step, StepList } from './plan.js';

type FileRef = keyof NodeFacts['files'];

/** Where each setting dcfail owns lives: which file, which key, which format (each component says for its own). */
const SETTINGS = {
  ...ZOOKEEPER_SETTINGS,
  ...MESOS_SETTINGS,
  ...ETCD_SETTINGS,
} satisfies Record<keyof NodeConfig, SettingRef & { file: FileRef }>;

export interface FileEdit {
  node: NodeFacts;
  cluster: ClusterName;
  file: string;
  format: 'env' | 'value';
  changes: Changes;
  /** The settings the node holds once the edit is done. */
  after: NodeConfig;
}

/**
 * The file edits that bring a node's settings to `target` for the given fields; none where the
 * node already holds them (so a re-plan after a partial run skips what is done). `undefined` in
 * the target removes the setting.
 */
export function editsToward(node: NodeFacts, target: NodeConfig, fields: readonly (keyof NodeConfig)[]): FileEdit[] {
  const byFile = new Map<FileRef, FileEdit>();
  for (const field of fields) {
    const want = target[field];
    if (node.config[field] === want) continue;
    const s = SETTINGS[field];
    let edit = byFile.get(s.file);
    if (!edit) {
      edit = { node, cluster: s.cluster, file: node.files[s.file], format: s.format, changes: {}, after: {} };
      byFile.set(s.file, edit);
    }
    edit.changes[s.key] = want ?? null;
    edit.after[field] = want;
  }
  return [...byFile.values()];
}

function describeChanges(changes: Changes): string {
  return Object.entries(changes)
    .map(([k, v]) => (v === null ? `remove ${k}` : `${k}=${v}`))
    .join(', ');
}

/**
 * Appends the edits (one parallel group) and then their read-back verifications. The planner's
 * working copy of each node's settings is updated, so later steps plan from the edited state.
 */
export function addEdits(list: StepList, edits: readonly FileEdit[], group: string, why: string): void {
  if (edits.length === 0) return;
  for (const e of edits) {
    for (const [field, value] of Object.entries(e.after) as [keyof NodeConfig, string | undefined][]) {
      if (value === undefined) delete e.node.config[field];
      else e.node.config[field] = value;
    }
    list.add({
      id: `${group}:${e.node.name}:${e.file}`,
      cluster: e.cluster,
      node: e.node.name,
      action: 'edit-file',
      file: e.file,
      format: e.format,
      changes: e.changes,
      summary: `${e.file}: ${describeChanges(e.changes)}${why ? ` (${why})` : ''}`,
      group,
    });
  }
  for (const e of edits) {
    addVerify(
      list,
      e.cluster,
      e.node.name,
      { kind: 'file', file: e.file, changes: e.changes },
      `read back ${e.file}`,
      `${group}:verify`,
    );
  }
}

/** A service operation on several nodes at once, then `check` per node. */
export function addServiceOp(
  list: StepList,
  cluster: ClusterName,
  op: ServiceOp,
  nodes: readonly NodeFacts[],
  group: string,
  why: string,
  enableFirst = false,
): void {
  for (const n of nodes) {
    const unit = n.units[cluster];
    const verb = enableFirst ? `lift the hold and ${op}` : op === 'disable' ? 'hold and stop' : op;
    list.add({
      id: `${group}:${cluster}:${n.name}`,
      cluster,
      node: n.name,
      action: op,
      unit,
      summary: `${verb} ${unit}${why ? ` (${why})` : ''}`,
      group,
      ...(enableFirst ? { enableFirst } : {}),
    });
  }
}

export function addVerify(
  list: StepList,
  cluster: ClusterName | null,
  node: string | null,
  check: Check,
  summary: string,
  group?: string,
): Step {
  return list.add({
    id: `${group ?? 'verify'}:${node ?? 'cluster'}`,
    cluster,
    node,
    action: 'verify',
    check,
    summary: `verify: ${summary}`,
    ...(group ? { group } : {}),
  });
}

/** The freshest replica first; ties keep file order (offline: the first in the file). */
export function byFreshness<N extends NodeFacts>(nodes: readonly N[], position: (n: N) => bigint | undefined): N[] {
  return nodes
    .map((n, i) => ({ n, i, p: position(n) ?? -1n }))
    .sort((a, b) => (a.p === b.p ? a.i - b.i : a.p > b.p ? -1 : 1))
    .map((x) => x.n);
}
