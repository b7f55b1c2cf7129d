/**
 * Every rejection rule has a fixture in fixtures/topologies/invalid/<case>.yaml whose header says
 * what must be reported (`# expect-code:` and one `# expect: <path>: <message part>` per issue).
 * The test runs the real command on each and checks the exit code, the code and every key path.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { runCli } from '../../src/cli.js';
import { captureIo } from '../../src/views/io.js';
import { DcfailError } from '../../src/errors.js';
import { loadTopology, parseTopologyText } from '../../src/topology/load.js';

const dir = 'fixtures/topologies/invalid';

async function validateFile(file: string): Promise<{ error?: DcfailError; exit?: number }> {
  try {
    return { exit: await runCli(['validate', '-t', file], captureIo()) };
  } catch (err) {
    if (err instanceof DcfailError) return { error: err };
    throw err;
  }
}

describe('invalid topologies: each is rejected with exit 2 and the offending key path', () => {
  const files = readdirSync(dir).filter((f) => f.endsWith('.yaml'));
  it('has a fixture for every rule', () => {
    expect(files.length).toBeGreaterThanOrEqual(25);
  });
  for (const f of files) {
    it(f, async () => {
      const text = readFileSync(join(dir, f), 'utf8');
      const code = /^# expect-code: (\S+)/m.exec(text)?.[1] ?? 'topology-empty';
      const expects = [...text.matchAll(/^# expect: (.+)$/gm)].map((m) => m[1]!);
      const { error, exit } = await validateFile(join(dir, f));
      expect(exit, 'must not validate').toBeUndefined();
      expect(error!.exitCode).toBe(2);
      expect(error!.code).toBe(code);
      for (const e of expects) {
        expect(
          error!.details.some((d) => d.startsWith(e)),
          `${e}\n  in:\n${error!.details.join('\n')}`,
        ).toBe(true);
      }
      expect(error!.details.join('\n')).not.toMatch(/\s+at .*\(.*:\d+:\d+\)/); // no stack trace
    });
  }

  it('several problems are all reported at once', async () => {
    const { error } = await validateFile(join(dir, 'several-problems.yaml'));
    expect(error!.details.length).toBeGreaterThanOrEqual(4);
  });

  it('a JSON syntax error names its line', async () => {
    const { error } = await validateFile(join(dir, 'json-syntax.json'));
    expect(error!.code).toBe('topology-syntax');
    expect(error!.details.join('\n')).toMatch(/^line 3, column \d+/m);
  });

  it('a YAML syntax error names the line where it is', () => {
    expect(() =>
      parseTopologyText('cluster: a\ndatacenters: {main: x, secondary: y}\nnodes:\n  - name: [a\n'),
    ).toThrowError(
      expect.objectContaining({ code: 'topology-syntax', details: [expect.stringMatching(/^line [45], column \d+/)] }),
    );
  });

  it('a missing file is exit 2 and says so', async () => {
    await expect(loadTopology(join(dir, 'does-not-exist.yaml'))).rejects.toMatchObject({
      code: 'topology-unreadable',
      exitCode: 2,
      message: expect.stringMatching(/no such file/),
    });
  });
});

describe('valid topologies', () => {
  it('the contract example validates as it is, with the defaults its header states', async () => {
    const t = await loadTopology('../shared/spec/topology.example.yaml').catch(() =>
      loadTopology('fixtures/topologies/example.yaml'),
    );
    expect(t.nodes.map((n) => [n.name, n.zkId])).toEqual([
      ['master-1', 1],
      ['master-2', 2],
      ['master-3', 3],
    ]);
    const n = t.nodes[0]!;
    expect(n.ssh).toMatchObject({ user: 'core', port: 22, sudo: true, connectTimeoutMs: 5000 });
    expect(n.services.mesos).toMatchObject({
      masterCountFile: '/opt/mesosphere/etc/master_count',
      unit: 'dcos-mesos-master',
      port: 5050,
      // DC/OS's overlay module: replicated_log_dir in gen/dcos-config.yaml.
      overlayLogDir: '/var/lib/dcos/mesos/master',
    });
    expect(n.services.commands.disable).toBe('systemctl mask {unit}');
    expect(t.health).toEqual({ checks: ['ssh', 'tcp'], timeoutMs: 2000, attempts: 3 });
  });

  it('the bundled copy of the example is identical to the contract', () => {
    let contract: string;
    try {
      contract = readFileSync('../shared/spec/topology.example.yaml', 'utf8');
    } catch {
      return; // shared/ is beside the repo in CI and here; a lone clone checks the copy alone
    }
    expect(readFileSync('fixtures/topologies/example.yaml', 'utf8')).toBe(contract);
  });

  it('JSON works as well as YAML, to the same topology', async () => {
    const a = await loadTopology('fixtures/topologies/example.yaml');
    const b = await loadTopology('fixtures/topologies/example.json');
    expect(b.parsed).toEqual(a.parsed);
  });

  it('per-node overrides of ssh and services merge over the defaults', async () => {
    const t = await loadTopology('fixtures/topologies/five-masters.yaml');
    expect(t.nodes[4]!.ssh.port).toBe(2222);
    expect(t.nodes[4]!.ssh.user).toBe('core');
    expect(t.nodes[3]!.ssh.port).toBe(22);
  });

  it('a topology whose main DC holds a minority validates its schema but is refused (exit 3)', async () => {
    const io = captureIo();
    expect(await runCli(['validate', '-t', 'fixtures/topologies/minority-main.yaml'], io)).toBe(3);
    expect(io.stdout).toMatch(/main-not-majority/);
  });
});

describe('per-node overrides', () => {
  it('carry only what the node names: the rest comes from the topology, not from the defaults', () => {
    const t = parseTopologyText(`
cluster: c
datacenters: { main: a, secondary: b }
ssh: { user: admin, knownHostsFile: /etc/dcfail/known_hosts, connectTimeoutMs: 900 }
services: { etcd: { envFile: /srv/etcd.conf, unit: etcd3 } }
nodes:
  - { name: n1, dc: a, address: 127.0.0.1, roles: [etcd], ssh: { user: other }, services: { etcd: { clientPort: 12379 } } }
  - { name: n2, dc: a, address: 127.0.0.2, roles: [etcd] }
  - { name: n3, dc: b, address: 127.0.0.3, roles: [etcd] }
`);
    const n1 = t.nodes[0]!;
    expect(n1.ssh).toMatchObject({
      user: 'other',
      knownHostsFile: '/etc/dcfail/known_hosts',
      connectTimeoutMs: 900,
      port: 22,
    });
    expect(n1.services.etcd).toMatchObject({
      envFile: '/srv/etcd.conf',
      unit: 'etcd3',
      clientPort: 12379,
      peerPort: 2380,
    });
    expect(t.nodes[1]!.services.etcd.clientPort).toBe(2379);
  });
});
