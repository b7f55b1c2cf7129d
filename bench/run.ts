/**
 * `npm run bench [-- --quick] [-- --runs N] [-- --only startup,fanout,lab]`: dcfail against the
 * same edits and restarts done by hand in parallel (the floor) and against an Ansible playbook,
 * on the machines lab with DC/OS's real timers (3 and 5 masters), side by side; plus start-up,
 * planning and fan-out. Prints a table and writes bench/results/latest.json. Figures, not
 * pass/fail: the goals are shown as met or missed, the exit status stays 0 unless the bench
 * itself broke.
 *
 * Runs on a machines lab of its own (instance 9, <repo>/.lab-bench), state in a temp dir; labDown at the end.
 */
process.env['DCFAIL_LAB_INSTANCE'] ??= '9';

import { execFileSync } from 'node:child_process';
import { cpus, hostname, tmpdir, totalmem } from 'node:os';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { labDown, labUp, type Lab } from '../lab/machines/lab.js';
import type { MasterCount } from '../lab/machines/layout.js';
import { ansibleCommand, ensureAnsible, writeInventory } from './ansible.js';
import { loadTopology } from '../src/topology/load.js';
import { commandCycle, dcfailCycle, floorCycle, REPO, type CycleFigures } from './cycles.js';
import { measureFanout, type FanoutFigures } from './fanout.js';
import { measureStartup, type StartupFigures } from './startup.js';
import { figure, fmtFigure, ms, ratio, type Figure } from './stats.js';

interface Args {
  quick: boolean;
  runs: number | undefined;
  only: Set<string>;
}

function parseArgs(argv: string[]): Args {
  const a: Args = { quick: false, runs: undefined, only: new Set(['startup', 'fanout', 'lab']) };
  for (let i = 0; i < argv.length; i += 1) {
    const x = argv[i];
    if (x === '--quick') a.quick = true;
    else if (x === '--runs') a.runs = Number(argv[++i]);
    else if (x === '--only') a.only = new Set(String(argv[++i]).split(','));
    else throw new Error(`unknown argument ${x} (use --quick, --runs N, --only startup,fanout,lab)`);
  }
  if (a.runs !== undefined && !(Number.isInteger(a.runs) && a.runs > 0 && a.runs <= 50))
    throw new Error('--runs takes a whole number from 1 to 50');
  return a;
}

const log = (m: string) => process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${m}\n`);

interface LabFigures {
  masters: MasterCount;
  runs: number;
  dcfail: {
    failover: Figure;
    failback: Figure;
    failoverWall: Figure;
    failbackWall: Figure;
    preConfirm: Figure;
    selfReported: Figure;
    stepsMs: Record<string, Figure>;
  };
  floor: { failover: Figure; wall: Figure; failback: Figure };
  /** The floor run after the fence hook and its check, in sequence, as every safe runbook must. */
  fencedFloor: { failover: Figure };
  ansible: { failover: Figure; wall: Figure } | { skipped: string };
  ratios: {
    overheadMs: number;
    failbackOverheadMs: number;
    overheadAfterFenceMs: number;
    dcfailOverFloor: number;
    dcfailOverAnsible: number | null;
  };
  errors: string[];
}

function collect(xs: readonly CycleFigures[], key: 'ttrMs' | 'wallMs' | 'preConfirmMs' | 'selfReportedMs'): Figure {
  return figure(xs.map((x) => x[key]).filter((v): v is number => typeof v === 'number' && Number.isFinite(v)));
}

/** Median duration of each step id (parallel steps of a group by their slowest member). */
function stepFigures(xs: readonly CycleFigures[]): Record<string, Figure> {
  const per = new Map<string, number[]>();
  for (const x of xs) {
    const groups = new Map<string, number>();
    for (const s of x.steps ?? []) {
      // Group the per-node steps: `zk:restart:exhibitor:master-3` -> `zk:restart`.
      const key = s.id
        .split(':')
        .filter((p) => !/^(master|sshd)-\d+$/.test(p) && !p.startsWith('/') && p !== 'cluster')
        .join(':');
      groups.set(key, Math.max(groups.get(key) ?? 0, s.ms));
    }
    for (const [k, v] of groups) per.set(k, [...(per.get(k) ?? []), v]);
  }
  return Object.fromEntries([...per].map(([k, v]) => [k, figure(v)]));
}

async function labBench(
  masters: MasterCount,
  runs: number,
  tmp: string,
  ansibleMissing: string | null,
): Promise<LabFigures> {
  const dir = `${REPO}/.lab-bench`;
  log(
    `machines lab up: ${masters} masters in ${dir} (instance ${process.env['DCFAIL_LAB_INSTANCE']}), DC/OS's real timers`,
  );
  const lab: Lab = await labUp({ masters, dir, timeScale: 1, onProgress: (m) => log(`  ${m}`) });
  const stateDir = await mkdtemp(`${tmp}/state-`);
  const healthTimeoutMs = (await loadTopology(lab.layout.topologyPath)).health.timeoutMs;
  const errors: string[] = [];
  const fo: CycleFigures[] = [];
  const fb: CycleFigures[] = [];
  const fl: CycleFigures[] = [];
  const flb: CycleFigures[] = [];
  const ff: CycleFigures[] = [];
  const an: CycleFigures[] = [];
  const inventoryDir = `${tmp}/ansible-${masters}`;
  const inventory = ansibleMissing
    ? null
    : await writeInventory(lab.layout, lab.layout.nodes[0]!.dc, inventoryDir, `${lab.dir}/bin/fence-and-hold`);
  for (let i = 0; i < runs; i += 1) {
    log(`${masters} masters, run ${i + 1}/${runs}: dcfail failover + failback`);
    const d = await dcfailCycle(lab.layout, stateDir);
    fo.push(d.failover);
    fb.push(d.failback);
    for (const e of [d.failover.error, d.failback.error]) if (e) errors.push(`run ${i + 1}: ${e}`);
    log(
      `  dcfail failover ${ms(d.failover.ttrMs ?? NaN)} (self ${ms(d.failover.selfReportedMs ?? NaN)}, wall ${ms(d.failover.wallMs)}); failback ${ms(d.failback.ttrMs ?? NaN)}`,
    );
    log(`${masters} masters, run ${i + 1}/${runs}: floor (failover, then failback)`);
    const f = await floorCycle(lab.layout, { failback: true });
    fl.push(f.failover);
    if (f.failback) flb.push(f.failback);
    for (const e of [f.failover.error, f.failback?.error])
      if (e) {
        errors.push(`run ${i + 1}: ${e}`);
        log(`  error: ${e}`);
      }
    log(`  floor failover ${ms(f.failover.ttrMs ?? NaN)}; failback ${ms(f.failback?.ttrMs ?? NaN)}`);
    log(`${masters} masters, run ${i + 1}/${runs}: floor after the fence`);
    const g = (await floorCycle(lab.layout, { fenceFirst: { healthTimeoutMs } })).failover;
    ff.push(g);
    if (g.error) errors.push(`run ${i + 1}: fenced floor: ${g.error}`);
    log(`  floor after the fence ${ms(g.ttrMs ?? NaN)}`);
    if (inventory) {
      log(`${masters} masters, run ${i + 1}/${runs}: ansible-playbook`);
      const c = ansibleCommand(inventory, inventoryDir);
      const a = await commandCycle(lab.layout, c.cmd, c.args, c.env);
      an.push(a);
      if (a.error) errors.push(`run ${i + 1}: ${a.error}`);
      log(`  ansible ${ms(a.ttrMs ?? NaN)} (wall ${ms(a.wallMs)})`);
    }
  }
  await labDown({ dir });
  const dFo = collect(fo, 'ttrMs');
  const floor = collect(fl, 'ttrMs');
  const fencedFloor = collect(ff, 'ttrMs');
  const ans = inventory ? collect(an, 'ttrMs') : null;
  return {
    masters,
    runs,
    dcfail: {
      failover: dFo,
      failback: collect(fb, 'ttrMs'),
      failoverWall: collect(fo, 'wallMs'),
      failbackWall: collect(fb, 'wallMs'),
      preConfirm: collect(fo, 'preConfirmMs'),
      selfReported: collect(fo, 'selfReportedMs'),
      stepsMs: stepFigures(fo),
    },
    floor: { failover: floor, wall: collect(fl, 'wallMs'), failback: collect(flb, 'ttrMs') },
    fencedFloor: { failover: fencedFloor },
    ansible: ans ? { failover: ans, wall: collect(an, 'wallMs') } : { skipped: ansibleMissing ?? 'not run' },
    ratios: {
      overheadMs: Math.round(dFo.median - floor.median),
      failbackOverheadMs: Math.round(collect(fb, 'ttrMs').median - collect(flb, 'ttrMs').median),
      overheadAfterFenceMs: Math.round(dFo.median - fencedFloor.median),
      dcfailOverFloor: ratio(dFo.median, floor.median),
      dcfailOverAnsible: ans ? ratio(dFo.median, ans.median) : null,
    },
    errors,
  };
}

function goal(ok: boolean): string {
  return ok ? 'met' : 'MISSED';
}

function render(r: { startup?: StartupFigures; fanout?: FanoutFigures; lab: LabFigures[] }): string {
  const out: string[] = [];
  const row = (a: string, b: string, c = '') => out.push(`${a.padEnd(46)}${b.padEnd(34)}${c}`);
  out.push('', 'dcfail benchmark: median (min..max)', '');
  for (const l of r.lab) {
    out.push(`== lab, ${l.masters} masters, ${l.runs} runs: time to recovery, seen by the independent poller ==`);
    row('dcfail failover (from confirmation)', fmtFigure(l.dcfail.failover));
    row('  loss certificate etc. (start to confirmation)', fmtFigure(l.dcfail.preConfirm));
    row('  dcfail failover, whole command', fmtFigure(l.dcfail.failoverWall));
    row("  dcfail's own figure (journal)", fmtFigure(l.dcfail.selfReported));
    row('dcfail failback (from confirmation)', fmtFigure(l.dcfail.failback));
    row('  dcfail failback, whole command', fmtFigure(l.dcfail.failbackWall));
    row('floor failover (by hand, in parallel)', fmtFigure(l.floor.failover));
    row('floor failback (by hand, in parallel)', fmtFigure(l.floor.failback));
    if ('skipped' in l.ansible) row('ansible-playbook failover', `skipped: ${l.ansible.skipped}`);
    else {
      row('ansible-playbook failover (from spawn)', fmtFigure(l.ansible.failover));
      row('  ansible-playbook, whole command', fmtFigure(l.ansible.wall));
    }
    row(
      'dcfail - floor (orchestration overhead)',
      ms(l.ratios.overheadMs),
      l.masters === 3 ? `goal <= 1 s: ${goal(l.ratios.overheadMs <= 1000)}` : '',
    );
    row('dcfail / floor', String(l.ratios.dcfailOverFloor));
    row('dcfail failback - floor failback', ms(l.ratios.failbackOverheadMs));
    row('floor after the fence (fence hook + its check first)', fmtFigure(l.fencedFloor.failover));
    row(
      "dcfail - floor after the fence (dcfail's own)",
      ms(l.ratios.overheadAfterFenceMs),
      'what dcfail adds beyond a fenced runbook',
    );
    row(
      'dcfail / ansible',
      l.ratios.dcfailOverAnsible === null ? '-' : String(l.ratios.dcfailOverAnsible),
      l.ratios.dcfailOverAnsible === null ? '' : `goal <= 0.5: ${goal(l.ratios.dcfailOverAnsible <= 0.5)}`,
    );
    out.push('  failover steps (median ms of each group, slowest node):');
    for (const [k, f] of Object.entries(l.dcfail.stepsMs)) out.push(`    ${k.padEnd(42)}${fmtFigure(f)}`);
    for (const e of l.errors) out.push(`  error: ${e}`);
    out.push('');
  }
  if (r.startup) {
    const s = r.startup;
    out.push('== start-up and planning (whole process) ==');
    row('node -e 0', fmtFigure(s.nodeBare));
    const v = ratio(s.version.median, s.nodeBare.median);
    row('dcfail --version', fmtFigure(s.version), `${v}x bare node, goal <= 2x: ${goal(v <= 2)}`);
    const sizes = Object.keys(s.plan);
    for (const n of sizes) {
      const x = ratio(s.plan[n]!.median, s.nodeBare.median);
      row(
        `plan failover --offline, ${n} nodes`,
        fmtFigure(s.plan[n]),
        `${x}x bare node${n === '50' ? `, goal < 3x: ${goal(x < 3)}` : ''}`,
      );
    }
    const growth = planGrowth(s);
    if (growth)
      out.push(
        `  planning above start-up per node: ${growth.perNode3to50.toFixed(2)} ms/node (3->50), ${growth.perNode50to500.toFixed(2)} ms/node (50->500): ${growth.linear ? 'no worse than linear' : 'WORSE than linear'}`,
      );
    out.push('');
  }
  if (r.fanout) {
    const f = r.fanout;
    out.push('== fan-out: dcfail status over sshd-only nodes (whole process) ==');
    for (const n of Object.keys(f.status)) {
      const x = ratio(f.status[n]!.median, f.status['1']!.median);
      row(
        `status, ${n} node(s)`,
        fmtFigure(f.status[n]),
        n === '1' ? '' : `${x}x one node${n === '20' ? `, goal <= 1.5x: ${goal(x <= 1.5)}` : ''}`,
      );
    }
    for (const n of Object.keys(f.transport)) {
      const x = ratio(f.transport[n]!.median, f.transport['1']!.median);
      row(`transport: openAll + exec, ${n} node(s)`, fmtFigure(f.transport[n]), n === '1' ? '' : `${x}x one node`);
    }
    out.push('');
  }
  return out.join('\n');
}

function planGrowth(s: StartupFigures): { perNode3to50: number; perNode50to500: number; linear: boolean } | null {
  const a = s.plan['3'];
  const b = s.plan['50'];
  const c = s.plan['500'];
  if (!a || !b || !c) return null;
  const perNode3to50 = (b.median - a.median) / 47;
  const perNode50to500 = (c.median - b.median) / 450;
  // Linear or better: the cost of a node does not grow with the size (within noise: 1.5x, 0.2 ms).
  return { perNode3to50, perNode50to500, linear: perNode50to500 <= Math.max(perNode3to50 * 1.5, perNode3to50 + 0.2) };
}

async function main(): Promise<void> {
  const args = parseArgs(process.argv.slice(2));
  if (process.getuid?.() !== 0)
    throw new Error('the bench runs the machines lab and sshds on 127.3.30.x port 22: run it as root');
  const fastRuns = args.runs ?? (args.quick ? 3 : 5);
  const labRuns = args.runs ?? (args.quick ? 1 : 3);
  const sizes: MasterCount[] = args.quick ? [3] : [3, 5];
  const tmp = await mkdtemp(`${tmpdir()}/dcfail-bench-`);
  // sshd reads the fan-out nodes' authorized_keys as the login user: the path to it must be searchable.
  await chmod(tmp, 0o755);
  const results: { startup?: StartupFigures; fanout?: FanoutFigures; lab: LabFigures[] } = { lab: [] };
  try {
    if (args.only.has('startup')) {
      log(`start-up and planning, ${fastRuns} runs each`);
      results.startup = await measureStartup(`${tmp}/topologies`, fastRuns, [3, 50, 500]);
    }
    if (args.only.has('fanout')) {
      log(`fan-out, ${fastRuns} runs each (sshd-only nodes on loopback)`);
      results.fanout = await measureFanout(`${tmp}/fanout`, [1, 5, 20], fastRuns);
    }
    if (args.only.has('lab')) {
      const ansibleMissing = await ensureAnsible(log);
      if (ansibleMissing) log(`Ansible comparison skipped: ${ansibleMissing}`);
      for (const m of sizes) results.lab.push(await labBench(m, labRuns, tmp, ansibleMissing));
    }
  } finally {
    await labDown({ dir: `${REPO}/.lab-bench` }).catch(() => undefined);
    await rm(tmp, { recursive: true, force: true }).catch(() => undefined);
  }
  process.stdout.write(`${render(results)}\n`);
  const commit = (() => {
    try {
      return execFileSync('git', ['-C', REPO, 'rev-parse', 'HEAD'], { encoding: 'utf8' }).trim();
    } catch {
      return 'unknown';
    }
  })();
  const growth = results.startup ? planGrowth(results.startup) : null;
  const doc = {
    date: new Date().toISOString(),
    commit,
    machine: {
      host: hostname(),
      cpus: cpus().length,
      cpu: cpus()[0]?.model ?? '?',
      memGiB: Math.round(totalmem() / 2 ** 30),
      node: process.version,
    },
    args: { quick: args.quick, runs: args.runs ?? null, only: [...args.only] },
    lab: results.lab,
    startup: results.startup ?? null,
    fanout: results.fanout ?? null,
    ratios: {
      ...Object.fromEntries(
        results.lab.flatMap((l) => [
          [`overheadMs.${l.masters}`, l.ratios.overheadMs],
          [`failbackOverheadMs.${l.masters}`, l.ratios.failbackOverheadMs],
          [`overheadAfterFenceMs.${l.masters}`, l.ratios.overheadAfterFenceMs],
          [`dcfailOverFloor.${l.masters}`, l.ratios.dcfailOverFloor],
          [`dcfailOverAnsible.${l.masters}`, l.ratios.dcfailOverAnsible],
        ]),
      ),
      ...(results.startup
        ? {
            versionOverNode: ratio(results.startup.version.median, results.startup.nodeBare.median),
            ...Object.fromEntries(
              Object.entries(results.startup.plan).map(([n, f]) => [
                `plan${n}OverNode`,
                ratio(f.median, results.startup!.nodeBare.median),
              ]),
            ),
            planLinear: growth?.linear ?? null,
          }
        : {}),
      ...(results.fanout
        ? {
            status20OverStatus1: ratio(results.fanout.status['20']!.median, results.fanout.status['1']!.median),
            transport20OverTransport1: ratio(
              results.fanout.transport['20']!.median,
              results.fanout.transport['1']!.median,
            ),
          }
        : {}),
    },
  };
  await mkdir(`${REPO}/bench/results`, { recursive: true });
  await writeFile(`${REPO}/bench/results/latest.json.tmp`, `${JSON.stringify(doc, null, 2)}\n`);
  await writeFile(`${REPO}/bench/results/latest.json`, `${JSON.stringify(doc, null, 2)}\n`);
  await rm(`${REPO}/bench/results/latest.json.tmp`, { force: true });
  log(`written ${REPO}/bench/results/latest.json`);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`bench failed: ${(err as Error).stack ?? String(err)}\n`);
    process.exit(1);
  },
);
