/** The guard's rendered files (pure) and the script's own hygiene: sh -n, shellcheck when present, script.ts in sync. */
import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { GUARD_SCRIPT } from '../../src/guard/script.js';
import {
  holdPathsOf,
  renderHoldDropIn,
  GUARD_VERSION,
  guardInstall,
  holdCommand,
  publishStateCommand,
  renderDropIn,
  renderGuardConf,
  renderInstallScript,
  renderScriptModule,
  type GuardNodeSpec,
} from '../../src/guard/render.js';

const SH = `${process.cwd()}/src/guard/dcfail-guard.sh`;
const MODULE = `${process.cwd()}/src/guard/script.ts`;

const spec: GuardNodeSpec = {
  node: 'master-1',
  address: '10.0.1.11',
  dc: 'madrid',
  otherDc: 'barcelona',
  otherMasters: ['10.0.2.11'],
  etcdPeerUrl: 'http://10.0.1.11:2380',
  whenUnsure: 'start',
  units: [
    { unit: 'dcos-exhibitor', cluster: 'exhibitor' },
    { unit: 'dcos-mesos-master.service', cluster: 'mesos' },
    { unit: 'etcd', cluster: 'etcd' },
  ],
};

describe('guard script', () => {
  it('script.ts holds dcfail-guard.sh exactly', () => {
    const sh = readFileSync(SH, 'utf8');
    if (process.env['DCFAIL_GUARD_REGEN'] === '1') writeFileSync(MODULE, renderScriptModule(sh));
    // The value, not the file's text: the formatter may restyle the generated module's quoting.
    expect(
      GUARD_SCRIPT,
      'run DCFAIL_GUARD_REGEN=1 npx vitest run test/guard/render.test.ts (then npx prettier --write src/guard)',
    ).toBe(sh);
  });

  it('carries the version of render.ts and passes sh -n (and shellcheck -s sh when installed)', () => {
    expect(GUARD_SCRIPT).toContain(`# dcfail-guard-version: ${GUARD_VERSION}\n`);
    expect(GUARD_SCRIPT).toContain(`GUARD_SCRIPT_VERSION=${GUARD_VERSION}\n`);
    execFileSync('sh', ['-n', SH]);
    const sc = spawnSync('shellcheck', ['-s', 'sh', SH], { encoding: 'utf8' });
    if (sc.error === undefined) expect(sc.stdout + sc.stderr).toBe('');
  });
});

describe('guard render', () => {
  it('guard.conf holds the node, the other DC and whenUnsure', () => {
    const c = renderGuardConf(spec);
    expect(c).toContain("OTHER_MASTERS='10.0.2.11'\n");
    expect(c).toContain("WHEN_UNSURE='start'\n");
    expect(c).toContain("CURL='/opt/mesosphere/bin/curl'\n");
    expect(c).toContain(`GUARD_VERSION='${GUARD_VERSION}'\n`);
  });

  it('the drop-in runs the check and applies whenUnsure itself when the script is missing', () => {
    const d = renderDropIn({ ...spec, whenUnsure: 'wait' }, spec.units[1]!);
    expect(d).toContain(
      "ExecStartPre=/bin/sh -c 'if [ -r /opt/dcfail/guard/dcfail-guard.sh ]; then exec /bin/sh /opt/dcfail/guard/dcfail-guard.sh check dcos-mesos-master mesos wait; fi;",
    );
    expect(d).toMatch(/missing \(whenUnsure=wait\)" >&2; exit 1'\n/);
    expect(d).not.toMatch(/[$%]/); // systemd expands $ and % in Exec lines
  });

  it('lists every file, and the install script passes sh -n', () => {
    const inst = guardInstall(spec);
    expect(inst.files.map((f) => f.path)).toEqual([
      '/opt/dcfail/guard/dcfail-guard.sh',
      '/etc/dcfail/guard.conf',
      '/etc/systemd/system/dcos-exhibitor.service.d/dcfail-guard.conf',
      '/etc/systemd/system/dcos-mesos-master.service.d/dcfail-guard.conf',
      '/etc/systemd/system/etcd.service.d/dcfail-guard.conf',
      '/etc/systemd/system/dcfail-guard-beacon.socket',
      '/etc/systemd/system/dcfail-guard-beacon@.service',
    ]);
    const r = spawnSync('sh', ['-n'], { input: renderInstallScript(inst), encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
  });

  it('refuses values a file cannot hold, and a node guarding etcd without its peer URL', () => {
    expect(() => renderGuardConf({ ...spec, node: "x'; rm -rf /" })).toThrow(/characters/);
    const { etcdPeerUrl: _, ...noPeer } = spec;
    expect(() => renderGuardConf(noPeer)).toThrow(/peer URL/);
  });

  it('publish and hold commands', () => {
    expect(publishStateCommand({ kind: 'failed-over', dc: 'madrid', run: 'r1' })).toBe(
      "mkdir -p '/var/lib/dcfail/guard' && printf '%s\\n' 'failed-over madrid r1' > '/var/lib/dcfail/guard/failover.tmp' && mv -f '/var/lib/dcfail/guard/failover.tmp' '/var/lib/dcfail/guard/failover'",
    );
    expect(publishStateCommand({ kind: 'normal' })).toBe("rm -f '/var/lib/dcfail/guard/failover'");
    expect(holdCommand('hold', 'etcd.service')).toBe(
      "mkdir -p '/var/lib/dcfail/guard' && touch '/var/lib/dcfail/guard/hold.etcd'",
    );
    expect(holdCommand('lift')).toBe("rm -f '/var/lib/dcfail/guard/hold'");
  });

  it("the quarantine's hold: the guard's flag and a drop-in whose condition reads it", () => {
    const p = holdPathsOf('dcos-mesos-master', '/var/lib/dcfail/guard', '/etc/systemd/system');
    expect(p).toEqual({
      flag: '/var/lib/dcfail/guard/hold.dcos-mesos-master',
      dropIn: '/etc/systemd/system/dcos-mesos-master.service.d/dcfail-hold.conf',
    });
    // The same flag as `holdCommand('hold', unit)`: one file means "held" for the guard and the quarantine.
    expect(holdCommand('hold', 'dcos-mesos-master')).toContain(`'${p.flag}'`);
    expect(holdPathsOf('etcd.service', '/s', '/u')).toEqual({
      flag: '/s/hold.etcd',
      dropIn: '/u/etcd.service.d/dcfail-hold.conf',
    });
    const text = renderHoldDropIn(p);
    expect(text.split('\n').filter((l) => !l.startsWith('#'))).toEqual([
      '[Unit]',
      'ConditionPathExists=!/var/lib/dcfail/guard/hold.dcos-mesos-master',
      '',
    ]);
    expect(() => holdPathsOf('x y', '/s', '/u')).toThrow(/cannot hold/);
  });
});
