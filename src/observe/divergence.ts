/** Signs that the returning DC ran as a cluster of its own after the failover (split brain). */
import type { ClusterObservation } from './observation.js';
import type { FailoverMarker } from '../apply/marker.js';
import type { Topology } from '../topology/model.js';
import { etcdDivergence } from '../components/etcd/judge.js';
import { mesosDivergence } from '../components/mesos/judge.js';
import { zookeeperDivergence, zookeeperPointEpoch } from '../components/zookeeper/judge.js';
export function divergence(
  t: Topology,
  returningDc: string,
  o: ClusterObservation,
  marker: FailoverMarker | null,
): string[] {
  const out: string[] = [];
  const pointEpoch = zookeeperPointEpoch(Object.values(marker?.point ?? {}));
  for (const n of o.nodes.filter((x) => x.dc === returningDc)) {
    out.push(...etcdDivergence(n, o, returningDc));
    out.push(...zookeeperDivergence(n, o, returningDc, pointEpoch));
    out.push(...mesosDivergence(n));
  }
  return out;
}
