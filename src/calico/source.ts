/**
 * Reads Calico's configuration from its etcd (the etcdv3 datastore; key layout in resources.ts):
 * `calico.etcdEndpoints`, or else the topology's etcd members. Serializable reads, so a member
 * that lost its quorum (the lost-DC case itself) still answers with what it holds. Every read has
 * `calico.timeoutMs`; no answer from any endpoint is an OperationError naming them.
 */
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { OperationError } from '../errors.js';
import type { Topology } from '../topology/model.js';
import { judgeCalico, type CalicoReport } from './judge.js';
import {
  CALICO_KINDS,
  CALICO_PREFIX,
  MAX_KEYS_PER_KIND,
  parseCalicoKeys,
  type CalicoPlural,
  type RawKey,
} from './resources.js';

function calicoEndpoints(t: Topology): string[] {
  return (
    t.calico?.etcdEndpoints ??
    t.nodes
      .filter((n) => n.roles.includes('etcd'))
      .map((n) => `http://${n.address.includes(':') ? `[${n.address}]` : n.address}:${n.services.etcd.clientPort}`)
  );
}

async function readFrom(endpoint: string, timeoutMs: number): Promise<Record<CalicoPlural, RawKey[]>> {
  const c = new Etcd3({
    hosts: [endpoint],
    dialTimeout: timeoutMs,
    faultHandling: { host: () => noop, global: noop },
    defaultCallOptions: () => ({ deadline: new Date(Date.now() + timeoutMs) }),
  });
  try {
    const out = {} as Record<CalicoPlural, RawKey[]>;
    for (const plural of Object.keys(CALICO_KINDS) as CalicoPlural[]) {
      const kv = await c
        .getAll()
        .prefix(`${CALICO_PREFIX}${plural}/`)
        .serializable(true)
        .limit(MAX_KEYS_PER_KIND + 1)
        .strings();
      const keys = Object.entries(kv);
      if (keys.length > MAX_KEYS_PER_KIND)
        throw new OperationError(
          'calico-too-many-keys',
          `Calico's etcd at ${endpoint} holds more than ${MAX_KEYS_PER_KIND} ${plural}: not read (a partial view could hide a DC's route reflector)`,
        );
      out[plural] = keys.map(([key, value]) => ({ key, value }));
    }
    return out;
  } finally {
    c.close();
  }
}

/** The first endpoint that answers, in order; its keys judged. */
export async function readCalico(t: Topology): Promise<CalicoReport> {
  const endpoints = calicoEndpoints(t);
  const timeoutMs = t.calico?.timeoutMs ?? 5000;
  const errors: string[] = [];
  for (const e of endpoints) {
    try {
      const keys = await readFrom(e, timeoutMs);
      return judgeCalico(t, parseCalicoKeys(keys), `etcd ${e}`);
    } catch (err) {
      if (err instanceof OperationError) throw err;
      errors.push(`${e}: ${err instanceof Error ? err.message : String(err)}`);
    }
  }
  throw new OperationError(
    'calico-unreadable',
    `Calico's configuration could not be read from etcd (${endpoints.length} endpoint(s))`,
    errors,
  );
}
