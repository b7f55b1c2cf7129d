/**
 * What the Mesos masters' steps and checks do: copy a replicated log (the registry's or the
 * overlay module's) from the leader's host to a returning master, streamed and checksummed; see
 * one leader whose registrar recovered with the quorum its /flags say, its registry knowing every
 * agent recorded before the run (judge.ts `judgeMesosCheck`).
 */
import { OperationError } from '../../errors.js';
import {
  checkTimeoutOf,
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
import { streamTree } from '../../remote/stream-copy.js';
import type { MesosCheck, MesosStep } from './steps.js';

export const mesosStepEffects = {
  'copy-replicated-log': async (ctx, step) => {
    const timeoutMs = ctx.commandTimeoutMs;
    const { remote: src } = await remoteOf(ctx, step.from);
    const { remote: dst, node: to } = await remoteOf(ctx, step.node!);
    const tmp = `${step.path}.dcfail-incoming`;
    const replaced = `${step.path}.dcfail-${ctx.runId}-replaced`;
    // Streamed node to node through this process (flat memory), digests compared on both ends.
    const copied = await streamTree(src, step.fromPath, dst, tmp, { timeoutMs: timeoutMs * 60 });
    const r = await dst.exec(
      // The copy takes the owner of this node's own replica (or its parent directory), and no
      // setuid/setgid bit survives; the old log is kept beside it.
      [
        `set -e`,
        `ref=${quote(step.path.replace(/\/+[^/]+\/*$/, '') || '/')}`,
        `if [ -e ${quote(step.path)} ]; then ref=${quote(replaced)}; mv ${quote(step.path)} ${quote(replaced)}; fi`,
        `chown -R -h --reference="$ref" -- ${quote(tmp)}`,
        `chmod -R u-s,g-s,o-w -- ${quote(tmp)}`,
        `sync`,
        `mv ${quote(tmp)} ${quote(step.path)}`,
      ].join('\n'),
      { timeoutMs: timeoutMs * 6 },
    );
    if (r.exitCode !== 0)
      throw new OperationError(
        'copy-failed',
        `${to.name}: installing the copied ${step.log} log failed: ${r.stderr.trim()}`,
      );
    ctx.note(`log-copy:${step.log}:${to.name}`, { from: step.from, bytes: copied.bytes, sha256: copied.sha256 });
    return `copied ${Math.round(copied.bytes / 1024)} KiB from ${step.from} (sha256 ${copied.sha256.slice(0, 12)} on both ends)`;
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
    // Every file's name and content, digested on the node: the answer is one line whatever the log's size.
    const sum = (p: string) =>
      `cd ${quote(p)} && n=$(find . -type f | wc -l) && s=$(find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r sha256sum | sha256sum | cut -d' ' -f1) && echo "$n $s"`;
    const [a, b] = await Promise.all([
      src.exec(sum(check.fromPath), { timeoutMs, maxOutputBytes: 4096 }),
      dst.exec(sum(check.path), { timeoutMs, maxOutputBytes: 4096 }),
    ]);
    const line = /^([1-9]\d*) [0-9a-f]{64}\n$/;
    if (a.exitCode !== 0 || b.exitCode !== 0 || !line.test(a.stdout) || a.stdout !== b.stdout)
      throw new NotYet(
        `the ${check.log} log on ${nodeName} differs from ${from.name}'s (${a.stdout.trim() || 'unreadable'} / ${b.stdout.trim() || 'unreadable'})`,
      );
    return;
  },
} satisfies CheckEffects<MesosCheck>;
