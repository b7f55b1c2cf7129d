/**
 * What the bad-day files on the machines lab share: topology copies with probe budgets for runs
 * that meet a dark DC, the fence (madrid's power cut, its units held on its disks) through a wrapper
 * that counts its calls, madrid's loss, and a failover watched step by step while it runs.
 *
 * The lost DC back during a run is made deterministic by a restart template on master-3 (a program
 * of the test, `services.commands.allowAnyProgram`): it restarts the unit as `systemctl` does and,
 * while `/run/e2e-hold-<unit>` exists, stops it again, so the step is done and its verification
 * keeps polling. Meanwhile the test powers madrid on (unfenced: `--attest-fenced`), waits until its
 * ZooKeeper answers as leader/follower, then starts the unit again.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { untilClustersReady, powerOff, powerOn } from '../../../lab/machines/lab.js';
import { failoverArgs, secs, spawnDcfail, waitFor, type RunResult } from '../../support/e2e.js';
import {
  answersAsZkMember,
  labTopologyCopy,
  mastersOf,
  sh,
  untilLossSettled,
  writeFenceAndHold,
  writeIn,
  type MachinesE2e,
} from '../../support/machines-e2e.js';
import { journals, stepsDone } from './common.js';

export const ATTEST = ['--attest-fenced', 'bad-day e2e: the test keeps madrid down until it powers it on'];
const RESTART = '/usr/local/bin/e2e-restart';

export interface BadDayLab {
  readonly madrid: () => ReturnType<typeof mastersOf>;
  readonly barcelona: () => ReturnType<typeof mastersOf>;
  /** master-3, the survivor. */
  readonly m3: () => string;
  readonly allNodes: () => string[];
  /** The lab's topology with probe budgets for runs that meet a dark DC, and `edit`. */
  readonly topology: (name: string, edit?: (t: any) => void) => Promise<string>;
  /** Writes the fence and its counting wrapper (again after a reset); returns the fast topology (the counted fence for madrid). */
  readonly setUp: () => Promise<string>;
  /** The fence itself (uncounted): `<path> <dc>`. */
  readonly fenceAndHold: () => string;
  /** The counting wrapper: `<path> <dc>`. */
  readonly countedFence: () => string;
  /** How often the counted fence ran. */
  readonly fences: () => Promise<number>;
  readonly everyClusterReady: (timeoutMs?: number) => Promise<void>;
  /** madrid's power cut, then until the survivors lost their quorum. */
  readonly loseMain: () => Promise<void>;
  /** The topology of a run whose restart of `unit` on master-3 is held (above): no fence hook. */
  readonly heldTopology: (unit: string) => Promise<string>;
  /** Powers madrid on (unfenced: its units start), waits until its ZooKeeper answers as members, then lets `unit` run on master-3 again. */
  readonly madridBackThenRelease: (unit: string) => Promise<void>;
  /**
   * A failover started in the background (retried while the survivors still claim a quorum), and
   * `during` called with the run's journal each time it is read, until the run ends.
   */
  readonly failoverWhile: (topology: string, extra: string[], during: (j: any) => Promise<void>) => Promise<RunResult>;
}

export function badDayLab(e: MachinesE2e): BadDayLab {
  let fence = '';
  const fenceCalls = () => `${e.dir}/fence-calls`;
  const madrid = () => mastersOf(e.lab(), 'madrid');
  const barcelona = () => mastersOf(e.lab(), 'barcelona');
  const m3 = () => barcelona()[0]!.name;
  const o = () => ({ dir: e.dir });
  const topology = (name: string, edit: (t: any) => void = () => undefined) =>
    labTopologyCopy(e.lab(), name, (t) => {
      t.health = { ...t.health, timeoutMs: 1000, attempts: 2 };
      t.ssh = { ...t.ssh, connectTimeoutMs: 2000 };
      edit(t);
    });
  const countedFence = () => `${e.dir}/bin/fence-counting`;
  return {
    madrid,
    barcelona,
    m3,
    allNodes: () => e.lab().layout.nodes.map((n) => n.name),
    topology,
    async setUp() {
      fence = await writeFenceAndHold(e.lab());
      await writeFile(countedFence(), `#!/bin/sh\necho "$@" >> ${fenceCalls()}\nexec ${fence} "$@"\n`, {
        mode: 0o755,
      });
      return topology('fast', (t) => (t.hooks.fence = { madrid: `${countedFence()} madrid` }));
    },
    fenceAndHold: () => fence,
    countedFence,
    fences: async () =>
      (await readFile(fenceCalls(), 'utf8').catch(() => '')).split('\n').filter((l) => l !== '').length,
    async everyClusterReady(timeoutMs = 120_000) {
      await untilClustersReady(e.lab().layout, timeoutMs);
    },
    async loseMain() {
      await powerOff('madrid', o());
      e.log(`survivors lost quorum after ${secs(await untilLossSettled(barcelona()))}`);
    },
    async heldTopology(unit) {
      await writeIn(
        e.lab(),
        m3(),
        RESTART,
        '#!/bin/sh\nsystemctl restart "$1" || exit $?\nif [ -e "/run/e2e-hold-$1" ]; then systemctl stop "$1"; fi\n',
      );
      await sh(e.lab(), m3(), `chmod 0755 ${RESTART} && touch /run/e2e-hold-${unit}`);
      return topology('held', (t) => {
        delete t.hooks;
        t.services = {
          ...t.services,
          commands: { ...t.services?.commands, allowAnyProgram: true, restart: `${RESTART} {unit}` },
        };
      });
    },
    async madridBackThenRelease(unit) {
      await powerOn('madrid', o());
      await waitFor('madrid answers as ZooKeeper members', () => answersAsZkMember(madrid()), 90_000, 300);
      await sh(e.lab(), m3(), `rm -f /run/e2e-hold-${unit} && systemctl start --no-block ${unit}`);
    },
    async failoverWhile(topology, extra, during) {
      for (let attempt = 0; ; attempt++) {
        const before = (await journals()).length;
        const t0 = Date.now();
        const child = spawnDcfail(failoverArgs(topology, ['--json', ...extra]));
        let ended = false;
        void child.finally(() => (ended = true));
        while (!ended) {
          const all = await journals().catch(() => []);
          if (all.length > before) await during(all.at(-1));
          await sleep(100);
        }
        const r = await child;
        const res: RunResult = {
          exitCode: r.exitCode ?? -1,
          stdout: String(r.stdout),
          stderr: String(r.stderr),
          durationMs: Date.now() - t0,
          json: (() => {
            try {
              return JSON.parse(String(r.stdout));
            } catch {
              return undefined;
            }
          })(),
        };
        if (
          res.exitCode === 3 &&
          ['lost-dc-alive', 'loss-settling'].includes(res.json?.error?.code) &&
          attempt < 30 &&
          stepsDone(res.json).length === 0
        ) {
          await sleep(1000);
          continue;
        }
        return res;
      }
    },
  };
}
