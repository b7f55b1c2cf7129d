/**
 * Reads the truth from the nodes, in parallel: SSH and service ports, the settings the nodes'
 * own files hold, the units' state, and the live view of each cluster (etcd status and members,
 * ZooKeeper mode and zxid, Mesos leader and registry). Everything it gathers is plain data; the
 * judgements (mode, hazards) and the planning facts are derived from it by pure functions.
 */
import { CLUSTERS, type ClusterName } from '../core/clusters.js';
import { COMPANIONS, parseCompanionAnswer } from '../core/companions.js';
import { readEtcdEnv } from '../components/etcd/settings.js';
import { parseEnvFile } from '../core/env-file.js';
import { readExhibitorEnv, readMasterCount } from '../components/zookeeper/settings.js';
import { readMesosEnv } from '../components/mesos/settings.js';
import { listEtcdMembers, probeEtcdMember } from '../components/etcd/observe.js';
import { probeMesosMasterOf, readMesosLogs } from '../components/mesos/observe.js';
import { probeTcp } from '../probes/tcp.js';
import { probeZookeeperServer, withZxidFromDisk } from '../components/zookeeper/observe.js';
import { parseBatchOutput, renderBatchScript, type BatchItem } from '../remote/batch.js';
import { renderCommand } from '../remote/shell.js';
import type { Remotes } from '../remote/types.js';
import type { ExecResult, Remote } from '../remote/types.js';
import type { Topology, TopologyNode } from '../topology/model.js';
import type { NodeConfig } from '../plan/facts.js';
import type { ClusterObservation, NodeObservation } from './observation.js';

export type { ClusterObservation, NodeObservation, UnitState } from './observation.js';

export interface ObserveOptions {
  pool: Remotes;
  /** Per probe; defaults to the topology's health.timeoutMs. */
  timeoutMs?: number;
  /** Skip live probes of clusters (files and reachability only). */
  filesOnly?: boolean;
  /** Ask each master about the other quorum services' units too (status, failover plans). */
  companions?: boolean;
  /**
   * Observing for a failback: the survivors' (every master outside the main DC) stopped replicas
   * are read with `mesos-log read`, since with no leader among them the copy source is the most
   * advanced replica.
   */
  forFailback?: boolean;
}

/** Where a failover leaves its marker on a survivor: the failover point and the files before. */
export function markerPathOf(n: TopologyNode): string {
  return `${n.services.dcfail.stateDir}/failover-marker.json`;
}

/** The client port a cluster's service listens on, on a node. */
export function portOf(n: TopologyNode, c: ClusterName): number {
  return c === 'mesos'
    ? n.services.mesos.port
    : c === 'exhibitor'
      ? n.services.exhibitor.zkClientPort
      : n.services.etcd.clientPort;
}

/**
 * The node's files, units and marker, in one exec (src/remote/batch.ts): parsed into the
 * settings dcfail plans from, the units' states and the failover marker.
 */
async function readNodeState(
  remoteOf: () => Promise<Remote>,
  n: TopologyNode,
  obs: NodeObservation,
  timeoutMs: number,
  withCompanions: boolean,
  attempts: number,
): Promise<void> {
  const roles = CLUSTERS.filter((c) => n.roles.includes(c));
  const files: string[] = [];
  if (n.roles.includes('mesos')) files.push(n.services.mesos.masterCountFile, n.services.mesos.envFile);
  if (n.roles.includes('exhibitor')) files.push(n.services.exhibitor.envFile);
  if (n.roles.includes('etcd')) files.push(n.services.etcd.envFile);
  const items: BatchItem[] = [
    ...files.map((path) => ({ kind: 'read' as const, path })),
    { kind: 'read', path: markerPathOf(n) },
    ...roles.map((c) => ({
      kind: 'run' as const,
      command: renderCommand(n.services.commands.isActive, { unit: n.services[c].unit, node: n.name }),
      timeoutMs,
    })),
  ];
  // On a master, the other quorum services' units (core/companions.ts): one item, exit codes only.
  const companionsAt = withCompanions && n.roles.includes('mesos') ? items.length : -1;
  if (companionsAt >= 0) items.push({ kind: 'run', command: companionCheck(n), timeoutMs });
  // A batch that failed as a whole (no exit status: timed out, or the channel failed) is asked
  // again, up to the topology's health.attempts: a loaded master's one slow answer is not
  // unreadable files. One that ran and exited (sudo refused, say) is the answer. Each attempt asks
  // the pool for the node's connection: one that dropped is opened again.
  const script = renderBatchScript(items);
  let batch: ExecResult;
  for (let attempt = 1; ; attempt++) {
    batch = await (await remoteOf()).exec(script, { timeoutMs: timeoutMs + 2000 }).catch((err: Error) => ({
      exitCode: null,
      signal: null,
      stdout: '',
      stderr: err.message,
      timedOut: false,
      durationMs: 0,
    }));
    if (batch.exitCode !== null || attempt >= attempts) break;
  }
  const answers = parseBatchOutput(items, batch);
  const text = new Map<string, string | null>();
  answers.forEach((a, i) => {
    if (a.kind === 'read' && i < files.length) {
      if (a.error !== undefined) obs.fileErrors.push(`${a.path}: ${a.error}`);
      else if (a.content === null) obs.fileErrors.push(`${a.path}: missing`);
      text.set(a.path, a.error === undefined ? a.content : null);
    } else if (a.kind === 'read') {
      if (a.content !== null) obs.marker = a.content;
    } else if (i === companionsAt) {
      obs.companions = a.result.exitCode === null ? {} : parseCompanionAnswer(a.result.stdout);
    } else {
      const c = roles[i - files.length - 1]!;
      const r = a.result;
      obs.units[c] = r.timedOut || r.exitCode === null ? 'unknown' : r.exitCode === 0 ? 'active' : 'inactive';
    }
  });

  // Not one file could be read (sudo refused, the batch failed): the node's settings are unknown, not empty.
  const reads = answers.slice(0, files.length);
  if (files.length > 0 && reads.every((a) => a.kind === 'read' && a.error !== undefined)) {
    obs.fileErrors = [`files unreadable: ${batch.stderr.trim() || (reads[0] as { error?: string }).error}`];
    return;
  }
  const config: NodeConfig = {};
  const envOf = (path: string) => {
    const t = text.get(path);
    return t === null || t === undefined ? null : parseEnvFile(t);
  };
  if (n.roles.includes('mesos')) {
    const count = text.get(n.services.mesos.masterCountFile);
    Object.assign(config, readMasterCount(count ?? null), readMesosEnv(envOf(n.services.mesos.envFile)));
  }
  if (n.roles.includes('exhibitor')) Object.assign(config, readExhibitorEnv(envOf(n.services.exhibitor.envFile)));
  const etcdEnv = n.roles.includes('etcd') ? envOf(n.services.etcd.envFile) : null;
  if (etcdEnv) {
    const { settings, identity } = readEtcdEnv(etcdEnv);
    Object.assign(config, settings);
    obs.etcdEnv = identity;
  }
  obs.config = config;
}

/**
 * One shell line per companion unit: the exit codes of the topology's `exists` and `isActive`
 * templates, their own output discarded (the answer is only `<digits> <digits>` lines).
 */
function companionCheck(n: TopologyNode): string {
  return COMPANIONS.map((c) => {
    const values = { unit: c.unit, node: n.name };
    const exists = renderCommand(n.services.commands.exists, values);
    const active = renderCommand(n.services.commands.isActive, values);
    return `{ ${exists} ; } >/dev/null 2>&1; e=$?; { ${active} ; } >/dev/null 2>&1; printf '%s %s\\n' "$e" "$?"`;
  }).join('\n');
}

async function observeNode(t: Topology, n: TopologyNode, opts: ObserveOptions): Promise<NodeObservation> {
  const timeoutMs = opts.timeoutMs ?? t.health.timeoutMs;
  const obs: NodeObservation = {
    name: n.name,
    dc: n.dc,
    address: n.address,
    roles: n.roles,
    ssh: { ok: false },
    ports: {},
    config: null,
    fileErrors: [],
    units: {},
  };
  const roles = CLUSTERS.filter((c) => n.roles.includes(c));
  const portProbes = Promise.all([
    probeTcp(n.address, n.ssh.port, timeoutMs).then((r) => (obs.ports.ssh = r.kind)),
    ...roles.map((c) => probeTcp(n.address, portOf(n, c), timeoutMs).then((r) => (obs.ports[c] = r.kind))),
  ]);
  const sshWork = (async () => {
    let remote: Remote;
    try {
      remote = await opts.pool.get(n);
      obs.ssh = { ok: true };
    } catch (err) {
      obs.ssh = { ok: false, error: (err as Error).message, code: (err as { code?: string }).code ?? 'ssh' };
      return;
    }
    await readNodeState(
      async () => opts.pool.get(n).catch(() => remote),
      n,
      obs,
      timeoutMs * 2,
      opts.companions === true,
      t.health.attempts,
    );
    return remote;
  })();
  const live = opts.filesOnly
    ? Promise.resolve()
    : Promise.all([
        n.roles.includes('etcd') ? probeEtcdMember(n, timeoutMs).then((s) => (obs.etcd = s)) : undefined,
        n.roles.includes('exhibitor') ? probeZookeeperServer(n, timeoutMs).then((s) => (obs.zk = s)) : undefined,
        n.roles.includes('mesos') ? probeMesosMasterOf(n, timeoutMs).then((s) => (obs.mesos = s)) : undefined,
      ]);
  const [, remote] = await Promise.all([portProbes, sshWork, live]);
  if (remote && obs.zk && obs.zk.zxid === undefined) obs.zk = await withZxidFromDisk(remote, n, obs.zk, timeoutMs);
  // A running master holds its replicas' LevelDB lock: only a stopped one's can be read.
  if (
    remote &&
    n.roles.includes('mesos') &&
    opts.forFailback === true &&
    n.dc !== t.datacenters.main &&
    obs.units.mesos === 'inactive'
  )
    obs.mesosLogs = await readMesosLogs(remote, n);
  return obs;
}

export async function observeCluster(t: Topology, opts: ObserveOptions): Promise<ClusterObservation> {
  const timeoutMs = opts.timeoutMs ?? t.health.timeoutMs;
  const nodes = await Promise.all(t.nodes.map((n) => observeNode(t, n, opts)));
  const out: ClusterObservation = { cluster: t.cluster, observedAt: new Date().toISOString(), nodes };
  if (!opts.filesOnly) Object.assign(out, await listEtcdMembers(t, nodes, timeoutMs));
  return out;
}
