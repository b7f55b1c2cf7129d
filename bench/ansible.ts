/**
 * The alternative: the failover runbook as an Ansible playbook (bench/ansible/failover.yml) over
 * the machines' own sshds. This module makes sure Debian's ansible-core is there, and writes the
 * inventory from the lab layout (ansible_host, port 22, user dcfail, the lab key, host keys
 * checked against the lab's known_hosts, ControlMaster/ControlPersist). DC/OS's files in
 * /opt/mesosphere/etc are links into the config package: the playbook edits their targets.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { DCOS_PATHS, type MachinesLayout } from '../lab/machines/layout.js';
import { REPO } from './cycles.js';

const run = promisify(execFile);

/** Installs ansible-core (and python3-kazoo for the ZooKeeper write check) from Debian if missing; the reason when it cannot. */
export async function ensureAnsible(progress: (m: string) => void): Promise<string | null> {
  const have = () => existsSync('/usr/bin/ansible-playbook') && existsSync('/usr/lib/python3/dist-packages/kazoo');
  if (have()) return null;
  progress('installing ansible-core and python3-kazoo from Debian (apt-get)');
  try {
    await run('apt-get', ['install', '-y', '--no-install-recommends', 'ansible-core', 'python3-kazoo'], {
      env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' },
      timeout: 300_000,
    });
  } catch (err) {
    return `apt-get install ansible-core python3-kazoo failed: ${(err as Error).message.split('\n')[0]}`;
  }
  return have() ? null : 'ansible-core is not installed after apt-get';
}

export async function writeInventory(
  layout: MachinesLayout,
  lostDc: string,
  dir: string,
  fenceHook: string,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const survivors = layout.nodes.filter((n) => n.dc !== lostDc);
  const lost = layout.nodes.filter((n) => n.dc === lostDc);
  const seed = survivors[0]!;
  const peer = (n: { address: string }) => `http://${n.address}:2380`;
  const client = (n: { address: string }) => `http://${n.address}:2379`;
  const hosts: Record<string, unknown> = {};
  for (const n of survivors) {
    hosts[n.name] = {
      ansible_host: n.address,
      node_name: n.name,
      exhibitor_env: `${DCOS_PATHS.configPackageEtc}/exhibitor`,
      master_count_file: `${DCOS_PATHS.configPackageEtc}/master_count`,
      mesos_env: `${DCOS_PATHS.configPackageEtc}/mesos-master`,
      etcd_env: DCOS_PATHS.etcdEnvFile,
    };
  }
  const joiners = survivors.slice(1).map((n, i) => {
    const members = survivors.slice(0, i + 2);
    return {
      name: n.name,
      host: n.name,
      env: DCOS_PATHS.etcdEnvFile,
      data_dir: DCOS_PATHS.etcdDataDir,
      peer_url: peer(n),
      initial_cluster: members.map((m) => `${m.name}=${peer(m)}`).join(','),
      members_urls: members.map(client).join(','),
    };
  });
  const inventory = {
    all: {
      vars: {
        ansible_user: 'dcfail',
        ansible_port: 22,
        ansible_ssh_private_key_file: layout.identityFile,
        ansible_ssh_common_args: `-o UserKnownHostsFile=${layout.knownHostsFile} -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes -o ControlMaster=auto -o ControlPersist=60s -o ControlPath=${dir}/cp-%C`,
        ansible_python_interpreter: '/usr/bin/python3',
        lost_dc: lostDc,
        fence_hook: fenceHook,
        lost_ports: lost.flatMap((n) => [22, 2379, 2181, 5050].map((p) => `${n.address}:${p}`)),
        zk_ensemble: survivors.map((n) => `${n.zkId}:${n.address}`).join(','),
        master_count: survivors.length,
        zk_servers: survivors.map((n) => `${n.address}:2181`),
        mesos_quorum: Math.floor(survivors.length / 2) + 1,
        mesos_masters: survivors.map((n) => `${n.address}:5050`),
        etcd_seed: seed.name,
        etcd_seed_url: client(seed),
        etcd_joiners: joiners,
      },
      children: { survivors: { hosts } },
    },
  };
  const file = `${dir}/inventory.yml`;
  await writeFile(file, stringify(inventory, { lineWidth: 0 }));
  return file;
}

export function ansibleCommand(
  inventory: string,
  dir: string,
): { cmd: string; args: string[]; env: NodeJS.ProcessEnv } {
  return {
    cmd: '/usr/bin/ansible-playbook',
    args: ['-i', inventory, `${REPO}/bench/ansible/failover.yml`],
    env: {
      ...process.env,
      ANSIBLE_CONFIG: `${REPO}/bench/ansible/ansible.cfg`,
      ANSIBLE_LOCAL_TEMP: `${dir}/tmp`,
      ANSIBLE_HOME: `${dir}/home`,
      ANSIBLE_NOCOLOR: '1',
    },
  };
}
