/**
 * Exhibitor / ZooKeeper on DC/OS masters. Exhibitor reads the ensemble from
 * EXHIBITOR_STATICENSEMBLE (`id:address,...`) in its env file and writes ZooKeeper's zoo.cfg from
 * it; DC/OS's Mesos pre-start check waits until the number of serving ZooKeeper servers equals
 * master_count. So the ensemble and master_count always change together.
 */
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
