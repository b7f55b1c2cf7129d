/**
 * `dcfail status`: the live view, read from the nodes in parallel. Exit 0 when every cluster has
 * exactly one quorum and no split brain threatens, 5 for a hazard, 1 when the state could not be
 * determined (no node answered).
 */
import { EXIT, type ExitCode } from '../errors.js';
import { companionWarnings, isDetermined, judge } from '../observe/judge.js';
import { observeCluster } from '../observe/observe.js';
import { companionViews } from '../core/companions.js';
import { RemotePool } from '../remote/ssh.js';
import type { Remotes } from '../remote/types.js';
import { loadTopology } from '../topology/load.js';
import type { Topology } from '../topology/model.js';
import type { GlobalOptions } from './options.js';
import type { Io } from '../views/io.js';
import { renderStatus, type StatusResult } from '../views/status.js';
import { inspectGuards } from './guard.js';
import { withGuarded } from '../guard/status.js';

async function readStatus(t: Topology, pool: Remotes): Promise<StatusResult> {
  const observation = await observeCluster(t, { pool, companions: true });
  const judged = judge(t, observation);
  // The return guard, when declared: a returning DC it keeps down reads `guarded`.
  const guards = t.guard ? await inspectGuards(t, pool, { verdict: false }) : [];
  const { guarded, notes } = withGuarded(t, judged, guards);
  const report = { ...judged, notes };
  const views = companionViews(observation.nodes.filter((n) => n.roles.includes('mesos')));
  // Failed over: what that means for them now (IAM down, Marathon back with ZooKeeper).
  const findings = report.mode === 'failed-over' ? companionWarnings(observation, t.datacenters.main) : [];
  return {
    ...report,
    ...(t.guard ? { guarded } : {}),
    otherQuorumServices: views.map((v) => ({
      name: `${v.name} (${v.serves})`,
      nodes: v.presentOn,
      unit: v.unit,
      kind: v.kind,
      activeOn: v.activeOn,
      unknownOn: v.unknownOn,
    })),
    notes: [...report.notes, ...findings],
    ...(isDetermined(observation) ? {} : { undetermined: true }),
  };
}

export function statusExitCode(r: StatusResult & { undetermined?: boolean }): ExitCode {
  if (r.undetermined) return EXIT.failed;
  return r.hazards.length > 0 || r.mode === 'split-brain-risk' ? EXIT.hazard : EXIT.ok;
}

export async function status(opts: GlobalOptions, io: Io): Promise<ExitCode> {
  const t = await loadTopology(opts.topology);
  const pool = new RemotePool();
  try {
    const r = await readStatus(t, pool);
    io.out(
      opts.json
        ? JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2)
        : renderStatus(r),
    );
    return statusExitCode(r);
  } finally {
    await pool.closeAll();
  }
}
