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

/**
 * The zxid named by the data dir's files, and the epoch the server last accepted (`currentEpoch`,
 * `acceptedEpoch`: ZooKeeper's dataDir is `<zkDataDir>/snapshot`), for a server that does not serve.
 */
async function zxidFromDisk(
  remote: Remote,
  n: TopologyNode,
  timeoutMs: number,
): Promise<{ zxid?: string; epoch?: string }> {
  const dir = n.services.exhibitor.zkDataDir;
  const epochs = ['currentEpoch', 'acceptedEpoch'].map((f) => quote(`${dir}/snapshot/version-2/${f}`)).join(' ');
  const r = await remote
    .exec(
      `ls -1 ${quote(`${dir}/snapshot/version-2`)} ${quote(`${dir}/transactions/version-2`)} 2>/dev/null; for f in ${epochs}; do test -r "$f" && printf 'epoch %s\\n' "$(cat "$f")"; done; true`,
      { timeoutMs },
    )
    .catch(() => null);
  if (!r) return {};
  const lines = r.stdout.split('\n');
  const zxid = zxidFromFileNames(lines);
  const epoch = epochFromLines(lines);
  return { ...(zxid !== undefined ? { zxid } : {}), ...(epoch !== undefined ? { epoch } : {}) };
}

/** The highest `epoch <n>` line (decimal, as ZooKeeper writes its epoch files). */
function epochFromLines(lines: readonly string[]): string | undefined {
  let best: bigint | undefined;
  for (const l of lines) {
    const m = /^epoch (\d+)$/.exec(l.trim());
    if (m && (best === undefined || BigInt(m[1]!) > best)) best = BigInt(m[1]!);
  }
  return best?.toString();
}

/** A server that gave no zxid over `srvr`, with the one its data dir names (if any). */
export async function withZxidFromDisk(
  remote: Remote,
  n: TopologyNode,
  zk: ZookeeperObservation,
  timeoutMs: number,
): Promise<ZookeeperObservation> {
  const z = await zxidFromDisk(remote, n, timeoutMs);
  return {
    ...zk,
    ...(z.zxid !== undefined ? { zxid: z.zxid, zxidSource: 'files' as const } : {}),
    ...(z.epoch !== undefined ? { diskEpoch: z.epoch } : {}),
  };
}

/** What a lost-DC server says if it answers (undefined: it does not). */
export async function zookeeperAnswers(n: TopologyNode, timeoutMs: number): Promise<string | undefined> {
  if ((await probeTcp(n.address, n.services.exhibitor.zkClientPort, timeoutMs)).kind !== 'open') return undefined;
  const z = await probeZkServer(n.address, n.services.exhibitor.zkClientPort, timeoutMs);
  return z.mode !== 'down' ? `ZooKeeper on ${n.name} (${z.mode})` : undefined;
}
