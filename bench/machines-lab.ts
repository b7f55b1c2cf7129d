/**
 * `npm run bench:lab [-- --masters 3|5] [-- --runs N]`: what the machines lab costs on this host, with
 * DC/OS's real timers: time from `up` to every cluster ready (ZooKeeper serving after Exhibitor's
 * first check, etcd healthy, a Mesos leader with its registrar recovered), and memory once ready:
 * the proportional set size (PSS, shared pages split fairly) of every process in the machines'
 * PID namespaces plus the agents, and the host's used-memory growth. Figures, not pass/fail.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import { labDown, labUp, readState } from '../lab/machines/lab.js';
import { pid1Of } from '../lab/machines/machine.js';
import type { MasterCount } from '../lab/machines/layout.js';

const DIR = `${process.cwd()}/.lab-bench-machines`;

function pssKb(pid: string): number {
  try {
    const m = /^Pss:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** PSS (MiB) of every process in the PID namespace of each given PID 1, and of the extra pids. */
function labPssMiB(pid1s: number[], extra: number[]): number {
  const namespaces = new Set(pid1s.map((p) => readlinkSync(`/proc/${p}/ns/pid`)));
  let kb = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (namespaces.has(readlinkSync(`/proc/${pid}/ns/pid`)) || extra.includes(Number(pid))) kb += pssKb(pid);
    } catch {
      /* gone */
    }
  }
  return kb / 1024;
}

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(name);
  return i >= 0 ? Number(process.argv[i + 1]) : fallback;
}

async function main(): Promise<void> {
  const masters = arg('--masters', 5) as MasterCount;
  const runs = arg('--runs', 3);
  if (masters !== 3 && masters !== 5) throw new Error('--masters takes 3 or 5');
  const ups: number[] = [];
  let pss = 0;
  let used = 0;
  for (let i = 0; i < runs; i++) {
    await labDown({ dir: DIR });
    const before = totalmem() - freemem();
    const lab = await labUp({ masters, dir: DIR, timeScale: 1 });
    ups.push(lab.durationMs / 1000);
    const s = readState(DIR)!;
    const pid1s = Object.values(s.nspawn)
      .map((p) => pid1Of(p))
      .filter((p): p is number => p !== undefined);
    pss = labPssMiB(pid1s, Object.values(s.agents));
    used = (totalmem() - freemem() - before) / 2 ** 20;
    process.stdout.write(`run ${i + 1}: up in ${lab.durationMs / 1000} s, machines + agents ${pss.toFixed(0)} MiB PSS, host used +${used.toFixed(0)} MiB\n`);
  }
  await labDown({ dir: DIR });
  const sorted = [...ups].sort((a, b) => a - b);
  process.stdout.write(
    `machines lab, ${masters} masters, DC/OS timers: up median ${sorted[Math.floor(sorted.length / 2)]!.toFixed(1)} s (min ${sorted[0]!.toFixed(1)}, max ${sorted.at(-1)!.toFixed(1)}, ${runs} runs); ` +
      `memory when ready ${pss.toFixed(0)} MiB PSS (host used +${used.toFixed(0)} MiB, page cache included)\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:lab: ${(err as Error).message}\n`);
  process.exit(1);
});
