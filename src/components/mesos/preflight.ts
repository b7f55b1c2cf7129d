/**
 * What preflight checks of a Mesos master's files: master_count equals the number of ZooKeeper
 * servers (DC/OS starts the master only once that many serve), MESOS_QUORUM the majority of the
 * masters. Pure: judgements of the files' text (the command reads them).
 */
import { parseEnvFile, parseValueFile } from '../../core/env-file.js';
import type { FileCheck } from '../../core/file-check.js';
import type { NodeConfig } from '../../plan/facts.js';
import type { TopologyNode } from '../../topology/model.js';
import { QUORUM_KEY } from './settings.js';

export function mesosFileChecks(n: TopologyNode, want: NodeConfig): FileCheck[] {
  if (!n.roles.includes('mesos')) return [];
  return [
    {
      label: 'master_count',
      path: n.services.mesos.masterCountFile,
      judge: (text) => {
        const v = parseValueFile(text);
        return v === want.masterCount
          ? null
          : `master_count is ${JSON.stringify(v)}, the topology needs ${want.masterCount} (the number of ZooKeeper servers)`;
      },
    },
    {
      label: 'mesos-master',
      path: n.services.mesos.envFile,
      judge: (text) => {
        const v = parseEnvFile(text).get(QUORUM_KEY);
        return v === want.mesosQuorum
          ? null
          : `${QUORUM_KEY} is ${v ?? 'missing'}, the topology needs ${want.mesosQuorum} (majority of the masters)`;
      },
    },
  ];
}
