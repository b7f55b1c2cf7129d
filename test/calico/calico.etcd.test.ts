/**
 * Issue 14 item 5 against a real etcd (Debian's etcd-server on its own loopback address), seeded
 * with etcdctl in Calico's etcdv3 key layout (`/calico/resources/v3/projectcalico.org/<plural>/<name>`,
 * the resource as JSON: projectcalico/calico libcalico-go/lib/backend/model/resource.go), read
 * by the built binary: `dcfail survival` (network only: no Marathon) and `dcfail status --json`.
 */
import { Etcd3 } from 'etcd3';
import { execa } from 'execa';
import { existsSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { hasEtcd, startEtcd, type TestEtcd } from '../support/etcd.js';
import { needs } from '../support/skips.js';

const BIN = 'dist/bin/dcfail.js';
const ADDRESS = '127.0.147.10';
const PORT = 23790;
const P = '/calico/resources/v3/projectcalico.org';

let etcd: TestEtcd;
let topology: string;

/** The masters sit on addresses where nothing listens: status reads them as down, at once. */
function writeTopology(dir: string): string {
  const path = join(dir, 'calico.yaml');
  writeFileSync(
    path,
    stringify({
      cluster: 'calico-test',
      datacenters: { main: 'madrid', secondary: 'barcelona' },
      ssh: { connectTimeoutMs: 1000 },
      nodes: [
        { name: 'master-1', dc: 'madrid', address: '127.0.147.1', roles: ['mesos', 'exhibitor', 'etcd'] },
        { name: 'master-2', dc: 'madrid', address: '127.0.147.2', roles: ['mesos', 'exhibitor', 'etcd'] },
        { name: 'master-3', dc: 'barcelona', address: '127.0.148.1', roles: ['mesos', 'exhibitor', 'etcd'] },
      ],
      health: { timeoutMs: 500, attempts: 1 },
      calico: {
        etcdEndpoints: [`http://${ADDRESS}:${PORT}`],
        timeoutMs: 3000,
        // madrid by address range, barcelona by a label and a name pattern: each rule kind is used.
        datacenters: {
          madrid: { cidrs: ['10.10.0.0/16'] },
          barcelona: { labels: { 'topology.kubernetes.io/zone': 'bcn' }, nodes: ['bcn-rr-*'] },
        },
      },
    }),
  );
  return path;
}

interface NodeSpec {
  name: string;
  ip: string;
  dc: 'madrid' | 'barcelona';
  rr?: boolean;
  labels?: Record<string, string>;
}

/** The resources as calicoctl stores them in etcdv3: apiVersion, kind, metadata, spec. */
const nodeValue = (n: NodeSpec) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'Node',
  metadata: {
    name: n.name,
    labels: {
      dc: n.dc,
      ...(n.dc === 'barcelona' && !n.rr ? { 'topology.kubernetes.io/zone': 'bcn' } : {}),
      ...(n.rr ? { 'route-reflector': 'true' } : {}),
      ...n.labels,
    },
  },
  spec: { bgp: { ipv4Address: `${n.ip}/16`, ...(n.rr ? { routeReflectorClusterID: '224.0.0.1' } : {}) } },
});
const peerValue = (name: string, spec: Record<string, string>) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'BGPPeer',
  metadata: { name },
  spec: { asNumber: 64512, ...spec },
});
const meshValue = (enabled: boolean) => ({
  apiVersion: 'projectcalico.org/v3',
  kind: 'BGPConfiguration',
  metadata: { name: 'default' },
  spec: { nodeToNodeMeshEnabled: enabled, asNumber: 64512 },
});

/** Replaces everything under /calico/ with these keys (etcdctl: an independent client). */
async function seed(keys: Record<string, unknown>): Promise<void> {
  await etcd.ctl(['del', '--prefix', '/calico/']);
  // Written in one transaction by etcd3 (one etcdctl per key is slow on a busy machine); listed back by etcdctl.
  const c = new Etcd3({ hosts: [etcd.endpoint] });
  try {
    const txn = c.if('/calico-seed-marker', 'Version', '==', 0);
    await txn.then(...Object.entries(keys).map(([k, v]) => c.put(k).value(JSON.stringify(v)))).commit();
  } finally {
    c.close();
  }
  const listed = (await etcd.ctl(['get', '--prefix', '/calico/', '--keys-only'])).split('\n').filter((l) => l !== '');
  expect(listed.sort()).toEqual(Object.keys(keys).sort());
}

/** The seed runbook's layout: a reflector in each DC, nodes peering with their own DC's, the mesh off. */
function healthyLayout(extra: { nodes?: NodeSpec[]; peers?: Record<string, Record<string, string>> } = {}) {
  const nodes: NodeSpec[] = [
    { name: 'mad-rr-1', ip: '10.10.0.1', dc: 'madrid', rr: true },
    { name: 'mad-agent-1', ip: '10.10.1.1', dc: 'madrid' },
    { name: 'mad-agent-2', ip: '10.10.1.2', dc: 'madrid' },
    { name: 'bcn-rr-1', ip: '10.20.0.1', dc: 'barcelona', rr: true },
    { name: 'bcn-agent-1', ip: '10.20.1.1', dc: 'barcelona' },
    { name: 'bcn-agent-2', ip: '10.20.1.2', dc: 'barcelona' },
    ...(extra.nodes ?? []),
  ];
  const peers: Record<string, Record<string, string>> = {
    'madrid-to-rr': { nodeSelector: "dc == 'madrid'", peerSelector: "has(route-reflector) && dc == 'madrid'" },
    'barcelona-to-rr': {
      nodeSelector: "dc == 'barcelona' && peering != 'special'",
      peerSelector: "has(route-reflector) && dc == 'barcelona'",
    },
    'rr-mesh': { nodeSelector: 'has(route-reflector)', peerSelector: 'has(route-reflector)' },
    'tor-router': { nodeSelector: 'has(route-reflector)', peerIP: '10.10.255.1' },
    ...extra.peers,
  };
  return {
    [`${P}/bgpconfigurations/default`]: meshValue(false),
    ...Object.fromEntries(nodes.map((n) => [`${P}/nodes/${n.name}`, nodeValue(n)])),
    ...Object.fromEntries(
      Object.entries(peers).map(([name, spec]) => [`${P}/bgppeers/${name}`, peerValue(name, spec)]),
    ),
  };
}

async function dcfail(args: string[]): Promise<{ exitCode: number; stdout: string; stderr: string; json: any }> {
  const r = await execa('node', [BIN, ...args, '-t', topology], { reject: false });
  let json: unknown;
  try {
    json = JSON.parse(r.stdout);
  } catch {
    json = undefined;
  }
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr, json };
}

const codes = (findings: { code: string; dc?: string }[]) => findings.map((f) => `${f.code}${f.dc ? `@${f.dc}` : ''}`);

describe.runIf(
  needs(hasEtcd(), 'etcd is not installed (npm run lab:deps)') && needs(existsSync(BIN), `${BIN} is not built`),
)("Calico's BGP layout read from a real etcd", () => {
  beforeAll(async () => {
    etcd = await startEtcd(ADDRESS, PORT);
    topology = writeTopology(mkdtempSync(join(tmpdir(), 'dcfail-calico-')));
  }, 60_000);
  afterAll(async () => {
    await etcd?.stop();
  });

  it('the healthy layout (a reflector in each DC, everyone peering at home): no finding, exit 0', async () => {
    await seed(healthyLayout());
    const r = await dcfail(['survival', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.json.calico).toMatchObject({
      meshEnabled: false,
      nodes: 6,
      dcs: {
        madrid: { nodes: 3, routeReflectors: ['mad-rr-1'] },
        barcelona: { nodes: 3, routeReflectors: ['bcn-rr-1'] },
      },
      unplaced: [],
      findings: [],
      problems: [],
    });
    const text = await dcfail(['survival']);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(/^ {2}barcelona: 3 node\(s\), route reflectors bcn-rr-1$/m);
    expect(text.stdout).toMatch(/^OK: Calico's routing has a route reflector in each surviving DC$/m);
  });

  it('a DC without a route reflector: a hazard for the loss of the other DC only; status lists it', async () => {
    // barcelona's reflector is demoted; its nodes peer with madrid's reflector instead.
    const layout: Record<string, unknown> = healthyLayout({
      peers: { 'barcelona-to-rr': { nodeSelector: "dc == 'barcelona'", peerSelector: 'has(route-reflector)' } },
    });
    layout[`${P}/nodes/bcn-rr-1`] = nodeValue({ name: 'bcn-rr-1', ip: '10.20.0.1', dc: 'barcelona' });
    await seed(layout);
    const lossOfMadrid = await dcfail(['survival', '--assume-down', 'madrid', '--json']);
    expect(lossOfMadrid.exitCode, lossOfMadrid.stderr).toBe(5);
    expect(codes(lossOfMadrid.json.calico.findings)).toEqual([
      'calico-dc-without-rr@barcelona',
      'calico-no-local-rr@barcelona',
    ]);
    expect(lossOfMadrid.json.calico.findings[1].message).toMatch(
      /3 node\(s\) of barcelona .*: bcn-agent-1 \(with mad-rr-1\), bcn-agent-2 \(with mad-rr-1\), bcn-rr-1 \(with mad-rr-1\);/,
    );
    // Both losses reported: only madrid's is fatal to the routing.
    const both = await dcfail(['survival']);
    expect(both.exitCode).toBe(5);
    expect(both.stdout).toMatch(/^HAZARD: Calico's routing would not survive the loss of madrid$/m);
    const lossOfBarcelona = await dcfail(['survival', '--assume-down', 'barcelona', '--json']);
    expect(lossOfBarcelona.exitCode, lossOfBarcelona.stderr).toBe(0);
    expect(lossOfBarcelona.json.calico.findings).toEqual([]);

    const status = await dcfail(['status', '--json']);
    // The masters are not there (exit 1: undetermined), but Calico's hazards are in the report.
    expect(status.exitCode).toBe(1);
    expect(status.json.hazards.map((h: { code: string }) => h.code)).toEqual(
      expect.arrayContaining(['calico-dc-without-rr', 'calico-no-local-rr']),
    );
    expect(status.json.calico.dcs.barcelona).toEqual({ nodes: 3, routeReflectors: [] });
  });

  it('a node peering only with a remote reflector (by its IP): named, alone', async () => {
    await seed(
      healthyLayout({
        nodes: [{ name: 'bcn-agent-3', ip: '10.20.1.3', dc: 'barcelona', labels: { peering: 'special' } }],
        peers: { 'bcn-agent-3-remote': { node: 'bcn-agent-3', peerIP: '10.10.0.1' } },
      }),
    );
    const r = await dcfail(['survival', '--json']);
    expect(r.exitCode, r.stderr).toBe(5);
    expect(codes(r.json.calico.findings)).toEqual(['calico-no-local-rr@barcelona']);
    expect(r.json.calico.findings[0].message).toMatch(/^1 node\(s\) of barcelona .*: bcn-agent-3 \(with mad-rr-1\);/);
    const text = await dcfail(['survival']);
    expect(text.stdout).toMatch(/^ {2}HAZARD \[calico-no-local-rr\] 1 node\(s\) of barcelona/m);
  });

  it('the mesh on (no BGPConfiguration) with more than 50 nodes: a warning, not a hazard; at 50, a note', async () => {
    const many = (n: number) =>
      Object.fromEntries(
        Array.from({ length: n }, (_, i) => {
          const node: NodeSpec =
            i % 2 === 0
              ? { name: `mad-${i}`, ip: `10.10.2.${i}`, dc: 'madrid' }
              : { name: `bcn-${i}`, ip: `10.20.2.${i}`, dc: 'barcelona' };
          return [`${P}/nodes/${node.name}`, nodeValue(node)];
        }),
      );
    await seed(many(51));
    const r = await dcfail(['survival', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.json.calico.meshEnabled).toBe(true);
    expect(codes(r.json.calico.findings)).toEqual(['calico-mesh-large']);
    expect(r.json.calico.findings[0].severity).toBe('warning');
    expect(r.json.calico.findings[0].message).toMatch(
      /enabled \(no default BGPConfiguration says otherwise\) with 51 nodes, past 50/,
    );
    const status = await dcfail(['status', '--json']);
    expect(status.json.notes.map((n: { code: string }) => n.code)).toContain('calico-mesh-large');
    expect(
      status.json.hazards.map((h: { code: string }) => h.code).filter((c: string) => c.startsWith('calico')),
    ).toEqual([]);

    await seed(many(50));
    expect(codes((await dcfail(['survival', '--json'])).json.calico.findings)).toEqual(['calico-mesh']);
  });

  it('untrusted keys: garbage is left out with the key and the reason, a bad selector too; the rest is judged', async () => {
    const layout = healthyLayout({
      peers: { 'bad-selector': { nodeSelector: "dc = 'madrid'", peerSelector: 'all()' } },
    });
    await seed(layout);
    await etcd.ctl(['put', `${P}/nodes/garbage`, '--', '{"kind": "Node", "metadata": ']);
    const r = await dcfail(['survival', '--json']);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(r.json.calico.findings).toEqual([]);
    expect(r.json.calico.problems).toEqual([
      `${P}/nodes/garbage: not JSON: left out`,
      `bgppeer bad-selector: nodeSelector "dc = 'madrid'": unexpected '=' at 4: peering left out`,
    ]);
  });

  it('an etcd that does not answer: survival exit 1 naming it; status goes on with a note', async () => {
    const dead = join(mkdtempSync(join(tmpdir(), 'dcfail-calico-dead-')), 'dead.yaml');
    const { parse } = await import('yaml');
    const { readFileSync } = await import('node:fs');
    const t = parse(readFileSync(topology, 'utf8'));
    t.calico.etcdEndpoints = ['http://127.0.147.11:23790'];
    t.calico.timeoutMs = 1000;
    writeFileSync(dead, stringify(t));
    const r = await execa('node', [BIN, 'survival', '-t', dead], { reject: false });
    expect(r.exitCode).toBe(1);
    expect(r.stderr).toMatch(/Calico's configuration could not be read from etcd \(1 endpoint\(s\)\)/);
    expect(r.stderr).toMatch(/http:\/\/127\.0\.147\.11:23790/);
    const s = await execa('node', [BIN, 'status', '--json', '-t', dead], { reject: false });
    expect(JSON.parse(s.stdout).notes.map((n: { code: string }) => n.code)).toContain('calico-unreadable');
  });
});
