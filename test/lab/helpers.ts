/** Small helpers shared by the lab-backed suites. */
import { PORTS, type LabNode } from '../../lab/layout.js';
import { httpJson, httpRequest, sleep } from '../../lab/probes.js';
import type { ReplicaLog } from '../../lab/standins/replicated-log.js';

/** Polls until `fn` returns a value that is not undefined/false, or throws with the last reason. */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false>, timeoutMs = 30_000, everyMs = 250): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastErr: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
    } catch (err) {
      lastErr = err;
    }
    await sleep(everyMs);
  }
  throw new Error(`timed out waiting for ${what}${lastErr ? `: ${(lastErr as Error).message}` : ''}`);
}

export const mesosUrl = (n: LabNode, path: string) => `http://${n.address}:${PORTS.mesos}${path}`;

export async function replicaLog(n: LabNode): Promise<ReplicaLog | undefined> {
  return httpJson<ReplicaLog>(mesosUrl(n, '/replica/log'), 1000);
}

export async function writeRegistryEntry(leader: LabNode, data: unknown): Promise<number> {
  // Longer than the master's store timeout (20 s): the outcome is the master's to decide.
  const r = await httpRequest(mesosUrl(leader, '/registry/entries'), { body: data, timeoutMs: 25_000 });
  if (r.kind !== 'response' || r.status !== 200) throw new Error(`registry write failed: ${JSON.stringify(r)}`);
  return (JSON.parse(r.body) as { version: number }).version;
}

export interface MasterState {
  leader: string;
  hostname: string;
  version: string;
  registry: ReplicaLog;
}

export async function masterState(n: LabNode): Promise<MasterState | undefined> {
  return httpJson<MasterState>(mesosUrl(n, '/master/state'), 1000);
}
