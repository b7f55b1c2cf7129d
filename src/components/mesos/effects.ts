/**
 * What the Mesos masters' steps and checks do: copy the freshest replicated log to a returning
 * master; see one leader whose registrar recovered with the quorum its /flags say, its registry
 * knowing every agent recorded before the run (judge.ts `judgeMesosCheck`).
 */
import { OperationError } from '../../errors.js';
import {
  checkTimeoutOf,
  mustRun,
  NotYet,
  remoteOf,
  serviceCommand,
  type CheckEffects,
  type StepEffects,
} from '../../apply/effect-kit.js';
import { quote } from '../../remote/shell.js';
import { nodeByName } from '../../topology/model.js';
import { judgeMesosCheck } from './judge.js';
import { probeMesosMaster } from './probe.js';
import { replicatedLogPath } from './settings.js';
import type { MesosCheck, MesosStep } from './steps.js';

export const mesosStepEffects = {
  'copy-replicated-log': async (ctx, step) => {
    const timeoutMs = ctx.commandTimeoutMs;
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
    const replaced = `${step.path}.dcfail-${ctx.runId}-replaced`;
    await dst.exec(`rm -rf ${quote(tmp)}`, { timeoutMs });
    const r = await dst.exec(
      // The archive's owners and modes are the other node's to claim: the copy takes the owner of
      // this node's own replica (or its parent directory), and no setuid/setgid bit survives.
      [
        `set -e`,
        `ref=${quote(step.path.replace(/\/+[^/]+\/*$/, '') || '/')}`,
        `if [ -e ${quote(step.path)} ]; then ref=${quote(replaced)}; mv ${quote(step.path)} ${quote(replaced)}; fi`,
        `(umask 077 && mkdir -p ${quote(tmp)})`,
        `base64 -d | tar -C ${quote(tmp)} --no-same-owner --no-same-permissions -xzf -`,
        `chown -R -h --reference="$ref" -- ${quote(tmp)}`,
        `chmod -R u-s,g-s,o-w -- ${quote(tmp)}`,
        `sync`,
        `mv ${quote(tmp)} ${quote(step.path)}`,
      ].join('\n'),
      { timeoutMs: timeoutMs * 6, stdin: archive },
    );
    if (r.exitCode !== 0)
      throw new OperationError('copy-failed', `${to.name}: copying the replicated log failed: ${r.stderr.trim()}`);
    ctx.note(`log-copy:${to.name}`, { from: from.name, bytes: archive.length });
    return `copied ${Math.round((archive.length * 3) / 4 / 1024)} KiB from ${from.name}`;
  },
} satisfies StepEffects<MesosStep>;

/** Per verification: the last "elected but not recovered" seen, for its report. */
const unrecoveredSeen = new WeakMap<MesosCheck, string>();

export const mesosCheckEffects = {
  mesos: async (ctx, _nodeName, check) => {
    const t = ctx.topology;
    const timeoutMs = checkTimeoutOf(ctx);
    const masters = check.masters.map((m) => nodeByName(t, m));
    const st = await Promise.all(masters.map((n) => probeMesosMaster(n.address, n.services.mesos.port, timeoutMs)));
    const verdict = judgeMesosCheck(
      st.map((status, i) => ({ name: masters[i]!.name, status })),
      { quorum: check.quorum, ...(ctx.mesosRegistryBefore ? { before: ctx.mesosRegistryBefore } : {}) },
    );
    if (verdict.kind === 'holds') {
      unrecoveredSeen.delete(check);
      return;
    }
    // A leader that cannot recover aborts at its fetch timeout and the next poll may see no
    // leader at all: the report keeps what was seen of it.
    const elected = st.findIndex((s) => s.elected && !s.registrarRecovered);
    if (elected >= 0) unrecoveredSeen.set(check, verdict.why);
    const earlier = unrecoveredSeen.get(check);
    throw new NotYet(earlier && earlier !== verdict.why ? `${verdict.why}; earlier, ${earlier}` : verdict.why);
  },
  'mesos-waiting': async (ctx, nodeName) => {
    const timeoutMs = checkTimeoutOf(ctx);
    const { remote, node } = await remoteOf(ctx, nodeName!);
    const r = await remote.exec(serviceCommand(node, 'isActive', node.services.mesos.unit), { timeoutMs });
    if (r.exitCode !== 0) throw new NotYet(`${node.services.mesos.unit} is not running on ${node.name}`);
    return;
  },
  'log-copied': async (ctx, nodeName, check) => {
    const timeoutMs = checkTimeoutOf(ctx);
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
  },
} satisfies CheckEffects<MesosCheck>;
