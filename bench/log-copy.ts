/**
 * `npm run bench:log-copy [-- --mib N] [-- --runs N]` (root): the node-to-node copy of a replicated
 * log (streamTree: tar over SSH from one node, through dcfail, into tar over SSH on the other, the
 * stream hashed on both nodes and in dcfail) against plain OpenSSH moving the same bytes (`ssh A cat
 * | ssh B 'cat > file'`, also through this machine), and against dcfail's own transport moving them
 * with `cat` on both ends (no tar, no digests): where the time goes. Two real sshds on loopback
 * addresses play the nodes. Prints throughput (MiB/s, medians of the runs) and the peak RSS growth
 * of this process during each copy. Figures only.
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { promisify } from 'node:util';
import { streamTree } from '../src/remote/stream-copy.js';
import { makeLogTree, rssBytes, sampleRss, startCopyRig } from '../test/support/stream-copy-rig.js';
import { figure } from './stats.js';

const run = promisify(execFile);
const MiB = 1024 * 1024;

function parseArgs(argv: string[]): { mib: number; runs: number } {
  const a = { mib: 512, runs: 3 };
  for (let i = 0; i < argv.length; i += 1) {
    const x = argv[i];
    if (x === '--mib') a.mib = Number(argv[++i]);
    else if (x === '--runs') a.runs = Number(argv[++i]);
    else throw new Error(`unknown argument ${x} (use --mib N, --runs N)`);
  }
  if (!(Number.isInteger(a.mib) && a.mib >= 1 && a.mib <= 8192)) throw new Error('--mib takes 1 to 8192');
  if (!(Number.isInteger(a.runs) && a.runs >= 1 && a.runs <= 20)) throw new Error('--runs takes 1 to 20');
  return a;
}

interface Sample {
  mibPerS: number;
  rssGrowthMiB: number;
}

async function measure(bytes: () => number, copy: () => Promise<void>): Promise<Sample> {
  const before = rssBytes();
  const sampler = sampleRss(20);
  const started = performance.now();
  await copy();
  const seconds = (performance.now() - started) / 1000;
  const { peak } = sampler.stop();
  return { mibPerS: bytes() / MiB / seconds, rssGrowthMiB: (peak - before) / MiB };
}

async function main(): Promise<void> {
  const { mib, runs } = parseArgs(process.argv.slice(2));
  const rig = await startCopyRig(['127.0.33.1', '127.0.33.2'], 2222);
  try {
    const from = join(rig.dir, 'a', 'replicated_log');
    makeLogTree(from, mib);
    // The same bytes for every contender: the tar stream streamTree sends, kept as a file.
    const tarFile = join(rig.dir, 'a', 'log.tar');
    await run('tar', ['-C', from, '-cf', tarFile, '.']);
    const { stdout: size } = await run('stat', ['-c', '%s', tarFile]);
    const tarBytes = Number(size.trim());
    const ssh = (address: string, command: string) =>
      `ssh -q -i ${join(rig.dir, 'client')} -o UserKnownHostsFile=${join(rig.dir, 'known_hosts')} -o BatchMode=yes -p 2222 dcfail@${address} ${JSON.stringify(command)}`;
    const results: Record<string, Sample[]> = { streamTree: [], 'dcfail transport, cat': [], 'OpenSSH, cat': [] };
    for (let i = 0; i < runs; i += 1) {
      let copied = 0;
      results['streamTree']!.push(
        await measure(
          () => copied,
          async () => {
            const r = await streamTree(rig.src, from, rig.dst, join(rig.dir, 'b', `incoming-${i}`), {
              timeoutMs: 600_000,
            });
            copied = r.bytes;
          },
        ),
      );
      await run('rm', ['-rf', join(rig.dir, 'b', `incoming-${i}`)]);
      results['dcfail transport, cat']!.push(
        await measure(
          () => tarBytes,
          async () => {
            const through = new PassThrough();
            const dest = join(rig.dir, 'b', 'plain.tar');
            const [a, b] = await Promise.all([
              rig.src.exec(`cat ${tarFile}`, { timeoutMs: 600_000, stdoutTo: through }),
              rig.dst.exec(`cat > ${dest}`, { timeoutMs: 600_000, stdinFrom: through }),
            ]);
            if (a.exitCode !== 0 || b.exitCode !== 0) throw new Error(`cat failed: ${a.stderr} ${b.stderr}`);
          },
        ),
      );
      results['OpenSSH, cat']!.push(
        await measure(
          () => tarBytes,
          async () => {
            const dest = join(rig.dir, 'b', 'openssh.tar');
            await run(
              '/bin/sh',
              [
                '-c',
                `${ssh('127.0.33.1', `sudo -n cat ${tarFile}`)} | ${ssh('127.0.33.2', `sudo -n sh -c 'cat > ${dest}'`)}`,
              ],
              {
                maxBuffer: 1024 * 1024,
              },
            );
            const { stdout } = await run('cmp', [tarFile, dest]);
            if (stdout.trim() !== '') throw new Error('OpenSSH copy differs');
          },
        ),
      );
    }
    const rows = Object.entries(results).map(([name, samples]) => {
      const tp = figure(samples.map((s) => s.mibPerS));
      const rss = figure(samples.map((s) => s.rssGrowthMiB));
      return { name, tp, rss };
    });
    const base = rows.find((r) => r.name === 'OpenSSH, cat')!.tp.median;
    process.stdout.write(
      `log copy, ${mib} MiB of random data (+ 50 small files; tar stream ${(tarBytes / MiB).toFixed(1)} MiB), ${runs} run(s), node to node through this process:\n`,
    );
    for (const r of rows)
      process.stdout.write(
        `  ${r.name.padEnd(24)} ${r.tp.median.toFixed(1).padStart(7)} MiB/s (${r.tp.min.toFixed(1)}..${r.tp.max.toFixed(1)})  ${(r.tp.median / base).toFixed(2)}x OpenSSH   RSS +${r.rss.median.toFixed(1)} MiB (max +${r.rss.max.toFixed(1)})\n`,
      );
  } finally {
    await rig.stop();
  }
}

main().catch((err: unknown) => {
  process.stderr.write(`bench failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
  process.exitCode = 1;
});
