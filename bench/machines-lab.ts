/**
 * `npm run bench:lab [-- --masters 3|5] [-- --runs N]`: what the machines lab costs on this host, with
 * DC/OS's real timers: time from `up` to every cluster ready (ZooKeeper serving after Exhibitor's
 * first check, etcd healthy, a Mesos leader with its registrar recovered), and memory once ready:
 * the proportional set size (PSS, shared pages split fairly) of every process in the machines'
 * PID namespaces plus the agents, and the host's used-memory growth. Figures, not pass/fail.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { freemem, totalmem } from 'node:os';
import { clustersReady, labDown, labExec, labUp, powerOff, powerOn, readState } from '../lab/machines/lab.js';
import { waitFor } from '../lab/machines/run.js';
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
  const reboots: number[] = [];
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
    // Where a slow first boot went: registrar recoveries that aborted (each costs the 60 s fetch timeout + RestartSec 15 s).
    let aborts = 0;
    for (const n of lab.layout.nodes) {
      const j = await labExec(
        n.name,
        ['sh', '-c', 'journalctl -u dcos-mesos-master --no-pager | grep -c "Recovery failed" || true'],
        { dir: DIR },
      );
      aborts += Number(j.stdout.trim() || 0);
    }
    if (aborts > 0) process.stdout.write(`run ${i + 1}: ${aborts} registrar recovery abort(s) during the first boot\n`);
    // A cold restart from the disks: both DCs power-cut, then powered on (clusters already initialised).
    await powerOff('madrid', { dir: DIR });
    await powerOff('barcelona', { dir: DIR });
    const t0 = Date.now();
    await powerOn('madrid', { dir: DIR });
    await powerOn('barcelona', { dir: DIR });
    await waitFor(
      'every cluster ready after the power-on',
      async () => (await clustersReady(lab.layout)) === true,
      240_000,
      500,
    );
    reboots.push((Date.now() - t0) / 1000);
    process.stdout.write(
      `run ${i + 1}: up in ${lab.durationMs / 1000} s (first boot), ready again ${reboots.at(-1)!.toFixed(1)} s after a power-on of both DCs; ` +
        `machines + agents ${pss.toFixed(0)} MiB PSS, host used +${used.toFixed(0)} MiB\n`,
    );
  }
  await labDown({ dir: DIR });
  const med = (xs: number[]) => {
    const s = [...xs].sort((a, b) => a - b);
    return `${s[Math.floor(s.length / 2)]!.toFixed(1)} s (min ${s[0]!.toFixed(1)}, max ${s.at(-1)!.toFixed(1)})`;
  };
  process.stdout.write(
    `machines lab, ${masters} masters, DC/OS timers, ${runs} runs: up (first boot) median ${med(ups)}; ready after a power-on of both DCs median ${med(reboots)}; ` +
      `memory when ready ${pss.toFixed(0)} MiB PSS (host used +${used.toFixed(0)} MiB, page cache included)\n`,
  );
}

main().catch((err: unknown) => {
  process.stderr.write(`bench:lab: ${(err as Error).message}\n`);
  process.exit(1);
});
