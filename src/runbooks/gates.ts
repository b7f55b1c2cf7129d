/**
 * What must hold before anything changes: the loss certificate (the lost DC really is down), the
 * run lock (one operator at a time), hooks, and the failover marker that lets a later failback,
 * from any laptop, know the failover point and the files as they were.
 */
import { execa } from 'execa';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { hostname, homedir, userInfo } from 'node:os';
import { join } from 'node:path';
import { CLUSTERS } from '../core/clusters.js';
import type { Finding } from '../core/safety.js';
import { LockedError, OperationError, RefusedError } from '../errors.js';
import { markerPathOf, portOf, type ClusterObservation, type NodeObservation } from '../observe/observe.js';
import { probeTcp } from '../probes/tcp.js';
import { quote } from '../remote/shell.js';
import type { RemotePool } from '../remote/ssh.js';
import type { Topology, TopologyNode } from '../topology/model.js';
import type { NodeConfig } from './facts.js';
import { writeFileAtomic } from './local-files.js';

export function stateDir(): string {
  return process.env['DCFAIL_STATE_DIR'] ?? join(homedir(), '.dcfail');
}

export function operatorName(): string {
  return process.env['DCFAIL_OPERATOR'] ?? `${userInfo().username}@${hostname()}`;
}

// ---------------------------------------------------------------------------------------------
// Loss certificate

export interface LossEvidence {
  dc: string;
  attempts: number;
  /** Per node and check: what each attempt saw (`refused`, `timeout`, `open`, `ok`...). */
  checks: { node: string; check: string; results: string[] }[];
  /** Lost-DC nodes that answered as cluster members: a hard refusal. */
  answeringAsMembers: string[];
  survivors: { node: string; sane: boolean; why: string }[];
  verdict: 'down' | 'alive' | 'inconclusive';
  reasons: string[];
}

function memberAnswers(o: NodeObservation): string[] {
  const out: string[] = [];
  if (o.etcd?.ok) out.push(`etcd member ${o.name} answers (leader ${o.etcd.leader})`);
  if (o.zk && o.zk.mode !== 'down') out.push(`ZooKeeper on ${o.name} answers (${o.zk.mode})`);
  if (o.mesos?.reachable) out.push(`Mesos master on ${o.name} answers`);
  return out;
}

/**
 * Several independent signals that the DC is down: every configured check fails on every node
 * over the configured attempts; nothing of it answers as a cluster member; the survivors are
 * reachable and sane and see no leader among the lost members.
 */
export async function certifyLoss(t: Topology, lostDc: string, observation: ClusterObservation): Promise<LossEvidence> {
  const attempts = t.health.attempts;
  const lost = t.nodes.filter((n) => n.dc === lostDc);
  const checks: LossEvidence['checks'] = [];
  const reasons: string[] = [];
  // Nodes side by side, attempts one after the other (each attempt is a fresh look, later than
  // the one before): the certificate takes attempts x timeout, not that times the lost nodes.
  const perNode = await Promise.all(
    lost.map(async (n) => {
      const seen = observation.nodes.find((o) => o.name === n.name)?.ports;
      const clusters = t.health.checks.includes('tcp') ? CLUSTERS.filter((c) => n.roles.includes(c)) : [];
      const targets: { row: LossEvidence['checks'][number]; port: number; observed: string | undefined }[] = [
        ...(t.health.checks.includes('ssh')
          ? [{ row: { node: n.name, check: 'ssh', results: [] as string[] }, port: n.ssh.port, observed: seen?.ssh }]
          : []),
        ...clusters.map((c) => ({
          row: { node: n.name, check: `tcp:${c}`, results: [] as string[] },
          port: portOf(n, c),
          observed: seen?.[c],
        })),
      ];
      for (let a = 0; a < attempts; a += 1) {
        // The first attempt is the observation this run just made (the same TCP probes, with the
        // same timeout): a look of its own, taken moments before.
        await Promise.all(
          targets.map(async ({ row, port, observed }) =>
            row.results.push(
              a === 0 && observed !== undefined ? observed : (await probeTcp(n.address, port, t.health.timeoutMs)).kind,
            ),
          ),
        );
      }
      return targets.map((x) => x.row);
    }),
  );
  checks.push(...perNode.flat());
  const answering = observation.nodes.filter((o) => o.dc === lostDc).flatMap(memberAnswers);
  const anyOpen = checks.filter((c) => c.results.includes('open'));
  for (const c of anyOpen)
    reasons.push(
      `${c.node} ${c.check} answered on ${c.results.filter((r) => r === 'open').length} of ${attempts} attempts`,
    );

  const survivors = observation.nodes
    .filter((o) => o.dc !== lostDc && o.roles.length > 0)
    .map((o) => {
      const problems: string[] = [];
      if (!o.ssh.ok) problems.push(`SSH: ${o.ssh.error ?? 'unreachable'}`);
      if (o.config === null) problems.push('files unreadable');
      return { node: o.name, sane: problems.length === 0, why: problems.join('; ') || 'reachable, files readable' };
    });
  for (const s of survivors) if (!s.sane) reasons.push(`survivor ${s.node} is not sane: ${s.why}`);

  // The survivors must not follow a leader among the lost members.
  const lostNames = new Set(lost.map((n) => n.name));
  const lostEtcdIds = new Set(observation.etcdMembers?.filter((m) => lostNames.has(m.name)).map((m) => m.id) ?? []);
  for (const o of observation.nodes.filter((x) => x.dc !== lostDc)) {
    if (o.etcd?.ok && o.etcd.leader && lostEtcdIds.has(o.etcd.leader))
      answering.push(`etcd on ${o.name} follows a leader in ${lostDc}`);
    if (
      o.zk &&
      (o.zk.mode === 'follower' || o.zk.mode === 'leader') &&
      o.config?.ensemble &&
      lost.some((n) => o.config!.ensemble!.split(',').some((p) => p.endsWith(`:${n.address}`)))
    ) {
      answering.push(`ZooKeeper on ${o.name} serves in an ensemble with ${lostDc}'s servers`);
    }
  }
  const verdict: LossEvidence['verdict'] =
    answering.length > 0 ? 'alive' : reasons.length > 0 ? 'inconclusive' : 'down';
  return {
    dc: lostDc,
    attempts,
    checks,
    answeringAsMembers: answering,
    survivors,
    verdict,
    reasons: [...answering, ...reasons],
  };
}

// ---------------------------------------------------------------------------------------------
// Run lock: locally, and on each node the run acts on.

export interface LockOwner {
  host: string;
  pid: number;
  runId: string;
  operator: string;
  at: string;
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** May this run take over a lock held by `owner`? */
function mayTakeOver(owner: LockOwner | null, breakLock: boolean): boolean {
  if (owner === null || breakLock) return true;
  return owner.host === hostname() && !pidAlive(owner.pid);
}

export class RunLock {
  private readonly remoteHeld: TopologyNode[] = [];
  private localHeld = false;

  constructor(
    private readonly t: Topology,
    private readonly pool: RemotePool,
    private readonly owner: LockOwner,
  ) {}

  private get localDir(): string {
    return join(stateDir(), 'locks', this.t.cluster);
  }

  async acquire(nodes: readonly TopologyNode[], breakLock: boolean): Promise<Finding[]> {
    const notes: Finding[] = [];
    await mkdir(join(stateDir(), 'locks'), { recursive: true });
    try {
      await mkdir(this.localDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const held = await readFile(join(this.localDir, 'owner.json'), 'utf8').then(
        (s) => JSON.parse(s) as LockOwner,
        () => null,
      );
      if (!mayTakeOver(held, breakLock)) throw lockedBy(held, 'local');
      notes.push({
        code: 'lock-taken-over',
        message: `took over the local lock of ${describeOwner(held)}${breakLock ? ' (--break-lock)' : ' (its process is gone)'}`,
      });
    }
    await writeFileAtomic(join(this.localDir, 'owner.json'), JSON.stringify(this.owner));
    this.localHeld = true;

    const me = JSON.stringify(this.owner);
    const results = await Promise.all(
      nodes.map(async (n) => {
        const remote = await this.pool.get(n);
        const dir = `${n.services.dcfail.stateDir}/lock`;
        const r = await remote.exec(
          `mkdir -p ${quote(n.services.dcfail.stateDir)} && if mkdir ${quote(dir)} 2>/dev/null; then echo taken; else cat ${quote(`${dir}/owner.json`)} 2>/dev/null || echo '{}'; fi`,
          { timeoutMs: 10_000 },
        );
        if (r.exitCode !== 0)
          throw new OperationError('lock-failed', `${n.name}: cannot take the run lock: ${r.stderr.trim()}`);
        if (!r.stdout.startsWith('taken')) {
          let held: LockOwner | null = null;
          try {
            held = JSON.parse(r.stdout) as LockOwner;
          } catch {
            held = null;
          }
          if (held && held.runId === this.owner.runId) return { n, ok: true as const };
          if (!mayTakeOver(held && held.host ? held : null, breakLock)) return { n, ok: false as const, held };
          notes.push({ code: 'lock-taken-over', message: `${n.name}: took over the lock of ${describeOwner(held)}` });
        }
        await remote.exec(`printf %s ${quote(me)} > ${quote(`${dir}/owner.json`)}`, { timeoutMs: 10_000 });
        return { n, ok: true as const };
      }),
    );
    for (const r of results) if (r.ok) this.remoteHeld.push(r.n);
    const refused = results.find((r) => !r.ok);
    if (refused && !refused.ok) {
      await this.release();
      throw lockedBy(refused.held, refused.n.name);
    }
    return notes;
  }

  async release(): Promise<void> {
    await Promise.all(
      this.remoteHeld.map(async (n) => {
        const dir = `${n.services.dcfail.stateDir}/lock`;
        const remote = await this.pool.get(n).catch(() => null);
        await remote?.exec(`rm -rf ${quote(dir)}`, { timeoutMs: 10_000 }).catch(() => undefined);
      }),
    );
    this.remoteHeld.length = 0;
    if (this.localHeld) await rm(this.localDir, { recursive: true, force: true });
    this.localHeld = false;
  }
}

function describeOwner(o: LockOwner | null): string {
  return o && o.host ? `run ${o.runId} by ${o.operator} (pid ${o.pid} on ${o.host}, since ${o.at})` : 'an unknown run';
}

function lockedBy(o: LockOwner | null, where: string): LockedError {
  return new LockedError(`another run holds the lock for this cluster (${where}): ${describeOwner(o)}`, [
    'wait for it to finish; if its process is gone on another host, re-run with --break-lock',
  ]);
}

// ---------------------------------------------------------------------------------------------
// Hooks

export async function runHook(
  name: string,
  command: string | undefined,
  cwd: string,
  env: Record<string, string>,
  timeoutMs = 120_000,
): Promise<{ ran: boolean; exitCode?: number; output?: string }> {
  if (!command) return { ran: false };
  const [cmd, ...args] = command.split(/\s+/);
  const r = await execa(cmd!, args, {
    cwd,
    env: { ...process.env, ...env },
    reject: false,
    timeout: timeoutMs,
    all: true,
  });
  return {
    ran: true,
    exitCode: r.exitCode ?? -1,
    output: String(r.all ?? '')
      .trim()
      .split('\n')
      .slice(-3)
      .join(' / '),
  };
}

export async function preHook(
  name: string,
  command: string | undefined,
  cwd: string,
  env: Record<string, string>,
): Promise<void> {
  const r = await runHook(name, command, cwd, env);
  if (r.ran && r.exitCode !== 0)
    throw new RefusedError(
      'hook-refused',
      `the ${name} hook exited ${r.exitCode}: nothing was changed`,
      r.output ? [r.output] : [],
    );
}

// ---------------------------------------------------------------------------------------------
// The failover marker

export interface FailoverMarker {
  runId: string;
  lostDc: string;
  at: string;
  operator: string;
  /** The files of every node before the failover: what failback restores. */
  original: Record<string, NodeConfig>;
  /** Where each survivor's replicas were when the failover began. */
  point: Record<
    string,
    {
      etcdAppliedIndex?: string;
      etcdRaftTerm?: string;
      etcdClusterId?: string;
      zkZxid?: string;
      mesosRegistryVersion?: number;
    }
  >;
}

export async function writeMarker(
  pool: RemotePool,
  nodes: readonly TopologyNode[],
  marker: FailoverMarker,
): Promise<void> {
  await Promise.all(
    nodes.map(async (n) => {
      const remote = await pool.get(n);
      await remote.exec(`mkdir -p ${quote(n.services.dcfail.stateDir)}`, { timeoutMs: 10_000 });
      await remote.writeFileAtomic(markerPathOf(n), `${JSON.stringify(marker, null, 2)}\n`);
    }),
  );
}

export function readMarker(o: ClusterObservation): FailoverMarker | null {
  const found = o.nodes.map((n) => n.marker).filter((m): m is string => m !== undefined);
  for (const text of found) {
    try {
      return JSON.parse(text) as FailoverMarker;
    } catch {
      continue;
    }
  }
  return null;
}

export async function removeMarker(pool: RemotePool, nodes: readonly TopologyNode[], runId: string): Promise<void> {
  await Promise.all(
    nodes.map(async (n) => {
      const remote = await pool.get(n).catch(() => null);
      await remote?.exec(
        `if [ -e ${quote(markerPathOf(n))} ]; then mv ${quote(markerPathOf(n))} ${quote(`${markerPathOf(n)}.done-${runId}`)}; fi`,
        { timeoutMs: 10_000 },
      );
    }),
  );
}
