/**
 * The return guard as dcfail wires it (pure parts): the topology's `guard:` key, each master's
 * spec, the inspection's parser (untrusted answers), and `status`'s `guarded`.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { DcfailError } from '../../src/errors.js';
import { parseTopologyText } from '../../src/topology/load.js';
import { guardSpecOf, guardedNodes } from '../../src/guard/spec.js';
import { GUARD_VERSION, guardInstall, renderGuardConf } from '../../src/guard/render.js';
import { guardProblems, inspectScript, parseInspection } from '../../src/guard/inspect.js';
import { withGuarded } from '../../src/guard/status.js';
import type { StatusReport } from '../../src/observe/judge.js';

const base = parse(readFileSync('fixtures/topologies/example.yaml', 'utf8')) as Record<string, unknown>;
const withGuard = (guard: unknown) => parseTopologyText(stringify({ ...base, guard }), 't.yaml');

describe('topology: guard', () => {
  it('is optional; declared, it gets DC/OS defaults', () => {
    expect(parseTopologyText(stringify(base), 't.yaml').guard).toBeUndefined();
    expect(withGuard({}).guard).toEqual({
      whenUnsure: 'start',
      beaconPort: 8186,
      exhibitorPort: 8181,
      curl: '/opt/mesosphere/bin/curl',
    });
  });

  it('refuses a bad value at its key path', () => {
    let err: unknown;
    try {
      withGuard({ whenUnsure: 'maybe', beaconPort: 70000, extra: 1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(DcfailError);
    const d = (err as DcfailError).details.join('\n');
    expect((err as DcfailError).exitCode).toBe(2);
    expect(d).toMatch(/guard\.whenUnsure/);
    expect(d).toMatch(/guard\.beaconPort/);
    expect(d).toMatch(/extra/);
  });
});

describe('each master’s guard spec', () => {
  const t = withGuard({ whenUnsure: 'wait', beaconPort: 9186 });
  it('asks the other DC’s masters, guards each quorum unit, and renders', () => {
    const m1 = t.nodes.find((n) => n.name === 'master-1')!;
    const m3 = t.nodes.find((n) => n.name === 'master-3')!;
    const s1 = guardSpecOf(t, m1);
    expect(s1.otherDc).toBe('barcelona');
    expect(s1.otherMasters).toEqual(['10.20.1.11']);
    expect(s1.whenUnsure).toBe('wait');
    expect(s1.units.map((u) => u.cluster).sort()).toEqual(['etcd', 'exhibitor', 'mesos']);
    expect(s1.etcdPeerUrl).toBe('http://10.10.1.11:2380');
    expect(guardSpecOf(t, m3).otherMasters).toEqual(['10.10.1.11', '10.10.1.12']);
    const conf = renderGuardConf(s1);
    expect(conf).toContain("BEACON_PORT='9186'");
    expect(conf).toContain("OTHER_MASTERS='10.20.1.11'");
    expect(guardInstall(s1).files.length).toBeGreaterThan(3);
    expect(guardedNodes(t).map((n) => n.name)).toEqual(['master-1', 'master-2', 'master-3']);
  });

  it("keeps its holds and state where the node's dcfail state dir is, as the failback's quarantine does", () => {
    const custom = parseTopologyText(
      stringify({ ...base, guard: {}, services: { dcfail: { stateDir: '/data/dcfail' } } }),
      't.yaml',
    );
    const spec = guardSpecOf(custom, custom.nodes[0]!);
    expect(renderGuardConf(spec)).toContain("STATE_DIR='/data/dcfail/guard'");
    expect(inspectScript(spec, { verdict: false })).toContain('d=/data/dcfail/guard');
  });

  it('the inspection script reads, never writes (no redirection into a file, no rm/mv/touch)', () => {
    const sh = inspectScript(guardSpecOf(t, t.nodes[0]!), { verdict: true });
    expect(sh.replaceAll('>/dev/null', '')).not.toMatch(/\brm\b|\bmv\b|\btouch\b|>\s*["'/$]/);
    expect(sh).toMatch(/check '?dcos-mesos-master'? mesos wait/);
  });
});

describe('parseInspection: an untrusted answer', () => {
  const t = withGuard({});
  const spec = guardSpecOf(t, t.nodes[0]!);
  const good = [
    `script dcfail-guard ${GUARD_VERSION}`,
    `conf GUARD_VERSION='${GUARD_VERSION}'`,
    "conf OTHER_MASTERS='10.20.1.11'",
    "conf WHEN_UNSURE='start'",
    'hold hold.dcos-exhibitor',
    'state failed-over madrid 20261201-010101-abc',
    'beacon active',
    'dropin dcos-mesos-master',
    'dropin dcos-exhibitor',
    'dropin etcd',
    'verdict etcd 1 dcfail-guard[etcd]: staying down: held by dcfail',
    'verdict dcos-exhibitor 0 dcfail-guard[dcos-exhibitor]: starting: no failover evidence',
  ].join('\n');

  it('reads a complete, current guard with its holds, state and verdicts', () => {
    const s = parseInspection('master-1', spec, good);
    expect(s.scriptVersion).toBe(GUARD_VERSION);
    expect(s.holds).toEqual(['hold.dcos-exhibitor']);
    expect(s.state).toEqual({ kind: 'failed-over', dc: 'madrid', run: '20261201-010101-abc' });
    expect(s.units.find((u) => u.unit === 'etcd')!.verdict).toEqual({
      start: false,
      why: 'staying down: held by dcfail',
    });
    expect(s.units.find((u) => u.unit === 'dcos-exhibitor')!.verdict!.start).toBe(true);
    expect(guardProblems(s, spec)).toEqual([]);
  });

  it('finds what is missing, outdated or disagrees with the topology', () => {
    expect(guardProblems(parseInspection('master-1', spec, 'script -\nbeacon inactive'), spec)).toContain(
      'not installed',
    );
    const old = good
      .replace(`script dcfail-guard ${GUARD_VERSION}`, 'script dcfail-guard 0')
      .replace('dropin etcd\n', '');
    const p = guardProblems(
      parseInspection('master-1', spec, old.replace("OTHER_MASTERS='10.20.1.11'", "OTHER_MASTERS='10.99.0.1'")),
      spec,
    );
    expect(p.join('; ')).toMatch(/outdated/);
    expect(p.join('; ')).toMatch(/no drop-in for etcd/);
    expect(p.join('; ')).toMatch(/asks 10\.99\.0\.1/);
  });

  it('ignores lines of any other shape: control characters, foreign units, bad states', () => {
    const junk = [
      'script dcfail-guard 1\u001b[2J',
      'hold ../../etc/passwd',
      'state failed-over mad;rm -rf / x',
      'dropin sshd',
      'verdict sshd 0 yes',
      'beacon act\u0007ive',
      "conf OTHER_MASTERS='a b\u001b'",
    ].join('\n');
    const s = parseInspection('master-1', spec, junk);
    expect(s.scriptVersion).toBeNull();
    expect(s.holds).toEqual([]);
    expect(s.state).toBeNull();
    expect(s.units.every((u) => !u.dropIn && !u.verdict)).toBe(true);
    expect(s.beacon).toBe('unknown');
  });
});

describe('status: guarded', () => {
  const t = withGuard({});
  const node = (name: string, dc: string, active: boolean) => ({
    name,
    dc,
    configKind: 'declared',
    units: { mesos: active ? 'active' : 'inactive', exhibitor: 'inactive', etcd: 'inactive' },
  });
  const report = (mode: string, nodes: unknown[]) =>
    ({
      mode,
      nodes,
      notes: [{ code: 'returning-quiet', message: 'quiet' }],
      hazards: [],
    }) as unknown as StatusReport;
  const guardOf = (name: string, installed: boolean) => ({
    node: name,
    dc: 'madrid',
    problems: [],
    state: installed
      ? parseInspection(
          name,
          guardSpecOf(
            t,
            t.nodes.find((n) => n.name === name)!,
          ),
          `script dcfail-guard 1\nhold hold\ndropin dcos-mesos-master\ndropin dcos-exhibitor\ndropin etcd`,
        )
      : parseInspection(
          name,
          guardSpecOf(
            t,
            t.nodes.find((n) => n.name === name)!,
          ),
          'script -',
        ),
  });

  it('a failed-over cluster whose returning masters are quiet and guarded reads guarded', () => {
    const r = report('failed-over', [node('master-1', 'madrid', false), node('master-2', 'madrid', false)]);
    const g = withGuarded(t, r, [guardOf('master-1', true), guardOf('master-2', true)]);
    expect(g.guarded).toEqual(['master-1', 'master-2']);
    expect(g.notes.map((n) => n.code)).toEqual(['guarded']);
    expect(g.notes[0]!.message).toMatch(/GUARDED.*master-1 held \(hold\)/);
  });

  it('an unguarded or running returning master is not called guarded', () => {
    const r = report('failed-over', [node('master-1', 'madrid', false), node('master-2', 'madrid', true)]);
    const g = withGuarded(t, r, [guardOf('master-1', false), guardOf('master-2', true)]);
    expect(g.guarded).toEqual([]);
    expect(g.notes.map((n) => n.code)).toEqual(['returning-quiet']);
    expect(
      withGuarded(t, report('normal', [node('master-1', 'madrid', false)]), [guardOf('master-1', true)]).guarded,
    ).toEqual([]);
  });
});
