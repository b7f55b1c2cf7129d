/**
 * Start-up and planning: `dcfail --version` against `node -e 0`, and `plan failover --offline`
 * on generated topologies of 3, 50 and 500 nodes. Each figure is the wall time of the whole
 * process (spawn to exit), measured with process.hrtime over several runs.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import { stringify } from 'yaml';
import { REPO } from './cycles.js';
import { figure, type Figure } from './stats.js';

export function timeCommand(cmd: string, args: string[], runs: number, okCodes = [0]): Figure {
  const samples: number[] = [];
  // One warm-up run: the page cache, not dcfail, would otherwise be measured first.
  spawnSync(cmd, args, { stdio: 'ignore', cwd: REPO });
  for (let i = 0; i < runs; i += 1) {
    const t0 = process.hrtime.bigint();
    const r = spawnSync(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'], cwd: REPO });
    const t1 = process.hrtime.bigint();
    if (!okCodes.includes(r.status ?? -1))
      throw new Error(
        `${cmd} ${args.join(' ')} exited ${r.status}: ${String(r.stderr).trim().split('\n').slice(-2).join(' / ')}`,
      );
    samples.push(Number(t1 - t0) / 1e6);
  }
  return figure(samples);
}

/**
 * A valid topology of `n` nodes: the first min(n, 255) are masters (mesos, exhibitor, etcd;
 * ZooKeeper ids stop at 255), the rest etcd members; main holds a strict majority of both sets.
 */
function generatedTopology(n: number): Record<string, unknown> {
  const masters = Math.min(n, 255);
  const others = n - masters;
  const nodes: Record<string, unknown>[] = [];
  const dcOf = (i: number, count: number) => (i < Math.floor(count / 2) + 1 ? 'madrid' : 'barcelona');
  for (let i = 0; i < masters; i += 1) {
    const dc = dcOf(i, masters);
    nodes.push({
      name: `master-${i + 1}`,
      dc,
      address: `10.${dc === 'madrid' ? 10 : 20}.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      roles: ['mesos', 'exhibitor', 'etcd'],
    });
  }
  for (let i = 0; i < others; i += 1) {
    const dc = dcOf(i, others);
    nodes.push({
      name: `etcd-${i + 1}`,
      dc,
      address: `10.${dc === 'madrid' ? 11 : 21}.${Math.floor(i / 250)}.${(i % 250) + 1}`,
      roles: ['etcd'],
    });
  }
  return {
    cluster: `bench-${n}`,
    datacenters: { main: 'madrid', secondary: 'barcelona' },
    ssh: { user: 'core', identityFile: '~/.ssh/dcfail_ed25519' },
    nodes,
    hooks: { fence: { madrid: '/usr/local/bin/fence madrid', barcelona: '/usr/local/bin/fence barcelona' } },
  };
}

export interface StartupFigures {
  nodeBare: Figure;
  version: Figure;
  plan: Record<string, Figure>;
}

export async function measureStartup(tmp: string, runs: number, sizes: readonly number[]): Promise<StartupFigures> {
  await mkdir(tmp, { recursive: true });
  const main = `${REPO}/dist/bin/dcfail.js`;
  const nodeBare = timeCommand(process.execPath, ['-e', '0'], runs);
  const version = timeCommand(process.execPath, [main, '--version'], runs);
  const plan: Record<string, Figure> = {};
  for (const n of sizes) {
    const file = `${tmp}/topology-${n}.yaml`;
    await writeFile(file, stringify(generatedTopology(n), { lineWidth: 0 }));
    plan[String(n)] = timeCommand(
      process.execPath,
      [main, 'plan', 'failover', '--to', 'secondary', '--offline', '--assume-down', 'main', '-t', file],
      runs,
    );
  }
  return { nodeBare, version, plan };
}
