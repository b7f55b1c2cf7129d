/**
 * What the lab's servers say about themselves, read without dcfail's code: ZooKeeper's `srvr`
 * over a raw TCP socket, `etcdctl endpoint status -w json`, the Mesos masters'
 * `/metrics/snapshot`. The lab-backed status tests compare dcfail's report with this.
 * Also the guard that keeps a test from starting a lab on top of someone else's.
 */
import { execFile } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import { promisify } from 'node:util';
import { labDir } from '../../lab/lab.js';
import { PORTS, type LabNode } from '../../lab/layout.js';
import { sleep } from '../../lab/probes.js';

const run = promisify(execFile);

export interface ZkTruth {
  mode: string;
  /** Decimal. */
  zxid: bigint;
}

export interface EtcdTruth {
  /** Decimal strings, taken from the raw JSON text (uint64 does not fit a double). */
  memberId: string;
  leader: string;
  clusterId: string;
  appliedIndex: bigint;
}

export interface MesosTruth {
  elected: boolean;
  recovered: boolean;
  registryVersion: number;
}

export interface NodeTruth {
  name: string;
  zk?: ZkTruth;
  etcd?: EtcdTruth;
  mesos?: MesosTruth;
}

function srvr(host: string, port: number, timeoutMs = 1500): Promise<string | undefined> {
  return new Promise((done) => {
    const s = connect({ host, port });
    let data = '';
    s.setTimeout(timeoutMs, () => {
      s.destroy();
      done(undefined);
    });
    s.once('connect', () => s.end('srvr'));
    s.on('data', (b) => (data += b.toString('utf8')));
    s.once('error', () => done(undefined));
    s.once('close', () => done(data));
  });
}

export async function zkTruth(n: LabNode): Promise<ZkTruth | undefined> {
  const text = await srvr(n.address, PORTS.zkClient);
  const mode = text ? /^Mode: (\S+)$/m.exec(text)?.[1] : undefined;
  const zxid = text ? /^Zxid: (0x[0-9a-f]+)$/m.exec(text)?.[1] : undefined;
  return mode && zxid ? { mode, zxid: BigInt(zxid) } : undefined;
}

export async function etcdTruth(n: LabNode): Promise<EtcdTruth | undefined> {
  try {
    const { stdout } = await run(
      'etcdctl',
      [
        `--endpoints=http://${n.address}:${PORTS.etcdClient}`,
        '--dial-timeout=1s',
        '--command-timeout=2s',
        'endpoint',
        'status',
        '-w',
        'json',
      ],
      {
        env: { ...process.env, ETCDCTL_API: '3' },
        timeout: 4000,
      },
    );
    const field = (k: string) => new RegExp(`"${k}":(\\d+)`).exec(stdout)?.[1];
    const memberId = field('member_id');
    const leader = field('leader');
    const clusterId = field('cluster_id');
    const applied = field('raftAppliedIndex');
    if (!memberId || !leader || !clusterId || !applied) return undefined;
    return { memberId, leader, clusterId, appliedIndex: BigInt(applied) };
  } catch {
    return undefined;
  }
}

export async function mesosTruth(n: LabNode): Promise<MesosTruth | undefined> {
  try {
    const r = await fetch(`http://${n.address}:${PORTS.mesos}/metrics/snapshot`, { signal: AbortSignal.timeout(1500) });
    if (r.status !== 200) return undefined;
    const m = (await r.json()) as Record<string, number>;
    // The registry's position is the loopback stand-in's own log (lab only: Mesos tells none).
    const log = (await (
      await fetch(`http://${n.address}:${PORTS.mesos}/replica/log`, { signal: AbortSignal.timeout(1500) })
    ).json()) as { version: number };
    return {
      elected: m['master/elected'] === 1,
      recovered: m['master/elected'] === 1 && m['registrar/registry_size_bytes'] !== undefined,
      registryVersion: log.version,
    };
  } catch {
    return undefined;
  }
}

export async function serverTruth(nodes: readonly LabNode[]): Promise<NodeTruth[]> {
  return Promise.all(
    nodes.map(async (n) => {
      const [zk, etcd, mesos] = await Promise.all([zkTruth(n), etcdTruth(n), mesosTruth(n)]);
      return { name: n.name, ...(zk ? { zk } : {}), ...(etcd ? { etcd } : {}), ...(mesos ? { mesos } : {}) };
    }),
  );
}

/**
 * The leader of each cluster as the servers name it (undefined: none, or more than one). A Mesos
 * master that says `master/elected` leads, recovered or not, as dcfail's judge counts it.
 */
export function truthLeaders(t: readonly NodeTruth[]): { exhibitor?: string; mesos?: string; etcd?: string } {
  const one = (names: string[]) => (names.length === 1 ? names[0] : undefined);
  const exhibitor = one(t.filter((n) => n.zk?.mode === 'leader' || n.zk?.mode === 'standalone').map((n) => n.name));
  const mesos = one(t.filter((n) => n.mesos?.elected).map((n) => n.name));
  const etcd = one(t.filter((n) => n.etcd && n.etcd.leader === n.etcd.memberId).map((n) => n.name));
  return { ...(exhibitor ? { exhibitor } : {}), ...(mesos ? { mesos } : {}), ...(etcd ? { etcd } : {}) };
}

/** Every node that claims to lead, per cluster (two or more: a split). */
export function truthLeaderClaims(t: readonly NodeTruth[]): Record<'exhibitor' | 'mesos' | 'etcd', string[]> {
  return {
    exhibitor: t.filter((n) => n.zk?.mode === 'leader' || n.zk?.mode === 'standalone').map((n) => n.name),
    mesos: t.filter((n) => n.mesos?.elected).map((n) => n.name),
    etcd: t.filter((n) => n.etcd && n.etcd.leader === n.etcd.memberId).map((n) => n.name),
  };
}

/** Decimal positions per node and cluster, as the servers report them. */
export function truthPositions(
  t: readonly NodeTruth[],
): Record<'exhibitor' | 'mesos' | 'etcd', Record<string, bigint>> {
  const out = { exhibitor: {}, mesos: {}, etcd: {} } as Record<'exhibitor' | 'mesos' | 'etcd', Record<string, bigint>>;
  for (const n of t) {
    if (n.zk) out.exhibitor[n.name] = n.zk.zxid;
    // Only the recovered leader has a Mesos position: the agents its registry knows (one per entry).
    if (n.mesos?.elected && n.mesos.recovered) out.mesos[n.name] = BigInt(n.mesos.registryVersion);
    if (n.etcd) out.etcd[n.name] = n.etcd.appliedIndex;
  }
  return out;
}

/** The second octet of the lab's addresses (lab/layout.ts: DCFAIL_LAB_NET). */
function labNet(): string {
  return process.env['DCFAIL_LAB_NET'] ?? '0';
}

interface ForeignLab {
  pid: number;
  dir: string;
  net: string | undefined;
}

function foreignLabs(ours: string): ForeignLab[] {
  const out: ForeignLab[] = [];
  for (const e of readdirSync('/proc')) {
    if (!/^\d+$/.test(e)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`/proc/${e}/cmdline`, 'utf8').split('\0');
    } catch {
      continue;
    }
    const i = argv.findIndex((a) => a.endsWith('dist/lab/supervisor.js'));
    const dir = i >= 0 ? argv[i + 1] : undefined;
    if (!dir || resolve(dir) === ours) continue;
    let net: string | undefined;
    try {
      const layout = JSON.parse(readFileSync(`${dir}/lab.json`, 'utf8')) as { nodes: { address: string }[] };
      net = layout.nodes[0]?.address.split('.')[1];
    } catch {
      net = undefined;
    }
    out.push({ pid: Number(e), dir, net });
  }
  return out;
}

/**
 * Waits (up to 10 minutes) while a lab this process did not start runs on the same addresses.
 * A lab on other addresses in another dir runs side by side (DCFAIL_LAB_NET, DCFAIL_LAB_DIR).
 */
export async function waitForForeignLab(progress: (m: string) => void = () => undefined): Promise<void> {
  const ours = labDir();
  const deadline = Date.now() + 10 * 60_000;
  for (;;) {
    const clash = foreignLabs(ours).filter((l) => l.net === undefined || l.net === labNet());
    if (clash.length === 0) return;
    if (Date.now() > deadline)
      throw new Error(
        `another lab is running (${clash.map((l) => `pid ${l.pid} in ${l.dir}`).join(', ')}): not starting ours on top of it`,
      );
    progress(`waiting for the lab in ${clash.map((l) => l.dir).join(', ')} to finish`);
    await sleep(5000);
  }
}
