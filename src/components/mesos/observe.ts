/** Reading the Mesos masters live over HTTP, and whether a lost-DC master answers. */
import { probeTcp } from '../../probes/tcp.js';
import type { TopologyNode } from '../../topology/model.js';
import { probeMesosMaster, type MesosMasterStatus } from './probe.js';

export function probeMesosMasterOf(n: TopologyNode, timeoutMs: number): Promise<MesosMasterStatus> {
  return probeMesosMaster(n.address, n.services.mesos.port, timeoutMs);
}

/** What a lost-DC master says if it answers (undefined: it does not). */
export async function mesosAnswers(n: TopologyNode, timeoutMs: number): Promise<string | undefined> {
  if ((await probeTcp(n.address, n.services.mesos.port, timeoutMs)).kind !== 'open') return undefined;
  return (await probeMesosMasterOf(n, timeoutMs)).reachable ? `Mesos master on ${n.name}` : undefined;
}
