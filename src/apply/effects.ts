/**
 * What the executor does for each step and each check, on the nodes (through the Remote
 * interface) and against the live clusters (probes). The generic steps (files, units, paths,
 * fences) are here; each component's own kinds are in components/<name>/effects.ts, and the
 * tables below must cover every kind of the step and check unions. Every action is idempotent:
 * it looks first and does nothing when its effect is already there, so a re-run after a crash
 * is safe.
 */
import { execa } from 'execa';
import { dirname, resolve } from 'node:path';
import { OperationError } from '../errors.js';
import { applyEnvChanges, envHolds, parseEnvFile, parseValueFile, renderValueFile } from '../core/env-file.js';
import { MASTER_COUNT_KEY } from '../clusters/exhibitor.js';
import { CLUSTERS } from '../core/clusters.js';
import { portOf } from '../observe/observe.js';
import { replicatedLogPath } from '../clusters/mesos.js';
import { etcdCheckEffects, etcdStepEffects } from '../components/etcd/effects.js';
import { probeMesosMaster } from '../probes/mesos.js';
import { probeTcp } from '../probes/tcp.js';
import { probeZkServer, zkTestWrite } from '../probes/zookeeper.js';
import { quote } from '../remote/shell.js';
import { nodeByName } from '../topology/model.js';
import type { Check, ComponentCheck, ComponentStep, Step } from '../plan/plan.js';
import {
  checkTimeoutOf,
  mustRun,
  NotYet,
  remoteOf,
  safeName,
  serviceCommand,
  type CheckEffects,
  type EffectContext,
  type StepEffects,
} from './effect-kit.js';

export type { EffectContext } from './effect-kit.js';

const componentSteps = { ...etcdStepEffects } satisfies StepEffects<ComponentStep>;
const componentChecks = { ...etcdCheckEffects } satisfies CheckEffects<ComponentCheck>;

function performComponentStep(ctx: EffectContext, step: ComponentStep): Promise<string> {
  const run = componentSteps[step.action] as (ctx: EffectContext, step: ComponentStep) => Promise<string>;
  return run(ctx, step);
}

function checkComponent(ctx: EffectContext, nodeName: string | null, check: ComponentCheck): Promise<void> {
  const run = componentChecks[check.kind] as (ctx: EffectContext, n: string | null, c: ComponentCheck) => Promise<void>;
  return run(ctx, nodeName, check);
}

/** Runs one change step. Returns a short description of what it did (or that it was done). */
export async function performStep(ctx: EffectContext, step: Step): Promise<string> {
  const timeoutMs = ctx.commandTimeoutMs;
  switch (step.action) {
    case 'fence': {
      const [cmd, ...args] = step.command.split(/\s+/);
      const r = await execa(cmd!, args, {
        cwd: ctx.topologyDir,
        env: ctx.hookEnv,
        reject: false,
        timeout: timeoutMs * 6,
      });
      if (r.exitCode !== 0)
        throw new OperationError(
          'fence-failed',
          `fence hook for ${step.dc} failed (exit ${r.exitCode}): ${
            String(r.stderr || r.stdout)
              .trim()
              .split('\n')
              .slice(-1)[0] ?? ''
          }`,
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
      if (step.action === 'disable') {
        // Quarantine: masking does not stop a running unit, so stop it too.
        await mustRun(remote, node, serviceCommand(node, 'disable', step.unit), timeoutMs, `disable ${step.unit}`);
        await mustRun(remote, node, serviceCommand(node, 'stop', step.unit), timeoutMs, `stop ${step.unit}`);
        return 'masked and stopped';
      }
      if (step.action === 'start' && step.enableFirst)
        await mustRun(remote, node, serviceCommand(node, 'enable', step.unit), timeoutMs, `enable ${step.unit}`);
      await mustRun(
        remote,
        node,
        serviceCommand(node, step.action, step.unit),
        timeoutMs,
        `${step.action} ${step.unit}`,
      );
      return `${step.action} ${step.unit}: ok`;
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
    case 'copy-replicated-log': {
      const { remote: src, node: from } = await remoteOf(ctx, step.from);
      const { remote: dst, node: to } = await remoteOf(ctx, step.node!);
      const srcPath = replicatedLogPath(from.services.mesos.workDir);
      const archive = await mustRun(
        src,
        from,
        `tar -C ${quote(srcPath)} -czf - . | base64 -w0`,
        timeoutMs * 6,
        `archive ${srcPath}`,
      );
      const tmp = `${step.path}.dcfail-incoming`;
      await dst.exec(`rm -rf ${quote(tmp)}`, { timeoutMs });
      const r = await dst.exec(
        `set -e; if [ -e ${quote(step.path)} ]; then mv ${quote(step.path)} ${quote(`${step.path}.dcfail-${ctx.runId}-replaced`)}; fi; mkdir -p ${quote(tmp)}; base64 -d | tar -C ${quote(tmp)} -xzf -; sync; mv ${quote(tmp)} ${quote(step.path)}`,
        { timeoutMs: timeoutMs * 6, stdin: archive },
      );
      if (r.exitCode !== 0)
        throw new OperationError('copy-failed', `${to.name}: copying the replicated log failed: ${r.stderr.trim()}`);
      ctx.note(`log-copy:${to.name}`, { from: from.name, bytes: archive.length });
      return `copied ${Math.round((archive.length * 3) / 4 / 1024)} KiB from ${from.name}`;
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
    case 'zookeeper': {
      const servers = check.servers.map((s) => nodeByName(t, s));
      const st = await Promise.all(
        servers.map((n) => probeZkServer(n.address, n.services.exhibitor.zkClientPort, timeoutMs)),
      );
      const modes = st.map((s, i) => `${servers[i]!.name}=${s.mode}`);
      const good =
        check.mode === 'standalone'
          ? st.every((s) => s.mode === 'standalone')
          : st.every((s) => s.mode === 'leader' || s.mode === 'follower') &&
            st.filter((s) => s.mode === 'leader').length === 1;
      if (!good) throw new NotYet(`ZooKeeper modes ${modes.join(', ')} (want ${check.mode})`);
      const connect = servers.map((n) => `${n.address}:${n.services.exhibitor.zkClientPort}`).join(',');
      try {
        await zkTestWrite(connect, `/dcfail/verify-${ctx.runId}`, `${Date.now()}`, Math.max(timeoutMs, 3000));
      } catch (err) {
        throw new NotYet(`ZooKeeper test write failed: ${(err as Error).message}`);
      }
      return;
    }
    case 'zookeeper-waiting': {
      const { remote, node } = await remoteOf(ctx, nodeName!);
      const r = await remote.exec(serviceCommand(node, 'isActive', node.services.exhibitor.unit), { timeoutMs });
      if (r.exitCode !== 0) throw new NotYet(`${node.services.exhibitor.unit} is not running on ${node.name}`);
      const s = await probeZkServer(node.address, node.services.exhibitor.zkClientPort, timeoutMs);
      if (s.mode !== 'not-serving' && s.mode !== 'down')
        throw new NotYet(
          `ZooKeeper on ${node.name} serves (${s.mode}) with an ensemble of one: it did not take the full ensemble`,
        );
      return;
    }
    case 'mesos': {
      const masters = check.masters.map((m) => nodeByName(t, m));
      const st = await Promise.all(masters.map((n) => probeMesosMaster(n.address, n.services.mesos.port, timeoutMs)));
      const leaders = st.map((s, i) => ({ s, n: masters[i]! })).filter((x) => x.s.elected && x.s.recovered);
      if (leaders.length !== 1)
        throw new NotYet(
          `Mesos: ${leaders.length} recovered leaders among ${masters.map((m) => m.name).join(', ')} (${st.map((s, i) => `${masters[i]!.name}=${s.reachable ? (s.elected ? 'elected' : 'follower') : 'down'}`).join(', ')})`,
        );
      const leader = leaders[0]!;
      if (leader.s.quorum !== undefined && leader.s.quorum !== check.quorum)
        throw new NotYet(`Mesos leader ${leader.n.name} runs with quorum ${leader.s.quorum}, want ${check.quorum}`);
      if (ctx.minRegistryVersion !== undefined && (leader.s.registryVersion ?? -1) < ctx.minRegistryVersion) {
        throw new NotYet(
          `Mesos registry version ${leader.s.registryVersion ?? '?'} is older than ${ctx.minRegistryVersion} seen before`,
        );
      }
      return;
    }
    case 'mesos-waiting': {
      const { remote, node } = await remoteOf(ctx, nodeName!);
      const r = await remote.exec(serviceCommand(node, 'isActive', node.services.mesos.unit), { timeoutMs });
      if (r.exitCode !== 0) throw new NotYet(`${node.services.mesos.unit} is not running on ${node.name}`);
      return;
    }
    case 'log-copied': {
      const { remote: src, node: from } = await remoteOf(ctx, check.from);
      const { remote: dst } = await remoteOf(ctx, nodeName!);
      const sum = (p: string) => `cd ${quote(p)} && find . -type f -print0 | sort -z | xargs -0 -r sha256sum`;
      const [a, b] = await Promise.all([
        src.exec(sum(replicatedLogPath(from.services.mesos.workDir)), { timeoutMs }),
        dst.exec(sum(check.path), { timeoutMs }),
      ]);
      if (a.exitCode !== 0 || b.exitCode !== 0 || a.stdout !== b.stdout || a.stdout.trim() === '')
        throw new NotYet(`the log on ${nodeName} differs from ${check.from}'s`);
      return;
    }
    default:
      return checkComponent(ctx, nodeName, check);
  }
}

/** Polls a check until it holds or the budget runs out (every 50 ms: a check takes a few ms on a healthy cluster); the last NotYet says what was seen. */
export async function verifyWithin(
  ctx: EffectContext,
  nodeName: string | null,
  check: Check,
  budgetMs: number,
  pollMs = 50,
): Promise<void> {
  const end = Date.now() + budgetMs;
  for (;;) {
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
