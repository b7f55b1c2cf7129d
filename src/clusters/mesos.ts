/**
 * Mesos masters. MESOS_QUORUM (in the mesos-master env file) is the replicated log's quorum: a
 * leader must reach that many VOTING replicas to recover the registry. An EMPTY replica (a wiped
 * one) catches up only while a quorum of voting replicas exists; a set of replicas that are all
 * EMPTY initialises a fresh, empty registry: the data-loss trap a failback must avoid.
 */
export const QUORUM_KEY = 'MESOS_QUORUM';
const REPLICATED_LOG_DIR = 'replicated_log';

export function replicatedLogPath(workDir: string): string {
  return `${workDir.replace(/\/+$/, '')}/${REPLICATED_LOG_DIR}`;
}
