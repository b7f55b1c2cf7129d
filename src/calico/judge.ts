/**
 * What Calico's BGP layout means for the loss of a DC. Pure: the configuration read from etcd and
 * the topology in, findings out.
 *
 * The seed runbook's network: Calico with route reflectors in both DCs and the node-to-node mesh
 * disabled, every node peering with a reflector. Once a DC is gone, a node learns routes only
 * from what is left in its own DC; so each DC needs a reflector of its own, and each node must
 * peer with one in its DC.
 */
import type { Finding } from '../core/safety.js';
import type { Topology } from '../topology/model.js';
import type { CalicoConfig, CalicoNode, CalicoPeer } from './resources.js';
import { matchesSelector, parseSelector, type Selector } from './selector.js';

/** Past this many nodes a full mesh is not recommended (the seed runbook; Calico's docs say the same). */
const MESH_NODE_LIMIT = 50;

export interface CalicoFinding extends Finding {
  /** The DC the finding is about, when it is about one (a DC without a reflector, a node of it). */
  dc?: string;
  severity: 'hazard' | 'warning' | 'note';
}

export interface CalicoReport {
  source: string;
  meshEnabled: boolean;
  nodes: number;
  /** Per DC: its Calico nodes and its route reflectors. */
  dcs: Record<string, { nodes: number; routeReflectors: string[] }>;
  /** Calico nodes whose DC cannot be told. */
  unplaced: string[];
  findings: CalicoFinding[];
  /** Keys left out or peerings not understood: the view may be incomplete. */
  problems: string[];
}

function ipv4ToInt(ip: string): number | undefined {
  const parts = ip.split('.');
  if (parts.length !== 4 || !parts.every((p) => /^\d{1,3}$/.test(p) && Number(p) <= 255)) return undefined;
  return parts.reduce((acc, p) => acc * 256 + Number(p), 0);
}

function inCidr(ip: string, cidr: string): boolean {
  const [net, bits] = cidr.split('/');
  const a = ipv4ToInt(ip);
  const b = ipv4ToInt(net!);
  if (a === undefined || b === undefined) return false;
  const size = 2 ** (32 - Number(bits));
  return Math.floor(a / size) === Math.floor(b / size);
}

/** `*` as any run of characters; linear in practice (the classic greedy match with one backtrack point). */
export function matchesPattern(pattern: string, name: string): boolean {
  let p = 0;
  let n = 0;
  let star = -1;
  let mark = 0;
  while (n < name.length) {
    if (p < pattern.length && pattern[p] === name[n]) {
      p++;
      n++;
    } else if (p < pattern.length && pattern[p] === '*') {
      star = p++;
      mark = n;
    } else if (star >= 0) {
      p = star + 1;
      n = ++mark;
    } else return false;
  }
  while (p < pattern.length && pattern[p] === '*') p++;
  return p === pattern.length;
}

/**
 * A Calico node's DC: the topology node of the same name or address, else the one DC whose
 * `calico.datacenters` rule matches it (two DCs matching: unknown, said in a problem).
 */
export function dcOfCalicoNode(t: Topology, n: CalicoNode): { dc?: string; ambiguous?: string[] } {
  const own = t.nodes.find((x) => x.name === n.name || (n.ipv4 !== undefined && x.address === n.ipv4));
  if (own) return { dc: own.dc };
  const matching = Object.entries(t.calico?.datacenters ?? {})
    .filter(
      ([, rule]) =>
        (rule.nodes ?? []).some((p) => matchesPattern(p, n.name)) ||
        (n.ipv4 !== undefined && (rule.cidrs ?? []).some((c) => inCidr(n.ipv4!, c))) ||
        (rule.labels !== undefined &&
          Object.keys(rule.labels).length > 0 &&
          Object.entries(rule.labels).every(([k, v]) => n.labels[k] === v)),
    )
    .map(([dc]) => dc);
  if (matching.length === 1) return { dc: matching[0]! };
  return matching.length > 1 ? { ambiguous: matching } : {};
}

/** The Calico nodes each node peers with, per BGPPeer; external peer IPs counted apart. */
function peerings(c: CalicoConfig, problems: string[]): Map<string, { nodes: Set<string>; external: Set<string> }> {
  const out = new Map(c.nodes.map((n) => [n.name, { nodes: new Set<string>(), external: new Set<string>() }]));
  const byIp = new Map(c.nodes.filter((n) => n.ipv4 !== undefined).map((n) => [n.ipv4!, n.name]));
  const parse = (p: CalicoPeer, field: 'nodeSelector' | 'peerSelector'): Selector | undefined => {
    try {
      return parseSelector(p[field]!);
    } catch (err) {
      problems.push(
        `bgppeer ${p.name}: ${field} ${JSON.stringify(p[field]!.slice(0, 200))}: ${(err as Error).message}: peering left out`,
      );
      return undefined;
    }
  };
  for (const p of c.peers) {
    let applies: CalicoNode[];
    if (p.node !== undefined) applies = c.nodes.filter((n) => n.name === p.node);
    else if (p.nodeSelector !== undefined) {
      const s = parse(p, 'nodeSelector');
      if (!s) continue;
      applies = c.nodes.filter((n) => matchesSelector(s, n.labels));
    } else applies = c.nodes;
    let remote: string[] = [];
    let external: string | undefined;
    if (p.peerSelector !== undefined) {
      const s = parse(p, 'peerSelector');
      if (!s) continue;
      remote = c.nodes.filter((n) => matchesSelector(s, n.labels)).map((n) => n.name);
    } else if (p.peerIP !== undefined) {
      const ip = /^(\d{1,3}(?:\.\d{1,3}){3})(?::\d{1,5})?$/.exec(p.peerIP)?.[1] ?? p.peerIP;
      const node = byIp.get(ip);
      if (node !== undefined) remote = [node];
      else external = ip;
    }
    for (const n of applies) {
      const e = out.get(n.name)!;
      for (const r of remote) if (r !== n.name) e.nodes.add(r);
      if (external !== undefined) e.external.add(external);
    }
  }
  return out;
}

export function judgeCalico(t: Topology, c: CalicoConfig, source: string): CalicoReport {
  const problems = [...c.problems];
  const findings: CalicoFinding[] = [];
  const meshEnabled = c.meshSetting ?? true;
  const dcNames = [t.datacenters.main, t.datacenters.secondary];
  const dcs: CalicoReport['dcs'] = Object.fromEntries(dcNames.map((d) => [d, { nodes: 0, routeReflectors: [] }]));
  const dcOf = new Map<string, string>();
  const unplaced: string[] = [];
  for (const n of c.nodes) {
    const r = dcOfCalicoNode(t, n);
    if (r.dc !== undefined) {
      dcOf.set(n.name, r.dc);
      dcs[r.dc]!.nodes += 1;
      if (n.routeReflectorClusterId !== undefined) dcs[r.dc]!.routeReflectors.push(n.name);
    } else {
      unplaced.push(n.name);
      if (r.ambiguous)
        problems.push(`calico node ${n.name}: matched by the rules of ${r.ambiguous.join(' and ')}: its DC is unknown`);
    }
  }
  if (unplaced.length > 0)
    findings.push({
      code: 'calico-node-dc-unknown',
      severity: 'note',
      message: `${unplaced.length} Calico node(s) in no known DC (${list(unplaced)}): add them to calico.datacenters in the topology`,
    });

  if (meshEnabled) {
    const why = c.meshSetting === undefined ? ' (no default BGPConfiguration says otherwise)' : '';
    if (c.nodes.length > MESH_NODE_LIMIT)
      findings.push({
        code: 'calico-mesh-large',
        severity: 'warning',
        message: `Calico's node-to-node mesh is enabled${why} with ${c.nodes.length} nodes, past ${MESH_NODE_LIMIT}: every node keeps a BGP session with every other; disable it and peer with route reflectors in each DC`,
      });
    else
      findings.push({
        code: 'calico-mesh',
        severity: 'note',
        message: `Calico's node-to-node mesh is enabled${why} (${c.nodes.length} nodes): no route reflector is needed`,
      });
    return { source, meshEnabled, nodes: c.nodes.length, dcs, unplaced, findings, problems };
  }

  for (const dc of dcNames) {
    if (dcs[dc]!.nodes > 0 && dcs[dc]!.routeReflectors.length === 0)
      findings.push({
        code: 'calico-dc-without-rr',
        severity: 'hazard',
        dc,
        message: `${dc} has ${dcs[dc]!.nodes} Calico node(s) and no route reflector, with the mesh disabled: once ${dcNames.find((d) => d !== dc)} is gone, nothing in ${dc} reflects routes`,
      });
  }
  const peers = peerings(c, problems);
  const isRr = new Set(c.nodes.filter((n) => n.routeReflectorClusterId !== undefined).map((n) => n.name));
  const remoteOnly: Record<string, string[]> = {};
  const isolated: Record<string, string[]> = {};
  for (const n of c.nodes) {
    const dc = dcOf.get(n.name);
    if (dc === undefined || isRr.has(n.name)) continue;
    const p = peers.get(n.name)!;
    const rrs = [...p.nodes].filter((x) => isRr.has(x));
    if (rrs.some((x) => dcOf.get(x) === dc)) continue;
    if (rrs.length > 0) {
      (remoteOnly[dc] ??= []).push(`${n.name} (with ${list(rrs)})`);
    } else if (p.nodes.size === 0 && p.external.size === 0) (isolated[dc] ??= []).push(n.name);
  }
  for (const [dc, names] of Object.entries(remoteOnly))
    findings.push({
      code: 'calico-no-local-rr',
      severity: 'hazard',
      dc,
      message: `${names.length} node(s) of ${dc} peer with no route reflector in ${dc}, only with reflectors elsewhere: ${list(names)}; once those are gone they learn no routes`,
    });
  for (const [dc, names] of Object.entries(isolated))
    findings.push({
      code: 'calico-node-no-peer',
      severity: 'hazard',
      dc,
      message: `${names.length} node(s) of ${dc} have no BGP peer at all with the mesh disabled: ${list(names)}`,
    });
  return { source, meshEnabled, nodes: c.nodes.length, dcs, unplaced, findings, problems };
}

/** At most ten names, then how many more. */
function list(names: readonly string[]): string {
  return names.length <= 10 ? names.join(', ') : `${names.slice(0, 10).join(', ')} and ${names.length - 10} more`;
}

/** The findings as status hazards and notes (warnings are notes: they do not change the exit code). */
export function calicoStatusFindings(r: CalicoReport): { hazards: Finding[]; notes: Finding[] } {
  const strip = ({ code, message }: CalicoFinding): Finding => ({ code, message });
  const notes = r.findings.filter((f) => f.severity !== 'hazard').map(strip);
  if (r.problems.length > 0)
    notes.push({
      code: 'calico-incomplete',
      message: `Calico's configuration was read with ${r.problems.length} problem(s): ${r.problems.slice(0, 3).join('; ')}${r.problems.length > 3 ? '; ...' : ''}`,
    });
  return { hazards: r.findings.filter((f) => f.severity === 'hazard').map(strip), notes };
}
