/** The unit files a lab master gets: the values DC/OS's units carry, per DC/OS version, from the timers. */
import { describe, expect, it } from 'vitest';
import { DCOS_TIMERS, scaledTimers } from '../../../lab/machines/timers.js';
import {
  exhibitorStartPostCommand,
  masterUnitInstall,
  renderDcosTarget,
  renderEtcdService,
  renderExhibitorService,
  renderMesosMasterService,
} from '../../../lab/machines/units.js';

const lines = (s: string) => s.split('\n');

describe('unit renderers', () => {
  it('dcos.target is pkgpanda\'s: only an [Install] into multi-user.target', () => {
    expect(renderDcosTarget()).toBe('[Install]\nWantedBy=multi-user.target\n');
  });

  it('dcos-exhibitor: Restart=always, RestartSec=5, the exhibitor env file, the stand-in; the ZooKeeper wait only in 2.2', () => {
    for (const version of ['2.1', '2.2'] as const) {
      const u = lines(renderExhibitorService(version, DCOS_TIMERS));
      expect(u).toContain('Restart=always');
      expect(u).toContain('RestartSec=5s');
      expect(u).toContain('StartLimitInterval=0');
      expect(u).toContain('EnvironmentFile=/opt/mesosphere/etc/exhibitor');
      expect(u).toContain('EnvironmentFile=-/etc/dcfail-lab/lab.env');
      expect(u).toContain(`ExecStart=/usr/bin/node /opt/dcfail-lab/dist/lab/machines/standins/exhibitor.js --dcos-version ${version}`);
      expect(u.some((l) => l.startsWith('User='))).toBe(false);
    }
    expect(renderExhibitorService('2.1', DCOS_TIMERS)).not.toContain('ExecStartPost');
    expect(lines(renderExhibitorService('2.2', DCOS_TIMERS))).toContain(
      "ExecStartPost=-/usr/bin/timeout 60 /bin/sh -c 'until echo ruok | /usr/bin/curl --connect-timeout 5 telnet://localhost:2181; do sleep 5; done'",
    );
  });

  it('scales every delay with the timers', () => {
    const t = scaledTimers(0.1);
    expect(exhibitorStartPostCommand(t)).toBe(
      "-/usr/bin/timeout 6 /bin/sh -c 'until echo ruok | /usr/bin/curl --connect-timeout 5 telnet://localhost:2181; do sleep 0.5; done'",
    );
    expect(lines(renderExhibitorService('2.2', t))).toContain('RestartSec=500ms');
    expect(lines(renderMesosMasterService('2.2', t))).toContain('RestartSec=1500ms');
    expect(lines(renderEtcdService(t))).toContain('RestartSec=1s');
  });

  it('dcos-mesos-master: RestartSec=15, StartLimitInterval=0, the pre-start check of the version, the Mesos stand-in', () => {
    for (const version of ['2.1', '2.2'] as const) {
      const u = lines(renderMesosMasterService(version, DCOS_TIMERS));
      expect(u).toContain('Restart=always');
      expect(u).toContain('RestartSec=15s');
      expect(u).toContain('StartLimitInterval=0');
      expect(u).toContain('EnvironmentFile=/opt/mesosphere/etc/mesos-master');
      expect(u).toContain(`ExecStartPre=/usr/bin/node /opt/dcfail-lab/dist/lab/machines/standins/mesos-prestart.js --dcos-version ${version}`);
      expect(u).toContain('ExecStart=/usr/bin/node /opt/dcfail-lab/dist/lab/machines/standins/mesos-master.js');
      // The check runs before the stand-in, in the [Service] section.
      expect(u.indexOf('[Service]')).toBeLessThan(u.findIndex((l) => l.startsWith('ExecStartPre=')));
    }
  });

  it('etcd: the seed\'s env file, /usr/bin/etcd, Type=notify, Restart=always, RestartSec=10', () => {
    const u = lines(renderEtcdService(DCOS_TIMERS));
    for (const l of ['Type=notify', 'EnvironmentFile=/opt/stratio/etcd/conf/etcd.conf', 'ExecStart=/usr/bin/etcd', 'Restart=always', 'RestartSec=10s', 'WantedBy=multi-user.target']) {
      expect(u).toContain(l);
    }
  });

  it('install set: regular files in /etc/systemd/system, dcos.target enabled, DC/OS units in dcos.target.wants', () => {
    const plain = masterUnitInstall({ version: '2.2', timers: DCOS_TIMERS, etcd: false });
    expect(plain.files.map((f) => f.path).sort()).toEqual([
      '/etc/systemd/system/dcos-exhibitor.service',
      '/etc/systemd/system/dcos-mesos-master.service',
      '/etc/systemd/system/dcos.target',
    ]);
    expect(plain.files.every((f) => f.mode === 0o644)).toBe(true);
    expect(plain.symlinks).toEqual([
      { path: '/etc/systemd/system/multi-user.target.wants/dcos.target', target: '/etc/systemd/system/dcos.target' },
      { path: '/etc/systemd/system/dcos.target.wants/dcos-exhibitor.service', target: '/etc/systemd/system/dcos-exhibitor.service' },
      { path: '/etc/systemd/system/dcos.target.wants/dcos-mesos-master.service', target: '/etc/systemd/system/dcos-mesos-master.service' },
    ]);
    const seed = masterUnitInstall({ version: '2.1', timers: DCOS_TIMERS, etcd: true });
    expect(seed.files.find((f) => f.path === '/etc/systemd/system/etcd.service')?.content).toBe(renderEtcdService(DCOS_TIMERS));
    expect(seed.symlinks).toContainEqual({ path: '/etc/systemd/system/multi-user.target.wants/etcd.service', target: '/etc/systemd/system/etcd.service' });
    expect(seed.files.find((f) => f.path.endsWith('dcos-mesos-master.service'))?.content).toContain('--dcos-version 2.1');
  });
});
