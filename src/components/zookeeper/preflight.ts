/**
 * What preflight checks of a ZooKeeper server's files: Exhibitor's env file holds the ensemble
 * the topology declares. Pure: a judgement of the file's text (the command reads it).
 */
import { parseEnvFile } from '../../core/env-file.js';
import type { FileCheck } from '../../core/file-check.js';
import type { NodeConfig } from '../../plan/facts.js';
import type { TopologyNode } from '../../topology/model.js';
import { ENSEMBLE_KEY } from './settings.js';

export function zookeeperFileChecks(n: TopologyNode, want: NodeConfig): FileCheck[] {
  if (!n.roles.includes('exhibitor')) return [];
  return [
    {
      label: 'exhibitor',
      path: n.services.exhibitor.envFile,
      judge: (text) => {
        const v = parseEnvFile(text).get(ENSEMBLE_KEY);
        return v === want.ensemble
          ? null
          : `${ENSEMBLE_KEY} is ${v ?? 'missing'}, the topology declares ${want.ensemble}`;
      },
    },
  ];
}
