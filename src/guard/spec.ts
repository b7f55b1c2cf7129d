/**
 * The return guard's description of each master, from the topology (pure). What the guard does:
 * README.md here; its files: render.ts.
 */
import type { Topology, TopologyNode } from '../topology/model.js';
import { peerUrlOf } from '../components/etcd/settings.js';
import type { GuardNodeSpec, GuardUnit } from './render.js';

/** The nodes the guard protects: every node with a quorum role. */
export function guardedNodes(t: Topology): TopologyNode[] {
  return t.nodes.filter((n) => n.roles.length > 0);
}

/** The units of a node the guard sits in front of, with the cluster whose membership each one looks at. */
export function guardedUnits(n: TopologyNode): GuardUnit[] {
  return [
    ...(n.roles.includes('mesos') ? [{ unit: n.services.mesos.unit, cluster: 'mesos' as const }] : []),
    ...(n.roles.includes('exhibitor') ? [{ unit: n.services.exhibitor.unit, cluster: 'exhibitor' as const }] : []),
    ...(n.roles.includes('etcd') ? [{ unit: n.services.etcd.unit, cluster: 'etcd' as const }] : []),
  ];
}

/** Where a node's guard keeps its holds and the failover state: below dcfail's state dir. */
export function guardStateDirOf(n: TopologyNode): string {
  return `${n.services.dcfail.stateDir}/guard`;
}

/** The guard of one node: the other DC's masters to ask, its own etcd peer URL as the members list it. */
export function guardSpecOf(t: Topology, n: TopologyNode): GuardNodeSpec {
  const g = t.guard ?? { whenUnsure: 'start' as const, beaconPort: 8186, exhibitorPort: 8181, curl: undefined };
  const other = guardedNodes(t).filter((m) => m.dc !== n.dc);
  const otherDc = n.dc === t.datacenters.main ? t.datacenters.secondary : t.datacenters.main;
  const etcdClient =
    other.find((m) => m.roles.includes('etcd'))?.services.etcd.clientPort ?? n.services.etcd.clientPort;
  return {
    node: n.name,
    address: n.address,
    dc: n.dc,
    otherDc,
    otherMasters: other.map((m) => m.address),
    ...(n.roles.includes('etcd') ? { etcdPeerUrl: peerUrlOf(n.address, n.services.etcd.peerPort) } : {}),
    whenUnsure: g.whenUnsure,
    units: guardedUnits(n),
    ports: { exhibitor: g.exhibitorPort, etcdClient, beacon: g.beaconPort },
    // The node's own dirs: the failback's quarantine writes its holds there (apply/units.ts).
    paths: { stateDir: guardStateDirOf(n), systemdDir: n.services.dcfail.systemdDir },
    ...(g.curl ? { curl: g.curl } : {}),
  };
}
