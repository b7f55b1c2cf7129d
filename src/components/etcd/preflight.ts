/**
 * What preflight checks of etcd on a node: its env file names every etcd member of the topology
 * in ETCD_INITIAL_CLUSTER. Pure: a judgement of the file's text (the command reads it).
 */
import { parseEnvFile } from '../../core/env-file.js';
import type { FileCheck } from '../../core/file-check.js';
import type { Topology, TopologyNode } from '../../topology/model.js';
import { INITIAL_CLUSTER_KEY, parseInitialCluster } from './settings.js';

export function etcdFileChecks(t: Topology, n: TopologyNode): FileCheck[] {
  if (!n.roles.includes('etcd')) return [];
  return [
    {
      label: 'etcd',
      path: n.services.etcd.envFile,
      judge: (text) => {
        const v = parseEnvFile(text).get(INITIAL_CLUSTER_KEY);
        const members = v === undefined ? null : parseInitialCluster(v);
        if (!members) return `${INITIAL_CLUSTER_KEY} is ${v ?? 'missing'}: not a list of name=peer-url`;
        const etcdNodes = t.nodes.filter((x) => x.roles.includes('etcd'));
        const hosts = members.map((m) => new URL(m.peerUrl).hostname.replace(/^\[|\]$/g, ''));
        const missing = etcdNodes.filter((x) => !hosts.includes(x.address)).map((x) => x.name);
        return missing.length === 0 && members.length === etcdNodes.length
          ? null
          : `${INITIAL_CLUSTER_KEY} lists ${members.length} members; the topology's etcd nodes ${missing.length ? `missing: ${missing.join(', ')}` : 'differ'}`;
      },
    },
  ];
}
