/**
 * The return guard (src/guard/) in the independent model: what a powered-on node of the lost DC does at each
 * start of a quorum unit, decided as dcfail-guard.sh decides it, from the model's state only (no guard code
 * is shared: the rules are restated here from src/guard/README.md):
 *   held (the model's `masked`, which failback's quarantine sets): down;
 *   the other DC's published failover state says "failed-over" away from this DC: down;
 *   a survivor's running membership without this node (ZooKeeper's ensemble for exhibitor and mesos, the etcd
 *   member list for etcd): down;
 *   otherwise: start (the beacon answers, so the other DC is never "unsure" here; the partition case is the
 *   fence's business, see the README).
 * A unit the guard keeps down is retried by systemd (Restart=always) after every later event, until a
 * failback's quarantine holds and stops it.
 *
 * A run is the event list: publish(failed-over) before the failover's first step, the failover's steps, a
 * client write, the failback's quarantine steps, publish(failing-back), the rest of the failback, publish
 * (normal). The lost DC is powered on after any prefix of it, with nobody running dcfail but the plan going on.
 */
import type { Topology } from '../../src/topology/model.js';
import { ClusterModel, ModelError, type PlanStepJson } from './cluster-model.js';

type C = 'exhibitor' | 'mesos' | 'etcd';
const CS: C[] = ['exhibitor', 'mesos', 'etcd'];

export type Published = 'normal' | 'failed-over' | 'failing-back';

export type GuardEvent =
  { kind: 'publish'; state: Published } | { kind: 'step'; step: PlanStepJson } | { kind: 'write' };

export interface GuardRunOptions {
  /** The guard installed on the lost DC (false: the units start as DC/OS starts them). */
  readonly guard: boolean;
  /** dcfail publishes its failover state (false: only the survivors' memberships are evidence). */
  readonly marker: boolean;
}

type ModelNode = ClusterModel['nodes'] extends Map<string, infer N> ? N : never;

/** The guard's decision for a unit of a node of `lostDc`. */
function guardAllows(
  model: ClusterModel,
  n: ModelNode,
  c: C,
  published: Published,
  marker: boolean,
): { start: boolean; why: string } {
  if (n.masked[c]) return { start: false, why: 'held' };
  if (marker && published === 'failed-over') return { start: false, why: 'failover marker' };
  for (const s of model.nodes.values()) {
    if (s.dc === n.dc) continue;
    if (c !== 'etcd' && s.up.exhibitor && s.zkRunning && !s.zkRunning.includes(n.name))
      return { start: false, why: `ensemble of ${s.name} without it` };
    if (c === 'etcd' && s.up.etcd && s.etcdMembers && !s.etcdMembers.some((e) => e.name === n.name))
      return { start: false, why: `etcd members of ${s.name} without it` };
  }
  return { start: true, why: 'no evidence' };
}

/** The events of a failover then a failback, with the guard's publications where src/guard/README.md puts them. */
export function guardEvents(failover: readonly PlanStepJson[], failback: readonly PlanStepJson[]): GuardEvent[] {
  const firstAfterQuarantine = failback.findIndex((s) => !s.id.startsWith('quarantine'));
  if (firstAfterQuarantine < 0) throw new Error('a failback without steps after its quarantine');
  if (failback.slice(firstAfterQuarantine).some((s) => s.id.startsWith('quarantine')))
    throw new Error('quarantine steps are not all first');
  return [
    { kind: 'publish', state: 'failed-over' },
    ...failover.map((step) => ({ kind: 'step' as const, step })),
    { kind: 'write' },
    ...failback.slice(0, firstAfterQuarantine).map((step) => ({ kind: 'step' as const, step })),
    { kind: 'publish', state: 'failing-back' },
    ...failback.slice(firstAfterQuarantine).map((step) => ({ kind: 'step' as const, step })),
    { kind: 'publish', state: 'normal' },
  ];
}

/**
 * Runs every event; the lost DC is powered on after the first `powerOnAfter` events (never when undefined).
 * Throws ModelError when an invariant of cluster-model.ts breaks, when a lost-DC quorum forms while the cluster
 * is failed over, or when the guard would block a start the failback makes.
 */
export function runGuarded(
  t: Topology,
  lostDc: string,
  events: readonly GuardEvent[],
  powerOnAfter: number | undefined,
  opts: GuardRunOptions,
): ClusterModel {
  const model = new ClusterModel(t);
  model.loseDc(lostDc);
  let published: Published = 'normal';
  let failedOver = false;
  const powered = new Set<string>();
  const lostNodes = [...model.nodes.values()].filter((n) => n.dc === lostDc);

  const startLost = (n: ModelNode, c: C, why: string) => {
    n.lost = false; // the model refuses steps on lost nodes: this one is powered and its unit starts
    try {
      model.apply({
        id: `power-on:${n.name}:${c}`,
        cluster: c,
        node: n.name,
        action: 'start',
        summary: `${c} starts on powered-on ${n.name} (${why})`,
      });
    } finally {
      n.lost = true;
    }
  };
  /** systemd starts (at power-on) or retries (Restart=always) every down unit of a powered lost node. */
  const retry = () => {
    for (const n of lostNodes) {
      if (!powered.has(n.name) || !n.lost) continue; // quarantined: stopped, no retry
      for (const c of CS) {
        if (!n.roles.includes(c) || n.up[c]) continue;
        const d = opts.guard ? guardAllows(model, n, c, published, opts.marker) : { start: true, why: 'no guard' };
        if (d.start) startLost(n, c, d.why);
      }
    }
    if (failedOver) {
      for (const c of CS) {
        for (const g of model.capableGroups(c)) {
          if (g.every((x) => x.dc === lostDc))
            throw new ModelError(
              `${c}: the powered-on lost DC forms a quorum {${g.map((x) => x.name).join(',')}} while failed over`,
            );
        }
      }
    }
  };

  events.forEach((e, i) => {
    if (i === powerOnAfter) {
      for (const n of lostNodes) if (n.lost) powered.add(n.name);
      model.log.push(`power-on of ${lostDc}`);
      retry();
    }
    if (e.kind === 'publish') {
      if (opts.marker) published = e.state;
      if (e.state === 'failed-over') failedOver = true;
      if (e.state === 'normal') failedOver = false;
      model.log.push(`publish ${e.state}`);
    } else if (e.kind === 'write') {
      model.write();
    } else {
      const s = e.step;
      // A failback start of a returning unit lifts its hold: the guard must let it through.
      if ((s.action === 'start' || s.action === 'restart') && s.node !== null && opts.guard) {
        const n = model.nodes.get(s.node)!;
        if (n.dc === lostDc && s['enableFirst'] && s.cluster) {
          const d = guardAllows(
            model,
            { ...n, masked: { ...n.masked, [s.cluster]: false } } as ModelNode,
            s.cluster as C,
            published,
            opts.marker,
          );
          if (!d.start)
            throw new ModelError(
              `${s.id}: the guard would keep ${s.cluster} down on ${n.name} (${d.why}): the failback could not start it`,
            );
        }
      }
      model.apply(s);
    }
    if (powerOnAfter !== undefined && i >= powerOnAfter) retry();
  });
  return model;
}
