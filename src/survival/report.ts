/**
 * The survival report as a value: for the loss of each DC, which Marathon apps keep running,
 * which Marathon can re-place on the surviving DC, and which are lost, with the reason. Pure:
 * topology and observations (apps, agents, master region) in, report out. It is what `--json`
 * prints and what render.ts turns into text.
 *
 * How the simulation reads the cluster:
 * - an agent's DC is its DC attribute (`marathon.dcAttribute`, default `datacenter`) when that names
 *   a topology DC, else its fault domain (`marathon.faultDomainLevel`: zone or region name); an
 *   agent whose DC cannot be told is on neither side: its tasks are not counted as surviving and
 *   its resources are not offered;
 * - instances that keep running: live tasks on agents of the surviving DC (at most `instances`);
 * - the others are re-placed one at a time on the surviving agents (first fit, by host name),
 *   under Marathon's constraint rules, accepted roles and the surviving agents' free cpus/mem/disk;
 * - all apps share that free capacity: critical apps are placed first, then the others by id.
 *   Marathon has no such priority, so a critical app reported as placeable could still lose the
 *   race for capacity to another app; the report says how much room is left.
 */
import { assertNever } from '../errors.js';
import type { Topology } from '../topology/model.js';
import type { MarathonApp, MesosAgent } from './inputs.js';
import {
  CapacityLedger,
  formatConstraint,
  placeInstances,
  RESOURCE_NAMES,
  type AgentFacts,
  type Refusal,
  type Resources,
} from './placement.js';

const DEFAULT_DC_ATTRIBUTE = 'datacenter';
const DEFAULT_FAULT_DOMAIN_LEVEL = 'zone';
/** The label that marks an app as critical (value `true`, any case). */
const CRITICAL_LABEL = 'DCFAIL_CRITICAL';

/** Where the masters' region came from; the region rule is skipped when unknown. */
export type MasterRegion =
  | { readonly kind: 'known'; readonly region: string; readonly source: string }
  | { readonly kind: 'none'; readonly source: string }
  | { readonly kind: 'unknown'; readonly why: string };

/** What the report is built from (sources.ts reads it live or from files). */
export interface SurvivalInputs {
  readonly apps: readonly MarathonApp[];
  readonly agents: readonly MesosAgent[];
  readonly masterRegion: MasterRegion;
  /** For the report header: URLs or file names. */
  readonly source: string;
}

export interface SurvivalOptions {
  /** The DCs whose loss to simulate; default both. */
  readonly lostDcs?: readonly string[];
  /** Every app is critical, not only those labelled `DCFAIL_CRITICAL=true`. */
  readonly strict?: boolean;
}

/** How an agent's DC was told. */
export type AgentDc =
  | { readonly kind: 'attribute'; readonly dc: string }
  | { readonly kind: 'fault-domain'; readonly dc: string }
  | { readonly kind: 'unknown' };

export interface AgentSummary {
  readonly id: string;
  readonly hostname: string;
  readonly dc: AgentDc;
  readonly isPublic: boolean;
  readonly active: boolean;
  readonly region: string | undefined;
  readonly zone: string | undefined;
}

/** Something about the cluster worth knowing before the bad day; none of these alone fails the run. */
export type Finding =
  | { readonly kind: 'agent-missing-dc-attribute'; readonly agent: string; readonly dc: string | undefined }
  | {
      readonly kind: 'agent-dc-attribute-unknown';
      readonly agent: string;
      readonly value: string;
      readonly dc: string | undefined;
    }
  | {
      readonly kind: 'agent-dc-disagreement';
      readonly agent: string;
      readonly attribute: string;
      readonly faultDomain: string;
    }
  | {
      readonly kind: 'agent-remote-region';
      readonly agent: string;
      readonly region: string;
      readonly masterRegion: string;
    }
  | { readonly kind: 'agent-inactive'; readonly agent: string }
  | { readonly kind: 'no-public-agent'; readonly dc: string }
  | { readonly kind: 'master-region-unknown'; readonly why: string };

export type Verdict =
  | { readonly kind: 'survives' }
  | { readonly kind: 'degraded'; readonly available: number; readonly of: number }
  | { readonly kind: 'lost' };

/** Why an app cannot get all its instances back (the first instance that found no agent). */
export type Shortfall =
  | { readonly kind: 'no-agents' }
  | { readonly kind: 'unreachable-disabled' }
  | { readonly kind: 'resident' }
  | {
      readonly kind: 'refused';
      readonly refusals: readonly { readonly reason: string; readonly agents: readonly string[] }[];
    };

export interface AppOutcome {
  readonly id: string;
  readonly critical: boolean;
  readonly instances: number;
  /** Instances already on the surviving side, that keep running. */
  readonly keep: number;
  /** Instances Marathon can re-place on the surviving side. */
  readonly replace: number;
  /** Host names the replacements would go to. */
  readonly replaceOn: readonly string[];
  readonly verdict: Verdict;
  /** null when every instance is back. */
  readonly shortfall: Shortfall | null;
  /** The verdict's reason, in words. */
  readonly reason: string;
}

export interface Scenario {
  readonly lostDc: string;
  readonly survivingDc: string;
  readonly apps: readonly AppOutcome[];
  readonly publicAgentsLeft: number;
  /** Free resources of the surviving agents (all roles) after the re-placements. */
  readonly freeAfter: Resources;
  /** Critical apps that do not survive this loss. */
  readonly criticalAtRisk: readonly string[];
}

export interface SurvivalReport {
  readonly cluster: string;
  readonly source: string;
  readonly dcAttribute: string;
  readonly faultDomainLevel: 'zone' | 'region';
  readonly masterRegion: MasterRegion;
  readonly criticalRule: string;
  readonly agents: readonly AgentSummary[];
  readonly findings: readonly (Finding & { readonly message: string })[];
  readonly scenarios: readonly Scenario[];
  /** A critical app would not survive the loss of some DC reported: exit 5. */
  readonly hazard: boolean;
}

function isCritical(app: MarathonApp, strict: boolean): boolean {
  return strict || (app.labels[CRITICAL_LABEL] ?? '').trim().toLowerCase() === 'true';
}

export function buildSurvivalReport(
  t: Topology,
  inputs: SurvivalInputs,
  options: SurvivalOptions = {},
): SurvivalReport {
  const dcAttribute = t.marathon?.dcAttribute ?? DEFAULT_DC_ATTRIBUTE;
  const faultDomainLevel = t.marathon?.faultDomainLevel ?? DEFAULT_FAULT_DOMAIN_LEVEL;
  const dcs = [t.datacenters.main, t.datacenters.secondary];
  const strict = options.strict ?? false;
  const findings: Finding[] = [];

  const agents = [...inputs.agents].sort((a, b) => a.hostname.localeCompare(b.hostname));
  const dcOf = new Map<string, AgentDc>();
  for (const agent of agents) {
    const { dc, finding } = resolveAgentDc(agent, dcAttribute, faultDomainLevel, dcs);
    dcOf.set(agent.id, dc);
    if (finding) findings.push(finding);
    if (!agent.active) findings.push({ kind: 'agent-inactive', agent: agent.hostname });
  }
  const masterRegion = inputs.masterRegion.kind === 'known' ? inputs.masterRegion.region : undefined;
  if (inputs.masterRegion.kind === 'unknown')
    findings.push({ kind: 'master-region-unknown', why: inputs.masterRegion.why });
  if (masterRegion !== undefined) {
    for (const agent of agents) {
      if (agent.region !== undefined && agent.region !== masterRegion) {
        findings.push({ kind: 'agent-remote-region', agent: agent.hostname, region: agent.region, masterRegion });
      }
    }
  }
  for (const dc of dcs) {
    if (!agents.some((a) => a.isPublic && a.active && dcName(dcOf.get(a.id)) === dc))
      findings.push({ kind: 'no-public-agent', dc });
  }

  const lostDcs = options.lostDcs ?? dcs;
  const scenarios = lostDcs.map((lostDc) => {
    const survivingDc = lostDc === t.datacenters.main ? t.datacenters.secondary : t.datacenters.main;
    return simulateLoss(inputs.apps, agents, dcOf, { lostDc, survivingDc, dcAttribute, masterRegion, strict });
  });

  return {
    cluster: t.cluster,
    source: inputs.source,
    dcAttribute,
    faultDomainLevel,
    masterRegion: inputs.masterRegion,
    criticalRule: strict ? 'every app (--strict)' : `apps labelled ${CRITICAL_LABEL}=true`,
    agents: agents.map((a) => ({
      id: a.id,
      hostname: a.hostname,
      dc: dcOf.get(a.id) ?? { kind: 'unknown' },
      isPublic: a.isPublic,
      active: a.active,
      region: a.region,
      zone: a.zone,
    })),
    findings: findings.map((f) => ({ ...f, message: describeFinding(f, dcAttribute, faultDomainLevel) })),
    scenarios,
    hazard: scenarios.some((s) => s.criticalAtRisk.length > 0),
  };
}

function dcName(dc: AgentDc | undefined): string | undefined {
  return dc === undefined || dc.kind === 'unknown' ? undefined : dc.dc;
}

/**
 * The DC attribute decides when it names a topology DC: it is what Marathon's constraints read.
 * The fault domain is the fallback, and a cross-check: when it names the other DC, say so.
 */
function resolveAgentDc(
  agent: MesosAgent,
  dcAttribute: string,
  level: 'zone' | 'region',
  dcs: readonly string[],
): { dc: AgentDc; finding?: Finding } {
  const attribute = Object.hasOwn(agent.attributes, dcAttribute) ? agent.attributes[dcAttribute] : undefined;
  const domain = level === 'zone' ? agent.zone : agent.region;
  const fromDomain = domain !== undefined && dcs.includes(domain) ? domain : undefined;
  if (attribute !== undefined && dcs.includes(attribute)) {
    if (fromDomain !== undefined && fromDomain !== attribute) {
      return {
        dc: { kind: 'attribute', dc: attribute },
        finding: { kind: 'agent-dc-disagreement', agent: agent.hostname, attribute, faultDomain: fromDomain },
      };
    }
    return { dc: { kind: 'attribute', dc: attribute } };
  }
  const dc: AgentDc = fromDomain !== undefined ? { kind: 'fault-domain', dc: fromDomain } : { kind: 'unknown' };
  const finding: Finding =
    attribute === undefined
      ? { kind: 'agent-missing-dc-attribute', agent: agent.hostname, dc: fromDomain }
      : { kind: 'agent-dc-attribute-unknown', agent: agent.hostname, value: attribute, dc: fromDomain };
  return { dc, finding };
}

function simulateLoss(
  apps: readonly MarathonApp[],
  agents: readonly MesosAgent[],
  dcOf: ReadonlyMap<string, AgentDc>,
  where: {
    lostDc: string;
    survivingDc: string;
    dcAttribute: string;
    masterRegion: string | undefined;
    strict: boolean;
  },
): Scenario {
  const { lostDc, survivingDc, masterRegion, strict } = where;
  const surviving = agents.filter((a) => dcName(dcOf.get(a.id)) === survivingDc);
  const byId = new Map(agents.map((a) => [a.id, a]));
  const byHost = new Map(agents.map((a) => [a.hostname, a]));
  const ctx = { masterRegion, ledger: new CapacityLedger() };
  const ordered = [...apps].sort(
    (a, b) => Number(isCritical(b, strict)) - Number(isCritical(a, strict)) || a.id.localeCompare(b.id),
  );

  const outcomes = ordered.map((app): AppOutcome => {
    const critical = isCritical(app, strict);
    const placedOnSurvivor: AgentFacts[] = [];
    for (const task of app.tasks) {
      const agent = (task.agentId !== undefined ? byId.get(task.agentId) : undefined) ?? byHost.get(task.host);
      if (agent && dcName(dcOf.get(agent.id)) === survivingDc) placedOnSurvivor.push(agent);
    }
    const keep = Math.min(app.instances, placedOnSurvivor.length);
    const missing = app.instances - keep;
    let replaceOn: readonly string[] = [];
    let shortfall: Shortfall | undefined;
    if (missing > 0) {
      if (app.replacement.kind !== 'replaced') {
        shortfall = { kind: app.replacement.kind };
      } else if (surviving.length === 0) {
        shortfall = { kind: 'no-agents' };
      } else {
        const outcome = placeInstances(app.request, missing, surviving, placedOnSurvivor.slice(0, keep), ctx);
        replaceOn = outcome.hosts;
        if (outcome.hosts.length < missing)
          shortfall = { kind: 'refused', refusals: groupRefusals(outcome.refusals, app) };
      }
    }
    const available = keep + replaceOn.length;
    const verdict: Verdict =
      available >= app.instances
        ? { kind: 'survives' }
        : available === 0
          ? { kind: 'lost' }
          : { kind: 'degraded', available, of: app.instances };
    return {
      id: app.id,
      critical,
      instances: app.instances,
      keep,
      replace: replaceOn.length,
      replaceOn,
      verdict,
      shortfall: shortfall ?? null,
      reason: describeOutcome(app, keep, replaceOn, shortfall, where),
    };
  });

  const freeAfter = { cpus: 0, mem: 0, disk: 0 };
  for (const agent of surviving) {
    if (!agent.active) continue;
    const free = ctx.ledger.available(agent, Object.keys(agent.pools));
    for (const r of RESOURCE_NAMES) freeAfter[r] = Math.round((freeAfter[r] + free[r]) * 1e6) / 1e6;
  }
  return {
    lostDc,
    survivingDc,
    apps: outcomes,
    publicAgentsLeft: surviving.filter((a) => a.isPublic && a.active).length,
    freeAfter,
    criticalAtRisk: outcomes.filter((o) => o.critical && o.verdict.kind !== 'survives').map((o) => o.id),
  };
}

function groupRefusals(refusals: readonly { agent: string; refusal: Refusal }[], app: MarathonApp) {
  const groups = new Map<string, string[]>();
  for (const { agent, refusal } of refusals) {
    const reason = describeRefusal(refusal, app);
    const list = groups.get(reason) ?? [];
    list.push(agent);
    groups.set(reason, list);
  }
  return [...groups].map(([reason, agents]) => ({ reason, agents }));
}

function describeRefusal(r: Refusal, app: MarathonApp): string {
  switch (r.kind) {
    case 'inactive':
      return 'inactive in Mesos';
    case 'remote-region':
      return `in region ${r.region}, not the masters' (Marathon places there only apps with an @region/@zone constraint)`;
    case 'role':
      return `with no resources for role ${app.request.acceptedRoles.join(', ')}`;
    case 'constraint':
      return `refused by ${formatConstraint(r.constraint)}`;
    case 'resources':
      return `short of free ${r.resource} (needs ${app.request.resources[r.resource]} per instance)`;
    default:
      return assertNever(r, 'refusal');
  }
}

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}

function describeOutcome(
  app: MarathonApp,
  keep: number,
  replaceOn: readonly string[],
  shortfall: Shortfall | undefined,
  where: { lostDc: string; survivingDc: string; dcAttribute: string },
): string {
  const { survivingDc } = where;
  if (app.instances === 0) return 'scaled to 0 instances';
  const parts: string[] = [];
  parts.push(
    keep === 0 ? `no instance runs in ${survivingDc}` : `${keep} of ${app.instances} already run in ${survivingDc}`,
  );
  if (replaceOn.length > 0) parts.push(`${replaceOn.length} re-placed on ${summarizeHosts(replaceOn)}`);
  if (shortfall) parts.push(describeShortfall(shortfall, app, where));
  return parts.join('; ');
}

function describeShortfall(
  s: Shortfall,
  app: MarathonApp,
  where: { lostDc: string; survivingDc: string; dcAttribute: string },
): string {
  const { lostDc, survivingDc, dcAttribute } = where;
  switch (s.kind) {
    case 'no-agents':
      return `no agent is known in ${survivingDc}`;
    case 'unreachable-disabled':
      return `unreachableStrategy is disabled: Marathon does not replace instances lost with ${lostDc}`;
    case 'resident':
      return `it has local persistent volumes: its instances wait for their agents in ${lostDc}`;
    case 'refused': {
      const pinned = app.request.constraints.find(
        (c) => (c.kind === 'CLUSTER' || c.kind === 'IS') && c.field === dcAttribute && c.value === lostDc,
      );
      const all = s.refusals.map((g) => `${plural(g.agents.length, 'agent')} ${g.reason}`).join(', ');
      const lead = pinned
        ? `pinned to ${lostDc} by ${formatConstraint(pinned)}`
        : `no agent in ${survivingDc} takes another instance`;
      const groupBy = app.request.constraints.find(
        (c) => c.kind === 'GROUP_BY' && c.field === dcAttribute && c.groups >= 2,
      );
      const why =
        groupBy?.kind === 'GROUP_BY'
          ? `; ${formatConstraint(groupBy)} refuses every offer while fewer than ${groupBy.groups} values of '${dcAttribute}' hold instances, and only ${survivingDc} is left`
          : '';
      return `${lead} (${all})${why}`;
    }
    default:
      return assertNever(s, 'shortfall');
  }
}

function summarizeHosts(hosts: readonly string[]): string {
  const counts = new Map<string, number>();
  for (const h of hosts) counts.set(h, (counts.get(h) ?? 0) + 1);
  return [...counts].map(([h, n]) => (n === 1 ? h : `${h} (x${n})`)).join(', ');
}

function describeFinding(f: Finding, dcAttribute: string, level: 'zone' | 'region'): string {
  switch (f.kind) {
    case 'agent-missing-dc-attribute':
      return f.dc !== undefined
        ? `agent ${f.agent} has no '${dcAttribute}' attribute: its DC (${f.dc}) comes from its fault-domain ${level}; constraints on '${dcAttribute}' other than UNLIKE refuse it`
        : `agent ${f.agent} has no '${dcAttribute}' attribute and no fault-domain ${level} naming a DC: counted on neither side; constraints on '${dcAttribute}' other than UNLIKE refuse it`;
    case 'agent-dc-attribute-unknown':
      return `agent ${f.agent} has '${dcAttribute}=${f.value}', not a DC of the topology; ${f.dc !== undefined ? `its fault-domain ${level} puts it in ${f.dc}` : 'counted on neither side'}`;
    case 'agent-dc-disagreement':
      return `agent ${f.agent}: '${dcAttribute}=${f.attribute}' but its fault-domain ${level} is ${f.faultDomain}; the report follows the attribute (Marathon's constraints read it), fix one of them`;
    case 'agent-remote-region':
      return `agent ${f.agent} is in region ${f.region}, the masters in ${f.masterRegion}: Mesos (1.5+ fault domains) offers it only to region-aware frameworks, and Marathon places there only apps with an @region/@zone constraint`;
    case 'agent-inactive':
      return `agent ${f.agent} is not active in Mesos: no offers from it`;
    case 'no-public-agent':
      return `no active public agent in ${f.dc}: without the other DC there is no north-south entry point`;
    case 'master-region-unknown':
      return `masters' region unknown (${f.why}): the fault-domain region check was skipped`;
    default:
      return assertNever(f, 'finding');
  }
}

/** What `dcfail plan failover` shows about the apps; it informs and never changes the plan. */
export interface SurvivalSummary {
  readonly lostDc: string;
  readonly survivingDc: string;
  readonly apps: {
    readonly total: number;
    readonly survives: number;
    readonly degraded: number;
    readonly lost: number;
  };
  readonly critical: {
    readonly total: number;
    readonly atRisk: readonly { readonly id: string; readonly verdict: string }[];
  };
  readonly publicAgentsLeft: number;
  /** Ready-made lines for the human plan output. */
  readonly lines: readonly string[];
}

/**
 * The survival report for the loss of `lostDc`, reduced to what a failover plan shows.
 *
 * Contract for the plan command: `lostDc` is a resolved DC name (use resolveDc); `inputs` come
 * from `loadSurvivalInputs` (src/survival/sources.ts, which throws OperationError/UserError on
 * unreachable URLs or bad files: catch and show it as a warning in the plan, since the summary
 * informs and must never change the plan's `safe` nor its exit code). Pure: no I/O, no throw for
 * valid inputs. Put it in the plan JSON under `survival` if you like; it is plain data.
 */
export function survivalSummaryForPlan(
  t: Topology,
  lostDc: string,
  inputs: SurvivalInputs,
  options: { strict?: boolean } = {},
): SurvivalSummary {
  const report = buildSurvivalReport(t, inputs, { lostDcs: [lostDc], strict: options.strict ?? false });
  const scenario = report.scenarios[0]!;
  const count = (k: Verdict['kind']) => scenario.apps.filter((a) => a.verdict.kind === k).length;
  const critical = scenario.apps.filter((a) => a.critical);
  const atRisk = critical
    .filter((a) => a.verdict.kind !== 'survives')
    .map((a) => ({ id: a.id, verdict: formatVerdict(a.verdict) }));
  const apps = {
    total: scenario.apps.length,
    survives: count('survives'),
    degraded: count('degraded'),
    lost: count('lost'),
  };
  const lines = [
    `Marathon apps if ${lostDc} is lost: ${apps.survives} survive, ${apps.degraded} degraded, ${apps.lost} lost (of ${apps.total})`,
    ...atRisk.map((a) => `  critical ${a.id}: ${a.verdict}`),
    ...(scenario.publicAgentsLeft === 0
      ? [`  no public agent left in ${scenario.survivingDc}: no north-south entry point`]
      : []),
  ];
  return {
    lostDc,
    survivingDc: scenario.survivingDc,
    apps,
    critical: { total: critical.length, atRisk },
    publicAgentsLeft: scenario.publicAgentsLeft,
    lines,
  };
}

export function formatVerdict(v: Verdict): string {
  switch (v.kind) {
    case 'survives':
      return 'survives';
    case 'degraded':
      return `degraded (${v.available} of ${v.of})`;
    case 'lost':
      return 'lost';
    default:
      return assertNever(v, 'verdict');
  }
}
