/** Generated topology documents for the enumeration and the model tests. */
export interface Shape {
  masters: number;
  mastersInMain: number;
  etcd: number;
  etcdInMain: number;
  colocated: boolean;
}

export function majority(n: number): number {
  return Math.floor(n / 2) + 1;
}

/** A topology document for a shape. Addresses are loopback-range data: nothing connects to them. */
export function topologyFor(s: Shape): unknown {
  const nodes: { name: string; dc: string; address: string; roles: string[] }[] = [];
  let k = 0;
  const add = (dc: string, roles: string[], prefix: string) => {
    k += 1;
    nodes.push({ name: `${prefix}-${k}`, dc, address: `127.0.${dc === 'madrid' ? 10 : 20}.${k}`, roles });
  };
  const etcdPerDc = { madrid: s.etcdInMain, barcelona: s.etcd - s.etcdInMain };
  for (const [dc, count] of [
    ['madrid', s.mastersInMain],
    ['barcelona', s.masters - s.mastersInMain],
  ] as const) {
    for (let i = 0; i < count; i += 1) {
      const withEtcd = s.colocated && etcdPerDc[dc] > 0;
      if (withEtcd) etcdPerDc[dc] -= 1;
      add(dc, withEtcd ? ['mesos', 'exhibitor', 'etcd'] : ['mesos', 'exhibitor'], 'master');
    }
  }
  for (const dc of ['madrid', 'barcelona'] as const) {
    for (let i = 0; i < etcdPerDc[dc]; i += 1) add(dc, ['etcd'], 'etcd');
  }
  return {
    cluster: 'enum',
    datacenters: { main: 'madrid', secondary: 'barcelona' },
    nodes,
    hooks: { fence: { madrid: './fence.sh madrid' } },
  };
}
