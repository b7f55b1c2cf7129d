/**
 * Reading ZooKeeper live: `srvr` over TCP for each server's mode and zxid; for a server that does
 * not serve, the zxid its data dir's file names give; whether a lost-DC server answers.
 */
import type { NodeObservation } from '../../observe/observation.js';
import { probeTcp } from '../../probes/tcp.js';
import { quote } from '../../remote/shell.js';
import type { Remote } from '../../remote/types.js';
import type { TopologyNode } from '../../topology/model.js';
import { probeZkServer, zxidFromFileNames } from './probe.js';

type ZookeeperObservation = NonNullable<NodeObservation['zk']>;

export async function probeZookeeperServer(n: TopologyNode, timeoutMs: number): Promise<ZookeeperObservation> {
  const s = await probeZkServer(n.address, n.services.exhibitor.zkClientPort, timeoutMs);
  return { ...s, ...(s.zxid ? { zxidSource: 'srvr' as const } : {}) };
}

/** The zxid named by the data dir's files, for a server that does not serve. */
async function zxidFromDisk(remote: Remote, n: TopologyNode, timeoutMs: number): Promise<string | undefined> {
  const dir = n.services.exhibitor.zkDataDir;
  const r = await remote
    .exec(`ls -1 ${quote(`${dir}/snapshot/version-2`)} ${quote(`${dir}/transactions/version-2`)} 2>/dev/null; true`, {
      timeoutMs,
    })
    .catch(() => null);
  return r ? zxidFromFileNames(r.stdout.split('\n')) : undefined;
}

/** A server that gave no zxid over `srvr`, with the one its data dir names (if any). */
export async function withZxidFromDisk(
  remote: Remote,
  n: TopologyNode,
  zk: ZookeeperObservation,
  timeoutMs: number,
): Promise<ZookeeperObservation> {
  const z = await zxidFromDisk(remote, n, timeoutMs);
  return z !== undefined ? { ...zk, zxid: z, zxidSource: 'files' } : zk;
}

/** What a lost-DC server says if it answers (undefined: it does not). */
export async function zookeeperAnswers(n: TopologyNode, timeoutMs: number): Promise<string | undefined> {
  if ((await probeTcp(n.address, n.services.exhibitor.zkClientPort, timeoutMs)).kind !== 'open') return undefined;
  const z = await probeZkServer(n.address, n.services.exhibitor.zkClientPort, timeoutMs);
  return z.mode !== 'down' ? `ZooKeeper on ${n.name} (${z.mode})` : undefined;
}
