/**
 * The failover state the return guard reads (src/guard/README.md, "Publishing: the beacon"):
 * written on the survivors by the runbooks when the topology declares the guard. A failover
 * publishes `failed-over` before its first change and stops if one survivor could not take it;
 * a failback publishes `failing-back` before its first change and `normal` after its last step.
 */
import { OperationError } from '../errors.js';
import { type FailoverState, holdCommand, publishStateCommand } from '../guard/render.js';
import { guardStateDirOf, guardedUnits } from '../guard/spec.js';
import type { Remotes } from '../remote/types.js';
import { quote } from '../remote/shell.js';
import type { Topology, TopologyNode } from '../topology/model.js';

export async function publishGuardState(
  t: Topology,
  pool: Remotes,
  nodes: readonly TopologyNode[],
  state: FailoverState,
): Promise<void> {
  if (!t.guard) return;
  const failed: string[] = [];
  await Promise.all(
    nodes.map(async (n) => {
      try {
        const r = await (
          await pool.get(n)
        ).exec(publishStateCommand(state, { stateDir: guardStateDirOf(n) }), {
          sudo: true,
          timeoutMs: 15_000,
        });
        if (r.exitCode !== 0)
          failed.push(`${n.name}: exit ${r.exitCode ?? r.signal}: ${r.stderr.trim().split('\n')[0]}`);
      } catch (err) {
        failed.push(`${n.name}: ${(err as Error).message}`);
      }
    }),
  );
  if (failed.length > 0)
    throw new OperationError(
      'guard-state',
      `the return guard's failover state (${state.kind}) could not be published on every survivor: nothing after it was done`,
      failed,
    );
}

/**
 * A DC-wide hold (`dcfail guard hold`) on a returning node becomes one hold per unit, so that the
 * failback lifts each as it starts that unit; then the DC-wide one goes.
 */
export async function holdPerUnit(t: Topology, pool: Remotes, nodes: readonly TopologyNode[]): Promise<void> {
  if (!t.guard) return;
  await Promise.all(
    nodes.map(async (n) => {
      const paths = { stateDir: guardStateDirOf(n) };
      const script = `if [ -e ${quote(`${paths.stateDir}/hold`)} ]; then ${guardedUnits(n)
        .map((u) => holdCommand('hold', u.unit, paths))
        .join(' && ')} && ${holdCommand('lift', undefined, paths)}; fi`;
      const r = await (await pool.get(n)).exec(script, { sudo: true, timeoutMs: 15_000 });
      if (r.exitCode !== 0)
        throw new OperationError('guard-hold', `${n.name}: the guard's hold could not be made per unit`, [
          r.stderr.trim(),
        ]);
    }),
  );
}
