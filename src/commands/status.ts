/**
 * `dcfail status`: the live view, read from the nodes in parallel. Exit 0 when every cluster has
 * exactly one quorum and no split brain threatens, 5 for a hazard, 1 when the state could not be
 * determined (no node answered).
 */
import { CLUSTERS, CLUSTER_TITLE } from '../core/clusters.js';
import { EXIT, type ExitCode } from '../errors.js';
import { isDetermined, judge, type StatusReport } from '../observe/judge.js';
import { observeCluster } from '../observe/observe.js';
import { probeTcp } from '../probes/tcp.js';
import { RemotePool } from '../remote/ssh.js';
import { loadTopology } from '../topology/load.js';
import type { Topology } from '../topology/model.js';
import type { GlobalOptions } from './options.js';
import type { Io } from '../views/io.js';

/** Quorum services on the masters that dcfail does not manage, by their well-known port. */
const OTHER_QUORUM_SERVICES = [{ name: 'CockroachDB (DC/OS IAM, 1.10+)', port: 26257 }] as const;

export interface StatusResult extends StatusReport {
  otherQuorumServices: { name: string; nodes: string[] }[];
}

async function readStatus(t: Topology, pool: RemotePool): Promise<StatusResult> {
  const [observation, others] = await Promise.all([
    observeCluster(t, { pool }),
    Promise.all(
      OTHER_QUORUM_SERVICES.map(async (s) => {
        const masters = t.nodes.filter((n) => n.roles.includes('mesos'));
        const open = await Promise.all(
          masters.map(async (n) =>
            (await probeTcp(n.address, s.port, t.health.timeoutMs)).kind === 'open' ? n.name : null,
          ),
        );
        return { name: s.name, nodes: open.filter((x): x is string => x !== null) };
      }),
    ),
  ]);
  const report = judge(t, observation);
  return {
    ...report,
    otherQuorumServices: others.filter((o) => o.nodes.length > 0),
    ...(isDetermined(observation) ? {} : { undetermined: true }),
  };
}

export function statusExitCode(r: StatusResult & { undetermined?: boolean }): ExitCode {
  if (r.undetermined) return EXIT.failed;
  return r.hazards.length > 0 || r.mode === 'split-brain-risk' ? EXIT.hazard : EXIT.ok;
}

/** A column of at least `width` that never runs into the next one. */
function col(text: string, width: number): string {
  return text.length < width ? text.padEnd(width) : `${text} `;
}

function mark(ok: boolean | undefined): string {
  return ok === undefined ? '-' : ok ? 'up' : 'DOWN';
}

function renderStatus(r: StatusResult): string {
  const lines: string[] = [];
  lines.push(`${r.cluster}: mode ${r.mode.toUpperCase()}   (observed ${r.observedAt})`);
  lines.push('');
  lines.push(
    `${'node'.padEnd(12)}${'dc'.padEnd(12)}${'address'.padEnd(16)}${'ssh'.padEnd(6)}${'files'.padEnd(13)}${'zookeeper'.padEnd(24)}${'mesos'.padEnd(20)}etcd`,
  );
  for (const n of r.nodes) {
    const zk = n.zk ? `${n.zk.mode}${n.zk.zxid ? ` z=${BigInt(n.zk.zxid).toString(16)}` : ''}` : '-';
    const mesos = n.mesos
      ? n.mesos.reachable
        ? `${n.mesos.elected ? 'LEADER' : 'follower'}${n.mesos.registryVersion !== undefined ? ` r=${n.mesos.registryVersion}` : ''}`
        : 'down'
      : '-';
    const etcd = n.etcd
      ? n.etcd.ok
        ? `${n.etcd.memberId === n.etcd.leader ? 'LEADER' : n.etcd.leader === '0' ? 'no-leader' : 'follower'} i=${n.etcd.appliedIndex}`
        : 'down'
      : '-';
    lines.push(
      `${col(n.name, 12)}${col(n.dc, 12)}${col(n.address, 16)}${col(mark(n.ssh.ok), 6)}${col(n.configKind, 13)}${col(zk, 24)}${col(mesos, 20)}${etcd}`,
    );
  }
  lines.push('');
  for (const c of CLUSTERS) {
    const lc = r.clusters.find((x) => x.cluster === c);
    if (!lc) continue;
    const q =
      lc.quorums.length === 0
        ? 'NO QUORUM'
        : lc.quorums
            .map((g) => `quorum {${g.members.join(', ')}}${g.leader ? ` leader ${g.leader}` : ''}`)
            .join(' AND ');
    lines.push(`${CLUSTER_TITLE[c].padEnd(15)}${q}`);
  }
  const v = Object.entries(r.versions).map(([k, vs]) => `${k} ${vs.join('/')}`);
  if (v.length > 0) lines.push(`versions: ${v.join(', ')}`);
  for (const o of r.otherQuorumServices)
    lines.push(`not managed by dcfail: ${o.name} on ${o.nodes.join(', ')}: it needs its own recovery after a DC loss`);
  if (r.hazards.length > 0) {
    lines.push('');
    lines.push('HAZARDS:');
    for (const h of r.hazards) lines.push(`  [${h.code}] ${h.message}`);
  }
  if (r.notes.length > 0) {
    lines.push('');
    for (const n of r.notes) lines.push(`  note [${n.code}] ${n.message}`);
  }
  return `${lines.join('\n')}\n`;
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
