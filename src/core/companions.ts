/**
 * The other quorum services on DC/OS masters, which dcfail neither moves nor restarts, and what a
 * failover means for each (dcos/dcos; ../shared/DCOS-FACTS.md §7):
 *
 * - `dcos-cockroach`, CockroachDB, the IAM database (logins, users, ACLs). Every master runs one
 *   (`dcos-integration-test/extra/test_composition.py` lists it among the master units); its
 *   replication factor is set to `num_masters` of the expanded config by
 *   `dcos-cockroachdb-config-change` (`packages/cockroach/extra/cockroachdb-change-config.py`), not
 *   to `master_count`, so a failover does not change it. A range needs a majority of its replicas:
 *   with the main DC's majority of masters gone, IAM is down while the cluster runs failed over.
 *   Its `ExecStartPre` (`register.py`) also needs ZooKeeper to start it.
 * - `dcos-marathon` and `dcos-metronome` keep their state in ZooKeeper and elect their leader
 *   there: they come back with ZooKeeper, on the survivors, with nothing else to do.
 *
 * Pure: the catalogue and the judgement over what the nodes said of these units.
 */
import type { Finding } from './safety.js';

export type CompanionKind = 'majority' | 'follows-zookeeper';

export interface Companion {
  unit: string;
  name: string;
  kind: CompanionKind;
  /** What stops working when it has no quorum. */
  serves: string;
}

export const COMPANIONS: readonly Companion[] = [
  { unit: 'dcos-cockroach', name: 'CockroachDB', kind: 'majority', serves: 'DC/OS IAM: logins, users, ACLs' },
  { unit: 'dcos-marathon', name: 'Marathon', kind: 'follows-zookeeper', serves: 'apps' },
  { unit: 'dcos-metronome', name: 'Metronome', kind: 'follows-zookeeper', serves: 'jobs' },
];

/** What one node said of one unit; undefined where it could not be told (SSH down, the check timed out). */
export interface UnitPresence {
  present?: boolean;
  active?: boolean;
}

/** Per companion: on which masters its unit exists, is active, or could not be read. */
export interface CompanionView {
  unit: string;
  name: string;
  kind: CompanionKind;
  serves: string;
  presentOn: string[];
  activeOn: string[];
  unknownOn: string[];
}

/**
 * The companions present on at least one master. `nodes`: the masters in topology order, with
 * what each said of each unit (keyed by unit name), or nothing when it could not be asked.
 */
export function companionViews(
  nodes: readonly { name: string; companions?: Readonly<Record<string, UnitPresence>> }[],
): CompanionView[] {
  return COMPANIONS.map((c) => {
    const said = nodes.map((n) => ({ name: n.name, p: n.companions?.[c.unit] }));
    return {
      ...c,
      presentOn: said.filter((s) => s.p?.present === true).map((s) => s.name),
      activeOn: said.filter((s) => s.p?.active === true).map((s) => s.name),
      unknownOn: said.filter((s) => s.p?.present === undefined).map((s) => s.name),
    };
  }).filter((v) => v.presentOn.length > 0);
}

/** A strict majority of n. */
const majority = (n: number) => Math.floor(n / 2) + 1;

/**
 * What a failover away from `lostDc` means for each companion present, in words for the plan's
 * warnings (and status, once failed over). `mastersByDc`: every master's DC, by name.
 */
export function companionFindings(
  views: readonly CompanionView[],
  mastersByDc: Readonly<Record<string, string>>,
  lostDc: string,
): Finding[] {
  const out: Finding[] = [];
  for (const v of views) {
    // One replica per master that has the unit; a master that could not be asked (the lost DC's,
    // typically) counts: DC/OS runs it on every master, num_replicas = num_masters.
    const replicas = v.presentOn.length + v.unknownOn.length;
    const left = v.presentOn.filter((n) => mastersByDc[n] !== lostDc).length;
    switch (v.kind) {
      case 'majority':
        out.push({
          code: left >= majority(replicas) ? 'companion-keeps-majority' : 'iam-down-while-failed-over',
          message:
            left >= majority(replicas)
              ? `${v.unit} (${v.name}, ${v.serves}) keeps ${left} of its ${replicas} replicas without ${lostDc}: a majority, it should keep serving`
              : `${v.unit} (${v.name}, ${v.serves}) keeps ${left} of its ${replicas} replicas without ${lostDc}, and needs ${majority(replicas)}: IAM logins and ACL changes fail while the cluster runs failed over. dcfail does not move it; it comes back when ${lostDc}'s masters return (README: IAM while failed over)`,
        });
        break;
      case 'follows-zookeeper':
        out.push({
          code: 'follows-zookeeper',
          message: `${v.unit} (${v.name}, ${v.serves}) keeps its state in ZooKeeper: it comes back with ZooKeeper on the survivors (${v.presentOn.filter((n) => mastersByDc[n] !== lostDc).join(', ') || 'none present'}); nothing to do`,
        });
        break;
      default: {
        const never: never = v.kind;
        throw new Error(`unknown companion kind ${String(never)}`);
      }
    }
  }
  return out;
}

/**
 * The answer of the one remote check that asks a node about every companion unit: one line per
 * unit, `<exists exit code> <is-active exit code>`, in COMPANIONS order. Untrusted: anything
 * else (a line missing, not two small numbers) is unknown for that unit.
 */
export function parseCompanionAnswer(stdout: string): Record<string, UnitPresence> {
  const lines = stdout.split('\n', COMPANIONS.length + 1);
  const out: Record<string, UnitPresence> = {};
  COMPANIONS.forEach((c, i) => {
    const m = /^(\d{1,3}) (\d{1,3})$/.exec(lines[i]?.trim() ?? '');
    // `timeout` exits 124 when the check did not finish: unknown, not absent.
    if (!m || m[1] === '124' || m[2] === '124') return void (out[c.unit] = {});
    const present = m[1] === '0';
    out[c.unit] = { present, active: present && m[2] === '0' };
  });
  return out;
}
