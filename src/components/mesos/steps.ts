/** The step and check kinds only the Mesos masters have: the replicated logs and a recovered leader. */
import type { StepBase } from '../../plan/plan.js';

/** The two replicated logs on a DC/OS master: the registry's, and the overlay module's. */
export type MesosLog = 'registry' | 'overlay';

/**
 * Copy the log at `fromPath` on `from` to `path` on the step's node (streamed node to node, checksummed on both
 * ends). `from` is the Mesos leader's host when one was seen: Mesos' own rule (docs/replicated-log-internals.md).
 */
export type MesosStep = StepBase & {
  action: 'copy-replicated-log';
  log: MesosLog;
  from: string;
  fromPath: string;
  path: string;
};

export type MesosCheck =
  /** One Mesos leader among `masters`, registrar recovered, MESOS_QUORUM = quorum, registry not older. */
  | { kind: 'mesos'; masters: string[]; quorum: number }
  /** The Mesos master runs but leads nothing yet: it waits for its quorum. */
  | { kind: 'mesos-waiting' }
  /** The log at `path` on the node holds exactly the files of `fromPath` on `from`. */
  | { kind: 'log-copied'; log: MesosLog; from: string; fromPath: string; path: string };
