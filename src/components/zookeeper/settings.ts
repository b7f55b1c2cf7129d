/**
 * Exhibitor / ZooKeeper on DC/OS masters. Exhibitor reads the ensemble from
 * EXHIBITOR_STATICENSEMBLE (`id:address,...`) in its env file and writes ZooKeeper's zoo.cfg from
 * it; DC/OS's Mesos pre-start check waits until the number of serving ZooKeeper servers equals
 * master_count. So the ensemble and master_count always change together.
 */
import { parseValueFile, type SettingRef } from '../../core/env-file.js';
import type { TopologyNode } from '../../topology/model.js';

export const ENSEMBLE_KEY = 'EXHIBITOR_STATICENSEMBLE';
export const MASTER_COUNT_KEY = 'master_count';

export interface EnsembleMember {
  id: number;
  address: string;
}

/** `1:10.0.0.1,2:10.0.0.2`, ordered by id (the order Exhibitor writes server.N lines). */
export function renderEnsemble(members: readonly EnsembleMember[]): string {
  return [...members]
    .sort((a, b) => a.id - b.id)
    .map((m) => `${m.id}:${m.address}`)
    .join(',');
}

export function parseEnsemble(value: string): EnsembleMember[] | null {
  if (value.trim() === '') return [];
  const out: EnsembleMember[] = [];
  for (const part of value.split(',')) {
    const m = /^\s*(\d+):([^\s,:]+|\[[^\]]+\])\s*$/.exec(part);
    if (!m) return null;
    out.push({ id: Number(m[1]), address: m[2]! });
  }
  return out;
}

/**
 * The ZooKeeper settings dcfail owns: the ensemble (Exhibitor's env file) and master_count (a
 * one-value file on the masters), which always change together.
 */
export interface ZookeeperSettings {
  masterCount?: string;
  ensemble?: string;
}

export const ZOOKEEPER_SETTINGS = {
  masterCount: { file: 'masterCount', key: MASTER_COUNT_KEY, format: 'value', cluster: 'exhibitor' },
  ensemble: { file: 'exhibitorEnv', key: ENSEMBLE_KEY, format: 'env', cluster: 'exhibitor' },
} as const satisfies Record<keyof ZookeeperSettings, SettingRef>;

/** The ensemble of every ZooKeeper server the topology declares, ordered by id. */
export function declaredEnsemble(servers: readonly TopologyNode[]): string {
  return renderEnsemble(servers.map((n) => ({ id: n.zkId!, address: n.address })));
}

/** master_count as its one-value file holds it (null: the file could not be read). */
export function readMasterCount(text: string | null): ZookeeperSettings {
  return text === null ? {} : { masterCount: parseValueFile(text) };
}

/** The ensemble Exhibitor's env file holds (null: the file could not be read). */
export function readExhibitorEnv(env: ReadonlyMap<string, string> | null): ZookeeperSettings {
  const ensemble = env?.get(ENSEMBLE_KEY);
  return ensemble === undefined ? {} : { ensemble };
}
