/**
 * The boundary for the survival report's inputs: Marathon's `/v2/apps?embed=apps.tasks`, Mesos'
 * `/master/slaves` and `/master/state` JSON, validated with zod and turned into the placement
 * core's values. Pure: the same parsing serves the live path and the offline files; the caller
 * (sources.ts) decides whether a problem is the operator's (a file) or the cluster's (a URL).
 *
 * The schemas are loose objects on purpose: these APIs carry many more fields than we read, and
 * newer versions add some; only the fields named here are checked.
 */
import { z } from 'zod';
import { formatIssues } from '../topology/load.js';
import {
  formatScalar,
  NO_RESOURCES,
  parseConstraint,
  RESOURCE_NAMES,
  type Agent,
  type Constraint,
  type PlacementRequest,
  type Resources,
} from './placement.js';

// ---------------------------------------------------------------------------------------------
// Marathon

const TaskSchema = z.object({
  id: z.string(),
  host: z.string(),
  slaveId: z.string().optional(),
  state: z.string().optional(),
});

const UnreachableSchema = z.union([
  z.literal('disabled'),
  z.object({ inactiveAfterSeconds: z.number().optional(), expungeAfterSeconds: z.number().optional() }),
]);

const AppSchema = z.object({
  id: z.string().min(1),
  instances: z.int().min(0),
  cpus: z.number().min(0).default(1),
  mem: z.number().min(0).default(128),
  disk: z.number().min(0).default(0),
  constraints: z.array(z.array(z.unknown())).nullish(),
  labels: z.record(z.string(), z.string()).nullish(),
  acceptedResourceRoles: z.array(z.string()).nullish(),
  tasks: z.array(TaskSchema).nullish(),
  unreachableStrategy: UnreachableSchema.nullish(),
  residency: z.unknown().optional(),
  container: z.object({ volumes: z.array(z.object({ persistent: z.unknown().optional() })).nullish() }).nullish(),
});

const AppsDocumentSchema = z.object({ apps: z.array(AppSchema) });
// Parsed with `reportInput` so that formatIssues tells a wrong type from a missing key.

/** Task states that hold an instance: the task runs or is about to. */
const LIVE_TASK_STATES = new Set(['TASK_RUNNING', 'TASK_STAGING', 'TASK_STARTING']);

export interface AppTask {
  readonly id: string;
  readonly host: string;
  readonly agentId: string | undefined;
}

/**
 * Whether Marathon would replace an instance lost with its agent at all:
 * `unreachableStrategy: "disabled"` never replaces; an app with local persistent volumes
 * (resident) waits for its reservation on the lost agent.
 */
export type Replacement =
  { readonly kind: 'replaced' } | { readonly kind: 'unreachable-disabled' } | { readonly kind: 'resident' };

export interface MarathonApp {
  readonly id: string;
  /** The instance count the app asks for. */
  readonly instances: number;
  readonly request: PlacementRequest;
  readonly labels: Readonly<Record<string, string>>;
  /** Live tasks only (running, staging, starting). */
  readonly tasks: readonly AppTask[];
  readonly replacement: Replacement;
}

export type Parsed<T> =
  { readonly ok: true; readonly value: T } | { readonly ok: false; readonly issues: readonly string[] };

export function parseMarathonApps(doc: unknown): Parsed<MarathonApp[]> {
  const result = AppsDocumentSchema.safeParse(doc, { reportInput: true });
  if (!result.success) return { ok: false, issues: formatIssues(result.error.issues) };
  const issues: string[] = [];
  const apps = result.data.apps.map((app, i): MarathonApp => {
    const constraints: Constraint[] = [];
    (app.constraints ?? []).forEach((raw, j) => {
      const parsed = parseConstraint(raw);
      if (typeof parsed === 'string') issues.push(`apps[${i}].constraints[${j}] (${app.id}): ${parsed}`);
      else constraints.push(parsed);
    });
    const roles = app.acceptedResourceRoles && app.acceptedResourceRoles.length > 0 ? app.acceptedResourceRoles : ['*'];
    const isResident =
      (app.residency !== undefined && app.residency !== null) ||
      (app.container?.volumes ?? []).some((v) => v.persistent !== undefined && v.persistent !== null);
    return {
      id: app.id,
      instances: app.instances,
      request: { resources: { cpus: app.cpus, mem: app.mem, disk: app.disk }, constraints, acceptedRoles: roles },
      labels: app.labels ?? {},
      tasks: (app.tasks ?? [])
        .filter((t) => t.state === undefined || LIVE_TASK_STATES.has(t.state))
        .map((t) => ({ id: t.id, host: t.host, agentId: t.slaveId })),
      replacement: isResident
        ? { kind: 'resident' }
        : app.unreachableStrategy === 'disabled'
          ? { kind: 'unreachable-disabled' }
          : { kind: 'replaced' },
    };
  });
  return issues.length > 0 ? { ok: false, issues } : { ok: true, value: apps };
}

// ---------------------------------------------------------------------------------------------
// Mesos

const ResourcesSchema = z.object({
  cpus: z.number().default(0),
  mem: z.number().default(0),
  disk: z.number().default(0),
});

const NamedSchema = z.object({ name: z.string() });
const DomainSchema = z.object({
  fault_domain: z.object({ region: NamedSchema, zone: NamedSchema }).optional(),
});

const SlaveSchema = z.object({
  id: z.string().min(1),
  hostname: z.string().min(1),
  attributes: z.record(z.string(), z.union([z.string(), z.number()])).default({}),
  resources: ResourcesSchema,
  used_resources: ResourcesSchema.optional(),
  reserved_resources: z.record(z.string(), ResourcesSchema).optional(),
  unreserved_resources: ResourcesSchema.optional(),
  domain: DomainSchema.nullish(),
  active: z.boolean().default(true),
});

const SlavesDocumentSchema = z.object({ slaves: z.array(SlaveSchema) });

/** An agent with the facts the report needs beyond placement. */
export interface MesosAgent extends Agent {
  /** DC/OS public agent: resources reserved for `slave_public`, or attribute `public_ip: true`. */
  readonly isPublic: boolean;
}

const PUBLIC_ROLE = 'slave_public';

export function parseMesosAgents(doc: unknown): Parsed<MesosAgent[]> {
  const result = SlavesDocumentSchema.safeParse(doc, { reportInput: true });
  if (!result.success) return { ok: false, issues: formatIssues(result.error.issues) };
  return { ok: true, value: result.data.slaves.map(toAgent) };
}

function toAgent(s: z.output<typeof SlaveSchema>): MesosAgent {
  const reserved = s.reserved_resources ?? {};
  const unreserved = s.unreserved_resources ?? subtract(s.resources, Object.values(reserved));
  const pools: Record<string, Resources> = {};
  if (hasAny(unreserved)) pools['*'] = unreserved;
  for (const [role, res] of Object.entries(reserved)) if (hasAny(res)) pools[role] = res;
  const attributes: Record<string, string> = {};
  for (const [k, v] of Object.entries(s.attributes)) attributes[k] = formatAttribute(v);
  const publicIp = attributes['public_ip'];
  return {
    id: s.id,
    hostname: s.hostname,
    attributes,
    region: s.domain?.fault_domain?.region.name,
    zone: s.domain?.fault_domain?.zone.name,
    active: s.active,
    pools,
    total: s.resources,
    used: s.used_resources ?? NO_RESOURCES,
    isPublic: pools[PUBLIC_ROLE] !== undefined || publicIp === 'true',
  };
}

/**
 * Mesos renders scalars as JSON numbers, ranges as `[1-2, 5-9]` and sets as `{a, b}`; Marathon
 * compares `0.###` scalars, `[1-2,5-9]` ranges sorted by start and `{a,b}` sets sorted.
 */
export function formatAttribute(v: string | number): string {
  if (typeof v === 'number') return formatScalar(v);
  const range = /^\[(.*)\]$/.exec(v);
  if (range) {
    const parts = range[1]!
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
    parts.sort((a, b) => Number(a.split('-')[0]) - Number(b.split('-')[0]));
    return `[${parts.join(',')}]`;
  }
  const set = /^\{(.*)\}$/.exec(v);
  if (set) {
    const items = set[1]!
      .split(',')
      .map((p) => p.trim())
      .filter((p) => p !== '');
    items.sort();
    return `{${items.join(',')}}`;
  }
  return v;
}

function subtract(total: Resources, parts: readonly Resources[]): Resources {
  const out = { ...total };
  for (const p of parts) for (const r of RESOURCE_NAMES) out[r] = Math.max(0, Math.round((out[r] - p[r]) * 1e6) / 1e6);
  return out;
}

function hasAny(r: Resources): boolean {
  return RESOURCE_NAMES.some((k) => r[k] > 0);
}

const StateSchema = z.object({ domain: DomainSchema.nullish() });

/** The leading master's region from `/master/state` (undefined when it has no fault domain). */
export function parseMasterRegion(doc: unknown): Parsed<string | undefined> {
  const result = StateSchema.safeParse(doc, { reportInput: true });
  if (!result.success) return { ok: false, issues: formatIssues(result.error.issues) };
  return { ok: true, value: result.data.domain?.fault_domain?.region.name };
}
