/** services.commands templates run as root on every node: service managers on {unit}, unless the topology opts in. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { DcfailError } from '../../src/errors.js';
import { parseTopologyText } from '../../src/topology/load.js';

const base = parse(readFileSync('fixtures/topologies/example.yaml', 'utf8')) as {
  services: { commands: Record<string, unknown> };
  nodes: { services?: Record<string, unknown> }[];
};

function problems(edit: (t: typeof base) => void): string[] {
  const t = structuredClone(base);
  edit(t);
  try {
    parseTopologyText(stringify(t), 't.yaml');
    return [];
  } catch (e) {
    if (!(e instanceof DcfailError)) throw e;
    expect(e.exitCode).toBe(2);
    return [...e.details];
  }
}

describe('services.commands', () => {
  it('takes service managers acting on {unit}, read verbs for isActive and exists', () => {
    expect(
      problems((t) => {
        t.services.commands['isActive'] = '/usr/bin/systemctl is-active --quiet {unit}';
        t.services.commands['exists'] = 'service {unit} status';
        t.services.commands['restart'] = 'sv restart {unit}';
      }),
    ).toEqual([]);
  });

  it('refuses any other program, a template without {unit}, and a writing verb where a read is expected', () => {
    const p = problems((t) => {
      t.services.commands['isActive'] = '/usr/bin/touch /tmp/x {unit}';
      t.services.commands['stop'] = 'systemctl stop dcos-mesos-master';
      t.services.commands['exists'] = 'systemctl restart {unit}';
      t.services.commands['start'] = 'systemctl start x{unit}';
    });
    expect(p).toEqual([
      expect.stringMatching(/^services\.commands\.start: .*placeholder/),
      expect.stringMatching(/^services\.commands\.stop: expected the template to act on \{unit\}/),
      expect.stringMatching(/^services\.commands\.isActive: runs '\/usr\/bin\/touch', not a service manager/),
      expect.stringMatching(/^services\.commands\.exists: expected a read-only verb/),
    ]);
  });

  it('checks a node override too, and lets allowAnyProgram (topology or node) take any program', () => {
    expect(
      problems((t) => {
        t.nodes[0]!.services = { commands: { restart: '/opt/bin/ctl restart {unit}' } };
      }),
    ).toEqual([expect.stringMatching(/^nodes\[0\]\.services\.commands\.restart: runs '\/opt\/bin\/ctl'/)]);
    expect(
      problems((t) => {
        t.nodes[0]!.services = { commands: { restart: '/opt/bin/ctl restart {unit}', allowAnyProgram: true } };
      }),
    ).toEqual([]);
    expect(
      problems((t) => {
        t.services.commands['allowAnyProgram'] = true;
        t.services.commands['isActive'] = '/opt/bin/ctl is-active {node} {unit}';
      }),
    ).toEqual([]);
  });

  it('reload is the service manager daemon-reload (no {unit}), show a read verb', () => {
    expect(
      problems((t) => {
        t.services.commands['reload'] = '/usr/bin/systemctl daemon-reload';
        t.services.commands['show'] = 'systemctl show --property=ActiveState {unit}';
      }),
    ).toEqual([]);
    expect(
      problems((t) => {
        t.services.commands['reload'] = 'systemctl restart {unit}';
        t.services.commands['show'] = 'systemctl stop {unit}';
      }),
    ).toEqual([
      expect.stringMatching(/^services\.commands\.reload: expected the service manager's daemon-reload/),
      expect.stringMatching(/^services\.commands\.show: expected a read-only verb/),
    ]);
  });
});
