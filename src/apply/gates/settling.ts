/**
 * The first seconds after a DC is lost, judged without a clock (pure: times come in as numbers).
 *
 * Right after a DC dies, a surviving server may still count the lost DC in: a ZooKeeper follower
 * of a leader it can no longer reach (or a leader of followers it can no longer reach), an etcd
 * member that still names a lost leader. Each notices only when its own timer runs out: ZooKeeper
 * within syncLimit x tickTime (apache/zookeeper `Learner`/`Follower`: the socket's read timeout is
 * tickTime x syncLimit once synced; `Leader.lead`: followers not acked within syncLimit ticks drop
 * out of the quorum), etcd within its randomised election timeout (etcd raft: a follower
 * campaigns, and forgets its leader, after a timeout drawn from [electionTimeout, 2 x electionTimeout)).
 *
 * Such a survivor is *settling*, not evidence that the lost DC lives, for as long as its timer
 * may still be running: the DC was already silent when dcfail first looked (every probe of it
 * failed), so a loss before that instant is noticed by that instant plus the window. A survivor
 * that still counts the lost DC in after that reaches it where dcfail cannot: split brain.
 */

/** How long a survivor's service takes to notice a lost leader, and why (in words, for the refusal). */
export interface SettleWindow {
  ms: number;
  why: string;
}

/** A survivor's service that still counts the lost DC in, as one look saw it. */
export interface LostView {
  node: string;
  cluster: 'exhibitor' | 'etcd';
  message: string;
}

/** One look at every survivor: `atMs` is when the look began (the earliest instant what it saw held). */
export interface ViewSample {
  atMs: number;
  views: readonly LostView[];
}

export interface SettlingView {
  view: LostView;
  window: SettleWindow;
  /** settling: how long until its window has surely run out; past: how long past it. */
  ms: number;
}

export type SettleJudgement =
  | { kind: 'settled' }
  | { kind: 'settling'; waiting: SettlingView[] }
  | { kind: 'still-counts-lost'; past: SettlingView[] };

/**
 * What the survivors' views say after the looks taken so far. `silentByMs`: the end of the first
 * look, in which every probe of the lost DC failed (the loss came before it). `marginMs` covers
 * the probes' own latency and the ticks the timers count in.
 */
export function judgeSettling(input: {
  silentByMs: number;
  samples: readonly ViewSample[];
  windowOf: (v: LostView) => SettleWindow;
  marginMs: number;
}): SettleJudgement {
  const last = input.samples.at(-1);
  if (!last || last.views.length === 0) return { kind: 'settled' };
  const waiting: SettlingView[] = [];
  const past: SettlingView[] = [];
  for (const view of last.views) {
    const window = input.windowOf(view);
    const deadline = input.silentByMs + window.ms + input.marginMs;
    if (last.atMs > deadline) past.push({ view, window, ms: last.atMs - input.silentByMs });
    else waiting.push({ view, window, ms: deadline - last.atMs });
  }
  return past.length > 0 ? { kind: 'still-counts-lost', past } : { kind: 'settling', waiting };
}

/** Another look is worth taking while a survivor settles and the certificate's time budget lasts. */
export function shouldLookAgain(j: SettleJudgement, nowMs: number, budgetEndMs: number): boolean {
  return j.kind === 'settling' && nowMs < budgetEndMs;
}

/** Whole seconds, rounded up: "wait 4 s" must be enough. */
export function secondsUp(ms: number): number {
  return Math.max(1, Math.ceil(ms / 1000));
}

/** The lines a judgement gives the certificate: why the survivors settle, or why they do not. */
export function settlingLines(j: SettleJudgement, lostDc: string): string[] {
  switch (j.kind) {
    case 'settled':
      return [];
    case 'settling':
      return j.waiting.map(
        (w) =>
          `${w.view.message}, though no probe reaches ${lostDc}: it is settling (${w.window.why}); wait ${secondsUp(w.ms)} s and run again`,
      );
    case 'still-counts-lost':
      return j.past.map(
        (p) =>
          `${p.view.message} ${secondsUp(p.ms)} s after every probe of ${lostDc} failed, longer than ${p.window.why}: it still reaches ${lostDc}, which dcfail cannot (a partition between dcfail and ${lostDc}?)`,
      );
    default: {
      const never: never = j;
      return never;
    }
  }
}

/**
 * ZooKeeper's window: syncLimit x tickTime, plus one tick (a leader checks its followers' acks in
 * ticks, so it may notice one tick later than a follower does), from the server's own `conf` when
 * it answers, else DC/OS's values (Exhibitor writes tickTime 2000, syncLimit 5 into zoo.cfg:
 * ../shared/DCOS-FACTS.md §2).
 */
export function zookeeperWindow(timers: { tickTimeMs: number; syncLimit: number } | undefined): SettleWindow {
  const t = timers ?? { tickTimeMs: 2000, syncLimit: 5 };
  const source = timers ? 'its own conf' : "DC/OS's zoo.cfg values";
  return {
    ms: (t.syncLimit + 1) * t.tickTimeMs,
    why: `ZooKeeper notices a lost leader or lost followers within syncLimit x tickTime = ${t.syncLimit} x ${t.tickTimeMs} ms plus one tick, ${source}`,
  };
}

/** etcd's window: twice the election timeout (the file's ETCD_ELECTION_TIMEOUT, else etcd's default 1000 ms). */
export function etcdWindow(electionTimeoutMs: number | undefined): SettleWindow {
  const e = electionTimeoutMs ?? 1000;
  return {
    ms: 2 * e,
    why: `an etcd member forgets a lost leader within its randomised election timeout, at most 2 x ${e} ms`,
  };
}
