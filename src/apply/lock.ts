/**
 * The run lock: one operator at a time, held locally and on each node the run acts on. A lock
 * whose process is gone on this host is taken over; elsewhere only with --break-lock.
 */
import { randomBytes } from 'node:crypto';
import { constants } from 'node:fs';
import { link, lstat, open, readFile, rename, rm } from 'node:fs/promises';
import { z } from 'zod';
import { hostname } from 'node:os';
import { join } from 'node:path';
import type { Finding } from '../core/safety.js';
import { LockedError, OperationError, RefusedError } from '../errors.js';
import { quote } from '../remote/shell.js';
import type { Remotes } from '../remote/types.js';
import type { Topology, TopologyNode } from '../topology/model.js';
import { ensurePrivateDir } from './local-files.js';
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

/** Who holds a lock, as its owner file says; null when the file is not a lock owner (then it is held by an unreadable owner). */
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

/** May this run take over a lock held by `owner`? An unreadable owner is held: only --break-lock frees it. */
function mayTakeOver(owner: LockOwner | null, breakLock: boolean): boolean {
  if (breakLock) return true;
  if (owner === null) return false;
  return owner.host === hostname() && !pidAlive(owner.pid);
}

export class RunLock {
  private readonly remoteHeld: TopologyNode[] = [];
  private localHeld = false;

  constructor(
    private readonly t: Topology,
    private readonly pool: Remotes,
    private readonly owner: LockOwner,
  ) {}

  private get locksDir(): string {
    return join(stateDir(), 'locks');
  }

  /** The lock: a file that exists with its owner in it from the instant it exists (link(2)). */
  private get localFile(): string {
    return join(this.locksDir, `${this.t.cluster}.json`);
  }

  /** `what` names the run in a refusal ("failback"). */
  async acquire(nodes: readonly TopologyNode[], breakLock: boolean, what = 'the run'): Promise<Finding[]> {
    const notes: Finding[] = [];
    await this.acquireLocal(breakLock, notes);
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
        const sd = n.services.dcfail.stateDir;
        const r = await remote.exec(nodeTakeScript(sd, me, breakLock), { timeoutMs: 10_000 });
        if (r.exitCode !== 0)
          throw new OperationError('lock-failed', `${n.name}: cannot take the run lock: ${r.stderr.trim()}`);
        const [first = '', ...rest] = r.stdout.split('\n');
        if (first === 'taken') return { n, ok: true as const };
        const text = rest.join('\n').trim();
        const held = parseLockOwner(text);
        if (held && held.runId === this.owner.runId) return { n, ok: true as const };
        if (first === 'legacy' || !mayTakeOver(held, breakLock)) return { n, ok: false as const, held, where: n.name };
        const t = await remote.exec(nodeTakeOverScript(sd, text, me), { timeoutMs: 10_000 });
        if (t.exitCode !== 0 || !t.stdout.startsWith('taken'))
          return {
            n,
            ok: false as const,
            held: parseLockOwner(t.stdout.split('\n').slice(1).join('\n')),
            where: n.name,
          };
        notes.push({ code: 'lock-taken-over', message: `${n.name}: took over the lock of ${describeOwner(held)}` });
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
    if (refused && !refused.ok && 'held' in refused)
      throw lockedBy(refused.held ?? null, refused.where ?? refused.n.name);
    return notes;
  }

  private async acquireLocal(breakLock: boolean, notes: Finding[]): Promise<void> {
    ensurePrivateDir(stateDir());
    ensurePrivateDir(this.locksDir);
    // An older dcfail's lock (a directory, its owner written after it): held, even without an owner yet.
    const legacy = join(this.locksDir, this.t.cluster);
    if (await exists(legacy)) {
      const held = await readFile(join(legacy, 'owner.json'), 'utf8').then(parseLockOwner, () => null);
      if (!breakLock && (held === null || !mayTakeOver(held, false))) throw lockedBy(held, 'local');
      await rm(legacy, { recursive: true, force: true });
      notes.push({ code: 'lock-taken-over', message: `took over the local lock of ${describeOwner(held)}` });
    }
    const tmp = join(this.locksDir, `.${this.t.cluster}.${randomBytes(12).toString('hex')}.tmp`);
    const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      await fh.writeFile(JSON.stringify(this.owner), 'utf8');
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      try {
        await link(tmp, this.localFile);
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      }
      const text = await readFile(this.localFile, 'utf8').catch(() => '');
      const held = parseLockOwner(text);
      if (held && held.runId === this.owner.runId) return;
      if (!mayTakeOver(held, breakLock)) throw lockedBy(held, 'local');
      // Take over only the owner we judged: if another run replaced it meanwhile, it holds the lock.
      const again = await readFile(this.localFile, 'utf8').catch(() => '');
      if (again !== text) throw lockedBy(parseLockOwner(again), 'local');
      await rename(tmp, this.localFile);
      const mine = await readFile(this.localFile, 'utf8').catch(() => '');
      if (mine !== JSON.stringify(this.owner)) throw lockedBy(parseLockOwner(mine), 'local');
      notes.push({
        code: 'lock-taken-over',
        message: `took over the local lock of ${describeOwner(held)}${breakLock ? ' (--break-lock)' : ' (its process is gone)'}`,
      });
    } finally {
      await rm(tmp, { force: true });
    }
  }

  async release(): Promise<void> {
    const me = JSON.stringify(this.owner);
    await Promise.all(
      this.remoteHeld.map(async (n) => {
        const file = `${n.services.dcfail.stateDir}/lock.json`;
        const remote = await this.pool.get(n).catch(() => null);
        await remote
          ?.exec(`if [ "$(cat -- ${quote(file)} 2>/dev/null)" = ${quote(me)} ]; then rm -f -- ${quote(file)}; fi`, {
            timeoutMs: 10_000,
          })
          .catch(() => undefined);
      }),
    );
    this.remoteHeld.length = 0;
    if (this.localHeld) {
      const text = await readFile(this.localFile, 'utf8').catch(() => '');
      if (text === me) await rm(this.localFile, { force: true });
    }
    this.localHeld = false;
  }
}

async function exists(path: string): Promise<boolean> {
  return lstat(path).then(
    () => true,
    () => false,
  );
}

/**
 * On a node, one exec: the owner goes into a private temp file, which `ln` (link(2), atomic,
 * fails if the name exists) makes the lock. Prints `taken`, or `held` / `legacy` and the owner.
 */
function nodeTakeScript(sd: string, me: string, breakLock: boolean): string {
  const lock = `${sd}/lock.json`;
  return [
    `umask 077; mkdir -p -- ${quote(sd)} || exit 1`,
    breakLock
      ? `rm -rf -- ${quote(`${sd}/lock`)}`
      : `if [ -d ${quote(`${sd}/lock`)} ]; then echo legacy; cat -- ${quote(`${sd}/lock/owner.json`)} 2>/dev/null; exit 0; fi`,
    `t=$(mktemp ${quote(`${sd}/.lock.XXXXXX`)}) || exit 1`,
    `printf %s ${quote(me)} > "$t" || { rm -f -- "$t"; exit 1; }`,
    `if ln -T -- "$t" ${quote(lock)} 2>/dev/null; then rm -f -- "$t"; echo taken; else rm -f -- "$t"; echo held; cat -- ${quote(lock)} 2>/dev/null; fi`,
  ].join('\n');
}

/** Replaces the owner `old` (a dead run's, or --break-lock) with ours, only if it is still `old`. */
function nodeTakeOverScript(sd: string, old: string, me: string): string {
  const lock = `${sd}/lock.json`;
  return [
    `umask 077; t=$(mktemp ${quote(`${sd}/.lock.XXXXXX`)}) || exit 1`,
    `printf %s ${quote(me)} > "$t" || { rm -f -- "$t"; exit 1; }`,
    `if [ "$(cat -- ${quote(lock)} 2>/dev/null)" = ${quote(old)} ]; then mv -f -T -- "$t" ${quote(lock)}; echo taken; else rm -f -- "$t"; echo held; cat -- ${quote(lock)} 2>/dev/null; fi`,
  ].join('\n');
}

function describeOwner(o: LockOwner | null): string {
  return o && o.host
    ? `run ${o.runId} by ${o.operator} (pid ${o.pid} on ${o.host}, since ${o.at})`
    : 'an unreadable lock owner (an older run, or one caught between its two steps)';
}

function lockedBy(o: LockOwner | null, where: string): LockedError {
  return new LockedError(`another run holds the lock for this cluster (${where}): ${describeOwner(o)}`, [
    'wait for it to finish; if its process is gone on another host, re-run with --break-lock',
  ]);
}
