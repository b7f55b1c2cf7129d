/**
 * Marathon's placement rules, as a pure core: constraint operators, the fault-domain region rule,
 * accepted resource roles and capacity arithmetic. No I/O, no clock.
 *
 * The operators follow Marathon's `mesosphere.mesos.Constraints` (1.x):
 * - the field `hostname`/`@hostname` reads the agent's host name, `@region`/`@zone` its fault
 *   domain, any other field the agent attribute of that name;
 * - an agent without the field's value satisfies only `UNLIKE`, every other operator refuses it;
 * - `LIKE`/`UNLIKE` match a regular expression against the whole value (Java `String.matches`);
 *   an empty pattern refuses every agent for both;
 * - `IS` compares exactly; a scalar value (`0.80`) is compared in Marathon's format (`0.8`);
 * - `UNIQUE`: no placed instance has the agent's value;
 * - `CLUSTER v`: the value is v; `CLUSTER` with no value: the value of the first placed instance
 *   (any value when none is placed);
 * - `MAX_PER n`: fewer than n placed instances have the agent's value;
 * - `GROUP_BY [n]`: the rule of Marathon up to 1.9 (DC/OS up to 2.0): an agent whose value has no
 *   instance yet is accepted; one whose value has instances is accepted only when at least n
 *   distinct values are in use (n defaults to 0) and its value holds the fewest instances. So
 *   `GROUP_BY datacenter 2` refuses every offer once one of the two values is gone.
 *   (Marathon 1.10.5+ fills each value up to its share instead; for an app spread evenly over two
 *   DCs both rules re-place nothing on the survivor.)
 * "Placed instances" are those Marathon still counts: the ones on the surviving side plus the
 * replacements placed so far; instances on the lost DC are unreachable and Marathon leaves them
 * out of constraint checks.
 */
import { createContext, Script } from 'node:vm';
import { assertNever } from '../errors.js';

const OPERATORS = ['UNIQUE', 'CLUSTER', 'GROUP_BY', 'MAX_PER', 'LIKE', 'UNLIKE', 'IS'] as const;

/** One constraint of an app, validated as Marathon's API validates it. */
export type Constraint =
  | { readonly kind: 'UNIQUE'; readonly field: string }
  | { readonly kind: 'CLUSTER'; readonly field: string; readonly value: string | undefined }
  | { readonly kind: 'GROUP_BY'; readonly field: string; readonly groups: number }
  | { readonly kind: 'MAX_PER'; readonly field: string; readonly max: number }
  | { readonly kind: 'LIKE'; readonly field: string; readonly pattern: string }
  | { readonly kind: 'UNLIKE'; readonly field: string; readonly pattern: string }
  | { readonly kind: 'IS'; readonly field: string; readonly value: string };

/** What constraints read from an agent (and from the agent a placed instance runs on). */
export interface AgentFacts {
  readonly hostname: string;
  /** Attribute values, formatted as Marathon formats them (scalars `0.###`, sets `{a,b}`). */
  readonly attributes: Readonly<Record<string, string>>;
  readonly region: string | undefined;
  readonly zone: string | undefined;
}

export interface Resources {
  readonly cpus: number;
  readonly mem: number;
  readonly disk: number;
}

export const RESOURCE_NAMES = ['cpus', 'mem', 'disk'] as const;
export type ResourceName = (typeof RESOURCE_NAMES)[number];
export const NO_RESOURCES: Resources = { cpus: 0, mem: 0, disk: 0 };

/** An agent as the placement core sees it. */
export interface Agent extends AgentFacts {
  readonly id: string;
  readonly active: boolean;
  /** Resources by role: `*` is unreserved; `slave_public` is what DC/OS reserves on public agents. */
  readonly pools: Readonly<Record<string, Resources>>;
  readonly total: Resources;
  /** Used by every framework (Mesos reports it per agent, not per role). */
  readonly used: Resources;
}

/** What one instance of an app asks for, and where it may go. */
export interface PlacementRequest {
  readonly resources: Resources;
  readonly constraints: readonly Constraint[];
  /** Roles whose resources the app accepts (`acceptedResourceRoles`, default `*`). */
  readonly acceptedRoles: readonly string[];
}

// ---------------------------------------------------------------------------------------------
// Constraints

/** Parses `[field, operator, value?]` as Marathon's validation does; a string explains a refusal. */
export function parseConstraint(raw: readonly unknown[]): Constraint | string {
  if (raw.length < 2 || raw.length > 3 || !raw.every((x) => typeof x === 'string')) {
    return 'expected [field, operator] or [field, operator, value] of strings';
  }
  const [field, op, value] = raw as [string, string, string | undefined];
  if (field === '') return 'missing field';
  const operator = op.toUpperCase();
  switch (operator) {
    case 'UNIQUE':
      if (value !== undefined && value !== '') return 'UNIQUE does not accept a value';
      return { kind: 'UNIQUE', field };
    case 'CLUSTER':
      return { kind: 'CLUSTER', field, value: value === '' ? undefined : value };
    case 'GROUP_BY': {
      if (value === undefined || value === '') return { kind: 'GROUP_BY', field, groups: 0 };
      if (!/^\d+$/.test(value)) return `GROUP_BY takes a whole number or no value, not '${value}'`;
      return { kind: 'GROUP_BY', field, groups: Number(value) };
    }
    case 'MAX_PER':
      if (value === undefined || !/^\d+$/.test(value)) return `MAX_PER requires a whole number, not '${value ?? ''}'`;
      return { kind: 'MAX_PER', field, max: Number(value) };
    case 'LIKE':
    case 'UNLIKE':
      if (value === undefined || value === '') return `${operator} requires a non-empty regular expression`;
      if (value.length > PATTERN_MAX) return `${operator}: the pattern is longer than ${PATTERN_MAX} characters`;
      if (!isValidPattern(value)) return `${operator}: '${value}' is not a valid regular expression`;
      return { kind: operator, field, pattern: value };
    case 'IS':
      if (value === undefined || !/^[A-Za-z0-9_/.-]*$/.test(value)) return 'IS requires a Mesos text or scalar value';
      return { kind: 'IS', field, value };
    default:
      return `unknown operator '${op}' (expected one of ${OPERATORS.join(', ')})`;
  }
}

/** `["datacenter","GROUP_BY","2"]` back to Marathon's notation, for messages. */
export function formatConstraint(c: Constraint): string {
  switch (c.kind) {
    case 'UNIQUE':
      return `${c.field}:UNIQUE`;
    case 'CLUSTER':
      return c.value === undefined ? `${c.field}:CLUSTER` : `${c.field}:CLUSTER:${c.value}`;
    case 'GROUP_BY':
      return c.groups === 0 ? `${c.field}:GROUP_BY` : `${c.field}:GROUP_BY:${c.groups}`;
    case 'MAX_PER':
      return `${c.field}:MAX_PER:${c.max}`;
    case 'LIKE':
    case 'UNLIKE':
      return `${c.field}:${c.kind}:${c.pattern}`;
    case 'IS':
      return `${c.field}:IS:${c.value}`;
    default:
      return assertNever(c, 'constraint');
  }
}

function isValidPattern(pattern: string): boolean {
  try {
    new RegExp(`^(?:${pattern})$`);
    return true;
  } catch {
    return false;
  }
}

/** Longest pattern or value a LIKE/UNLIKE is evaluated on; past it the constraint refuses the agent. */
const PATTERN_MAX = 1024;
/** How long one match may run: the patterns come from Marathon, and a backtracking one would hang survival. */
const MATCH_TIMEOUT_MS = 50;
const matchScript = new Script('new RegExp(p).test(v)');
const matchContext = createContext({ p: '', v: '' });
const matchCache = new Map<string, boolean | 'too-slow'>();

/**
 * Java's `String.matches`: the whole value must match. Run under a deadline in its own context:
 * 'too-slow' when the pattern (or value) is too long or the match exceeds its time bound.
 */
function matchesWhole(value: string, pattern: string): boolean | 'too-slow' {
  if (pattern.length > PATTERN_MAX || value.length > PATTERN_MAX) return 'too-slow';
  const key = `${pattern}\u0000${value}`;
  const cached = matchCache.get(key);
  if (cached !== undefined) return cached;
  let r: boolean | 'too-slow';
  try {
    matchContext['p'] = `^(?:${pattern})$`;
    matchContext['v'] = value;
    r = matchScript.runInContext(matchContext, { timeout: MATCH_TIMEOUT_MS }) === true;
  } catch {
    r = 'too-slow';
  }
  matchCache.set(key, r);
  return r;
}

/** The value a constraint's field reads from an agent; undefined when the agent has none. */
function fieldValue(facts: AgentFacts, field: string): string | undefined {
  switch (field) {
    case 'hostname':
    case '@hostname':
      return facts.hostname;
    case '@region':
      return facts.region;
    case '@zone':
      return facts.zone;
    default:
      return Object.hasOwn(facts.attributes, field) ? facts.attributes[field] : undefined;
  }
}

/** Instances per field value; instances without a value share the `undefined` key, as in Marathon. */
function countByValue(placed: readonly AgentFacts[], field: string): Map<string | undefined, number> {
  const counts = new Map<string | undefined, number>();
  for (const p of placed) {
    const v = fieldValue(p, field);
    counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  return counts;
}

/** Does an offer from `agent` satisfy `c`, given the instances Marathon counts as placed? */
export function meetsConstraint(c: Constraint, agent: AgentFacts, placed: readonly AgentFacts[]): boolean {
  const value = fieldValue(agent, c.field);
  if (value === undefined) return c.kind === 'UNLIKE';
  switch (c.kind) {
    case 'UNIQUE':
      return placed.every((p) => fieldValue(p, c.field) !== value);
    case 'CLUSTER': {
      if (c.value !== undefined) return value === c.value;
      const first = placed[0];
      return first === undefined || fieldValue(first, c.field) === value;
    }
    case 'GROUP_BY': {
      const counts = countByValue(placed, c.field);
      const own = counts.get(value);
      if (own === undefined) return true;
      const fewest = Math.min(...counts.values());
      return counts.size >= c.groups && own === fewest;
    }
    case 'MAX_PER':
      return (countByValue(placed, c.field).get(value) ?? 0) < c.max;
    // A match that could not be evaluated in time meets neither: the agent is refused (pessimistic).
    case 'LIKE':
      return matchesWhole(value, c.pattern) === true;
    case 'UNLIKE':
      return matchesWhole(value, c.pattern) === false;
    case 'IS':
      return value === (/^[0-9]+(?:\.[0-9]+)?$/.test(c.value) ? formatScalar(Number(c.value)) : c.value);
    default:
      return assertNever(c, 'constraint');
  }
}

/** Marathon's scalar format: `DecimalFormat("0.###")`, rounding half to even. */
export function formatScalar(x: number): string {
  const text = String(x);
  if (/e/i.test(text)) return String(Number(x.toFixed(3)));
  const negative = text.startsWith('-');
  const [intPart = '0', frac = ''] = (negative ? text.slice(1) : text).split('.');
  if (frac.length <= 3) return trimScalar(negative, intPart, frac);
  const kept = frac.slice(0, 3);
  const rest = frac.slice(3);
  const lastDigit = Number(kept[2]);
  const roundUp = rest[0]! > '5' || (rest[0] === '5' && (/[1-9]/.test(rest.slice(1)) || lastDigit % 2 === 1));
  let digits = BigInt(intPart + kept);
  if (roundUp) digits += 1n;
  const s = digits.toString().padStart(4, '0');
  return trimScalar(negative, s.slice(0, -3), s.slice(-3));
}

function trimScalar(negative: boolean, intPart: string, frac: string): string {
  const f = frac.replace(/0+$/, '');
  const body = f === '' ? intPart : `${intPart}.${f}`;
  return negative && body !== '0' ? `-${body}` : body;
}

// ---------------------------------------------------------------------------------------------
// Capacity

/**
 * Free resources during a simulation. Mesos reports `used_resources` per agent, not per role, so
 * pre-existing use only caps the agent's total; what the simulation places is charged to the
 * pools it took it from. On an agent with a single pool (every DC/OS private or public agent
 * without dynamic reservations) this is exact; with several pools it is an upper bound.
 */
export class CapacityLedger {
  private readonly taken = new Map<string, Map<string, Record<ResourceName, number>>>();

  /** What `agent` can still give an app accepting `roles`, per resource. */
  available(agent: Agent, roles: readonly string[]): Resources {
    const out: Record<ResourceName, number> = { cpus: 0, mem: 0, disk: 0 };
    const byPool = this.taken.get(agent.id);
    for (const r of RESOURCE_NAMES) {
      let fromPools = 0;
      let takenAll = 0;
      for (const [role, size] of Object.entries(agent.pools)) {
        const taken = byPool?.get(role)?.[r] ?? 0;
        takenAll += taken;
        if (roles.includes(role)) fromPools += size[r] - taken;
      }
      out[r] = round(Math.max(0, Math.min(fromPools, agent.total[r] - agent.used[r] - takenAll)));
    }
    return out;
  }

  /** The first resource `need` lacks on `agent`, or undefined when it fits. */
  shortOf(agent: Agent, roles: readonly string[], need: Resources): ResourceName | undefined {
    const free = this.available(agent, roles);
    return RESOURCE_NAMES.find((r) => need[r] > free[r] + EPSILON);
  }

  /** Charges `need` to the accepted pools of `agent`, in the order of `roles`. */
  take(agent: Agent, roles: readonly string[], need: Resources): void {
    let byPool = this.taken.get(agent.id);
    if (!byPool) this.taken.set(agent.id, (byPool = new Map()));
    for (const r of RESOURCE_NAMES) {
      let left = need[r];
      for (const role of roles) {
        const size = agent.pools[role];
        if (!size || left <= 0) continue;
        let entry = byPool.get(role);
        if (!entry) byPool.set(role, (entry = { cpus: 0, mem: 0, disk: 0 }));
        const part = Math.min(left, Math.max(0, size[r] - entry[r]));
        entry[r] = round(entry[r] + part);
        left = round(left - part);
      }
    }
  }
}

const EPSILON = 1e-9;
/** Resource figures are decimals (0.1 cpu); keep sums free of binary noise. */
function round(x: number): number {
  return Math.round(x * 1e6) / 1e6;
}

// ---------------------------------------------------------------------------------------------
// Placement

/** Why an agent refused an instance: the first rule it failed, in Marathon's order of checks. */
export type Refusal =
  | { readonly kind: 'inactive' }
  | { readonly kind: 'remote-region'; readonly region: string }
  | { readonly kind: 'role' }
  | { readonly kind: 'constraint'; readonly constraint: Constraint }
  | { readonly kind: 'resources'; readonly resource: ResourceName };

export interface PlacementContext {
  /** The masters' region: Marathon places an app on an agent of another region only if the app has an `@region`/`@zone` constraint. */
  readonly masterRegion: string | undefined;
  readonly ledger: CapacityLedger;
}

/** The first reason `agent` refuses one more instance, or undefined when it accepts it. */
export function refusalOf(
  req: PlacementRequest,
  agent: Agent,
  placed: readonly AgentFacts[],
  ctx: PlacementContext,
): Refusal | undefined {
  if (!agent.active) return { kind: 'inactive' };
  const faultDomainAware = req.constraints.some((c) => c.field === '@region' || c.field === '@zone');
  if (
    !faultDomainAware &&
    ctx.masterRegion !== undefined &&
    agent.region !== undefined &&
    agent.region !== ctx.masterRegion
  ) {
    return { kind: 'remote-region', region: agent.region };
  }
  if (!req.acceptedRoles.some((role) => agent.pools[role] !== undefined)) return { kind: 'role' };
  const failed = req.constraints.find((c) => !meetsConstraint(c, agent, placed));
  if (failed) return { kind: 'constraint', constraint: failed };
  const short = ctx.ledger.shortOf(agent, req.acceptedRoles, req.resources);
  if (short) return { kind: 'resources', resource: short };
  return undefined;
}

export interface PlacementOutcome {
  /** Host names the new instances went to, in order. */
  readonly hosts: readonly string[];
  /** When fewer than asked were placed: why each candidate refused the next one. */
  readonly refusals: readonly { readonly agent: string; readonly refusal: Refusal }[];
}

/**
 * Places up to `count` instances one at a time on `candidates` (first fit, in the order given),
 * charging the ledger. Each placement counts as placed for the next one's constraints, as
 * Marathon's offer matching does. Stops at the first instance no candidate accepts.
 */
export function placeInstances(
  req: PlacementRequest,
  count: number,
  candidates: readonly Agent[],
  alreadyPlaced: readonly AgentFacts[],
  ctx: PlacementContext,
): PlacementOutcome {
  const placed = [...alreadyPlaced];
  const hosts: string[] = [];
  while (hosts.length < count) {
    const refusals: { agent: string; refusal: Refusal }[] = [];
    const target = candidates.find((agent) => {
      const refusal = refusalOf(req, agent, placed, ctx);
      if (refusal) refusals.push({ agent: agent.hostname, refusal });
      return refusal === undefined;
    });
    if (!target) return { hosts, refusals };
    ctx.ledger.take(target, req.acceptedRoles, req.resources);
    placed.push(target);
    hosts.push(target.hostname);
  }
  return { hosts, refusals: [] };
}
