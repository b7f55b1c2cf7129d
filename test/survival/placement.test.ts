import { describe, expect, it } from 'vitest';
import {
  CapacityLedger,
  formatConstraint,
  formatScalar,
  meetsConstraint,
  parseConstraint,
  placeInstances,
  refusalOf,
  type Agent,
  type AgentFacts,
  type Constraint,
  type PlacementRequest,
} from '../../src/survival/placement.js';

/** An agent in `dc` (undefined: no datacenter attribute). */
function facts(
  hostname: string,
  dc: string | undefined,
  extra: Record<string, string> = {},
  region?: string,
  zone?: string,
): AgentFacts {
  return { hostname, attributes: { ...(dc === undefined ? {} : { datacenter: dc }), ...extra }, region, zone };
}

function c(raw: string[]): Constraint {
  const parsed = parseConstraint(raw);
  if (typeof parsed === 'string') throw new Error(parsed);
  return parsed;
}

const MAD = (n: number) => facts(`mad-${n}`, 'madrid');
const BCN = (n: number) => facts(`bcn-${n}`, 'barcelona');
const NOATTR = facts('legacy-1', undefined);

describe('parseConstraint', () => {
  it('accepts the seven operators, case-insensitively, as Marathon validates them', () => {
    expect(c(['hostname', 'unique'])).toEqual({ kind: 'UNIQUE', field: 'hostname' });
    expect(c(['datacenter', 'CLUSTER'])).toEqual({ kind: 'CLUSTER', field: 'datacenter', value: undefined });
    expect(c(['datacenter', 'CLUSTER', 'madrid'])).toEqual({ kind: 'CLUSTER', field: 'datacenter', value: 'madrid' });
    expect(c(['datacenter', 'GROUP_BY'])).toEqual({ kind: 'GROUP_BY', field: 'datacenter', groups: 0 });
    expect(c(['datacenter', 'GROUP_BY', '2'])).toEqual({ kind: 'GROUP_BY', field: 'datacenter', groups: 2 });
    expect(c(['rack', 'MAX_PER', '3'])).toEqual({ kind: 'MAX_PER', field: 'rack', max: 3 });
    expect(c(['rack', 'LIKE', 'r[12]'])).toEqual({ kind: 'LIKE', field: 'rack', pattern: 'r[12]' });
    expect(c(['rack', 'UNLIKE', 'r9'])).toEqual({ kind: 'UNLIKE', field: 'rack', pattern: 'r9' });
    expect(c(['level', 'IS', '0.80'])).toEqual({ kind: 'IS', field: 'level', value: '0.80' });
  });

  it.each([
    [['hostname', 'UNIQUE', 'x'], /UNIQUE does not accept a value/],
    [['rack', 'MAX_PER'], /MAX_PER requires a whole number/],
    [['rack', 'MAX_PER', 'two'], /MAX_PER requires a whole number/],
    [['rack', 'GROUP_BY', '2.5'], /GROUP_BY takes a whole number/],
    [['rack', 'LIKE'], /LIKE requires a non-empty regular expression/],
    [['rack', 'UNLIKE', '('], /not a valid regular expression/],
    [['rack', 'IS', '{a,b}'], /IS requires a Mesos text or scalar value/],
    [['rack', 'IN', '{a}'], /unknown operator 'IN'/],
    [['rack'], /expected \[field, operator\]/],
    [['', 'UNIQUE'], /missing field/],
  ])('refuses %j', (raw, message) => {
    expect(parseConstraint(raw)).toMatch(message);
  });

  it('formats back to field:OPERATOR:value', () => {
    expect(formatConstraint(c(['datacenter', 'GROUP_BY', '2']))).toBe('datacenter:GROUP_BY:2');
    expect(formatConstraint(c(['datacenter', 'CLUSTER']))).toBe('datacenter:CLUSTER');
  });
});

describe('meetsConstraint: an agent without the field satisfies only UNLIKE', () => {
  it.each([
    [['datacenter', 'UNIQUE'], false],
    [['datacenter', 'CLUSTER'], false],
    [['datacenter', 'CLUSTER', 'madrid'], false],
    [['datacenter', 'GROUP_BY'], false],
    [['datacenter', 'GROUP_BY', '2'], false],
    [['datacenter', 'MAX_PER', '5'], false],
    [['datacenter', 'LIKE', '.*'], false],
    [['datacenter', 'IS', 'madrid'], false],
    [['datacenter', 'UNLIKE', 'madrid'], true],
    [['datacenter', 'UNLIKE', '.*'], true],
  ])('%j on an agent lacking the attribute: %s', (raw, expected) => {
    expect(meetsConstraint(c(raw), NOATTR, [])).toBe(expected);
  });
});

describe('UNIQUE', () => {
  it('refuses a value any placed instance has, on an attribute and on hostname', () => {
    expect(meetsConstraint(c(['datacenter', 'UNIQUE']), BCN(1), [MAD(1)])).toBe(true);
    expect(meetsConstraint(c(['datacenter', 'UNIQUE']), BCN(2), [MAD(1), BCN(1)])).toBe(false);
    expect(meetsConstraint(c(['hostname', 'UNIQUE']), BCN(2), [BCN(1)])).toBe(true);
    expect(meetsConstraint(c(['@hostname', 'UNIQUE']), BCN(1), [BCN(1)])).toBe(false);
  });
  it('instances on agents without the attribute do not block a value', () => {
    expect(meetsConstraint(c(['datacenter', 'UNIQUE']), BCN(1), [NOATTR])).toBe(true);
  });
});

describe('CLUSTER', () => {
  it('with a value: exactly that value', () => {
    expect(meetsConstraint(c(['datacenter', 'CLUSTER', 'madrid']), MAD(1), [])).toBe(true);
    expect(meetsConstraint(c(['datacenter', 'CLUSTER', 'madrid']), BCN(1), [])).toBe(false);
    // exact, not a regex nor a prefix
    expect(meetsConstraint(c(['datacenter', 'CLUSTER', 'mad']), MAD(1), [])).toBe(false);
  });
  it('without a value: anything while nothing is placed, then the first instance value', () => {
    expect(meetsConstraint(c(['datacenter', 'CLUSTER']), BCN(1), [])).toBe(true);
    expect(meetsConstraint(c(['datacenter', 'CLUSTER']), BCN(1), [BCN(2)])).toBe(true);
    expect(meetsConstraint(c(['datacenter', 'CLUSTER']), BCN(1), [MAD(2)])).toBe(false);
    expect(meetsConstraint(c(['hostname', 'CLUSTER']), BCN(1), [BCN(2)])).toBe(false);
  });
  it('without a value, a first instance lacking the attribute blocks every agent', () => {
    expect(meetsConstraint(c(['datacenter', 'CLUSTER']), BCN(1), [NOATTR])).toBe(false);
  });
});

describe('GROUP_BY (Marathon <= 1.9 rule)', () => {
  const by2 = c(['datacenter', 'GROUP_BY', '2']);
  const byAny = c(['datacenter', 'GROUP_BY']);

  it('accepts any value with no instance yet', () => {
    expect(meetsConstraint(by2, MAD(1), [])).toBe(true);
    expect(meetsConstraint(by2, BCN(1), [MAD(1)])).toBe(true);
  });
  it('with a count: refuses a used value while fewer than that many values are in use', () => {
    // 1 value in use (madrid) < 2: a second madrid instance waits for another DC
    expect(meetsConstraint(by2, MAD(2), [MAD(1)])).toBe(false);
    // the case: madrid lost, the 2 barcelona instances remain; every barcelona offer is refused
    expect(meetsConstraint(by2, BCN(3), [BCN(1), BCN(2)])).toBe(false);
  });
  it('with enough values in use: only the value with the fewest instances', () => {
    expect(meetsConstraint(by2, MAD(2), [MAD(1), BCN(1)])).toBe(true);
    expect(meetsConstraint(by2, MAD(3), [MAD(1), MAD(2), BCN(1)])).toBe(false);
    expect(meetsConstraint(by2, BCN(2), [MAD(1), MAD(2), BCN(1)])).toBe(true);
  });
  it('without a count: the used value with the fewest instances, even when it is the only one', () => {
    expect(meetsConstraint(byAny, BCN(3), [BCN(1), BCN(2)])).toBe(true);
    expect(meetsConstraint(byAny, BCN(3), [BCN(1), BCN(2), MAD(1)])).toBe(false);
  });
  it('instances without the attribute form a group of their own (it counts for the fewest)', () => {
    // groups: {madrid: 1, (none): 1}; size 2 >= 2 and madrid holds the fewest (1)
    expect(meetsConstraint(by2, MAD(2), [MAD(1), NOATTR])).toBe(true);
    // groups: {madrid: 2, (none): 1}; madrid is not the fewest
    expect(meetsConstraint(by2, MAD(3), [MAD(1), MAD(2), NOATTR])).toBe(false);
  });
  it('on hostname', () => {
    const byHost = c(['hostname', 'GROUP_BY', '2']);
    expect(meetsConstraint(byHost, BCN(1), [BCN(1)])).toBe(false);
    expect(meetsConstraint(byHost, BCN(1), [BCN(1), BCN(2)])).toBe(true);
  });
});

describe('MAX_PER', () => {
  const max2 = c(['datacenter', 'MAX_PER', '2']);
  it('accepts while fewer than n instances share the value', () => {
    expect(meetsConstraint(max2, BCN(1), [])).toBe(true);
    expect(meetsConstraint(max2, BCN(1), [BCN(2), MAD(1), MAD(2)])).toBe(true);
    expect(meetsConstraint(max2, BCN(3), [BCN(1), BCN(2)])).toBe(false);
  });
  it('on hostname', () => {
    const perHost = c(['hostname', 'MAX_PER', '1']);
    expect(meetsConstraint(perHost, BCN(1), [BCN(1)])).toBe(false);
    expect(meetsConstraint(perHost, BCN(2), [BCN(1)])).toBe(true);
  });
});

describe('LIKE and UNLIKE: regular expressions matched against the whole value', () => {
  it('LIKE', () => {
    expect(meetsConstraint(c(['datacenter', 'LIKE', 'barcelona|madrid']), BCN(1), [])).toBe(true);
    expect(meetsConstraint(c(['datacenter', 'LIKE', 'bar']), BCN(1), [])).toBe(false); // a substring is not a match
    expect(meetsConstraint(c(['datacenter', 'LIKE', 'bar.*']), BCN(1), [])).toBe(true);
    expect(meetsConstraint(c(['hostname', 'LIKE', 'bcn-[0-9]']), BCN(7), [])).toBe(true);
    // the alternation is anchored as a whole, not only its last branch
    expect(meetsConstraint(c(['datacenter', 'LIKE', 'x|bar']), BCN(1), [])).toBe(false);
  });
  it('UNLIKE', () => {
    expect(meetsConstraint(c(['datacenter', 'UNLIKE', 'madrid']), BCN(1), [])).toBe(true);
    expect(meetsConstraint(c(['datacenter', 'UNLIKE', 'madrid']), MAD(1), [])).toBe(false);
    expect(meetsConstraint(c(['datacenter', 'UNLIKE', 'mad']), MAD(1), [])).toBe(true); // substring: not a match
  });
});

describe('IS', () => {
  it('compares text exactly', () => {
    expect(meetsConstraint(c(['datacenter', 'IS', 'madrid']), MAD(1), [])).toBe(true);
    expect(meetsConstraint(c(['datacenter', 'IS', 'madrid']), BCN(1), [])).toBe(false);
    expect(meetsConstraint(c(['datacenter', 'IS', 'mad']), MAD(1), [])).toBe(false); // not a prefix match
  });
  it('compares a scalar value in Marathon format (agent level 0.8: IS 0.8, 0.80 and 0.8001 match)', () => {
    const agent = facts('a', 'madrid', { level: formatScalar(0.8) });
    expect(meetsConstraint(c(['level', 'IS', '0.8']), agent, [])).toBe(true);
    expect(meetsConstraint(c(['level', 'IS', '0.80']), agent, [])).toBe(true);
    expect(meetsConstraint(c(['level', 'IS', '0.8001']), agent, [])).toBe(true);
    expect(meetsConstraint(c(['level', 'IS', '0.81']), agent, [])).toBe(false);
  });
});

describe('@region and @zone read the fault domain', () => {
  it('reads them', () => {
    const a = facts('a', 'madrid', {}, 'eu-south', 'madrid');
    expect(meetsConstraint(c(['@zone', 'IS', 'madrid']), a, [])).toBe(true);
    expect(meetsConstraint(c(['@region', 'UNIQUE']), a, [facts('b', 'x', {}, 'eu-south', 'z')])).toBe(false);
    expect(meetsConstraint(c(['@zone', 'LIKE', '.*']), facts('c', 'madrid'), [])).toBe(false);
  });
});

describe('formatScalar: DecimalFormat("0.###"), half-even', () => {
  it.each([
    [3, '3'],
    [0.8, '0.8'],
    [1.0005, '1'],
    [1.00051, '1.001'],
    [1.1005, '1.1'],
    [1.1015, '1.102'],
    [2.5, '2.5'],
    [0.9999, '1'],
  ])('%d -> %s', (x, s) => {
    expect(formatScalar(x)).toBe(s);
  });
});

// ---------------------------------------------------------------------------------------------

function agent(
  hostname: string,
  dc: string,
  pools: Record<string, [number, number, number]>,
  used: [number, number, number] = [0, 0, 0],
  extra: Partial<Agent> = {},
): Agent {
  const toRes = ([cpus, mem, disk]: [number, number, number]) => ({ cpus, mem, disk });
  const sizes = Object.values(pools);
  const total = toRes([
    sizes.reduce((s, p) => s + p[0], 0),
    sizes.reduce((s, p) => s + p[1], 0),
    sizes.reduce((s, p) => s + p[2], 0),
  ]);
  return {
    id: `id-${hostname}`,
    hostname,
    attributes: { datacenter: dc },
    region: undefined,
    zone: undefined,
    active: true,
    pools: Object.fromEntries(Object.entries(pools).map(([role, p]) => [role, toRes(p)])),
    total,
    used: toRes(used),
    ...extra,
  };
}

const request = (
  cpus: number,
  mem: number,
  disk: number,
  constraints: string[][] = [],
  roles = ['*'],
): PlacementRequest => ({
  resources: { cpus, mem, disk },
  constraints: constraints.map(c),
  acceptedRoles: roles,
});

describe('CapacityLedger', () => {
  it('free = pool - used on a single-pool agent; placements are charged', () => {
    // 8 cpus / 32768 MB / 100000 MB, 5.5 / 20480 / 40000 used: 2.5 / 12288 / 60000 free
    const a = agent('a', 'bcn', { '*': [8, 32768, 100000] }, [5.5, 20480, 40000]);
    const ledger = new CapacityLedger();
    expect(ledger.available(a, ['*'])).toEqual({ cpus: 2.5, mem: 12288, disk: 60000 });
    ledger.take(a, ['*'], { cpus: 0.1, mem: 1024, disk: 0 });
    ledger.take(a, ['*'], { cpus: 0.2, mem: 1024, disk: 0 });
    // 2.5 - 0.1 - 0.2 = 2.2 exactly (no 2.1999999999999997)
    expect(ledger.available(a, ['*'])).toEqual({ cpus: 2.2, mem: 10240, disk: 60000 });
    expect(ledger.shortOf(a, ['*'], { cpus: 2.2, mem: 10240, disk: 60000 })).toBeUndefined();
    expect(ledger.shortOf(a, ['*'], { cpus: 2.3, mem: 1, disk: 0 })).toBe('cpus');
    expect(ledger.shortOf(a, ['*'], { cpus: 1, mem: 10241, disk: 0 })).toBe('mem');
  });

  it('roles: a public agent gives nothing to an app accepting only *', () => {
    const pub = agent('pub', 'bcn', { slave_public: [4, 15360, 50000] }, [1, 512, 0]);
    const ledger = new CapacityLedger();
    expect(ledger.available(pub, ['*'])).toEqual({ cpus: 0, mem: 0, disk: 0 });
    expect(ledger.available(pub, ['slave_public'])).toEqual({ cpus: 3, mem: 14848, disk: 50000 });
  });

  it('mixed pools: each role is charged separately, used caps the total', () => {
    // * 2 cpus, slave_public 2 cpus, 1 cpu used by someone: an app accepting * sees min(2, 4 - 1) = 2
    const a = agent('a', 'bcn', { '*': [2, 4096, 0], slave_public: [2, 4096, 0] }, [1, 0, 0]);
    const ledger = new CapacityLedger();
    expect(ledger.available(a, ['*']).cpus).toBe(2);
    ledger.take(a, ['*'], { cpus: 2, mem: 0, disk: 0 });
    // * exhausted; slave_public: min(2, 4 - 1 - 2) = 1
    expect(ledger.available(a, ['*']).cpus).toBe(0);
    expect(ledger.available(a, ['slave_public']).cpus).toBe(1);
  });
});

describe('refusalOf: the first rule an agent fails', () => {
  const ctx = () => ({ masterRegion: 'eu-south', ledger: new CapacityLedger() });
  it('inactive, remote region, role, constraint, resources, in that order', () => {
    const req = request(1, 1024, 0, [['datacenter', 'IS', 'bcn']]);
    expect(refusalOf(req, agent('a', 'bcn', { '*': [4, 4096, 0] }, [0, 0, 0], { active: false }), [], ctx())).toEqual({
      kind: 'inactive',
    });
    expect(
      refusalOf(req, agent('a', 'bcn', { '*': [4, 4096, 0] }, [0, 0, 0], { region: 'eu-west' }), [], ctx()),
    ).toEqual({ kind: 'remote-region', region: 'eu-west' });
    expect(refusalOf(req, agent('a', 'bcn', { slave_public: [4, 4096, 0] }), [], ctx())).toEqual({ kind: 'role' });
    expect(refusalOf(req, agent('a', 'mad', { '*': [4, 4096, 0] }), [], ctx())).toMatchObject({
      kind: 'constraint',
      constraint: { kind: 'IS' },
    });
    expect(refusalOf(req, agent('a', 'bcn', { '*': [4, 512, 0] }), [], ctx())).toEqual({
      kind: 'resources',
      resource: 'mem',
    });
    expect(
      refusalOf(req, agent('a', 'bcn', { '*': [4, 4096, 0] }, [0, 0, 0], { region: 'eu-south' }), [], ctx()),
    ).toBeUndefined();
  });
  it('an app with an @region or @zone constraint may go to another region; an unknown master region skips the rule', () => {
    const remote = agent('a', 'bcn', { '*': [4, 4096, 0] }, [0, 0, 0], { region: 'eu-west', zone: 'z1' });
    expect(refusalOf(request(1, 1, 0, [['@zone', 'LIKE', '.*']]), remote, [], ctx())).toBeUndefined();
    expect(
      refusalOf(request(1, 1, 0), remote, [], { masterRegion: undefined, ledger: new CapacityLedger() }),
    ).toBeUndefined();
  });
});

describe('placeInstances', () => {
  it('first fit by the order given, charging capacity as it goes (2 cpus each on 3 + 5 free: 1 + 2 placed)', () => {
    const a = agent('a', 'bcn', { '*': [4, 65536, 0] }, [1, 0, 0]); // 3 cpus free: one instance of 2
    const b = agent('b', 'bcn', { '*': [8, 65536, 0] }, [3, 0, 0]); // 5 cpus free: two instances
    const out = placeInstances(request(2, 1024, 0), 4, [a, b], [], {
      masterRegion: undefined,
      ledger: new CapacityLedger(),
    });
    expect(out.hosts).toEqual(['a', 'b', 'b']);
    expect(out.refusals).toEqual([
      { agent: 'a', refusal: { kind: 'resources', resource: 'cpus' } },
      { agent: 'b', refusal: { kind: 'resources', resource: 'cpus' } },
    ]);
  });

  it('each placement counts for the next one: hostname UNIQUE puts one per agent', () => {
    const agents = ['a', 'b', 'c'].map((h) => agent(h, 'bcn', { '*': [8, 65536, 0] }));
    const out = placeInstances(request(1, 1, 0, [['hostname', 'UNIQUE']]), 5, agents, [agents[1]!], {
      masterRegion: undefined,
      ledger: new CapacityLedger(),
    });
    expect(out.hosts).toEqual(['a', 'c']);
    expect(out.refusals.map((r) => r.refusal.kind)).toEqual(['constraint', 'constraint', 'constraint']);
  });

  it('GROUP_BY datacenter 2 after the loss of one DC: nothing placed, however much room', () => {
    const agents = ['b1', 'b2'].map((h) => agent(h, 'barcelona', { '*': [64, 262144, 0] }));
    const out = placeInstances(
      request(1, 1, 0, [['datacenter', 'GROUP_BY', '2']]),
      2,
      agents,
      [agents[0]!, agents[1]!],
      {
        masterRegion: undefined,
        ledger: new CapacityLedger(),
      },
    );
    expect(out.hosts).toEqual([]);
  });

  it('GROUP_BY datacenter without a count after the loss: every lost instance comes back', () => {
    const agents = ['b1', 'b2'].map((h) => agent(h, 'barcelona', { '*': [64, 262144, 0] }));
    const out = placeInstances(request(1, 1, 0, [['datacenter', 'GROUP_BY']]), 2, agents, [agents[0]!, agents[1]!], {
      masterRegion: undefined,
      ledger: new CapacityLedger(),
    });
    expect(out.hosts).toEqual(['b1', 'b1']);
  });
});
