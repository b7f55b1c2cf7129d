/** Each service's command and verification budgets: DC/OS's figures by default, the topology's, then the operator's flag. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { DEFAULT_VERIFY_TIMEOUT_MS, serviceTimeoutsOf, verifyBudgetOf } from '../../src/apply/effect-kit.js';
import { parseTopologyText } from '../../src/topology/load.js';
import type { Step } from '../../src/plan/plan.js';

const example = readFileSync('fixtures/topologies/example.yaml', 'utf8');

function verify(cluster: Step['cluster'], node: string | null): Step {
  return { id: 'v', cluster, node, action: 'verify', check: { kind: 'dc-down', dc: 'x' }, summary: '' };
}

describe('service timeouts', () => {
  it("the contract example validates unchanged and gets DC/OS's figures", () => {
    const t = parseTopologyText(example, 'example.yaml');
    const n = t.nodes[0]!;
    expect(serviceTimeoutsOf({}, n, 'exhibitor')).toEqual({ commandMs: 120_000, upMs: 120_000 });
    expect(serviceTimeoutsOf({}, n, 'mesos')).toEqual({ commandMs: 60_000, upMs: 180_000 });
    expect(serviceTimeoutsOf({}, n, 'etcd')).toEqual({ commandMs: 100_000, upMs: 60_000 });
    expect(n.services.commands.reload).toBe('systemctl daemon-reload');
    expect(n.services.dcfail.systemdDir).toBe('/etc/systemd/system');
  });

  it('a verify step gets its cluster budget, the largest among the nodes it looks at; others 60 s', () => {
    const y = parse(example) as {
      services: { mesos: Record<string, unknown> };
      nodes: { services?: Record<string, unknown> }[];
    };
    y.services.mesos['verifyTimeoutMs'] = 240_000;
    y.nodes[2]!.services = { mesos: { verifyTimeoutMs: 300_000 }, exhibitor: { commandTimeoutMs: 5000 } };
    const t = parseTopologyText(stringify(y), 't.yaml');
    expect(verifyBudgetOf(t, verify('mesos', null))).toBe(300_000);
    expect(verifyBudgetOf(t, verify('mesos', 'master-1'))).toBe(240_000);
    expect(verifyBudgetOf(t, verify('etcd', null))).toBe(60_000);
    expect(verifyBudgetOf(t, verify(null, null))).toBe(DEFAULT_VERIFY_TIMEOUT_MS);
    expect(serviceTimeoutsOf({}, t.nodes[2]!, 'exhibitor').commandMs).toBe(5000);
    // The operator's --verify-timeout overrides every service's verification, not its commands.
    expect(serviceTimeoutsOf({ verifyTimeoutMs: 7000 }, t.nodes[2]!, 'mesos')).toEqual({
      commandMs: 60_000,
      upMs: 7000,
    });
  });

  it('refuses a budget that is not a positive whole number of milliseconds', () => {
    const y = parse(example) as { services: { etcd: Record<string, unknown> } };
    y.services.etcd['commandTimeoutMs'] = -1;
    expect(() => parseTopologyText(stringify(y), 't.yaml')).toThrow(/invalid topology/);
  });
});
