/** Reading the Mesos masters: live over HTTP, a stopped master's replicas on disk, and whether a lost-DC master answers. */
import type { NodeObservation } from '../../observe/observation.js';
import { probeTcp } from '../../probes/tcp.js';
import type { Remote } from '../../remote/types.js';
import type { TopologyNode } from '../../topology/model.js';
import { parseLogReading, renderLogReadCommand } from './log-position.js';
import { probeMesosMaster, type MesosMasterStatus } from './probe.js';
import { overlayLogPath, replicatedLogPath } from './settings.js';

export function probeMesosMasterOf(n: TopologyNode, timeoutMs: number): Promise<MesosMasterStatus> {
  return probeMesosMaster(n.address, n.services.mesos.port, timeoutMs);
}

/**
 * A stopped master's replicas (the registry's and the overlay module's), as `mesos-log read` lists
 * them on the node: the signal a failback with no leader picks its copy source by. One at a time,
 * each under the unit's command timeout (the tool reads the whole log on the node's own disk).
 */
export async function readMesosLogs(
  remote: Remote,
  n: TopologyNode,
): Promise<NonNullable<NodeObservation['mesosLogs']>> {
  const m = n.services.mesos;
  const out: NonNullable<NodeObservation['mesosLogs']> = {};
  const paths = [
    ['registry', replicatedLogPath(m.workDir)],
    ['overlay', overlayLogPath(m.overlayLogDir)],
  ] as const;
  for (const [log, path] of paths) {
    if (path === null) continue;
    const r = await remote
      .exec(renderLogReadCommand(m.logTool, path, m.commandTimeoutMs), { timeoutMs: m.commandTimeoutMs + 10_000 })
      .catch((err: Error) => ({ stdout: '', stderr: err.message, exitCode: null }));
    out[log] = parseLogReading(r.stdout, r.exitCode, r.stderr);
  }
  return out;
}

/** What a lost-DC master says if it answers (undefined: it does not). */
export async function mesosAnswers(n: TopologyNode, timeoutMs: number): Promise<string | undefined> {
  if ((await probeTcp(n.address, n.services.mesos.port, timeoutMs)).kind !== 'open') return undefined;
  return (await probeMesosMasterOf(n, timeoutMs)).reachable ? `Mesos master on ${n.name}` : undefined;
}
