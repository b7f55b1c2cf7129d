/**
 * One real etcd server (Debian's etcd-server) on a loopback address of its own, for tests that
 * need an etcd but not the lab: a fresh data dir, stopped and removed at the end.
 */
import { execa } from 'execa';
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const ETCD = '/usr/bin/etcd';
const ETCDCTL = '/usr/bin/etcdctl';

export function hasEtcd(): boolean {
  return existsSync(ETCD) && existsSync(ETCDCTL);
}

export interface TestEtcd {
  endpoint: string;
  /** etcdctl against it (an independent client: not dcfail's). */
  ctl(args: readonly string[], input?: string): Promise<string>;
  stop(): Promise<void>;
}

export async function startEtcd(address: string, clientPort: number): Promise<TestEtcd> {
  const dir = mkdtempSync(join(tmpdir(), 'dcfail-etcd-'));
  const endpoint = `http://${address}:${clientPort}`;
  const proc: ChildProcess = spawn(
    ETCD,
    [
      '--name',
      'test',
      '--data-dir',
      join(dir, 'data'),
      '--listen-client-urls',
      endpoint,
      '--advertise-client-urls',
      endpoint,
      '--listen-peer-urls',
      `http://${address}:${clientPort + 1}`,
      '--initial-advertise-peer-urls',
      `http://${address}:${clientPort + 1}`,
      '--initial-cluster',
      `test=http://${address}:${clientPort + 1}`,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  proc.stderr!.on('data', (d: Buffer) => (log = (log + d.toString()).slice(-4000)));
  const ctl = async (args: readonly string[], input?: string) => {
    const r = await execa(ETCDCTL, [`--endpoints=${endpoint}`, '--command-timeout=5s', ...args], {
      env: { ETCDCTL_API: '3' },
      ...(input !== undefined ? { input } : {}),
    });
    return r.stdout;
  };
  const deadline = Date.now() + 30_000;
  for (;;) {
    const r = await execa(ETCDCTL, [`--endpoints=${endpoint}`, '--dial-timeout=1s', 'endpoint', 'health'], {
      env: { ETCDCTL_API: '3' },
      reject: false,
    });
    if (r.exitCode === 0) break;
    if (proc.exitCode !== null || Date.now() > deadline) {
      proc.kill('SIGKILL');
      throw new Error(`etcd on ${endpoint} did not become healthy:\n${log}`);
    }
    await new Promise((res) => setTimeout(res, 200));
  }
  return {
    endpoint,
    ctl,
    async stop() {
      if (proc.exitCode === null) {
        const exited = new Promise((res) => proc.once('exit', res));
        proc.kill('SIGTERM');
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
