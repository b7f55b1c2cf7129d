/** The step and check kinds only the Mesos masters have: the replicated log and a recovered leader. */
import type { StepBase } from '../../plan/plan.js';

export type MesosStep = StepBase & { action: 'copy-replicated-log'; from: string; path: string };

export type MesosCheck =
  /** One Mesos leader among `masters`, registrar recovered, MESOS_QUORUM = quorum, registry not older. */
  | { kind: 'mesos'; masters: string[]; quorum: number }
  /** The Mesos master runs but leads nothing yet: it waits for its quorum. */
  | { kind: 'mesos-waiting' }
  /** The replicated log on the node is a copy of the source's. */
  | { kind: 'log-copied'; from: string; path: string };
