/** How `dcfail status` looks on a terminal: a table per node, the live quorums, hazards, notes. */
import type { CompanionKind } from '../core/companions.js';
import { CLUSTERS, CLUSTER_TITLE } from '../core/clusters.js';
import { type StatusReport } from '../observe/judge.js';
import type { CalicoReport } from '../calico/judge.js';
export interface StatusResult extends StatusReport {
  /**
   * The other quorum services on the masters (core/companions.ts), present on at least one:
   * `nodes` where its unit exists, `activeOn` where it is active, `unknownOn` where it could not be asked.
   */
  otherQuorumServices: {
    name: string;
    nodes: string[];
    unit: string;
    kind: CompanionKind;
    activeOn: string[];
    unknownOn: string[];
  }[];
  /** With a declared return guard: the returning nodes it keeps down now. */
  guarded?: string[];
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
  lines.push(
    `${r.cluster}: mode ${r.mode.toUpperCase()}${r.guarded && r.guarded.length > 0 ? `, returning DC GUARDED (${r.guarded.join(', ')})` : ''}   (observed ${r.observedAt})`,
  );
  lines.push('');
  lines.push(
    `${'node'.padEnd(12)}${'dc'.padEnd(12)}${'address'.padEnd(16)}${'ssh'.padEnd(6)}${'files'.padEnd(13)}${'zookeeper'.padEnd(24)}${'mesos'.padEnd(20)}etcd`,
  );
  for (const n of r.nodes) {
    const zk = n.zk ? `${n.zk.mode}${n.zk.zxid ? ` z=${BigInt(n.zk.zxid).toString(16)}` : ''}` : '-';
    const mesos = n.mesos
      ? n.mesos.reachable
        ? `${n.mesos.elected ? (n.mesos.registrarRecovered ? 'LEADER' : 'LEADER unrecovered') : 'follower'}${n.mesos.registry ? ` a=${n.mesos.registry.agents.length}` : ''}`
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
  for (const o of r.otherQuorumServices) {
    const inactive = o.nodes.filter((n) => !o.activeOn.includes(n) && !o.unknownOn.includes(n));
    lines.push(
      `not managed by dcfail: ${o.unit}, ${o.name}: on ${o.nodes.join(', ')}; active on ${o.activeOn.join(', ') || 'none'}${inactive.length > 0 ? `; NOT active on ${inactive.join(', ')}` : ''}${o.unknownOn.length > 0 ? `; unknown on ${o.unknownOn.join(', ')}` : ''} (${o.kind === 'majority' ? 'needs a majority of its replicas' : 'follows ZooKeeper'})`,
    );
  }
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
