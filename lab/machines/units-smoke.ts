/** TEMPORARY: minimal units to smoke-test the machine infrastructure before the real units land. */
import type { Timers } from './timers.js';
import type { MachineUnits } from './machine.js';
export function labUnits(opts: { timers: Timers; dcos: string }): MachineUnits {
  void opts;
  return {
    files: [
      { path: '/etc/systemd/system/dcos.target', content: '[Unit]\nDescription=DC/OS\n' },
      { path: '/etc/systemd/system/etcd.service', content: '[Unit]\nDescription=etcd\n[Service]\nType=notify\nEnvironmentFile=/opt/stratio/etcd/conf/etcd.conf\nExecStart=/usr/bin/etcd\nRestart=always\nRestartSec=10\n' },
    ],
    symlinks: [
      { path: '/etc/systemd/system/dcos.target.wants/etcd.service', target: '/etc/systemd/system/etcd.service' },
      { path: '/etc/systemd/system/multi-user.target.wants/dcos.target', target: '/etc/systemd/system/dcos.target' },
    ],
  };
}
