/**
 * Live etcd probes through the etcd3 client. Its defaults hurt against a cluster without quorum
 * (a put without deadline hangs; retries; then a circuit breaker fails even reads), so every
 * client here has no fault handling of its own and a deadline on every call (SERVERS.md).
 */
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';

export interface EtcdEndpointStatus {
  endpoint: string;
  ok: boolean;
  /** Decimal member id, as the etcd3 client gives it. */
  memberId?: string;
  /** The leader this member follows (decimal id; "0" when it knows none). */
  leader?: string;
  raftIndex?: bigint;
  appliedIndex?: bigint;
  raftTerm?: bigint;
  clusterId?: string;
  version?: string;
  isLearner?: boolean;
  error?: string;
}

export interface EtcdMemberInfo {
  id: string;
  name: string;
  peerURLs: string[];
  clientURLs: string[];
  isLearner: boolean;
}

function client(endpoints: readonly string[], timeoutMs: number): Etcd3 {
  return new Etcd3({
    hosts: [...endpoints],
    dialTimeout: timeoutMs,
    faultHandling: { host: () => noop, global: noop },
    defaultCallOptions: () => ({ deadline: new Date(Date.now() + timeoutMs) }),
  });
}

async function withClient<T>(
  endpoints: readonly string[],
  timeoutMs: number,
  fn: (c: Etcd3) => Promise<T>,
): Promise<T> {
  const c = client(endpoints, timeoutMs);
  try {
    return await fn(c);
  } finally {
    c.close();
  }
}

function message(err: unknown): string {
  const m = err instanceof Error ? err.message : String(err);
  return m.split('\n')[0]!.slice(0, 300);
}

/** One member's own view (maintenance.status talks to one endpoint only). */
export async function probeEtcdEndpoint(endpoint: string, timeoutMs: number): Promise<EtcdEndpointStatus> {
  try {
    return await withClient([endpoint], timeoutMs, async (c) => {
      const s = await c.maintenance.status();
      return {
        endpoint,
        ok: true,
        memberId: s.header.member_id,
        leader: s.leader,
        raftIndex: BigInt(s.raftIndex),
        appliedIndex: BigInt(s.raftAppliedIndex ?? s.raftIndex),
        raftTerm: BigInt(s.raftTerm),
        clusterId: s.header.cluster_id,
        version: s.version,
        isLearner: (s as { isLearner?: boolean }).isLearner ?? false,
      };
    });
  } catch (err) {
    return { endpoint, ok: false, error: message(err) };
  }
}

export async function etcdMemberList(endpoints: readonly string[], timeoutMs: number): Promise<EtcdMemberInfo[]> {
  return withClient(endpoints, timeoutMs, async (c) => {
    const r = await c.cluster.memberList({});
    return r.members.map((m) => ({
      id: m.ID,
      name: m.name,
      peerURLs: m.peerURLs,
      clientURLs: m.clientURLs,
      isLearner: Boolean((m as { isLearner?: boolean }).isLearner),
    }));
  });
}

/** A quorum write and its read-back: the cluster serves. */
export async function etcdTestWrite(
  endpoints: readonly string[],
  key: string,
  value: string,
  timeoutMs: number,
): Promise<void> {
  await withClient(endpoints, timeoutMs, async (c) => {
    await c.put(key).value(value);
    const got = await c.get(key).string();
    if (got !== value) throw new Error(`read back ${JSON.stringify(got)} for ${key}, wrote ${JSON.stringify(value)}`);
  });
}

export async function etcdMemberAdd(
  endpoints: readonly string[],
  peerUrls: readonly string[],
  learner: boolean,
  timeoutMs: number,
): Promise<EtcdMemberInfo[]> {
  return withClient(endpoints, timeoutMs, async (c) => {
    const r = await c.cluster.memberAdd({ peerURLs: [...peerUrls], isLearner: learner });
    return r.members.map((m) => ({
      id: m.ID,
      name: m.name,
      peerURLs: m.peerURLs,
      clientURLs: m.clientURLs,
      isLearner: Boolean((m as { isLearner?: boolean }).isLearner),
    }));
  });
}

export async function etcdMemberPromote(endpoints: readonly string[], id: string, timeoutMs: number): Promise<void> {
  await withClient(endpoints, timeoutMs, async (c) => {
    await c.cluster.memberPromote({ ID: id });
  });
}

export async function etcdMemberRemove(endpoints: readonly string[], id: string, timeoutMs: number): Promise<void> {
  await withClient(endpoints, timeoutMs, async (c) => {
    await c.cluster.memberRemove({ ID: id });
  });
}

export function etcdClientUrl(address: string, port: number): string {
  return `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
}
