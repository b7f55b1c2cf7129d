/**
 * Mesos masters. MESOS_QUORUM (in the mesos-master env file) is the replicated log's quorum: a
 * leader must reach that many VOTING replicas to recover the registry. An EMPTY replica (a wiped
 * one) catches up only while a quorum of voting replicas exists; a set of replicas that are all
 * EMPTY initialises a fresh, empty registry: the data-loss trap a failback must avoid.
 */
import type { SettingRef } from '../../core/env-file.js';

export const QUORUM_KEY = 'MESOS_QUORUM';
const REPLICATED_LOG_DIR = 'replicated_log';
/** overlay/master.cpp `REPLICATED_LOG_STORE`, under the module's `replicated_log_dir`. */
const OVERLAY_LOG_DIR = 'overlay_replicated_log';

export function replicatedLogPath(workDir: string): string {
  return `${workDir.replace(/\/+$/, '')}/${REPLICATED_LOG_DIR}`;
}

/** The overlay module's replicated log under its `replicated_log_dir` (null: the module is off). */
export function overlayLogPath(overlayLogDir: string | null): string | null {
  return overlayLogDir === null ? null : `${overlayLogDir.replace(/\/+$/, '')}/${OVERLAY_LOG_DIR}`;
}

/** The Mesos setting dcfail owns: the replicated log's quorum. */
export interface MesosSettings {
  mesosQuorum?: string;
}

export const MESOS_SETTINGS = {
  mesosQuorum: { file: 'mesosEnv', key: QUORUM_KEY, format: 'env', cluster: 'mesos' },
} as const satisfies Record<keyof MesosSettings, SettingRef>;

/** The quorum the mesos-master env file holds (null: the file could not be read). */
export function readMesosEnv(env: ReadonlyMap<string, string> | null): MesosSettings {
  const quorum = env?.get(QUORUM_KEY);
  return quorum === undefined ? {} : { mesosQuorum: quorum };
}
