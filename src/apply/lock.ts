/**
 * The run lock: one operator at a time, held locally and on each node the run acts on. A lock
 * whose process is gone on this host is taken over; elsewhere only with --break-lock.
 */
import { mkdir, readFile, rm } from 'node:fs/promises';
import { z } from 'zod';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Finding } from '../core/safety.js';
import { LockedError, OperationError, RefusedError } from '../errors.js';
import { quote } from '../remote/shell.js';
import type { RemotePool } from '../remote/ssh.js';
import type { Topology, TopologyNode } from '../topology/model.js';
import { writeFileAtomic } from './local-files.js';
import { stateDir } from './state.js';

export interface LockOwner {
  host: string;
  pid: number;
  runId: string;
  operator: string;
  at: string;
}

const LockOwnerSchema = z.object({
  host: z.string(),
  pid: z.number(),
  runId: z.string(),
  operator: z.string(),
  at: z.string(),
});

/** Who holds a lock, as its owner file says; null when the file is not a lock owner (torn, or `{}`). */
function parseLockOwner(text: string): LockOwner | null {
  try {
    const r = LockOwnerSchema.safeParse(JSON.parse(text));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
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

  /** `what` names the run in a refusal ("failback"). */
  async acquire(nodes: readonly TopologyNode[], breakLock: boolean, what = 'the run'): Promise<Finding[]> {
    const notes: Finding[] = [];
    await mkdir(join(stateDir(), 'locks'), { recursive: true });
    try {
      await mkdir(this.localDir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      const held = await readFile(join(this.localDir, 'owner.json'), 'utf8').then(parseLockOwner, () => null);
      if (!mayTakeOver(held, breakLock)) throw lockedBy(held, 'local');
      notes.push({
        code: 'lock-taken-over',
        message: `took over the local lock of ${describeOwner(held)}${breakLock ? ' (--break-lock)' : ' (its process is gone)'}`,
      });
    }
    await writeFileAtomic(join(this.localDir, 'owner.json'), JSON.stringify(this.owner));
    this.localHeld = true;

    const me = JSON.stringify(this.owner);
    const settled = await Promise.allSettled(
      nodes.map(async (n) => {
        let remote;
        try {
          remote = await this.pool.get(n);
        } catch (err) {
          return { n, ok: false as const, unreachable: err instanceof Error ? err.message : String(err) };
        }
        const dir = `${n.services.dcfail.stateDir}/lock`;
        const r = await remote.exec(
          `mkdir -p ${quote(n.services.dcfail.stateDir)} && if mkdir ${quote(dir)} 2>/dev/null; then echo taken; else cat ${quote(`${dir}/owner.json`)} 2>/dev/null || echo '{}'; fi`,
          { timeoutMs: 10_000 },
        );
        if (r.exitCode !== 0)
          throw new OperationError('lock-failed', `${n.name}: cannot take the run lock: ${r.stderr.trim()}`);
        if (!r.stdout.startsWith('taken')) {
          const held = parseLockOwner(r.stdout);
          if (held && held.runId === this.owner.runId) return { n, ok: true as const };
          if (!mayTakeOver(held && held.host ? held : null, breakLock)) return { n, ok: false as const, held };
          notes.push({ code: 'lock-taken-over', message: `${n.name}: took over the lock of ${describeOwner(held)}` });
        }
        await remote.exec(`printf %s ${quote(me)} > ${quote(`${dir}/owner.json`)}`, { timeoutMs: 10_000 });
        return { n, ok: true as const };
      }),
    );
    const results = settled.flatMap((r) => (r.status === 'fulfilled' ? [r.value] : []));
    for (const r of results) if (r.ok) this.remoteHeld.push(r.n);
    const failed = settled.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    const unreachable = results.flatMap((r) => (!r.ok && 'unreachable' in r ? [r] : []));
    const refused = results.find((r) => !r.ok && !('unreachable' in r));
    if (failed || unreachable.length > 0 || refused) await this.release();
    if (unreachable.length > 0)
      throw new RefusedError(
        'unreachable',
        `${what} needs every node it acts on over SSH; not reachable: ${unreachable.map((r) => r.n.name).join(', ')}. Nothing was changed. Bring ${unreachable.length === 1 ? 'it' : 'them'} back (or fix SSH) and run the same command again`,
        unreachable.map((r) => `${r.n.name}: ${r.unreachable}`),
      );
    if (failed) throw failed.reason;
    if (refused && !refused.ok && 'held' in refused) throw lockedBy(refused.held ?? null, refused.n.name);
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
