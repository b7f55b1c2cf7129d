/**
 * Where a Mesos master keeps its replicas: the registry's replicated log in its work dir, and
 * DC/OS's overlay module's own replicated log (when the module is on).
 */
import type { TopologyNode } from '../../topology/model.js';
import { overlayLogPath, replicatedLogPath } from './settings.js';

export function mesosReplicaPaths(n: TopologyNode): string[] {
  const overlay = overlayLogPath(n.services.mesos.overlayLogDir);
  return [replicatedLogPath(n.services.mesos.workDir), ...(overlay === null ? [] : [overlay])];
}
