/**
 * What ZooKeeper's checks do: the servers serve in the wanted mode and take a test write, or a
 * server runs and waits (not serving) for the peers of its full ensemble.
 */
import { checkTimeoutOf, NotYet, remoteOf, serviceCommand, type CheckEffects } from '../../apply/effect-kit.js';
import { nodeByName } from '../../topology/model.js';
import { probeZkServer, zkTestWrite } from './probe.js';
import type { ZookeeperCheck } from './steps.js';

export const zookeeperCheckEffects = {
  zookeeper: async (ctx, nodeName, check) => {
    const t = ctx.topology;
    const timeoutMs = checkTimeoutOf(ctx);
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
  },
  'zookeeper-waiting': async (ctx, nodeName) => {
    const timeoutMs = checkTimeoutOf(ctx);
    const { remote, node } = await remoteOf(ctx, nodeName!);
    const r = await remote.exec(serviceCommand(node, 'isActive', node.services.exhibitor.unit), { timeoutMs });
    if (r.exitCode !== 0) throw new NotYet(`${node.services.exhibitor.unit} is not running on ${node.name}`);
    const s = await probeZkServer(node.address, node.services.exhibitor.zkClientPort, timeoutMs);
    if (s.mode !== 'not-serving' && s.mode !== 'down')
      throw new NotYet(
        `ZooKeeper on ${node.name} serves (${s.mode}) with an ensemble of one: it did not take the full ensemble`,
      );
    return;
  },
} satisfies CheckEffects<ZookeeperCheck>;
