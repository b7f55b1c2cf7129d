/**
 * The report against fixtures/survival (apps.json, agents.json), figures worked by hand.
 *
 * Free resources before any re-placement (total - used; private agents offer `*`, public agents
 * `slave_public` only):
 *   madrid:    mad-priv-1 2 cpus / 8192 MB   mad-priv-2 1 / 4096   mad-priv-3 2 / 8192 (no datacenter
 *              attribute; fault-domain zone madrid)   mad-pub-1 3 / 14848 (public)
 *   barcelona: bcn-priv-1 3 / 12288   bcn-priv-2 2 / 8192   bcn-priv-3 3 / 12288 (attribute barcelona,
 *              zone madrid)   bcn-pub-1 3 / 14848 (public)
 *   legacy-1: neither attribute nor fault domain: on neither side.
 * Apps are placed critical first (/payments/api, /payments/ledger), then by id; agents first fit by
 * host name: bcn-priv-1, bcn-priv-2, bcn-priv-3, bcn-pub-1 (resp. mad-...).
 */
import { describe, expect, it } from 'vitest';
import { loadTopology } from '../../src/topology/load.js';
import type { Topology } from '../../src/topology/model.js';
import {
  buildSurvivalReport,
  survivalSummaryForPlan,
  type Scenario,
  type SurvivalInputs,
} from '../../src/survival/report.js';
import { readSurvivalFiles } from '../../src/survival/sources.js';
import { renderSurvivalReport } from '../../src/survival/render.js';

const DIR = 'fixtures/survival';
const load = async (apps = 'apps.json'): Promise<{ t: Topology; inputs: SurvivalInputs }> => ({
  t: await loadTopology(`${DIR}/topology.yaml`),
  inputs: await readSurvivalFiles(`${DIR}/${apps}`, `${DIR}/agents.json`),
});

/** id -> [verdict, keep, replace] */
function table(s: Scenario): Record<string, [string, number, number]> {
  return Object.fromEntries(
    s.apps.map((a) => [
      a.id,
      [
        a.verdict.kind === 'degraded' ? `degraded ${a.verdict.available}/${a.verdict.of}` : a.verdict.kind,
        a.keep,
        a.replace,
      ],
    ]),
  );
}
const app = (s: Scenario, id: string) => s.apps.find((a) => a.id === id)!;

describe('agents and findings', () => {
  it('tells each agent DC by attribute, else fault domain, else not at all', async () => {
    const { t, inputs } = await load();
    const r = buildSurvivalReport(t, inputs);
    const dc = Object.fromEntries(r.agents.map((a) => [a.hostname, a.dc]));
    expect(dc['mad-priv-1']).toEqual({ kind: 'attribute', dc: 'madrid' });
    expect(dc['mad-priv-3']).toEqual({ kind: 'fault-domain', dc: 'madrid' });
    expect(dc['bcn-priv-3']).toEqual({ kind: 'attribute', dc: 'barcelona' });
    expect(dc['legacy-1']).toEqual({ kind: 'unknown' });
  });

  it('flags the missing attributes, the disagreement, and (offline) the unknown master region', async () => {
    const { t, inputs } = await load();
    const r = buildSurvivalReport(t, inputs);
    expect(r.findings.map((f) => [f.kind, 'agent' in f ? f.agent : undefined])).toEqual([
      ['agent-dc-disagreement', 'bcn-priv-3'],
      ['agent-missing-dc-attribute', 'legacy-1'],
      ['agent-missing-dc-attribute', 'mad-priv-3'],
      ['master-region-unknown', undefined],
    ]);
    expect(r.findings[0]!.message).toContain("'datacenter=barcelona' but its fault-domain zone is madrid");
  });
});

describe('loss of madrid (barcelona survives)', () => {
  it('verdict, kept and re-placed instances per app', async () => {
    const { t, inputs } = await load();
    const [s] = buildSurvivalReport(t, inputs, { lostDcs: ['madrid'] }).scenarios;
    expect(s!.survivingDc).toBe('barcelona');
    expect(table(s!)).toEqual({
      // 2 on bcn-priv-1/2 keep running; GROUP_BY datacenter 2 with only barcelona in use refuses every offer
      '/payments/api': ['degraded 2/4', 2, 0],
      // 1 kept on bcn-priv-1; GROUP_BY without a count accepts barcelona (the fewest); MAX_PER hostname 2:
      // bcn-priv-1 takes one more (2), then bcn-priv-2. bcn-priv-1 3 -> 2.5 cpus, bcn-priv-2 2 -> 1.5
      '/payments/ledger': ['survives', 1, 2],
      // CLUSTER without a value, nothing left placed: the first offer (bcn-priv-1) sets the value; both go there
      // (1 cpu / 4096 MB each: bcn-priv-1 2.5 -> 0.5 cpus, 11264 -> 3072 MB)
      '/analytics/spark-driver': ['survives', 0, 2],
      // MAX_PER datacenter 3, 2 kept: one more; bcn-priv-1 lacks mem (3072 < 4096), bcn-priv-2 takes it
      '/cache/redis': ['degraded 3/4', 2, 1],
      // UNIQUE datacenter: barcelona already holds one (the TASK_FAILED task does not count)
      '/infra/dns-forwarder': ['degraded 1/2', 1, 0],
      // its task is on legacy-1 (no DC): not kept; re-placed on bcn-priv-1 (0.5 -> 0.4 cpus)
      '/legacy/cron': ['survives', 0, 1],
      '/ops/log-shipper': ['survives', 3, 0],
      // IS madrid / CLUSTER madrid: pinned to the lost DC
      '/payments/fraud-model': ['lost', 0, 0],
      '/reporting/batch': ['lost', 0, 0],
      // 2 cpus each: bcn-priv-1 (0.4) and bcn-priv-2 (1.0) are short; bcn-priv-3 (3) takes one, then hostname UNIQUE
      '/search/elastic': ['degraded 1/3', 0, 1],
      '/search/indexer': ['survives', 2, 0],
      // slave_public only: private agents offer no such role; bcn-pub-1 already has one (hostname UNIQUE)
      '/web/frontend': ['degraded 1/2', 1, 0],
    });
    expect(app(s!, '/payments/ledger').replaceOn).toEqual(['bcn-priv-1', 'bcn-priv-2']);
    expect(app(s!, '/analytics/spark-driver').replaceOn).toEqual(['bcn-priv-1', 'bcn-priv-1']);
    expect(app(s!, '/cache/redis').replaceOn).toEqual(['bcn-priv-2']);
    expect(app(s!, '/search/elastic').replaceOn).toEqual(['bcn-priv-3']);
  });

  it('free capacity left: 0.4 + 1.0 + 1 + 3 = 5.4 cpus, 3008 + 3072 + 4096 + 14848 = 25024 MB, 450000 MB disk', async () => {
    const { t, inputs } = await load();
    const [s] = buildSurvivalReport(t, inputs, { lostDcs: ['madrid'] }).scenarios;
    expect(s!.freeAfter).toEqual({ cpus: 5.4, mem: 25024, disk: 450000 });
    expect(s!.publicAgentsLeft).toBe(1);
  });

  it('says why, in words', async () => {
    const { t, inputs } = await load();
    const [s] = buildSurvivalReport(t, inputs, { lostDcs: ['madrid'] }).scenarios;
    expect(app(s!, '/payments/api').reason).toContain(
      '3 agents refused by datacenter:GROUP_BY:2, 1 agent with no resources for role *',
    );
    expect(app(s!, '/payments/api').reason).toContain(
      "refuses every offer while fewer than 2 values of 'datacenter' hold instances",
    );
    expect(app(s!, '/reporting/batch').reason).toContain('pinned to madrid by datacenter:CLUSTER:madrid');
    expect(app(s!, '/payments/fraud-model').reason).toContain('pinned to madrid by datacenter:IS:madrid');
    expect(app(s!, '/search/elastic').reason).toContain('2 agents short of free cpus (needs 2 per instance)');
    expect(app(s!, '/analytics/spark-driver').reason).toBe(
      'no instance runs in barcelona; 2 re-placed on bcn-priv-1 (x2)',
    );
  });
});

describe('loss of barcelona (madrid survives)', () => {
  it('verdict, kept and re-placed instances per app', async () => {
    const { t, inputs } = await load();
    const [s] = buildSurvivalReport(t, inputs, { lostDcs: ['barcelona'] }).scenarios;
    expect(table(s!)).toEqual({
      // mad-priv-3 has no datacenter attribute: GROUP_BY refuses it like the others
      '/payments/api': ['degraded 2/4', 2, 0],
      '/payments/ledger': ['survives', 2, 1],
      '/analytics/spark-driver': ['survives', 2, 0],
      '/cache/redis': ['degraded 3/4', 2, 1],
      '/infra/dns-forwarder': ['degraded 1/2', 1, 0],
      '/legacy/cron': ['survives', 0, 1],
      // UNLIKE madrid refuses mad-priv-1/2, but mad-priv-3 lacks the attribute and UNLIKE accepts it: all 3 go there
      '/ops/log-shipper': ['survives', 0, 3],
      '/payments/fraud-model': ['survives', 2, 0],
      '/reporting/batch': ['survives', 3, 0],
      '/search/elastic': ['survives', 3, 0],
      // LIKE barcelona: no madrid agent matches, and mad-priv-3 (no attribute) is refused too
      '/search/indexer': ['lost', 0, 0],
      '/web/frontend': ['degraded 1/2', 1, 0],
    });
    expect(app(s!, '/ops/log-shipper').replaceOn).toEqual(['mad-priv-3', 'mad-priv-3', 'mad-priv-3']);
    // mad-priv-1: 2 - 0.5 (ledger) - 0.5 (redis) - 0.1 (cron) = 0.9 cpus, 8192 - 1024 - 4096 - 64 = 3008 MB
    // mad-priv-3: 2 - 3 x 0.25 = 1.25 cpus, 8192 - 3 x 256 = 7424 MB
    // 0.9 + 1 + 1.25 + 3 = 6.15 cpus; 3008 + 4096 + 7424 + 14848 = 29376 MB; 140000 + 140000 + 80000 + 50000 MB disk
    expect(s!.freeAfter).toEqual({ cpus: 6.15, mem: 29376, disk: 410000 });
  });
});

describe('critical apps and the hazard', () => {
  it('both DCs by default; /payments/api (critical) is at risk in each: hazard', async () => {
    const { t, inputs } = await load();
    const r = buildSurvivalReport(t, inputs);
    expect(r.scenarios.map((s) => s.lostDc)).toEqual(['madrid', 'barcelona']);
    expect(r.scenarios.map((s) => s.criticalAtRisk)).toEqual([['/payments/api'], ['/payments/api']]);
    expect(r.hazard).toBe(true);
  });

  it('with only the ledger critical, every critical app survives: no hazard', async () => {
    const { t, inputs } = await load('apps-critical-survive.json');
    const r = buildSurvivalReport(t, inputs);
    expect(r.scenarios.flatMap((s) => s.criticalAtRisk)).toEqual([]);
    expect(r.hazard).toBe(false);
  });

  it('--strict: every app is critical, every non-survivor is at risk', async () => {
    const { t, inputs } = await load('apps-critical-survive.json');
    const r = buildSurvivalReport(t, inputs, { lostDcs: ['barcelona'], strict: true });
    expect(r.scenarios[0]!.criticalAtRisk).toEqual([
      '/cache/redis',
      '/infra/dns-forwarder',
      '/payments/api',
      '/search/indexer',
      '/web/frontend',
    ]);
    expect(r.hazard).toBe(true);
  });
});

describe('cluster facts that change the outcome', () => {
  it('an agent in another region than the masters gets no instances (Mesos 1.5 fault domains) and is flagged', async () => {
    const { t, inputs } = await load();
    const moved: SurvivalInputs = {
      ...inputs,
      masterRegion: { kind: 'known', region: 'eu-south', source: 'test' },
      agents: inputs.agents.map((a) => (a.hostname === 'bcn-priv-1' ? { ...a, region: 'eu-west' } : a)),
    };
    const r = buildSurvivalReport(t, moved, { lostDcs: ['madrid'] });
    expect(r.findings.filter((f) => f.kind === 'agent-remote-region')).toEqual([
      expect.objectContaining({ agent: 'bcn-priv-1', region: 'eu-west', masterRegion: 'eu-south' }),
    ]);
    // ledger: bcn-priv-1 refused (remote region); bcn-priv-2 takes both (MAX_PER hostname 2)
    expect(app(r.scenarios[0]!, '/payments/ledger').replaceOn).toEqual(['bcn-priv-2', 'bcn-priv-2']);
    expect(r.findings.some((f) => f.kind === 'master-region-unknown')).toBe(false);
  });

  it('a DC without a public agent: flagged, and a public app loses its entry point', async () => {
    const { t, inputs } = await load();
    const noPub: SurvivalInputs = { ...inputs, agents: inputs.agents.filter((a) => a.hostname !== 'bcn-pub-1') };
    const r = buildSurvivalReport(t, noPub, { lostDcs: ['madrid'] });
    expect(r.findings.filter((f) => f.kind === 'no-public-agent')).toEqual([
      expect.objectContaining({ dc: 'barcelona' }),
    ]);
    expect(r.scenarios[0]!.publicAgentsLeft).toBe(0);
    const frontend = app(r.scenarios[0]!, '/web/frontend');
    expect(frontend.verdict).toEqual({ kind: 'lost' });
    expect(frontend.reason).toContain('3 agents with no resources for role slave_public');
  });

  it('unreachableStrategy disabled and resident apps are not re-placed', async () => {
    const { t, inputs } = await load();
    const patched: SurvivalInputs = {
      ...inputs,
      apps: inputs.apps.map((a) =>
        a.id === '/legacy/cron'
          ? { ...a, replacement: { kind: 'unreachable-disabled' } }
          : a.id === '/analytics/spark-driver'
            ? { ...a, replacement: { kind: 'resident' } }
            : a,
      ),
    };
    const [s] = buildSurvivalReport(t, patched, { lostDcs: ['madrid'] }).scenarios;
    expect(app(s!, '/legacy/cron')).toMatchObject({
      verdict: { kind: 'lost' },
      shortfall: { kind: 'unreachable-disabled' },
    });
    expect(app(s!, '/analytics/spark-driver')).toMatchObject({
      verdict: { kind: 'lost' },
      shortfall: { kind: 'resident' },
    });
    expect(app(s!, '/analytics/spark-driver').reason).toContain('local persistent volumes');
  });
});

describe('survivalSummaryForPlan', () => {
  it('counts the verdicts for the DC lost and lists the critical apps at risk', async () => {
    const { t, inputs } = await load();
    const summary = survivalSummaryForPlan(t, 'madrid', inputs);
    expect(summary).toMatchObject({
      lostDc: 'madrid',
      survivingDc: 'barcelona',
      apps: { total: 12, survives: 5, degraded: 5, lost: 2 },
      critical: { total: 2, atRisk: [{ id: '/payments/api', verdict: 'degraded (2 of 4)' }] },
      publicAgentsLeft: 1,
    });
    expect(summary.lines[0]).toBe('Marathon apps if madrid is lost: 5 survive, 5 degraded, 2 lost (of 12)');
  });
});

describe('renderSurvivalReport', () => {
  it('shows each scenario, the findings and the hazard line', async () => {
    const { t, inputs } = await load();
    const text = renderSurvivalReport(buildSurvivalReport(t, inputs));
    expect(text).toContain('If madrid is lost (barcelona survives):');
    expect(text).toContain('If barcelona is lost (madrid survives):');
    expect(text).toMatch(/lost +\/reporting\/batch +0 kept \+ 0 re-placed of 3/);
    expect(text).toContain('agents:        9: barcelona 4 (1 public), madrid 4 (1 public), unknown DC 1 (0 public)');
    expect(text).toContain('HAZARD: 1 critical app would not survive: /payments/api (loss of madrid, of barcelona)');
  });
});
