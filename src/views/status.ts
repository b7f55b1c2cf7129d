/** How `dcfail status` looks on a terminal: a table per node, the live quorums, hazards, notes. */
import { CLUSTERS, CLUSTER_TITLE } from '../core/clusters.js';
import { type StatusReport } from '../observe/judge.js';
import type { CalicoReport } from '../calico/judge.js';
export interface StatusResult extends StatusReport {
  otherQuorumServices: { name: string; nodes: string[] }[];
  /** Calico's BGP layout, when the topology has a `calico` block (its findings are among the hazards and notes). */
  calico?: CalicoReport;
}

/** A column of at least `width` that never runs into the next one. */
function col(text: string, width: number): string {
  return text.length < width ? text.padEnd(width) : `${text} `;
}

function mark(ok: boolean | undefined): string {
  return ok === undefined ? '-' : ok ? 'up' : 'DOWN';
}

export function renderStatus(r: StatusResult): string {
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
  if (r.calico) {
    const c = r.calico;
    lines.push(
      `calico: mesh ${c.meshEnabled ? 'enabled' : 'disabled'}, ${Object.entries(c.dcs)
        .map(([dc, d]) => `${dc} ${d.nodes} node(s) ${d.routeReflectors.length} route reflector(s)`)
        .join(', ')} (${c.source})`,
    );
  }
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
