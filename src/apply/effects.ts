/**
 * What the executor does for each step and each check, on the nodes (through the Remote
 * interface) and against the live clusters (probes). The generic steps (files, units, paths,
 * fences) are here; each component's own kinds are in components/<name>/effects.ts, and the
 * tables below must cover every kind of the step and check unions. Every action is idempotent:
 * it looks first and does nothing when its effect is already there, so a re-run after a crash
 * is safe.
 */
import { dirname, resolve } from 'node:path';
import { OperationError, RefusedError } from '../errors.js';
import { runHook } from './hooks.js';
import { applyEnvChanges, envHolds, parseEnvFile, parseValueFile, renderValueFile } from '../core/env-file.js';
import { MASTER_COUNT_KEY } from '../components/zookeeper/settings.js';
import { CLUSTERS } from '../core/clusters.js';
import { portOf } from '../observe/observe.js';
import { etcdCheckEffects, etcdStepEffects } from '../components/etcd/effects.js';
import { mesosCheckEffects, mesosStepEffects } from '../components/mesos/effects.js';
import { zookeeperCheckEffects } from '../components/zookeeper/effects.js';
import { probeTcp } from '../probes/tcp.js';
import { quote } from '../remote/shell.js';
import type { Check, ComponentCheck, ComponentStep, Step } from '../plan/plan.js';
import type { Effects } from './executor.js';
import { holdOf, holdUnit, liftHold, readHold, startUnit } from './units.js';
import {
  checkTimeoutOf,
  mustRun,
  NotYet,
  remoteOf,
  safeName,
  serviceCommand,
  serviceTimeoutsOf,
  type CheckEffects,
  type EffectContext,
  type StepEffects,
} from './effect-kit.js';

export type { EffectContext } from './effect-kit.js';

const componentSteps = { ...mesosStepEffects, ...etcdStepEffects } satisfies StepEffects<ComponentStep>;
const componentChecks = {
  ...zookeeperCheckEffects,
  ...mesosCheckEffects,
  ...etcdCheckEffects,
} satisfies CheckEffects<ComponentCheck>;

function performComponentStep(ctx: EffectContext, step: ComponentStep): Promise<string> {
  const run = componentSteps[step.action] as (ctx: EffectContext, step: ComponentStep) => Promise<string>;
  return run(ctx, step);
}

function checkComponent(ctx: EffectContext, nodeName: string | null, check: ComponentCheck): Promise<void> {
  const run = componentChecks[check.kind] as (ctx: EffectContext, n: string | null, c: ComponentCheck) => Promise<void>;
  return run(ctx, nodeName, check);
}

/** Runs one change step. Returns a short description of what it did (or that it was done). */
async function performStep(ctx: EffectContext, step: Step): Promise<string> {
  const timeoutMs = ctx.commandTimeoutMs;
  switch (step.action) {
    case 'fence': {
      // The command is the topology's, never the plan's: a saved plan is not trusted to name what runs.
      const command = ctx.topology.hooks.fence?.[step.dc];
      if (!command) throw new OperationError('fence-failed', `the topology declares no fence hook for ${step.dc}`);
      const r = await runHook(
        `fence (${step.dc})`,
        command,
        ctx.topologyDir,
        ctx.hookEnv,
        timeoutMs * 6,
        ctx.topology.hooks.env,
      );
      if (r.exitCode !== 0)
        throw new OperationError(
          'fence-failed',
          `fence hook for ${step.dc} failed (exit ${r.exitCode}): ${r.output ?? ''}`,
        );
      return `fence hook exited 0`;
    }
    case 'edit-file': {
      const { remote } = await remoteOf(ctx, step.node!);
      const text = await remote.readFile(step.file);
      if (text === null) throw new OperationError('file-missing', `${step.node}: ${step.file} does not exist`);
      const next =
        step.format === 'value'
          ? renderValueFile(step.changes[MASTER_COUNT_KEY] ?? parseValueFile(text))
          : applyEnvChanges(text, step.changes);
      const w = await remote.writeFileAtomic(step.file, next, {
        backupDir: `${ctx.backupRootOf(step.node!)}/${safeName(step.id)}`,
      });
      if (w.backup) ctx.note(`backup:${step.node}:${step.file}`, w.backup);
      return w.changed ? `written (backup ${w.backup ?? 'none'})` : 'already held these settings';
    }
    case 'start':
    case 'stop':
    case 'restart':
    case 'disable':
    case 'enable': {
      const { remote, node } = await remoteOf(ctx, step.node!);
      const { commandMs, upMs } = step.cluster
        ? serviceTimeoutsOf(ctx, node, step.cluster)
        : { commandMs: timeoutMs, upMs: ctx.verifyTimeoutMs ?? 60_000 };
      switch (step.action) {
        case 'disable':
          // The quarantine: a hold (flag + drop-in, both surviving a reboot), then a stop.
          return holdUnit(remote, node, step.unit, commandMs);
        case 'enable':
          await liftHold(remote, node, step.unit, commandMs);
          return `hold of ${step.unit} lifted`;
        case 'stop':
          await mustRun(remote, node, serviceCommand(node, 'stop', step.unit), commandMs, `stop ${step.unit}`);
          return `stop ${step.unit}: ok`;
        case 'start':
        case 'restart':
          // Only the step that starts a held unit lifts its hold, right before the start.
          if (step.enableFirst) await liftHold(remote, node, step.unit, commandMs);
          return startUnit(remote, node, step.action, step.unit, commandMs, upMs);
      }
      break;
    }
    case 'move-aside': {
      const { remote, node } = await remoteOf(ctx, step.node!);
      const backup = `${step.path}.dcfail-${ctx.runId}`;
      const out = await mustRun(
        remote,
        node,
        `if [ -e ${quote(step.path)} ]; then if [ -e ${quote(backup)} ]; then echo exists; exit 1; fi; mv ${quote(step.path)} ${quote(backup)} && echo moved; else echo absent; fi`,
        timeoutMs,
        `move ${step.path} aside`,
      );
      if (out.includes('moved')) ctx.note(`moved:${step.node}:${step.path}`, backup);
      return out.includes('moved') ? `moved to ${backup}` : 'already moved aside';
    }
    case 'verify':
      await checkOnce(ctx, step.node, step.check);
      return 'holds';
    default:
      // The components' own kinds: their tables cover them (satisfies, above).
      return performComponentStep(ctx, step);
  }
}

/** One evaluation of a check: resolves when it holds, throws NotYet (with what was seen) when not. */
async function checkOnce(ctx: EffectContext, nodeName: string | null, check: Check): Promise<void> {
  const t = ctx.topology;
  const timeoutMs = checkTimeoutOf(ctx);
  switch (check.kind) {
    case 'file': {
      const { remote } = await remoteOf(ctx, nodeName!);
      const text = await remote.readFile(check.file);
      if (text === null) throw new NotYet(`${check.file} is missing`);
      const ok =
        MASTER_COUNT_KEY in check.changes
          ? parseValueFile(text) === check.changes[MASTER_COUNT_KEY]
          : envHolds(parseEnvFile(text), check.changes);
      if (!ok) throw new NotYet(`${check.file} does not hold ${JSON.stringify(check.changes)}`);
      return;
    }
    case 'stopped': {
      const { remote, node } = await remoteOf(ctx, nodeName!);
      const r = await remote.exec(serviceCommand(node, 'isActive', check.unit), { timeoutMs });
      if (r.exitCode === 0) throw new NotYet(`${check.unit} still runs on ${node.name}`);
      return;
    }
    case 'held': {
      const { remote, node } = await remoteOf(ctx, nodeName!);
      const h = await readHold(remote, node, check.unit, timeoutMs);
      const missing = [h.active ? 'still runs' : '', h.flag ? '' : 'no hold flag', h.dropIn ? '' : 'no hold drop-in'];
      if (h.active || !h.flag || !h.dropIn)
        throw new NotYet(`${check.unit} on ${node.name}: ${missing.filter((m) => m !== '').join(', ')}`);
      return;
    }
    case 'moved': {
      const { remote } = await remoteOf(ctx, nodeName!);
      const r = await remote.exec(`test -e ${quote(check.path)}`, { timeoutMs });
      if (r.exitCode === 0) throw new NotYet(`${check.path} still exists`);
      return;
    }
    case 'dc-down': {
      const nodes = t.nodes.filter((n) => n.dc === check.dc);
      const open: string[] = [];
      await Promise.all(
        nodes.flatMap((n) =>
          [n.ssh.port, ...CLUSTERS.filter((c) => n.roles.includes(c)).map((c) => portOf(n, c))].map(async (p) => {
            if ((await probeTcp(n.address, p, t.health.timeoutMs)).kind === 'open') open.push(`${n.name}:${p}`);
          }),
        ),
      );
      if (open.length > 0) throw new NotYet(`${check.dc} still answers on ${open.join(', ')}`);
      return;
    }
    case 'survivors-up':
      return survivorsUp(ctx, check.dc);
    default:
      return checkComponent(ctx, nodeName, check);
  }
}

/**
 * After the fence: every node of the surviving DC answers SSH and none of its units is held (its
 * hold flag, the quarantine's and the guard's) or masked. Such a survivor means the fence hook hit
 * the wrong DC: final (no retry), a refusal mid-run. A hold or a mask does not stop a running unit,
 * so "active" alone would not show it.
 */
async function survivorsUp(ctx: EffectContext, dc: string): Promise<void> {
  const t = ctx.topology;
  const timeoutMs = checkTimeoutOf(ctx);
  const lostDc = t.nodes.find((n) => n.dc !== dc)?.dc ?? '?';
  const fenced: string[] = [];
  const unreachable: string[] = [];
  await Promise.all(
    t.nodes
      .filter((n) => n.dc === dc && n.roles.length > 0)
      .map(async (n) => {
        let remote;
        try {
          ({ remote } = await remoteOf(ctx, n.name));
        } catch (err) {
          unreachable.push(`${n.name} (${(err as Error).message})`);
          return;
        }
        const units: string[] = [];
        for (const c of CLUSTERS.filter((x) => n.roles.includes(x))) {
          const unit = n.services[c].unit;
          const flag = await remote.exec(`test -e ${quote(holdOf(n, unit).flag)}`, { timeoutMs });
          if (flag.exitCode === 0) {
            units.push(`${unit} held`);
            continue;
          }
          const r = await remote.exec(serviceCommand(n, 'isEnabled', unit), { timeoutMs });
          if (/^masked/m.test(r.stdout.trim())) units.push(`${unit} masked`);
        }
        if (units.length > 0) fenced.push(`${n.name} ${units.join(', ')}`);
      }),
  );
  if (fenced.length > 0)
    throw new RefusedError(
      'survivors-fenced',
      `the fence hook for ${lostDc} hit the survivors: ${fenced.join('; ')}${unreachable.length > 0 ? `, ${unreachable.join(', ')} unreachable` : ''}. Nothing after the fence was done; check hooks.fence.${lostDc}, then lift the holds (remove the hold.<unit> flags under <stateDir>/guard) or unmask the units`,
    );
  // Unreachable (a fence that powered a survivor off, or a blip): retried until the verification budget runs out.
  if (unreachable.length > 0) throw new NotYet(`survivors of ${dc} do not answer SSH: ${unreachable.join(', ')}`);
}

/** Polls a check until it holds or the budget runs out (every 50 ms: a check takes a few ms on a healthy cluster); the last NotYet says what was seen. */
async function verifyWithin(
  ctx: EffectContext,
  nodeName: string | null,
  check: Check,
  budgetMs: number,
  pollMs = 50,
): Promise<void> {
  const end = Date.now() + budgetMs;
  for (;;) {
    if (ctx.abandon?.aborted) throw ctx.abandon.reason;
    try {
      await checkOnce(ctx, nodeName, check);
      return;
    } catch (err) {
      if (!(err instanceof NotYet) && !(err instanceof OperationError)) throw err;
      if (Date.now() + pollMs > end)
        throw new OperationError(
          'verification-failed',
          `verification did not hold within ${budgetMs} ms: ${err.message}`,
        );
    }
    await new Promise((r) => setTimeout(r, pollMs));
  }
}

export function topologyDirOf(file: string): string {
  return dirname(resolve(file));
}

/** The executor's effects on the real nodes and clusters of `ctx`. */
export function nodeEffects(ctx: EffectContext): Effects {
  return {
    perform: (step) => performStep(ctx, step),
    verify: (node, check, budgetMs) => verifyWithin(ctx, node, check, budgetMs),
  };
}
