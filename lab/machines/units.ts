/**
 * The systemd units of a lab master, rendered as DC/OS installs them (pure functions, no I/O; the lead's
 * installer writes what `masterUnitInstall` returns).
 *
 * DC/OS's installer copies every unit as a regular file into /etc/systemd/system and lists it as a symlink in
 * /etc/systemd/system/dcos.target.wants (dcos/dcos pkgpanda/__init__.py class Systemd, stage_new_units);
 * dcos.target itself is `[Install] WantedBy=multi-user.target` and is enabled (dcos/dcos pkgpanda/actions.py
 * DCOS_TARGET_CONTENTS, _start_dcos_target). So at boot multi-user.target pulls dcos.target, which pulls every
 * DC/OS unit at once: no ordering between them (dcos-mesos-master's pre-start check fails until ZooKeeper
 * serves, and systemd retries it every RestartSec).
 *
 * Lines of the upstream units the lab leaves out, and why (everything else is kept as upstream has it):
 *   User=dcos_exhibitor: the machine has no such user; the lab runs every unit as root.
 *   MountFlags=private, PermissionsStartOnly: no effect on what the lab observes.
 *   EnvironmentFile=/opt/mesosphere/environment, dns_config, check_time.env, proxy.env: files of DC/OS's own
 *     packages the lab does not install (a missing non-optional EnvironmentFile would fail the unit).
 *   ExecStartPre check-time, bootstrap_exhibitor_tls.py, set_exhibitor_file_permissions.py (Exhibitor);
 *     ping -c1 ready.spartan, rp_filter (Mesos): no clock, TLS or dcos-net in the lab.
 * Each unit also gets `EnvironmentFile=-/etc/dcfail-lab/lab.env` (DCFAIL_LAB_TIME_SCALE, DCFAIL_LAB_DETECTED_IP).
 */
import { systemdSpan, type Timers } from './timers.js';

export type DcosVersion = '2.1' | '2.2';

/** Where the repo is mounted inside every machine, and the compiled stand-ins. */
export const LAB_MOUNT = '/opt/dcfail-lab';
export const STANDINS_DIR = `${LAB_MOUNT}/dist/lab/machines/standins`;
export const NODE = '/usr/bin/node';
export const LAB_ENV_FILE = '/etc/dcfail-lab/lab.env';
export const SYSTEMD_DIR = '/etc/systemd/system';

/** The DC/OS units a lab master runs, in dcos.target.wants. */
export const DCOS_MASTER_UNITS = ['dcos-exhibitor.service', 'dcos-mesos-master.service'] as const;

/** Seconds for a shell command (`timeout 60`, `sleep 5`, or `sleep 0.5` when scaled). */
function shellSeconds(ms: number): string {
  return String(Math.round(ms) / 1000);
}

/**
 * dcos.target, exactly pkgpanda's DCOS_TARGET_CONTENTS (dcos/dcos pkgpanda/actions.py): no [Unit] section, only
 * an [Install] that `systemctl enable dcos.target` turns into multi-user.target.wants/dcos.target.
 */
export function renderDcosTarget(): string {
  return '[Install]\nWantedBy=multi-user.target\n';
}

/**
 * The ExecStartPost DC/OS 2.2 added to dcos-exhibitor (dcos/dcos packages/exhibitor/extra/dcos-exhibitor.service,
 * commits 3ac263166 and 5ffd6bbd8): wait until port 2181 answers `ruok`, at most 60 s, trying every 5 s; the
 * leading `-` makes a timeout harmless (the unit becomes active anyway). Only the curl path differs
 * (/opt/mesosphere/bin/curl in DC/OS, the machine's /usr/bin/curl here); the timeout and the sleep are scaled.
 */
export function exhibitorStartPostCommand(timers: Timers): string {
  return (
    `-/usr/bin/timeout ${shellSeconds(timers.exhibitorStartPostWaitMs)} /bin/sh -c ` +
    `'until echo ruok | /usr/bin/curl --connect-timeout 5 telnet://localhost:2181; do sleep ${shellSeconds(timers.exhibitorStartPostPollMs)}; done'`
  );
}

/**
 * dcos-exhibitor.service (dcos/dcos packages/exhibitor/extra/dcos-exhibitor.service at tag 2.1.0 for '2.1', at
 * 2.2.0 for '2.2'): Restart=always, StartLimitInterval=0, RestartSec=5, LimitNOFILE=16384, the env file
 * /opt/mesosphere/etc/exhibitor (EXHIBITOR_BACKEND, EXHIBITOR_STATICENSEMBLE), the Exhibitor stand-in as
 * ExecStart; 2.2 adds the ExecStartPost that waits for ZooKeeper (2.1 has none, so there the start returns at once).
 */
export function renderExhibitorService(version: DcosVersion, timers: Timers): string {
  const lines = [
    '[Unit]',
    version === '2.1' ? 'Description=Exhibitor: Zookeeper supervisor service' : 'Description=Exhibitor and ZooKeeper',
    '',
    '[Service]',
    'StandardOutput=journal',
    'StandardError=journal',
    'Restart=always',
    'StartLimitInterval=0',
    `RestartSec=${systemdSpan(timers.exhibitorRestartMs)}`,
    'LimitNOFILE=16384',
    'RuntimeDirectory=dcos_exhibitor',
    'Environment=JNA_TMP_DIR=/var/lib/dcos/exhibitor/tmp',
    'EnvironmentFile=/opt/mesosphere/etc/exhibitor',
    'EnvironmentFile=-/opt/mesosphere/etc/exhibitor-extras',
    `EnvironmentFile=-${LAB_ENV_FILE}`,
    `ExecStart=${NODE} ${STANDINS_DIR}/exhibitor.js --dcos-version ${version}`,
  ];
  if (version === '2.2') lines.push('# Wait for ZooKeeper to start listening', `ExecStartPost=${exhibitorStartPostCommand(timers)}`);
  return `${lines.join('\n')}\n`;
}

/**
 * dcos-mesos-master.service (dcos/dcos packages/mesos/extra/dcos-mesos-master.service, identical in 2.1.0 and
 * 2.2.0): Restart=always, StartLimitInterval=0, RestartSec=15, LimitNOFILE/TasksMax=infinity, the env file
 * /opt/mesosphere/etc/mesos-master; ExecStartPre `bootstrap dcos-mesos-master` becomes the pre-start check of
 * the DC/OS version (mesos-prestart.js), ExecStart the Mesos stand-in.
 */
export function renderMesosMasterService(version: DcosVersion, timers: Timers): string {
  return [
    '[Unit]',
    'Description=Mesos Master: distributed systems kernel',
    '[Service]',
    'Restart=always',
    'StartLimitInterval=0',
    `RestartSec=${systemdSpan(timers.mesosRestartMs)}`,
    'LimitNOFILE=infinity',
    'TasksMax=infinity',
    'SyslogIdentifier=mesos-master',
    'EnvironmentFile=/opt/mesosphere/etc/mesos-master',
    'EnvironmentFile=-/opt/mesosphere/etc/mesos-master-provider',
    'EnvironmentFile=-/opt/mesosphere/etc/mesos-master-extras',
    'EnvironmentFile=-/run/dcos/etc/mesos-master',
    'EnvironmentFile=-/etc/mesosphere/mesos/master.env',
    `EnvironmentFile=-${LAB_ENV_FILE}`,
    `ExecStartPre=${NODE} ${STANDINS_DIR}/mesos-prestart.js --dcos-version ${version}`,
    `ExecStart=${NODE} ${STANDINS_DIR}/mesos-master.js`,
    '',
  ].join('\n');
}

/**
 * The seed's etcd (not a DC/OS unit: DC/OS's own dcos-etcd keeps its membership in ZooKeeper, see
 * ../shared/DCOS-FACTS.md §7). Its env file /opt/stratio/etcd/conf/etcd.conf holds ETCD_* variables, which
 * etcd reads itself; Type=notify (etcd signals readiness), Restart=always, RestartSec=10 as dcos-etcd. Enabled
 * through multi-user.target, since it is not part of dcos.target.
 */
export function renderEtcdService(timers: Timers): string {
  return [
    '[Unit]',
    'Description=etcd (seed deployment)',
    '',
    '[Service]',
    'Type=notify',
    'EnvironmentFile=/opt/stratio/etcd/conf/etcd.conf',
    'ExecStart=/usr/bin/etcd',
    'Restart=always',
    `RestartSec=${systemdSpan(timers.etcdRestartMs)}`,
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
}

export interface UnitFile {
  path: string;
  content: string;
  mode: number;
}
export interface UnitSymlink {
  /** The link to create. */
  path: string;
  /** What it points to (absolute). */
  target: string;
}

/**
 * Every unit file of a lab master and the symlinks that make systemd start them at boot: dcos.target enabled in
 * multi-user.target.wants, each DC/OS unit in dcos.target.wants pointing at its regular file in
 * /etc/systemd/system (as pkgpanda leaves them), etcd enabled in multi-user.target.wants when `etcd` is set.
 */
export function masterUnitInstall(opts: { version: DcosVersion; timers: Timers; etcd: boolean }): { files: UnitFile[]; symlinks: UnitSymlink[] } {
  const files: UnitFile[] = [
    { path: `${SYSTEMD_DIR}/dcos.target`, content: renderDcosTarget(), mode: 0o644 },
    { path: `${SYSTEMD_DIR}/dcos-exhibitor.service`, content: renderExhibitorService(opts.version, opts.timers), mode: 0o644 },
    { path: `${SYSTEMD_DIR}/dcos-mesos-master.service`, content: renderMesosMasterService(opts.version, opts.timers), mode: 0o644 },
  ];
  const symlinks: UnitSymlink[] = [
    { path: `${SYSTEMD_DIR}/multi-user.target.wants/dcos.target`, target: `${SYSTEMD_DIR}/dcos.target` },
    ...DCOS_MASTER_UNITS.map((u) => ({ path: `${SYSTEMD_DIR}/dcos.target.wants/${u}`, target: `${SYSTEMD_DIR}/${u}` })),
  ];
  if (opts.etcd) {
    files.push({ path: `${SYSTEMD_DIR}/etcd.service`, content: renderEtcdService(opts.timers), mode: 0o644 });
    symlinks.push({ path: `${SYSTEMD_DIR}/multi-user.target.wants/etcd.service`, target: `${SYSTEMD_DIR}/etcd.service` });
  }
  return { files, symlinks };
}
