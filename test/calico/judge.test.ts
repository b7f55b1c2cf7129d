/** The pure Calico judgement: which DC a node is in, and the topology rules for the `calico` block. */
import { describe, expect, it } from 'vitest';
import { dcOfCalicoNode, matchesPattern } from '../../src/calico/judge.js';
import { parseCalicoKeys } from '../../src/calico/resources.js';
import { loadTopology, parseTopology } from '../../src/topology/load.js';
import { UserError } from '../../src/errors.js';

const base = {
  cluster: 'prod',
  datacenters: { main: 'madrid', secondary: 'barcelona' },
  nodes: [
    { name: 'm1', dc: 'madrid', address: '10.1.0.1', roles: ['mesos', 'exhibitor', 'etcd'] },
    { name: 'm2', dc: 'madrid', address: '10.1.0.2', roles: ['mesos', 'exhibitor', 'etcd'] },
    { name: 'm3', dc: 'barcelona', address: '10.2.0.1', roles: ['mesos', 'exhibitor', 'etcd'] },
  ],
};

const t = parseTopology({
  ...base,
  calico: {
    datacenters: {
      madrid: { nodes: ['mad-*'], cidrs: ['10.10.0.0/16'] },
      barcelona: { labels: { 'topology.kubernetes.io/zone': 'bcn' }, nodes: ['both-*'] },
    },
  },
});
const node = (name: string, ipv4?: string, labels: Record<string, string> = {}) => ({ name, labels, ipv4 });

describe('which DC a Calico node is in', () => {
  it('a topology node by name or address; else the one DC whose rule matches; two: unknown', () => {
    expect(dcOfCalicoNode(t, node('m3'))).toEqual({ dc: 'barcelona' });
    expect(dcOfCalicoNode(t, node('agent-x', '10.2.0.1'))).toEqual({ dc: 'barcelona' });
    expect(dcOfCalicoNode(t, node('mad-agent-1'))).toEqual({ dc: 'madrid' });
    expect(dcOfCalicoNode(t, node('agent-7', '10.10.200.3'))).toEqual({ dc: 'madrid' });
    expect(dcOfCalicoNode(t, node('agent-8', '10.11.0.1'))).toEqual({});
    expect(dcOfCalicoNode(t, node('agent-9', undefined, { 'topology.kubernetes.io/zone': 'bcn' }))).toEqual({
      dc: 'barcelona',
    });
    expect(dcOfCalicoNode(t, node('both-1', '10.10.0.5'))).toEqual({ ambiguous: ['madrid', 'barcelona'] });
  });

  it('name patterns: * is any run of characters, nothing else is special', () => {
    expect(matchesPattern('mad-*', 'mad-')).toBe(true);
    expect(matchesPattern('*-rr-*', 'bcn-rr-01')).toBe(true);
    expect(matchesPattern('a.b', 'axb')).toBe(false);
    expect(matchesPattern('mad-*-x', 'mad-1-y')).toBe(false);
    const t0 = performance.now();
    expect(matchesPattern(`${'*a'.repeat(60)}b`, 'a'.repeat(253))).toBe(false);
    expect(performance.now() - t0).toBeLessThan(200);
  });
});

describe('the calico block of the topology', () => {
  it('is optional, and validated: undeclared DCs, bad networks, empty rules, typos', async () => {
    expect(parseTopology(base).calico).toBeUndefined();
    let err: unknown;
    try {
      parseTopology({
        ...base,
        calico: {
          etcdEndpoints: ['ftp://x'],
          datacenters: { valencia: { nodes: ['a'] }, madrid: { cidrs: ['10.10.0.0/33'] }, barcelona: {} },
          meshLimit: 3,
        },
      });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(UserError);
    const details = (err as UserError).details.join('\n');
    expect(details).toMatch(/calico\.etcdEndpoints\[0\]: expected an http\(s\) URL/);
    expect(details).toMatch(/calico\.datacenters\.madrid\.cidrs\[0\]: expected an IPv4 network/);
    expect(details).toMatch(/calico\.datacenters\.barcelona: expected at least one of nodes, cidrs, labels/);
    expect(details).toMatch(/calico\.meshLimit: unknown key/);
    expect((err as UserError).exitCode).toBe(2);
    // The contract's example stays valid as it is.
    expect((await loadTopology('../shared/spec/topology.example.yaml')).calico).toBeUndefined();
  });

  it('an undeclared DC under calico.datacenters is named', () => {
    expect(() => parseTopology({ ...base, calico: { datacenters: { valencia: { nodes: ['a'] } } } })).toThrow(
      UserError,
    );
    try {
      parseTopology({ ...base, calico: { datacenters: { valencia: { nodes: ['a'] } } } });
    } catch (e) {
      expect((e as UserError).details).toContain(
        "calico.datacenters.valencia: 'valencia' is not a declared datacenter (declared: madrid, barcelona)",
      );
    }
  });
});

describe("reading Calico's keys", () => {
  it('keeps what validates and says why each other key was left out', () => {
    const P = '/calico/resources/v3/projectcalico.org/';
    const c = parseCalicoKeys({
      bgpconfigurations: [
        {
          key: `${P}bgpconfigurations/default`,
          value: JSON.stringify({
            kind: 'BGPConfiguration',
            metadata: { name: 'default' },
            spec: { nodeToNodeMeshEnabled: false },
          }),
        },
      ],
      nodes: [
        {
          key: `${P}nodes/rr-1`,
          value: JSON.stringify({
            kind: 'Node',
            metadata: { name: 'rr-1', labels: { rr: 'true' } },
            spec: { bgp: { ipv4Address: '10.10.0.1/16', routeReflectorClusterID: '224.0.0.1' } },
          }),
        },
        { key: `${P}nodes/broken`, value: '{not json' },
        {
          key: `${P}nodes/big`,
          value: JSON.stringify({ kind: 'Node', metadata: { name: 'big', labels: { x: 'y'.repeat(70_000) } } }),
        },
        { key: `${P}nodes/Bad Name`, value: '{}' },
        { key: `${P}nodes/wrong-kind`, value: JSON.stringify({ kind: 'BGPPeer', metadata: { name: 'wrong-kind' } }) },
      ],
      bgppeers: [],
    });
    expect(c.meshSetting).toBe(false);
    expect(c.nodes).toEqual([
      { name: 'rr-1', labels: { rr: 'true' }, ipv4: '10.10.0.1', routeReflectorClusterId: '224.0.0.1' },
    ]);
    expect(c.problems).toEqual([
      `${P}nodes/broken: not JSON: left out`,
      expect.stringMatching(/^\/calico\/.*nodes\/big: \d+ bytes, more than 65536: left out$/),
      `${P}nodes/Bad Name: not a Calico resource name: left out`,
      expect.stringMatching(/nodes\/wrong-kind: kind: .*left out$/),
    ]);
  });
});
