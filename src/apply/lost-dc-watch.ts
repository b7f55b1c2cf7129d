/**
 * During a failover the lost DC is watched in the background: anything of it that answers as a
 * cluster member stops the run before its next step (split brain in the making).
 */
import { RefusedError } from '../errors.js';
import type { Topology } from '../topology/model.js';
import { etcdAnswersAsMember } from '../components/etcd/observe.js';
import { mesosAnswers } from '../components/mesos/observe.js';
import { zookeeperAnswers } from '../components/zookeeper/observe.js';
/** Anything of the lost DC that answers as a cluster member stops the run (split brain in the making). */
async function lostDcAnswers(t: Topology, lostDc: string): Promise<string[]> {
  const timeoutMs = Math.min(t.health.timeoutMs, 1000);
  const out: string[] = [];
  await Promise.all(
    t.nodes
      .filter((n) => n.dc === lostDc)
      .flatMap((n) => [
        n.roles.includes('etcd')
          ? etcdAnswersAsMember(n, timeoutMs).then((a) => {
              if (a) out.push(a);
            })
          : undefined,
        n.roles.includes('exhibitor')
          ? zookeeperAnswers(n, timeoutMs).then((a) => {
              if (a) out.push(a);
            })
          : undefined,
        n.roles.includes('mesos')
          ? mesosAnswers(n, timeoutMs).then((a) => {
              if (a) out.push(a);
            })
          : undefined,
      ]),
  );
  return out;
}

/**
 * Watches the lost DC in the background while the run goes on, so the check before each step is
 * instant: the guard throws when the latest probe (at most about a second old) saw a member.
 */
export class LostDcWatch {
  private seen: string[] = [];
  private running = true;
  private first: Promise<void>;
  private timer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;

  constructor(
    private readonly t: Topology,
    private readonly dc: string,
  ) {
    this.first = this.probe();
    void this.first.then(async () => {
      while (this.running) {
        await new Promise<void>((r) => {
          this.wake = r;
          this.timer = setTimeout(r, 500);
        });
        if (this.running) await this.probe();
      }
    });
  }

  private async probe(): Promise<void> {
    this.seen = await lostDcAnswers(this.t, this.dc).catch(() => this.seen);
  }

  async guard(): Promise<void> {
    await this.first;
    if (this.seen.length > 0) {
      throw new RefusedError(
        'lost-dc-returned',
        `${this.dc} came back as a cluster member during the run: ${this.seen.join(', ')}. Stopped before the next step: this is split brain in the making. Fence it, then re-run.`,
      );
    }
  }

  /** A fresh probe now, then the same verdict as `guard` (after the last step, or a failed one: no cached answer). */
  async check(): Promise<void> {
    await this.first;
    await this.probe();
    if (this.seen.length > 0) {
      throw new RefusedError(
        'lost-dc-returned',
        `${this.dc} came back and answers as a cluster member: ${this.seen.join(', ')}. The failover is not done: this is split brain. Fence ${this.dc} now (stop its services), then run the same command again.`,
      );
    }
  }

  /** Stops the watch at once: a probe still under way (bounded by its timeout) is left to finish on its own. */
  stop(): void {
    this.running = false;
    clearTimeout(this.timer);
    this.wake?.();
  }
}
