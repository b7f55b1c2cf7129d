import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { formatAttribute, parseMarathonApps, parseMasterRegion, parseMesosAgents } from '../../src/survival/inputs.js';

const json = (file: string): unknown => JSON.parse(readFileSync(`fixtures/survival/${file}`, 'utf8'));

function ok<T>(p: { ok: true; value: T } | { ok: false; issues: readonly string[] }): T {
  if (!p.ok) throw new Error(p.issues.join('\n'));
  return p.value;
}

describe('parseMesosAgents (fixtures/survival/agents.json)', () => {
  const agents = ok(parseMesosAgents(json('agents.json')));
  const byHost = (h: string) => agents.find((a) => a.hostname === h)!;

  it('reads the nine agents', () => {
    expect(agents.map((a) => a.hostname)).toEqual([
      'mad-priv-1',
      'mad-priv-2',
      'mad-priv-3',
      'mad-pub-1',
      'bcn-priv-1',
      'bcn-priv-2',
      'bcn-priv-3',
      'bcn-pub-1',
      'legacy-1',
    ]);
  });

  it('a private agent has one unreserved pool; used comes from used_resources', () => {
    const a = byHost('bcn-priv-1');
    expect(a.pools).toEqual({ '*': { cpus: 8, mem: 32768, disk: 200000 } });
    expect(a.used).toEqual({ cpus: 5, mem: 20480, disk: 40000 });
    expect(a.isPublic).toBe(false);
  });

  it('a public agent: everything reserved for slave_public, no unreserved pool', () => {
    const p = byHost('bcn-pub-1');
    expect(p.isPublic).toBe(true);
    expect(p.pools).toEqual({ slave_public: { cpus: 4, mem: 15360, disk: 50000 } });
  });

  it('reads attributes and the fault domain', () => {
    expect(byHost('mad-priv-3').attributes).toEqual({ rack: 'mad-r3' });
    expect(byHost('bcn-priv-3')).toMatchObject({
      region: 'eu-south',
      zone: 'madrid',
      attributes: { datacenter: 'barcelona' },
    });
    expect(byHost('legacy-1')).toMatchObject({ region: undefined, zone: undefined });
  });

  it('public by the public_ip attribute alone, and unreserved = total - reserved when Mesos omits it', () => {
    const [a] = ok(
      parseMesosAgents({
        slaves: [
          {
            id: 'S1',
            hostname: 'p',
            attributes: { public_ip: 'true', level: 3.0 },
            resources: { cpus: 4, mem: 4096, disk: 100 },
            reserved_resources: { other: { cpus: 1, mem: 1024, disk: 0 } },
          },
        ],
      }),
    );
    expect(a!.isPublic).toBe(true);
    expect(a!.pools).toEqual({ '*': { cpus: 3, mem: 3072, disk: 100 }, other: { cpus: 1, mem: 1024, disk: 0 } });
    expect(a!.used).toEqual({ cpus: 0, mem: 0, disk: 0 });
    expect(a!.attributes['level']).toBe('3');
    expect(a!.active).toBe(true);
  });

  it('reports a malformed document with key paths', () => {
    const bad = parseMesosAgents(json('invalid/agents-missing-hostname.json'));
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues).toContain('slaves[1].hostname: required');
  });
});

describe('formatAttribute: Mesos JSON to Marathon format', () => {
  it.each([
    [2, '2'],
    [0.8, '0.8'],
    [1.00051, '1.001'],
    ['madrid', 'madrid'],
    ['[31000-32000, 1-5]', '[1-5,31000-32000]'],
    ['{b, a, c}', '{a,b,c}'],
  ])('%j -> %s', (v, s) => {
    expect(formatAttribute(v)).toBe(s);
  });
});

describe('parseMarathonApps (fixtures/survival/apps.json)', () => {
  const apps = ok(parseMarathonApps(json('apps.json')));
  const byId = (id: string) => apps.find((a) => a.id === id)!;

  it('reads the twelve apps, their resources, constraints and labels', () => {
    expect(apps).toHaveLength(12);
    const api = byId('/payments/api');
    expect(api.instances).toBe(4);
    expect(api.request.resources).toEqual({ cpus: 1, mem: 2048, disk: 0 });
    expect(api.request.constraints).toEqual([
      { kind: 'GROUP_BY', field: 'datacenter', groups: 2 },
      { kind: 'UNIQUE', field: 'hostname' },
    ]);
    expect(api.labels['DCFAIL_CRITICAL']).toBe('true');
  });

  it('acceptedResourceRoles: null means *, as DC/OS Marathon defaults', () => {
    expect(byId('/payments/api').request.acceptedRoles).toEqual(['*']);
    expect(byId('/web/frontend').request.acceptedRoles).toEqual(['slave_public']);
  });

  it('keeps only live tasks: the TASK_FAILED task of dns-forwarder is dropped (3 tasks, 2 live)', () => {
    const dns = byId('/infra/dns-forwarder');
    expect(dns.tasks.map((t) => t.host)).toEqual(['mad-priv-2', 'bcn-priv-2']);
    expect(dns.tasks[0]!.agentId).toBe('b1f3c7e2-5a0d-4f61-9c2e-8d4a1e6f0b02-S2');
  });

  it('the default unreachableStrategy replaces; "disabled" and resident apps do not', () => {
    expect(byId('/payments/api').replacement).toEqual({ kind: 'replaced' });
    const doc = (extra: object) => ({ apps: [{ id: '/x', instances: 1, ...extra }] });
    expect(ok(parseMarathonApps(doc({ unreachableStrategy: 'disabled' })))[0]!.replacement).toEqual({
      kind: 'unreachable-disabled',
    });
    expect(ok(parseMarathonApps(doc({ residency: { taskLostBehavior: 'WAIT_FOREVER' } })))[0]!.replacement).toEqual({
      kind: 'resident',
    });
    expect(
      ok(
        parseMarathonApps(
          doc({ container: { volumes: [{ containerPath: 'data', mode: 'RW', persistent: { size: 512 } }] } }),
        ),
      )[0]!.replacement,
    ).toEqual({ kind: 'resident' });
  });

  it('names the app and the constraint that Marathon would not accept', () => {
    const bad = parseMarathonApps(json('invalid/apps-bad-operator.json'));
    expect(bad.ok).toBe(false);
    if (!bad.ok) {
      expect(bad.issues).toEqual([
        "apps[0].constraints[1] (/shop/cart): unknown operator 'NEAR' (expected one of UNIQUE, CLUSTER, GROUP_BY, MAX_PER, LIKE, UNLIKE, IS)",
        "apps[1].constraints[0] (/shop/search): MAX_PER requires a whole number, not 'many'",
      ]);
    }
  });

  it('reports a malformed document with key paths', () => {
    const bad = parseMarathonApps({ apps: [{ id: '/x' }] });
    expect(bad).toEqual({ ok: false, issues: ['apps[0].instances: required'] });
  });
});

describe('parseMasterRegion', () => {
  it('reads /master/state domain, undefined without one', () => {
    expect(
      parseMasterRegion({ domain: { fault_domain: { region: { name: 'eu-south' }, zone: { name: 'madrid' } } } }),
    ).toEqual({ ok: true, value: 'eu-south' });
    expect(parseMasterRegion({ version: '1.9.1' })).toEqual({ ok: true, value: undefined });
  });
});
