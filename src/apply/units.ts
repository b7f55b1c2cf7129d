/**
 * Units on a node: starts that wait for what the service really does, and the hold (the
 * failback's quarantine). Through the topology's command templates (systemctl on DC/OS, or the
 * service manager the topology names).
 *
 * The hold of a unit is two files and a reload: the flag `<stateDir>/guard/hold.<unit>` (the
 * return guard's hold, so one flag means "held" for both) and the drop-in
 * `<systemdDir>/<unit>.service.d/dcfail-hold.conf` with `ConditionPathExists=!<flag>`, then the
 * unit stopped. `systemctl mask` cannot do it on DC/OS (its unit files are regular files in
 * /etc/systemd/system: mask fails; a runtime mask is outranked and gone at reboot). Lifting
 * removes the flag only, right before the start: the drop-in stays, inert without its flag, so a
 * later hold needs no daemon-reload and nothing else of the unit changes.
 */
import { dirname } from 'node:path';
import { OperationError } from '../errors.js';
import { judgeStart, parseUnitShow, type UnitState } from '../core/unit-state.js';
import { holdPathsOf, renderHoldDropIn, type HoldPaths } from '../guard/render.js';
import { guardStateDirOf } from '../guard/spec.js';
import { quote } from '../remote/shell.js';
import type { Remote } from '../remote/types.js';
import type { TopologyNode } from '../topology/model.js';
import { mustRun, serviceCommand } from './effect-kit.js';

export function holdOf(node: TopologyNode, unit: string): HoldPaths {
  return holdPathsOf(unit, guardStateDirOf(node), node.services.dcfail.systemdDir);
}

const FLAG_TEXT = 'held by dcfail: this unit does not start while this file exists (failback quarantine)\n';

/**
 * Holds and stops a unit: flag, drop-in (written atomically, read back), a reload when the
 * drop-in changed, then a stop (which also cancels a pending automatic restart). Idempotent.
 */
export async function holdUnit(remote: Remote, node: TopologyNode, unit: string, timeoutMs: number): Promise<string> {
  const p = holdOf(node, unit);
  // 0755: the guard's check reads the flag as the unit's user.
  await mustRun(
    remote,
    node,
    `(umask 022 && mkdir -p -- ${quote(dirname(p.flag))} ${quote(dirname(p.dropIn))})`,
    timeoutMs,
    `create the directories of ${unit}'s hold`,
  );
  await remote.writeFileAtomic(p.flag, FLAG_TEXT);
  const d = await remote.writeFileAtomic(p.dropIn, renderHoldDropIn(p));
  if (d.changed) await mustRun(remote, node, serviceCommand(node, 'reload', unit), timeoutMs, 'daemon-reload');
  await mustRun(remote, node, serviceCommand(node, 'stop', unit), timeoutMs, `stop ${unit}`);
  return `held (${p.flag}, ${p.dropIn}${d.changed ? ', reloaded' : ''}) and stopped`;
}

/** The hold as read back: the flag, the drop-in holding exactly its text, and whether the unit runs. */
export async function readHold(
  remote: Remote,
  node: TopologyNode,
  unit: string,
  timeoutMs: number,
): Promise<{ flag: boolean; dropIn: boolean; active: boolean }> {
  const p = holdOf(node, unit);
  const [flag, dropIn, active] = await Promise.all([
    remote.readFile(p.flag),
    remote.readFile(p.dropIn),
    remote.exec(serviceCommand(node, 'isActive', unit), { timeoutMs }),
  ]);
  return { flag: flag !== null, dropIn: dropIn === renderHoldDropIn(p), active: active.exitCode === 0 };
}

/** Removes the unit's flag (the drop-in stays, inert). */
export async function liftHold(remote: Remote, node: TopologyNode, unit: string, timeoutMs: number): Promise<void> {
  await mustRun(remote, node, `rm -f -- ${quote(holdOf(node, unit).flag)}`, timeoutMs, `lift the hold of ${unit}`);
}

async function unitState(remote: Remote, node: TopologyNode, unit: string, timeoutMs: number): Promise<UnitState> {
  const r = await remote.exec(serviceCommand(node, 'show', unit), { timeoutMs });
  return parseUnitShow(r.stdout);
}

function why(
  r: { exitCode: number | null; signal: string | null; timedOut: boolean; stdout: string; stderr: string },
  ms: number,
): string {
  return r.timedOut
    ? `timed out after ${ms} ms`
    : `exit ${r.exitCode ?? r.signal}: ${(r.stderr || r.stdout).trim().split('\n').slice(-2).join(' / ')}`;
}

/**
 * Starts (or restarts) a unit and judges it as DC/OS runs it: a start systemd refuses outright
 * (no such unit, masked, a failed condition) fails at once; a start that failed otherwise (the
 * Mesos pre-start check, a command that outlived `commandMs`) is not a failure if the unit comes
 * up by itself (systemd's retry) within `upMs`.
 */
export async function startUnit(
  remote: Remote,
  node: TopologyNode,
  op: 'start' | 'restart',
  unit: string,
  commandMs: number,
  upMs: number,
  pollMs = 1000,
): Promise<string> {
  const t0 = Date.now();
  const r = await remote.exec(serviceCommand(node, op, unit), { timeoutMs: commandMs });
  const probeMs = Math.min(commandMs, 10_000);
  let s = await unitState(remote, node, unit, probeMs);
  let v = judgeStart(s);
  if (v.kind === 'refused')
    throw new OperationError(
      'start-refused',
      `${node.name}: systemd does not start ${unit}: ${v.why} (${op}: ${why(r, commandMs)})`,
    );
  if (r.exitCode === 0) return `${op} ${unit}: ok`;
  const first = why(r, commandMs);
  const end = t0 + upMs;
  while (v.kind !== 'up') {
    if (v.kind === 'refused')
      throw new OperationError(
        'start-refused',
        `${node.name}: systemd does not start ${unit}: ${v.why} (first ${op}: ${first})`,
      );
    if (Date.now() + pollMs > end)
      throw new OperationError(
        'step-command-failed',
        `${node.name}: ${op} ${unit} failed (${first}) and it did not come up within ${upMs} ms (last seen ${v.seen})`,
      );
    await new Promise((res) => setTimeout(res, pollMs));
    s = await unitState(remote, node, unit, probeMs);
    v = judgeStart(s);
  }
  return `${op} ${unit}: refused at first (${first}); up after ${Math.round((Date.now() - t0) / 1000)} s (systemd retried it)`;
}
