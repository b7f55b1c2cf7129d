/**
 * A Mesos replicated log (apache/mesos src/log/): one local replica (log-replica.ts), a network of
 * replicas given by a ZooKeeper group, the recover protocol that lets a non-VOTING replica vote,
 * and a coordinator (the log writer) with the storage on top of it that the registrar and the
 * overlay module use. Two instances run in each master stand-in: the registry
 * (`<work_dir>/replicated_log`, group `<zk path>/log_replicas`) and the overlay module's
 * (`overlay_replicated_log`, group `overlay_log_replicas`).
 *
 * Rules kept, each from the file named at the code:
 * - the network is the group's members, our own replica included; a round waits until the group
 *   holds at least a quorum of members (src/log/network.hpp watch, src/log/consensus.cpp);
 * - a replica that is not VOTING runs the recover protocol: a quorum of VOTING answers ->
 *   RECOVERING and catch-up of [lowest begin, highest end]; auto-initialisation counted over
 *   2q-1 answers INCLUDING its own (src/log/recover.cpp);
 * - a message to a replica that is gone gets no answer, and a round waits for it (libprocess drops
 *   messages to a dead peer): only the surrounding timeout ends the wait;
 * - election = implicit promise to a quorum, then the missing positions up to the highest end are
 *   filled through explicit promises; append = write to a quorum, then a learned notice to every
 *   member (src/log/coordinator.cpp, consensus.cpp, catchup.cpp);
 * - the stored value is the last APPEND's bytes (src/state/log.cpp reads the log from its beginning
 *   and keeps the latest snapshot; the lab writes a whole snapshot at every store).
 *
 * The wire is our own: `POST http://<ip>:<port>/<replica id>/<recover|promise|write|learned>` with
 * JSON bodies (libprocess routes its messages the same way, with protobuf).
 */
import type { Action, PromiseResponse, RecoverResponse, WriteRequest, WriteResponse } from './log-replica.js';
import { Replica } from './log-replica.js';
import { sequenceOf, ZkSession } from './mesos-zk.js';

export type Logger = (msg: string) => void;

export interface LogOptions {
  /** Replica process id, `log-replica(1)`; its pid is `<id>@<ip>:<port>`. */
  readonly id: string;
  readonly ip: string;
  readonly port: number;
  readonly dir: string;
  readonly quorum: number;
  /** ZooKeeper servers `h:p,h:p` and the group's znode (`/mesos/log_replicas`). */
  readonly zkServers: string;
  readonly groupPath: string;
  readonly sessionTimeoutMs: number;
  readonly autoInitialize: boolean;
  readonly recoverRetryMs: number;
  readonly recoverRoundMs: number;
  readonly nackRetryMs: number;
  readonly pollMs: number;
  readonly log: Logger;
}

/** The end of an operation: its deadline passed (fetch/store timeout) or the caller gave up. */
export class Aborted extends Error {}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

function abortable(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    if (signal.aborted) reject(new Aborted(String(signal.reason ?? 'aborted')));
    signal.addEventListener('abort', () => reject(new Aborted(String(signal.reason ?? 'aborted'))), { once: true });
  });
}

async function sleepOrAbort(ms: number, signal: AbortSignal): Promise<void> {
  await Promise.race([sleep(ms), abortable(signal)]);
}

export class ReplicatedLog {
  readonly opts: LogOptions;
  readonly replica: Replica;
  readonly pid: string;
  private session: ZkSession | undefined;
  private memberZnode: string | undefined;
  /** The group's members (replica pids), ours included, as last read from ZooKeeper. */
  private memberPids: string[] = [];
  private memberData = new Map<string, string>();
  /** Set once our replica is VOTING (src/log/log.cpp `recovered`, the `log/recovered` gauge). */
  recovered = false;
  private recoveredWaiters: (() => void)[] = [];
  /** Coordinator state (src/log/coordinator.cpp). */
  private proposal = 0;
  private elected: { index: number } | undefined;
  private stopped = false;

  constructor(opts: LogOptions) {
    this.opts = opts;
    this.replica = Replica.open(opts.dir);
    this.pid = `${opts.id}@${opts.ip}:${opts.port}`;
  }

  get members(): readonly string[] {
    return this.memberPids;
  }

  /** Joins the ZooKeeper group (keeping membership for ever) and starts the replica's recovery. */
  start(): void {
    this.opts.log(`${this.opts.id}: replica in ${this.replica.status} status, positions ${this.replica.begin} -> ${this.replica.end}`);
    void this.membershipLoop();
    void this.recoverLoop();
  }

  stop(): void {
    this.stopped = true;
  }

  // ---- group membership (src/log/log.cpp: join, and re-join when the membership expired) ----

  private async membershipLoop(): Promise<void> {
    const { groupPath, pollMs, sessionTimeoutMs } = this.opts;
    while (!this.stopped) {
      try {
        if (!this.session || this.session.locallyExpired(sessionTimeoutMs)) {
          if (this.session) {
            this.opts.log(`${this.opts.id}: ZooKeeper session expired; renewing replica group membership`);
            this.session.close();
            this.session = undefined;
          }
          const s = await ZkSession.open(this.opts.zkServers, sessionTimeoutMs, sessionTimeoutMs);
          await s.mkdirp(groupPath, sessionTimeoutMs);
          // src/zookeeper/group.cpp doJoin: an unlabelled ephemeral sequential child holding the pid.
          this.memberZnode = await s.createEphemeralSequential(`${groupPath}/`, this.pid, sessionTimeoutMs);
          this.session = s;
          this.opts.log(`${this.opts.id}: joined ${this.memberZnode}`);
        }
        if (this.session.connected) {
          const names = (await this.session.children(groupPath, sessionTimeoutMs)).filter((n) => !Number.isNaN(sequenceOf(n)));
          names.sort((a, b) => sequenceOf(a) - sequenceOf(b));
          // A member's data never changes (ephemeral sequential, written once): read each once.
          const pids: string[] = [];
          const seen = new Map<string, string>();
          for (const n of names) {
            const d = this.memberData.get(n) ?? (await this.session.getData(`${groupPath}/${n}`, sessionTimeoutMs));
            if (d) {
              pids.push(d);
              seen.set(n, d);
            }
          }
          this.memberData = seen;
          // Our membership vanished behind our back: join again (log.cpp watch -> renew).
          const mine = this.memberZnode?.split('/').pop();
          if (mine && !names.includes(mine)) {
            this.session.close();
            continue;
          }
          // The network is a set of pids (src/log/network.hpp): a restarted master's lingering
          // membership holds the same pid as its new one and counts once.
          this.memberPids = [...new Set(pids)];
        }
      } catch (err) {
        this.opts.log(`${this.opts.id}: W ZooKeeper: ${(err as Error).message}`);
        await sleep(pollMs * 5);
      }
      await sleep(pollMs);
    }
  }

  /** Waits until the group holds at least `n` members (Network::watch GREATER_THAN_OR_EQUAL_TO). */
  private async watchAtLeast(n: number, signal: AbortSignal): Promise<string[]> {
    for (;;) {
      if (this.memberPids.length >= n) return [...this.memberPids];
      await sleepOrAbort(this.opts.pollMs, signal);
    }
  }

  // ---- transport ----

  /** One request to one replica; undefined when no answer comes (dead peer, no reply, abort). */
  private async send<T>(pid: string, op: string, body: unknown, signal: AbortSignal): Promise<T | undefined> {
    if (pid === this.pid) {
      try {
        const r = this.handle(op, body);
        return (r ?? undefined) as T | undefined;
      } catch (err) {
        // ReplicaProcess logs an I/O error and sends no reply.
        this.opts.log(`${this.opts.id}: E ${(err as Error).message}`);
        return undefined;
      }
    }
    const at = pid.indexOf('@');
    const id = pid.slice(0, at);
    const addr = pid.slice(at + 1);
    try {
      const res = await fetch(`http://${addr}/${id}/${op}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal,
      });
      if (res.status !== 200) {
        if (process.env['DCFAIL_STANDIN_DEBUG'] === '1') this.opts.log(`${this.opts.id}: D ${op} to ${pid}: HTTP ${res.status}`);
        return undefined;
      }
      const v = (await res.json()) as { reply: T | null };
      return v.reply ?? undefined;
    } catch (err) {
      if (process.env['DCFAIL_STANDIN_DEBUG'] === '1') this.opts.log(`${this.opts.id}: D ${op} to ${pid}: ${(err as Error).message} ${String((err as { cause?: unknown }).cause ?? '')}`);
      return undefined;
    }
  }

  /**
   * Sends `body` to every pid and feeds the answers, as they come, to `decide` (libprocess'
   * `select` over the response futures). Resolves with the first decision; with 'exhausted' when
   * every request settled without one; rejects when `signal` aborts.
   */
  private broadcast<R, D>(pids: readonly string[], op: string, body: unknown, decide: (r: R) => D | undefined, signal: AbortSignal): Promise<D | 'exhausted'> {
    return new Promise<D | 'exhausted'>((resolve, reject) => {
      let pending = pids.length;
      let done = false;
      const finish = (v: D | 'exhausted') => {
        if (done) return;
        done = true;
        resolve(v);
      };
      if (signal.aborted) return reject(new Aborted(String(signal.reason)));
      signal.addEventListener('abort', () => !done && ((done = true), reject(new Aborted(String(signal.reason)))), { once: true });
      if (pending === 0) return finish('exhausted');
      for (const pid of pids) {
        void this.send<R>(pid, op, body, signal).then((r) => {
          if (done) return;
          if (r !== undefined) {
            const d = decide(r);
            if (d !== undefined) return finish(d);
          }
          if (--pending === 0) finish('exhausted');
        });
      }
    });
  }

  /**
   * A consensus round (src/log/consensus.cpp): waits until a quorum of members exists, broadcasts,
   * and returns once a quorum answered (or a quorum ignored). A round whose answers never add up
   * to a quorum waits for ever, as Mesos' does: the caller's signal ends it.
   */
  private async round<R extends { type: string; okay: boolean; proposal: number }>(op: string, body: unknown, signal: AbortSignal): Promise<{ kind: 'ignored' } | { kind: 'nack'; proposal: number } | { kind: 'ack'; responses: R[] }> {
    const q = this.opts.quorum;
    const pids = await this.watchAtLeast(q, signal);
    let ignores = 0;
    const answers: R[] = [];
    const d = await this.broadcast<R, true>(
      pids,
      op,
      body,
      (r) => {
        if (r.type === 'IGNORED') ignores++;
        else answers.push(r);
        return ignores >= q || answers.length >= q ? true : undefined;
      },
      signal,
    );
    if (d === 'exhausted') {
      // Some never answered: the round waits for answers that will not come.
      await abortable(signal);
    }
    if (answers.length < q) return { kind: 'ignored' };
    const nacks = answers.filter((a) => !a.okay);
    if (nacks.length > 0) return { kind: 'nack', proposal: Math.max(...nacks.map((n) => n.proposal)) };
    return { kind: 'ack', responses: answers };
  }

  // ---- recovery of the local replica (src/log/recover.cpp) ----

  private async recoverLoop(): Promise<void> {
    while (!this.stopped) {
      if (this.replica.status === 'VOTING') {
        this.markRecovered();
        return;
      }
      try {
        const next = await this.recoverProtocol(this.replica.status);
        if (next?.status === 'STARTING') {
          this.replica.updateStatus('STARTING');
          this.opts.log(`${this.opts.id}: W auto-initialising the replicated log: phase 1, replica now STARTING`);
          continue; // phase 2 at once (RecoverProcess::_recover re-runs the protocol)
        }
        if (next?.status === 'VOTING') {
          this.replica.updateStatus('VOTING');
          this.opts.log(`${this.opts.id}: W auto-initialised the replicated log EMPTY: replica now VOTING`);
          continue;
        }
        if (next?.status === 'RECOVERING') {
          this.replica.updateStatus('RECOVERING');
          this.opts.log(`${this.opts.id}: catching up positions ${next.begin} -> ${next.end} from a quorum of VOTING replicas`);
          // src/log/recover.cpp catch-up, retried by the protocol if it does not finish in a round.
          const ac = new AbortController();
          const t = setTimeout(() => ac.abort('catch-up timed out'), this.opts.recoverRoundMs);
          try {
            await this.catchup(next.begin ?? 0, next.end ?? 0, ac.signal);
          } finally {
            clearTimeout(t);
          }
          this.replica.updateStatus('VOTING');
          this.opts.log(`${this.opts.id}: caught up, replica now VOTING (successfully joined the Paxos group)`);
          continue;
        }
      } catch (err) {
        this.opts.log(`${this.opts.id}: W recovery: ${(err as Error).message}`);
      }
      // RecoverProcess::finished: retry after T x (1 + rand).
      await sleep(this.opts.recoverRetryMs * (1 + Math.random()));
    }
  }

  /** One run of RecoverProtocolProcess: the next status, or undefined to run it again. */
  private async recoverProtocol(status: 'EMPTY' | 'STARTING' | 'RECOVERING'): Promise<RecoverResponse | undefined> {
    const q = this.opts.quorum;
    const clusterSize = 2 * q - 1;
    const round = new AbortController();
    const timer = setTimeout(() => round.abort('recover round timed out'), this.opts.recoverRoundMs);
    try {
      const pids = await this.watchAtLeast(q, round.signal);
      const count = { EMPTY: 0, STARTING: 0, VOTING: 0, RECOVERING: 0 };
      let lowestBegin: number | undefined;
      let highestEnd: number | undefined;
      const d = await this.broadcast<RecoverResponse, RecoverResponse>(
        pids,
        'recover',
        {},
        (r) => {
          count[r.status]++;
          if (r.status === 'VOTING') {
            lowestBegin = Math.min(lowestBegin ?? Infinity, r.begin ?? 0);
            highestEnd = Math.max(highestEnd ?? -Infinity, r.end ?? 0);
          }
          // B1: a quorum of VOTING answers, whatever our own status.
          if (count.VOTING >= q) return { status: 'RECOVERING', begin: lowestBegin ?? 0, end: highestEnd ?? 0 };
          if (this.opts.autoInitialize) {
            // B2/B3: two-phase auto-initialisation over 2q-1 answers, our own included.
            if (status === 'EMPTY' && count.EMPTY + count.STARTING >= clusterSize) return { status: 'STARTING' };
            if (status === 'STARTING' && count.STARTING + count.VOTING >= clusterSize) return { status: 'VOTING' };
          }
          return undefined;
        },
        round.signal,
      );
      return d === 'exhausted' ? undefined : d;
    } catch (err) {
      if (err instanceof Aborted) return undefined;
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private markRecovered(): void {
    if (this.recovered) return;
    this.recovered = true;
    this.opts.log(`${this.opts.id}: replica recovered (VOTING)`);
    for (const w of this.recoveredWaiters.splice(0)) w();
  }

  private waitRecovered(signal: AbortSignal): Promise<void> {
    if (this.recovered) return Promise.resolve();
    return Promise.race([new Promise<void>((r) => this.recoveredWaiters.push(r)), abortable(signal)]);
  }

  // ---- filling positions (src/log/consensus.cpp FillProcess, src/log/catchup.cpp) ----

  /** Agrees on the value of `position` and makes every member learn it; returns the proposal used. */
  private async fill(position: number, proposal: number, signal: AbortSignal): Promise<number> {
    for (;;) {
      const p = await this.round<PromiseResponse>('promise', { proposal, position }, signal);
      if (p.kind === 'ignored') {
        await sleepOrAbort(this.opts.nackRetryMs, signal);
        continue;
      }
      if (p.kind === 'nack') {
        // consensus.cpp retry(): proposal = highest nack + 1, after a random back-off in [T, 2T).
        proposal = Math.max(proposal, p.proposal) + 1;
        await sleepOrAbort(this.opts.nackRetryMs * (1 + Math.random()), signal);
        continue;
      }
      const learned = p.responses.find((r) => r.action?.learned)?.action;
      if (learned) {
        this.learn(learned);
        return proposal;
      }
      // Paxos: a value already performed at this position (highest proposal wins) must be kept.
      let highest: Action | undefined;
      for (const r of p.responses) if (r.action?.performed !== undefined && (highest === undefined || (highest.performed ?? -1) < r.action.performed)) highest = r.action;
      const write: WriteRequest = highest?.type === 'APPEND' ? { proposal, position, type: 'APPEND', value: highest.value ?? '' } : { proposal, position, type: 'NOP' };
      const w = await this.round<WriteResponse>('write', write, signal);
      if (w.kind === 'ack') {
        this.learn({ position, promised: proposal, performed: proposal, learned: true, type: write.type, ...(write.type === 'APPEND' ? { value: write.value ?? '' } : {}) });
        return proposal;
      }
      if (w.kind === 'nack') proposal = Math.max(proposal, w.proposal) + 1;
      await sleepOrAbort(this.opts.nackRetryMs * (1 + Math.random()), signal);
    }
  }

  /** log::learn: the learned action goes to every member (and so to our own replica). */
  private learn(action: Action): void {
    const learned: Action = { ...action, learned: true };
    this.replica.onLearned(learned);
    // Fire and forget (log::learn awaits nothing); the lab only bounds the sockets it leaves open.
    const ac = new AbortController();
    setTimeout(() => ac.abort('learn'), this.opts.recoverRoundMs).unref();
    for (const pid of this.memberPids) if (pid !== this.pid) void this.send(pid, 'learned', learned, ac.signal);
  }

  /** src/log/catchup.cpp: fill every position of [begin, end] the local replica misses. */
  private async catchup(begin: number, end: number, signal: AbortSignal, proposal = 0): Promise<number> {
    for (const pos of this.replica.missing(begin, end)) {
      proposal = await this.fill(pos, proposal, signal);
      if (this.replica.missing(pos, pos).length > 0) throw new Error(`position ${pos} still missing after catch-up`);
    }
    return proposal;
  }

  // ---- the coordinator (src/log/coordinator.cpp) and the storage on it (src/state/log.cpp) ----

  /**
   * Log::Writer::start: waits for the local replica's recovery, then runs elections until one
   * succeeds ("Writer failed to get elected, retrying", src/state/log.cpp) or `signal` aborts.
   */
  private async elect(signal: AbortSignal): Promise<number> {
    await this.waitRecovered(signal);
    for (;;) {
      if (this.elected) return this.elected.index;
      this.proposal = Math.max(this.proposal, this.replica.promised) + 1;
      const r = await this.round<PromiseResponse>('promise', { proposal: this.proposal }, signal);
      if (r.kind === 'ack') {
        // index = the highest end position among the quorum's answers; fill what we miss up to it.
        const index = Math.max(...r.responses.map((x) => x.position ?? 0));
        this.proposal = await this.catchup(0, index, signal, this.proposal + 1);
        this.elected = { index: index + 1 };
        this.opts.log(`${this.opts.id}: coordinator elected with proposal ${this.proposal} at position ${index}`);
        return this.elected.index;
      }
      if (r.kind === 'nack') this.proposal = Math.max(this.proposal, r.proposal);
      this.opts.log(`${this.opts.id}: writer failed to get elected (${r.kind}), retrying`);
      await sleepOrAbort(this.opts.nackRetryMs * (1 + Math.random()), signal);
    }
  }

  /** The stored value: the last APPEND from the beginning of the log up to `to`. */
  private readValue(to: number): string | undefined {
    let v: string | undefined;
    for (let p = this.replica.begin; p <= to; p++) {
      const a = this.replica.read(p);
      if (a?.type === 'APPEND') v = a.value;
    }
    return v;
  }

  /** State::fetch over LogStorage: election, then the value read from the local replica. */
  async fetch(signal: AbortSignal): Promise<string | undefined> {
    const next = await this.elect(signal);
    return this.readValue(next - 1);
  }

  /**
   * State::store over LogStorage: one APPEND at the next position. false when the write was
   * nacked or ignored (the writer lost its leadership of the log: Coordinator demoted); rejects
   * with Aborted when `signal` aborts first.
   */
  async store(value: string, signal: AbortSignal): Promise<boolean> {
    const index = await this.elect(signal);
    const w = await this.round<WriteResponse>('write', { proposal: this.proposal, position: index, type: 'APPEND', value }, signal);
    if (w.kind !== 'ack') {
      if (w.kind === 'nack') this.proposal = Math.max(this.proposal, w.proposal);
      this.elected = undefined;
      this.opts.log(`${this.opts.id}: W write at position ${index} ${w.kind === 'nack' ? `rejected (proposal ${w.proposal})` : 'ignored'}: coordinator demoted`);
      return false;
    }
    this.learn({ position: index, promised: this.proposal, performed: this.proposal, type: 'APPEND', value });
    this.elected = { index: index + 1 };
    return true;
  }

  /** Forget the coordinator's election (a new leader term starts from a fresh election). */
  demote(): void {
    this.elected = undefined;
  }

  // ---- the replica's side of the wire ----

  /** Handles one message for our replica. null: no reply is sent (see Replica.onWrite). */
  handle(op: string, body: unknown): unknown {
    const b = (body ?? {}) as Record<string, unknown>;
    switch (op) {
      case 'recover':
        return this.replica.onRecover();
      case 'promise':
        if (typeof b.proposal !== 'number') throw new Error('promise: proposal expected');
        return this.replica.onPromise({ proposal: b.proposal, ...(typeof b.position === 'number' ? { position: b.position } : {}) });
      case 'write': {
        if (typeof b.proposal !== 'number' || typeof b.position !== 'number' || (b.type !== 'NOP' && b.type !== 'APPEND')) throw new Error('write: proposal, position, type expected');
        return this.replica.onWrite(b as unknown as WriteRequest) ?? null;
      }
      case 'learned':
        this.replica.onLearned(b as unknown as Action);
        return null;
      default:
        throw new Error(`unknown replica message '${op}'`);
    }
  }

  /** The raw replica, for the lab endpoint and the tests. */
  dump(): { pid: string; status: string; promised: number; begin: number; end: number; actions: Action[] } {
    return { pid: this.pid, status: this.replica.status, promised: this.replica.promised, begin: this.replica.begin, end: this.replica.end, actions: this.replica.all() };
  }
}
