/**
 * `dcfail guard install | status | hold <dc> | lift <dc>`: the return guard on every master
 * (src/guard/README.md). Install and hold/lift change the nodes: confirmed on a terminal (the
 * cluster's or the DC's name typed) or with --yes; each node's outcome is reported, and the
 * command exits 1 when one was not done.
 */
import { EXIT, type ExitCode, UserError } from '../errors.js';
import { GUARD_SCRIPT } from '../guard/script.js';
import { guardInstall, holdCommand, renderInstallScript } from '../guard/render.js';
import {
  type GuardNodeReport,
  type GuardNodeState,
  guardProblems,
  inspectScript,
  parseInspection,
} from '../guard/inspect.js';
import { guardSpecOf, guardStateDirOf, guardedNodes, guardedUnits } from '../guard/spec.js';
import { quote } from '../remote/shell.js';
import { RemotePool } from '../remote/ssh.js';
import type { Remotes } from '../remote/types.js';
import { loadTopology } from '../topology/load.js';
import { type Topology, type TopologyNode, resolveDc } from '../topology/model.js';
import type { GlobalOptions } from './options.js';
import type { Io } from '../views/io.js';
import { guardStatusLines } from '../views/guard.js';

export interface GuardOptions extends GlobalOptions {
  yes?: boolean;
}

function declared(t: Topology): NonNullable<Topology['guard']> {
  if (!t.guard)
    throw new UserError(
      'no-guard',
      `the topology declares no guard: add \`guard: {}\` (whenUnsure: start) or \`guard: { whenUnsure: wait }\` first, so that preflight checks it and failover and failback publish their state to it`,
    );
  return t.guard;
}

async function confirmTyped(io: Io, opts: GuardOptions, question: string, expected: string): Promise<void> {
  if (opts.yes) return;
  if (!io.isTTY || !io.ask)
    throw new UserError('no-tty', `this changes the nodes: confirm on a terminal, or pass --yes`);
  const answer = (await io.ask(`${question} Type ${expected} to go on: `)).trim();
  if (answer !== expected)
    throw new UserError('not-confirmed', `not confirmed (typed ${JSON.stringify(answer)}): nothing was changed`);
}

interface NodeOutcome {
  node: string;
  ok: boolean;
  detail: string;
}

async function onEach(
  pool: Remotes,
  nodes: readonly TopologyNode[],
  act: (n: TopologyNode) => Promise<string>,
): Promise<NodeOutcome[]> {
  return Promise.all(
    nodes.map(async (n) => {
      try {
        return { node: n.name, ok: true, detail: await act(n) };
      } catch (err) {
        return { node: n.name, ok: false, detail: (err as Error).message };
      }
    }),
  );
}

async function rootSh(pool: Remotes, n: TopologyNode, script: string, timeoutMs = 60_000): Promise<string> {
  const remote = await pool.get(n);
  const r = await remote.exec('sh -s', { sudo: true, stdin: script, timeoutMs, maxOutputBytes: 1024 * 1024 });
  if (r.exitCode !== 0)
    throw new Error(
      `${r.timedOut ? 'timed out' : `exit ${r.exitCode ?? r.signal}`}: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' / ')}`,
    );
  return r.stdout;
}

function outcomeLines(title: string, outcomes: readonly NodeOutcome[]): string[] {
  return [title, ...outcomes.map((o) => `  ${o.ok ? 'ok  ' : 'FAIL'} ${o.node}: ${o.detail}`)];
}

function finish(io: Io, opts: GuardOptions, what: string, outcomes: readonly NodeOutcome[], text: string[]): ExitCode {
  const ok = outcomes.every((o) => o.ok);
  io.out(opts.json ? JSON.stringify({ command: what, ok, nodes: outcomes }, null, 2) : text.join('\n'));
  return ok ? EXIT.ok : EXIT.failed;
}

export async function guardInstallCommand(opts: GuardOptions, io: Io): Promise<ExitCode> {
  const t = await loadTopology(opts.topology);
  const g = declared(t);
  const nodes = guardedNodes(t);
  // Rendered (and checked) for every node before anything is touched.
  // The check may run as a unit's own user: dcfail's state dir (0700 when a lock made it) must be
  // traversable (not listable) for it to see the hold files and the failover state below it.
  const scripts = new Map(
    nodes.map((n) => [
      n.name,
      `mkdir -p ${quote(n.services.dcfail.stateDir)} && chmod go+x ${quote(n.services.dcfail.stateDir)}\n${renderInstallScript(guardInstall(guardSpecOf(t, n), GUARD_SCRIPT))}`,
    ]),
  );
  await confirmTyped(
    io,
    opts,
    `Install the return guard (whenUnsure: ${g.whenUnsure}) in front of the quorum units of ${nodes.length} masters of ${t.cluster}.`,
    t.cluster,
  );
  const pool = new RemotePool();
  try {
    const outcomes = await onEach(pool, nodes, async (n) => {
      const out = (await rootSh(pool, n, scripts.get(n.name)!)).trim().split('\n').filter(Boolean);
      const changed = out.filter((l) => l.startsWith('changed ')).length;
      return changed === 0 ? 'unchanged' : `${changed} file${changed === 1 ? '' : 's'} written`;
    });
    return finish(io, opts, 'guard install', outcomes, outcomeLines(`Return guard on ${t.cluster}:`, outcomes));
  } finally {
    await pool.closeAll();
  }
}

/** The guard of every master as it is now; exit 0 only when each one is installed, current and agrees with the topology. */
export async function guardStatusCommand(opts: GuardOptions, io: Io): Promise<ExitCode> {
  const t = await loadTopology(opts.topology);
  const pool = new RemotePool();
  try {
    const reports = await inspectGuards(t, pool, { verdict: true });
    const ok = reports.every((r) => r.state !== null && r.problems.length === 0);
    io.out(
      opts.json
        ? JSON.stringify({ declared: t.guard ?? null, ok, nodes: reports }, null, 2)
        : guardStatusLines(t, reports).join('\n'),
    );
    return ok ? EXIT.ok : EXIT.failed;
  } finally {
    await pool.closeAll();
  }
}

/** Every master's guard, read (not changed); a node that cannot be read has `state: null` and why. */
export async function inspectGuards(
  t: Topology,
  pool: Remotes,
  opts: { verdict: boolean },
): Promise<GuardNodeReport[]> {
  return Promise.all(
    guardedNodes(t).map(async (n): Promise<GuardNodeReport> => {
      const spec = guardSpecOf(t, n);
      try {
        const state: GuardNodeState = parseInspection(
          n.name,
          spec,
          await rootSh(pool, n, inspectScript(spec, opts), 45_000),
        );
        return { node: n.name, dc: n.dc, state, problems: guardProblems(state, spec) };
      } catch (err) {
        return { node: n.name, dc: n.dc, state: null, problems: [`not read: ${(err as Error).message}`] };
      }
    }),
  );
}

/**
 * Holds (or lifts) every guarded unit of a DC's masters: a held unit stays down at its next start
 * (boot, restart, systemctl start). `--stop` stops the units too. Lifting removes the DC-wide hold
 * only: a failback's per-unit quarantine is lifted by the failback as it starts each unit.
 */
export async function guardHoldCommand(
  op: 'hold' | 'lift',
  dcArg: string,
  opts: GuardOptions & { stop?: boolean },
  io: Io,
): Promise<ExitCode> {
  const t = await loadTopology(opts.topology);
  declared(t);
  const dc = resolveDc(t, dcArg, op);
  const nodes = guardedNodes(t).filter((n) => n.dc === dc);
  await confirmTyped(
    io,
    opts,
    op === 'hold'
      ? `Hold the quorum units of ${dc} (${nodes.map((n) => n.name).join(', ')}) down at their next start${opts.stop ? ', and stop them now' : ''}.`
      : `Lift the hold on ${dc} (${nodes.map((n) => n.name).join(', ')}): their units start again when started (the guard still checks the other DC).`,
    dc,
  );
  const pool = new RemotePool();
  try {
    const outcomes = await onEach(pool, nodes, async (n) => {
      const units = guardedUnits(n).map((u) => u.unit);
      const script = [
        holdCommand(op, undefined, { stateDir: guardStateDirOf(n) }),
        ...(op === 'hold' && opts.stop ? [`systemctl stop ${units.map(quote).join(' ')}`] : []),
        // What is left (the guard itself, per-unit holds of a failback): said, not changed.
        `[ -x /opt/dcfail/guard/dcfail-guard.sh ] || echo "no-guard"`,
        `ls ${quote(guardStateDirOf(n))} 2>/dev/null | grep -E '^hold\\.' | head -n 20 | sed 's/^/unit-hold /'`,
      ].join('\n');
      const out = (await rootSh(pool, n, script)).split('\n');
      const notes: string[] = [];
      if (out.includes('no-guard'))
        notes.push(
          op === 'hold'
            ? 'NO GUARD INSTALLED: the hold does nothing here (dcfail guard install)'
            : 'no guard installed',
        );
      const unitHolds = out.filter((l) => /^unit-hold hold\.[A-Za-z0-9@._:-]+$/.test(l)).map((l) => l.slice(15));
      if (op === 'lift' && unitHolds.length > 0)
        notes.push(
          `still held by a failback's quarantine: ${unitHolds.join(', ')} (dcfail failback lifts each as it starts it)`,
        );
      if (op === 'hold' && out.includes('no-guard'))
        throw new Error([opts.stop ? 'hold written and units stopped' : 'hold written', ...notes].join('; '));
      return [op === 'hold' ? (opts.stop ? 'held and stopped' : 'held') : 'lifted', ...notes].join('; ');
    });
    return finish(
      io,
      opts,
      `guard ${op}`,
      outcomes,
      outcomeLines(`${op === 'hold' ? 'Hold' : 'Lift'} ${dc}:`, outcomes),
    );
  } finally {
    await pool.closeAll();
  }
}
