/**
 * The resolved topology: per-node overrides merged over the defaults, ZooKeeper ids assigned.
 * Pure: imported by the core and the plan builders.
 */
import { UserError } from '../errors.js';
import { clusterMembers, type ClusterName } from '../core/clusters.js';
import type { ParsedTopology, Role, ServicesConfig, SshConfig } from './schema.js';

export interface TopologyNode {
  readonly name: string;
  readonly dc: string;
  readonly address: string;
  readonly roles: readonly Role[];
  /** ZooKeeper server id (exhibitor nodes): zkId, else the 1-based position among exhibitor nodes. */
  readonly zkId: number | undefined;
  readonly ssh: SshConfig;
  readonly services: ServicesConfig;
  /** Index in the file's node list (for messages: `nodes[2]`). */
  readonly index: number;
}

export interface Topology {
  readonly cluster: string;
  readonly datacenters: { readonly main: string; readonly secondary: string };
  readonly nodes: readonly TopologyNode[];
  readonly health: ParsedTopology['health'];
  readonly hooks: NonNullable<ParsedTopology['hooks']>;
  readonly marathon: ParsedTopology['marathon'];
  /** The return guard, when the topology declares it. */
  readonly guard: ParsedTopology['guard'];
  /** Where Calico keeps its configuration and which of its nodes is in which DC (absent: not read). */
  readonly calico: ParsedTopology['calico'];
  /** The parsed file, defaults filled in (what `validate --json` shows). */
  readonly parsed: ParsedTopology;
}

export function resolveTopology(parsed: ParsedTopology): Topology {
  let exhibitorPosition = 0;
  const nodes = parsed.nodes.map((n, index): TopologyNode => {
    const isExhibitor = n.roles.includes('exhibitor');
    if (isExhibitor) exhibitorPosition += 1;
    const o = n.services ?? {};
    const services: ServicesConfig = {
      dcfail: { ...parsed.services.dcfail, ...o.dcfail },
      mesos: { ...parsed.services.mesos, ...o.mesos },
      exhibitor: { ...parsed.services.exhibitor, ...o.exhibitor },
      etcd: { ...parsed.services.etcd, ...o.etcd },
      commands: { ...parsed.services.commands, ...o.commands },
    };
    return {
      name: n.name,
      dc: n.dc,
      address: n.address,
      roles: n.roles,
      zkId: isExhibitor ? (n.zkId ?? exhibitorPosition) : undefined,
      ssh: { ...parsed.ssh, ...n.ssh },
      services,
      index,
    };
  });
  return {
    cluster: parsed.cluster,
    datacenters: parsed.datacenters,
    nodes,
    health: parsed.health,
    hooks: parsed.hooks ?? {},
    marathon: parsed.marathon,
    guard: parsed.guard,
    calico: parsed.calico,
    parsed,
  };
}

/** A DC named on the command line: its name, or the aliases `main` and `secondary`. */
export function resolveDc(t: Topology, nameOrAlias: string, flag: string): string {
  const { main, secondary } = t.datacenters;
  if (nameOrAlias === main || nameOrAlias === secondary) return nameOrAlias;
  if (nameOrAlias === 'main') return main;
  if (nameOrAlias === 'secondary') return secondary;
  throw new UserError(
    'bad-flag',
    `${flag} ${nameOrAlias}: not a datacenter of ${t.cluster} (expected ${main} or ${secondary}, or main/secondary)`,
  );
}

export function otherDc(t: Topology, dc: string): string {
  return dc === t.datacenters.main ? t.datacenters.secondary : t.datacenters.main;
}

export function membersOf(t: Topology, cluster: ClusterName): TopologyNode[] {
  return clusterMembers(t.nodes, cluster);
}

export function nodeByName(t: Topology, name: string): TopologyNode {
  const node = t.nodes.find((n) => n.name === name);
  if (!node) throw new UserError('unknown-node', `no node named '${name}' in the topology`);
  return node;
}
