/**
 * The nothing-lost scenario on the machines lab, one body for every variant (3 or 5 masters, DC/OS
 * 2.1 or 2.2 units, DC/OS's real timers): data written, a continuous write load started, madrid's
 * power cut, `dcfail failover --to secondary` as an operator runs it, writes and Mesos/overlay
 * registrations while failed over, madrid's power back (its units held), `dcfail failback`
 * interrupted right after its quarantine, madrid power-cycled while quarantined, the failback run
 * again to its end. Then nothing is lost: every key and znode on every member, every acknowledged
 * write of the load (but those madrid's majority alone acknowledged in the instant before the cut,
 * which no failover to the survivors can keep and the plan says so: they must be the newest writes
 * before the cut, one block), every agent of the Mesos registry and every overlay allocation (no
 * subnet shared), every DC/OS file byte for byte, status normal.
 */
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { expect, it } from 'vitest';
import { readFile, writeFile } from 'node:fs/promises';
import { parse, stringify } from 'yaml';
import { untilClustersReady, powerOff, powerOn, type Lab, type MachineNode } from '../../lab/machines/lab.js';
import { PORTS } from '../../lab/machines/layout.js';
import { etcdHealthy, httpGet, httpJson, mesosRecoveredLeader, zkMode } from '../../lab/machines/probes.js';
import { sleep } from '../../lab/machines/run.js';
import { openZk, type ZkSession } from '../../src/components/zookeeper/probe.js';
import {
  dcfail,
  describeRun,
  errorCode,
  etcdMembers,
  expectedKeys,
  expectedZnodes,
  newestJournal,
  readEtcdKeys,
  readZnodes,
  secs,
  spawnDcfail,
  waitFor,
  writeEtcdKeys,
  writeZnodes,
  type RunResult,
} from './e2e.js';
import {
  dcosFiles,
  holdFiles,
  mastersOf,
  QUORUM_UNITS,
  sh,
  unitShow,
  writeFenceAndHold,
  type MachinesE2e,
} from './machines-e2e.js';

const majority = (n: number) => Math.floor(n / 2) + 1;

// ---- the continuous write load ---------------------------------------------------------------------

export interface LoadCounts {
  attempted: number;
  acknowledged: number;
  failed: number;
}

export interface WriteLoadReport {
  readonly etcd: { total: LoadCounts; byPhase: Record<string, LoadCounts> };
  readonly zk: { total: LoadCounts; byPhase: Record<string, LoadCounts> };
  /** The acknowledged writes: key (etcd) or znode path (ZooKeeper) and its value. */
  readonly etcdAcked: Record<string, string>;
  readonly zkAcked: Record<string, string>;
  /** The longest stretch without an acknowledged write, per store (how long nothing served). */
  readonly longestGapMs: { etcd: number; zk: number };
}

export interface AckedWrite {
  readonly key: string;
  readonly value: string;
  /** When the acknowledgement came (ms since the epoch). */
  readonly at: number;
}

const loadKey = (prefix: string, i: number) => `${prefix}${String(i).padStart(6, '0')}`;
const loadValue = (store: string, i: number) => `load:${store}:${i}`;

/**
 * A writer that keeps writing to etcd and to ZooKeeper, each one write at a time, against whatever
 * member serves (every master is tried in turn; a member that fails is left for the next), and
 * records every write the store acknowledged: an etcd put answered (committed by a raft majority),
 * a ZooKeeper create answered (committed by the ensemble's quorum). A write that failed or timed out
 * may or may not have been applied: it is counted as failed and never expected back.
 */
class WriteLoad {
  private phase = 'before';
  private stopped = false;
  private readonly runs: Promise<void>[] = [];
  private readonly counts = { etcd: {} as Record<string, LoadCounts>, zk: {} as Record<string, LoadCounts> };
  private readonly acked = { etcd: {} as Record<string, string>, zk: {} as Record<string, string> };
  private readonly ackedInOrder = { etcd: [] as AckedWrite[], zk: [] as AckedWrite[] };
  private readonly gap = { etcd: 0, zk: 0 };

  constructor(
    private readonly nodes: readonly MachineNode[],
    readonly etcdPrefix: string,
    readonly zkParent: string,
  ) {}

  /** Names the phase the next writes are counted under. */
  setPhase(phase: string): void {
    this.phase = phase;
  }

  start(): void {
    this.runs.push(this.loop('etcd'), this.loop('zk'));
  }

  async stop(): Promise<WriteLoadReport> {
    this.stopped = true;
    await Promise.all(this.runs);
    const total = (by: Record<string, LoadCounts>) =>
      Object.values(by).reduce(
        (a, c) => ({
          attempted: a.attempted + c.attempted,
          acknowledged: a.acknowledged + c.acknowledged,
          failed: a.failed + c.failed,
        }),
        { attempted: 0, acknowledged: 0, failed: 0 },
      );
    return {
      etcd: { total: total(this.counts.etcd), byPhase: this.counts.etcd },
      zk: { total: total(this.counts.zk), byPhase: this.counts.zk },
      etcdAcked: this.acked.etcd,
      zkAcked: this.acked.zk,
      longestGapMs: { ...this.gap },
    };
  }

  /** The writes acknowledged so far, in the order they were written (and acknowledged: one at a time). */
  ackedSoFar(store: 'etcd' | 'zk'): AckedWrite[] {
    return [...this.ackedInOrder[store]];
  }

  acknowledged(phase: string, store: 'etcd' | 'zk'): number {
    return this.counts[store][phase]?.acknowledged ?? 0;
  }

  private count(store: 'etcd' | 'zk', ok: boolean): void {
    const c = (this.counts[store][this.phase] ??= { attempted: 0, acknowledged: 0, failed: 0 });
    c.attempted++;
    if (ok) c.acknowledged++;
    else c.failed++;
  }

  private async loop(store: 'etcd' | 'zk'): Promise<void> {
    const writer = store === 'etcd' ? new EtcdWriter(this.nodes) : new ZkWriter(this.nodes);
    let lastAck = Date.now();
    try {
      for (let i = 0; !this.stopped; i++) {
        const key = store === 'etcd' ? loadKey(this.etcdPrefix, i) : `${this.zkParent}/${loadKey('w', i)}`;
        const value = loadValue(store, i);
        const ok = await writer.write(key, value);
        this.count(store, ok);
        if (ok) {
          this.acked[store][key] = value;
          this.ackedInOrder[store].push({ key, value, at: Date.now() });
          this.gap[store] = Math.max(this.gap[store], Date.now() - lastAck);
          lastAck = Date.now();
          await sleep(20);
        } else await sleep(250);
      }
    } finally {
      writer.close();
    }
  }
}

/** etcd puts through one member at a time, a client per member; a member that fails passes the turn. */
class EtcdWriter {
  private readonly clients = new Map<string, Etcd3>();
  private turn = 0;

  constructor(private readonly nodes: readonly MachineNode[]) {}

  private client(n: MachineNode): Etcd3 {
    let c = this.clients.get(n.address);
    if (!c) {
      c = new Etcd3({
        hosts: [`http://${n.address}:${PORTS.etcdClient}`],
        dialTimeout: 2000,
        faultHandling: { host: () => noop, global: noop },
        defaultCallOptions: () => ({ deadline: new Date(Date.now() + 3000) }),
      });
      this.clients.set(n.address, c);
    }
    return c;
  }

  async write(key: string, value: string): Promise<boolean> {
    const n = this.nodes[this.turn % this.nodes.length]!;
    try {
      await this.client(n).put(key).value(value);
      return true;
    } catch {
      // A fresh channel next time: a member that was down or partitioned may have left it broken.
      this.clients.get(n.address)?.close();
      this.clients.delete(n.address);
      this.turn++;
      return false;
    }
  }

  close(): void {
    for (const c of this.clients.values()) c.close();
  }
}

/**
 * ZooKeeper creates through one session to every master, kept for the whole load: the native client
 * reconnects by itself to whichever server serves, and a session is replaced only once it has ended
 * (expired). A writer that closed and reopened its session at every failure left this process unable
 * to open a new session at times (seen on the lab: the server got the connection, never a request).
 */
class ZkWriter {
  private session: ZkSession | undefined;
  private parentMade = false;

  constructor(private readonly nodes: readonly MachineNode[]) {}

  async write(path: string, value: string): Promise<boolean> {
    try {
      if (!this.session || this.session.closed) {
        this.session?.close();
        this.session = undefined;
        // Each call is bounded by 10 s (a ZooKeeper session timeout's worth); the open too, while nothing serves.
        this.session = await openZk(this.nodes.map((n) => `${n.address}:${PORTS.zkClient}`).join(','), 10_000);
        this.parentMade = false;
      }
      if (!this.parentMade) {
        await this.session.mkdirp(path.slice(0, path.lastIndexOf('/')));
        this.parentMade = true;
      }
      await this.session.put(path, value);
      return true;
    } catch {
      return false;
    }
  }

  close(): void {
    this.session?.close();
  }
}

// ---- Mesos: the registry and the overlay module ----------------------------------------------------

const mesosUrl = (n: MachineNode, path: string) => `http://${n.address}:${PORTS.mesos}${path}`;

/** The one master among `nodes` that is elected with its registrar recovered (waits up to `ms`). */
async function recoveredLeader(nodes: readonly MachineNode[], ms = 120_000): Promise<MachineNode> {
  return waitFor(
    'one elected Mesos master with its registrar recovered',
    async () => {
      const ok = await Promise.all(nodes.map((n) => mesosRecoveredLeader(n.address)));
      return ok.filter(Boolean).length === 1 ? nodes[ok.indexOf(true)] : undefined;
    },
    ms,
    500,
  );
}

interface Registry {
  slaves?: { slaves: { info: { id: { value: string }; hostname: string } }[] };
}

/** The agents the leader's registry holds (`/registrar(1)/registry`), id -> hostname. */
async function registryAgents(leader: MachineNode): Promise<Record<string, string>> {
  const r = await httpJson<Registry>(mesosUrl(leader, '/registrar(1)/registry'), 5000);
  if (!r) throw new Error(`${leader.name}: no /registrar(1)/registry`);
  return Object.fromEntries((r.slaves?.slaves ?? []).map((s) => [s.info.id.value, s.info.hostname]));
}

/** The quorum a master runs with (`GET /flags`). */
async function mesosQuorum(n: MachineNode): Promise<number | undefined> {
  const f = await httpJson<{ flags: { quorum: string } }>(mesosUrl(n, '/flags'), 3000);
  return f ? Number(f.flags.quorum) : undefined;
}

/** An agent's registration with the leader (a registry write, as the agent stand-ins do); its id. */
async function registerAgent(nodes: readonly MachineNode[], hostname: string): Promise<string> {
  return waitFor(
    `the registration of agent ${hostname}`,
    async () => {
      const leader = await recoveredLeader(nodes, 30_000);
      const a = await httpGet(mesosUrl(leader, '/lab/agents/register'), {
        method: 'POST',
        body: JSON.stringify({ hostname, port: 5051 }),
        timeoutMs: 70_000, // the registrar's store timeout (60 s) decides, not us
      });
      if (a?.status !== 200) throw new Error(`${leader.name}: ${a?.status ?? 'no answer'} ${a?.body ?? ''}`);
      return (JSON.parse(a.body) as { agent_id: string }).agent_id;
    },
    120_000,
    1000,
  );
}

interface OverlayAgent {
  ip: string;
  overlays: { subnet: string; backend: { vxlan: { vtep_ip: string } } }[];
}

/** The leader's overlay allocations (`/overlay-master/state`): agent ip -> its `dcos` subnet and VTEP address. */
async function overlayAllocations(leader: MachineNode): Promise<Record<string, { subnet: string; vtep: string }>> {
  const s = await httpJson<{ agents?: OverlayAgent[] }>(mesosUrl(leader, '/overlay-master/state'), 5000);
  if (!s) throw new Error(`${leader.name}: no /overlay-master/state`);
  return Object.fromEntries(
    (s.agents ?? []).map((a) => [
      a.ip,
      { subnet: a.overlays[0]?.subnet ?? '', vtep: a.overlays[0]?.backend.vxlan.vtep_ip ?? '' },
    ]),
  );
}

/** An overlay registration (the overlay agent module's RegisterAgentMessage), retried while dropped. */
async function registerOverlay(nodes: readonly MachineNode[], ip: string): Promise<string> {
  return waitFor(
    `an overlay subnet for ${ip}`,
    async () => {
      const leader = await recoveredLeader(nodes, 30_000);
      const a = await httpGet(mesosUrl(leader, '/lab/overlay/register'), {
        method: 'POST',
        body: JSON.stringify({ ip }),
        timeoutMs: 10_000,
      });
      if (a?.status !== 200) throw new Error(`${leader.name}: ${a?.status ?? 'no answer'} ${a?.body ?? ''}`);
      return (JSON.parse(a.body) as { agent: OverlayAgent }).agent.overlays[0]!.subnet;
    },
    120_000,
    1000,
  );
}

/**
 * Waits until the leader's registry and overlay state hold at least `agents` and `overlay` (the
 * overlay module recovers its log only at the first agent registration after an election, and the
 * agent stand-ins re-register every second), then checks them: every agent id with its hostname,
 * every allocation with its subnet and VTEP, no subnet nor VTEP address shared.
 */
async function expectMesosState(
  e: MachinesE2e,
  nodes: readonly MachineNode[],
  agents: Record<string, string>,
  overlay: Record<string, { subnet: string; vtep?: string }>,
  label: string,
): Promise<{
  leader: MachineNode;
  agents: Record<string, string>;
  overlay: Record<string, { subnet: string; vtep: string }>;
}> {
  const leader = await recoveredLeader(nodes);
  let got: { agents: Record<string, string>; overlay: Record<string, { subnet: string; vtep: string }> } = {
    agents: {},
    overlay: {},
  };
  // The budget: the overlay log's fetch (overlay/master.cpp) under its 5 min timeout, started by an agent's
  // registration; a quorum of replicas answers within seconds once the masters run.
  await waitFor(
    `${label}: the registry and the overlay allocations on ${leader.name}`,
    async () => {
      got = { agents: await registryAgents(leader), overlay: await overlayAllocations(leader) };
      return (
        Object.keys(agents).every((id) => id in got.agents) && Object.keys(overlay).every((ip) => ip in got.overlay)
      );
    },
    330_000,
    1000,
  ).catch(() => undefined);
  e.log(
    `${label}: leader ${leader.name}, ${Object.keys(got.agents).length} agent(s) in the registry, ` +
      `${Object.keys(got.overlay).length} overlay allocation(s): ${Object.entries(got.overlay)
        .map(([ip, o]) => `${ip}=${o.subnet}`)
        .join(' ')}`,
  );
  expect(got.agents, `${label}: the agents in the registry of ${leader.name}`).toMatchObject(agents);
  expect(got.overlay, `${label}: the overlay allocations of ${leader.name}`).toMatchObject(overlay);
  const subnets = Object.values(got.overlay).map((o) => o.subnet);
  const vteps = Object.values(got.overlay).map((o) => o.vtep);
  expect(new Set(subnets).size, `${label}: no two agents share a subnet (${subnets.join(', ')})`).toBe(subnets.length);
  expect(new Set(vteps).size, `${label}: no two agents share a VTEP address (${vteps.join(', ')})`).toBe(vteps.length);
  return { leader, ...got };
}

// ---- the scenario ------------------------------------------------------------------------------------

/** A failover, retried while the survivors still see madrid's ZooKeeper for a moment after the cut. */
async function failover(topology: string): Promise<RunResult> {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await dcfail(['failover', '--to', 'secondary', '--yes', '--json', '-t', topology]);
    const code = errorCode(r);
    if (r.exitCode !== 3 || (code !== 'lost-dc-alive' && code !== 'loss-settling') || Date.now() > deadline) return r;
    await sleep(2000);
  }
}

/** Every quorum unit of madrid is down, and systemd skipped its start because a condition failed (the hold). */
async function expectMadridHeld(e: MachinesE2e, label: string): Promise<void> {
  const lab = e.lab();
  for (const n of mastersOf(lab, 'madrid')) {
    for (const u of QUORUM_UNITS)
      expect(await unitShow(lab, n.name, u), `${label}: ${n.name} ${u}`).toBe('inactive/dead/no');
    expect(await zkMode(n.address), `${label}: ZooKeeper on ${n.name}`).toBeUndefined();
    expect(await etcdHealthy(n.address), `${label}: etcd on ${n.name}`).toBe(false);
  }
}

/** What each ZooKeeper server says (srvr) and the last lines of Exhibitor and Mesos, for a failure's report. */
export async function labDiagnostics(lab: Lab): Promise<string> {
  const out: string[] = [];
  for (const n of lab.layout.nodes) {
    out.push(`--- ${n.name}: ZooKeeper mode ${(await zkMode(n.address)) ?? 'not serving'}`);
    // One unit at a time: Exhibitor's lines would crowd out the Mesos master's in a shared tail.
    for (const unit of ['dcos-mesos-master', 'dcos-exhibitor'])
      out.push(
        await sh(lab, n.name, `journalctl -u ${unit} --no-pager -n 80 -o short-precise; true`).catch((err: unknown) =>
          String(err),
        ),
      );
  }
  return out.join('\n');
}

async function markerPresent(lab: Lab, node: string): Promise<boolean> {
  const out = await sh(lab, node, 'test -e /var/lib/dcfail/failover-marker.json && echo yes || echo no');
  return out.trim() === 'yes';
}

/** Every member's own copy (serializable etcd reads, one ZooKeeper server per session) holds `keys` and `znodes`. */
async function expectOnEveryMember(
  nodes: readonly MachineNode[],
  etcdPrefix: string,
  keys: Record<string, string>,
  zkParent: string,
  znodes: Record<string, string>,
  label: string,
): Promise<void> {
  for (const n of nodes) {
    // A member that has just caught up may lag by a few entries: let it apply them before judging.
    await waitFor(
      `${label}: etcd on ${n.name}`,
      async () => JSON.stringify(pick(await readEtcdKeys(n, etcdPrefix, true), keys)) === JSON.stringify(keys),
      20_000,
      500,
    ).catch(() => undefined);
    expect(pick(await readEtcdKeys(n, etcdPrefix, true), keys), `${label}: etcd on ${n.name}`).toEqual(keys);
    const want = Object.fromEntries(Object.entries(znodes).map(([p, v]) => [p.slice(zkParent.length + 1), v]));
    const got = (await znodesOn(n, zkParent)) ?? {};
    expect(pick(got, want), `${label}: ZooKeeper on ${n.name}`).toEqual(want);
  }
}

/**
 * The znodes under `parent` on one server, through a fresh session: a session that does not connect is
 * tried again for up to 40 s (2 x tickTime x max(initLimit, syncLimit): no ZooKeeper server of the lab
 * stays out of service longer without Exhibitor restarting it).
 */
async function znodesOn(n: MachineNode, parent: string): Promise<Record<string, string> | null> {
  return (
    await waitFor(
      `a ZooKeeper session on ${n.name}`,
      async () => ({ got: await readZnodes([n], parent) }),
      40_000,
      1000,
    )
  ).got;
}

/**
 * The acknowledged writes the survivors do not hold after the failover: they must be one block of the
 * newest writes acknowledged before the cut (a quorum's log is a prefix of the leader's: what the survivors
 * miss is the tail madrid's majority had committed without them); none acknowledged after the cut.
 */
function expectLostOnlyAtTheCut(
  acked: readonly AckedWrite[],
  held: Record<string, string>,
  cutAt: number,
  store: string,
): AckedWrite[] {
  const lostIdx = acked.flatMap((w, i) => (held[w.key] === w.value ? [] : [i]));
  const lost = lostIdx.map((i) => acked[i]!);
  expect(
    lost.filter((w) => w.at > cutAt).map((w) => w.key),
    `${store}: writes acknowledged after the cut, not held by the survivors`,
  ).toEqual([]);
  if (lostIdx.length > 0) {
    const first = lostIdx[0]!;
    const last = lostIdx.at(-1)!;
    expect(lostIdx, `${store}: the lost writes are one block of consecutive writes`).toEqual(
      Array.from({ length: last - first + 1 }, (_, j) => first + j),
    );
    expect(
      acked
        .slice(last + 1)
        .filter((w) => w.at <= cutAt)
        .map((w) => w.key),
      `${store}: writes acknowledged before the cut after the lost block`,
    ).toEqual([]);
  }
  return lost;
}

/** The slowest steps of a run (--json), for the log: where its time went. */
function slowestSteps(json: { steps?: { id: string; ms: number }[] } | undefined): string {
  return [...(json?.steps ?? [])]
    .sort((a, b) => b.ms - a.ms)
    .slice(0, 4)
    .map((st) => `${st.id} ${secs(st.ms)}`)
    .join(', ');
}

/** `got` restricted to the keys of `want` (what was not acknowledged may or may not be there). */
function pick(got: Record<string, string>, want: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.keys(want).map((k) => [k, got[k] ?? '<missing>']));
}

export interface NothingLost {
  /** The topology the runs used (with the fence-and-hold hook), once the scenario has run. */
  readonly topology: () => string;
}

/** Registers the scenario as one test of the current describe block, on the lab of `e` (useMachinesE2e). */
export function itNothingLost(e: MachinesE2e): NothingLost {
  let topology = '';
  const N = 2000;
  const KEYS = '/e2e-machines/';
  const ZNODES = '/e2e-machines';
  const OVER_KEYS = '/e2e-machines-over/';
  const OVER_ZNODES = '/e2e-machines-over';
  const OVER_N = 200;

  it('fails over after a power cut of madrid and back, madrid power-cycled while quarantined, losing nothing', async () => {
    const lab = e.lab();
    const all = lab.layout.nodes;
    const madrid = mastersOf(lab, 'madrid').map((n) => n.name);
    const survivors = mastersOf(lab, 'barcelona');
    const prefix = (dc: string) => all.find((n) => n.dc === dc)!.net.prefix;

    // The lab's topology, its fence hook powering off and holding the DC's units on their disks.
    topology = `${lab.dir}/topology-e2e.yaml`;
    const t = parse(await readFile(lab.topologyPath, 'utf8')) as { hooks: { fence: Record<string, string> } };
    const fence = await writeFenceAndHold(lab);
    t.hooks.fence = { madrid: `${fence} madrid`, barcelona: `${fence} barcelona` };
    await writeFile(topology, stringify(t));

    await e.timed(`write ${N} etcd keys and ${N} znodes`, async () => {
      await writeEtcdKeys(all, KEYS, N);
      await writeZnodes(all, ZNODES, N);
    });
    const filesBefore = Object.fromEntries(
      await Promise.all(all.map(async (n) => [n.name, await dcosFiles(lab, n.name)])),
    );
    expect(Object.keys(filesBefore[all[0]!.name]!).length).toBeGreaterThanOrEqual(9);

    // Mesos before the loss: both DCs' agents registered and given subnets, plus an agent and an overlay
    // allocation of our own.
    const preAgent = await registerAgent(all, 'agent-before-loss');
    const preIp = `${prefix('madrid')}.31`;
    const preSubnet = await registerOverlay(all, preIp);
    e.log(`registered agent ${preAgent} and overlay ${preIp}=${preSubnet} before the loss`);
    const agentIps = lab.layout.agents.map((a) => a.address);
    const before = await e.timed('Mesos registry and overlay before the loss', () =>
      waitFor(
        'both agent stand-ins in the registry and the overlay state',
        async () => {
          const leader = await recoveredLeader(all, 30_000);
          const agents = await registryAgents(leader);
          const overlay = await overlayAllocations(leader);
          return Object.keys(agents).length >= 3 && agentIps.every((ip) => ip in overlay) && preIp in overlay
            ? { agents, overlay }
            : undefined;
        },
        120_000,
        1000,
      ),
    );
    await expectMesosState(e, all, before.agents, before.overlay, 'before the loss');

    // The write load, from now until the failback is over.
    const load = new WriteLoad(all, '/e2e-load/', '/e2e-load');
    load.start();
    await sleep(3000);

    load.setPhase('failover');
    await e.timed('power cut of madrid', () => powerOff('madrid', { dir: lab.dir }));
    // From here madrid is dark: nothing of it answers the host, so no write acknowledged later came from it.
    const cutAt = Date.now();

    const fo = await e.timed('dcfail failover --to secondary', () => failover(topology));
    expect(fo.exitCode, describeRun(fo)).toBe(0);
    load.setPhase('failed-over');
    e.log(
      `failover: ${fo.json?.steps?.length} steps, time to recovery ${fo.json?.timeToRecoveryMs} ms, whole run ${secs(fo.durationMs)}; slowest: ${slowestSteps(fo.json)}`,
    );
    // What the failover kept of the load: a forced recovery from quorum loss keeps what the survivors hold. A
    // write that madrid's members alone had acknowledged (madrid holds a majority) in the instant before the cut
    // is not there, as the plan warns (forced-failover-data-loss). Only such writes may be missing: the newest
    // ones acknowledged before the cut, one block, and nothing acknowledged since.
    expect(JSON.stringify(fo.json), 'the failover says which writes it cannot keep').toContain(
      'forced-failover-data-loss',
    );
    const lostAtFailover = await e.timed('what the failover kept of the write load', async () => {
      const ackedEtcd = load.ackedSoFar('etcd');
      const ackedZk = load.ackedSoFar('zk');
      const heldEtcd = await readEtcdKeys(survivors[0]!, '/e2e-load/', false);
      const heldZk: Record<string, string> = {};
      for (const n of survivors)
        for (const [k, v] of Object.entries((await znodesOn(n, '/e2e-load')) ?? {})) heldZk[`/e2e-load/${k}`] = v;
      return {
        etcd: expectLostOnlyAtTheCut(ackedEtcd, heldEtcd, cutAt, 'etcd'),
        zk: expectLostOnlyAtTheCut(ackedZk, heldZk, cutAt, 'ZooKeeper'),
      };
    });
    e.log(
      `acknowledged writes lost at the failover (acknowledged by madrid alone just before the cut): ` +
        `etcd ${lostAtFailover.etcd.length} (${lostAtFailover.etcd.map((w) => `${w.key} ${w.at - cutAt} ms`).join(', ')}), ` +
        `ZooKeeper ${lostAtFailover.zk.length} (${lostAtFailover.zk.map((w) => `${w.key} ${w.at - cutAt} ms`).join(', ')})`,
    );
    for (const n of survivors) {
      expect(await readEtcdKeys(n, KEYS, false), `etcd through ${n.name}`).toEqual(expectedKeys(KEYS, N));
      expect(await znodesOn(n, ZNODES), `ZooKeeper on ${n.name}`).toEqual(expectedZnodes(ZNODES, N));
    }
    // The survivors alone are the clusters: etcd's members, Mesos' quorum.
    expect((await etcdMembers(survivors)).map((m) => [m.name, m.isLearner])).toEqual(
      survivors.map((n) => [n.name, false]),
    );
    const st1 = await dcfail(['status', '--json', '-t', topology]);
    e.log(`status after the failover: exit ${st1.exitCode}, mode ${st1.json?.mode}`);
    expect(st1.json?.mode, describeRun(st1)).toBe('failed-over');
    for (const n of survivors) expect(await markerPresent(lab, n.name), `failover marker on ${n.name}`).toBe(true);

    // Failed over: the registry and the overlay allocations as before; new writes and registrations succeed.
    const fm = await expectMesosState(e, survivors, before.agents, before.overlay, 'failed over');
    expect(survivors.map((n) => n.name)).toContain(fm.leader.name);
    expect(await mesosQuorum(fm.leader), `MESOS_QUORUM of ${fm.leader.name}`).toBe(majority(survivors.length));
    await e.timed(`write ${OVER_N} etcd keys and ${OVER_N} znodes while failed over`, async () => {
      await writeEtcdKeys(survivors, OVER_KEYS, OVER_N);
      await writeZnodes(survivors, OVER_ZNODES, OVER_N);
    });
    const overAgent = await registerAgent(survivors, 'agent-while-failed-over');
    const overIp = `${prefix('barcelona')}.32`;
    const overSubnet = await registerOverlay(survivors, overIp);
    e.log(`registered agent ${overAgent} and overlay ${overIp}=${overSubnet} while failed over`);
    const during = await expectMesosState(
      e,
      survivors,
      { ...before.agents, [overAgent]: 'agent-while-failed-over' },
      { ...before.overlay, [overIp]: { subnet: overSubnet } },
      'failed over, after new registrations',
    );
    expect(during.overlay[overIp]?.subnet).toBe(overSubnet);
    expect(during.agents[overAgent]).toBe('agent-while-failed-over');

    // madrid's power comes back: its disks hold the fence's hold; systemd starts none of its quorum units.
    await e.timed('power-on of madrid', () => powerOn('madrid', { dir: lab.dir }));
    await sleep(20_000); // beyond every RestartSec (5, 10, 15 s): nothing retries a skipped start
    await expectMadridHeld(e, 'after power-on');

    // Lift the fence's hold by hand (the units stay inactive: nothing starts them), so that what holds
    // madrid from now on is what the failback's quarantine writes itself.
    for (const n of madrid) {
      await sh(
        lab,
        n,
        'rm -f /var/lib/dcfail/guard/hold.* /etc/systemd/system/*.d/dcfail-hold.conf && systemctl daemon-reload',
      );
      expect(await holdFiles(lab, n)).toEqual({ flags: [], dropIns: [] });
    }

    // The failback, stopped (Ctrl-C) once its quarantine is verified.
    load.setPhase('failback');
    const quarantined = madrid.length * QUORUM_UNITS.length;
    const first = await e.timed('dcfail failback up to its quarantine, then Ctrl-C', async () => {
      const child = spawnDcfail(['failback', '--yes', '--json', '-t', topology]);
      await waitFor(
        'the quarantine verified',
        async () => {
          const j = await newestJournal().catch(() => undefined);
          const done = (j?.runbook === 'failback' ? j.steps : []).filter(
            (s: { id: string; status: string }) => s.id.startsWith('quarantine:verify') && s.status === 'done',
          );
          if (done.length < quarantined && child.exitCode === null) throw new Error(`${done.length} verified`);
          return true;
        },
        240_000,
        200,
      );
      child.kill('SIGINT');
      return child;
    });
    e.log(`first failback: exit ${first.exitCode}`);
    expect(first.exitCode, `${String(first.stdout).slice(-3000)}\n${String(first.stderr).slice(-2000)}`).toBe(130);
    const j1 = await newestJournal();
    expect(j1.outcome).toBe('interrupted');
    for (const n of madrid) {
      const h = await holdFiles(lab, n);
      expect(h.flags.map((f) => f.split('/').at(-1))).toEqual(QUORUM_UNITS.map((u) => `hold.${u}`).sort());
      expect(h.dropIns).toHaveLength(QUORUM_UNITS.length);
      expect(await sh(lab, n, 'cat /var/lib/dcfail/guard/hold.etcd')).toMatch(/held by dcfail/);
    }

    // A power cycle of madrid while quarantined: it comes back with every quorum unit down.
    await e.timed('power cycle of madrid while quarantined', async () => {
      await powerOff('madrid', { dir: lab.dir });
      await powerOn('madrid', { dir: lab.dir });
    });
    await sleep(20_000);
    await expectMadridHeld(e, 'after a power cycle during the failback');

    const fb = await e.timed('dcfail failback, run again to its end', () =>
      dcfail(['failback', '--yes', '--json', '-t', topology]),
    );
    expect(fb.exitCode, describeRun(fb)).toBe(0);
    e.log(
      `failback: ${fb.json?.steps?.length} steps, time to recovery ${fb.json?.timeToRecoveryMs} ms, whole run ${secs(fb.durationMs)}; slowest: ${slowestSteps(fb.json)}`,
    );

    const st2 = await dcfail(['status', '--json', '-t', topology]);
    expect(st2.exitCode, describeRun(st2)).toBe(0);
    expect(st2.json?.mode).toBe('normal');
    await untilClustersReady(lab.layout, 120_000, 1000).catch(async (err: unknown) => {
      e.log(await labDiagnostics(lab));
      throw err;
    });
    load.setPhase('after');
    // The load goes on against the clusters as the failback left them: each store acknowledges writes again.
    await waitFor(
      'writes of the load acknowledged after the failback',
      async () => load.acknowledged('after', 'etcd') >= 20 && load.acknowledged('after', 'zk') >= 20,
      120_000,
      500,
    ).catch(async (err: unknown) => {
      e.log(await labDiagnostics(lab));
      throw err;
    });
    const report = await load.stop();
    e.log(
      `write load: etcd ${JSON.stringify(report.etcd.total)} ${JSON.stringify(report.etcd.byPhase)}, longest gap ${secs(report.longestGapMs.etcd)}; ` +
        `ZooKeeper ${JSON.stringify(report.zk.total)} ${JSON.stringify(report.zk.byPhase)}, longest gap ${secs(report.longestGapMs.zk)}`,
    );

    try {
      // Nothing lost: every member's own copy, every ZooKeeper server's.
      for (const n of all) {
        expect(await readEtcdKeys(n, KEYS, true), `etcd on ${n.name}`).toEqual(expectedKeys(KEYS, N));
        expect(await znodesOn(n, ZNODES), `ZooKeeper on ${n.name}`).toEqual(expectedZnodes(ZNODES, N));
        expect(await readEtcdKeys(n, OVER_KEYS, true), `etcd on ${n.name}`).toEqual(expectedKeys(OVER_KEYS, OVER_N));
        expect(await znodesOn(n, OVER_ZNODES), `ZooKeeper on ${n.name}`).toEqual(expectedZnodes(OVER_ZNODES, OVER_N));
      }
      expect((await etcdMembers(all)).map((m) => [m.name, m.isLearner])).toEqual(all.map((n) => [n.name, false]));
      // Every write the load had acknowledged, through failover and failback, on every member.
      expect(
        report.etcd.byPhase['failed-over']?.acknowledged ?? 0,
        'etcd writes acknowledged while failed over',
      ).toBeGreaterThan(0);
      expect(
        report.zk.byPhase['failed-over']?.acknowledged ?? 0,
        'ZooKeeper writes acknowledged while failed over',
      ).toBeGreaterThan(0);
      const without = (acked: Record<string, string>, lost: readonly AckedWrite[]) =>
        Object.fromEntries(Object.entries(acked).filter(([k]) => !lost.some((w) => w.key === k)));
      await expectOnEveryMember(
        all,
        '/e2e-load/',
        without(report.etcdAcked, lostAtFailover.etcd),
        '/e2e-load',
        without(report.zkAcked, lostAtFailover.zk),
        'the write load',
      );

      // The Mesos registry and the overlay allocations: from before the loss and from while failed over.
      const after = await expectMesosState(e, all, during.agents, during.overlay, 'after the failback');
      for (const n of all) expect(await mesosQuorum(n), `MESOS_QUORUM of ${n.name}`).toBe(majority(all.length));
      expect(Object.keys(after.agents)).toEqual(expect.arrayContaining([preAgent, overAgent]));

      // Every DC/OS file byte for byte as before; what dcfail leaves are the inert drop-ins (no flag), no marker.
      for (const n of all) {
        expect(await dcosFiles(lab, n.name), `DC/OS files on ${n.name}`).toEqual(filesBefore[n.name]);
        const h = await holdFiles(lab, n.name);
        expect(h.flags, `hold flags on ${n.name}`).toEqual([]);
        expect(h.dropIns).toHaveLength(madrid.includes(n.name) ? QUORUM_UNITS.length : 0);
        expect(await markerPresent(lab, n.name), `failover marker on ${n.name}`).toBe(false);
        for (const u of QUORUM_UNITS)
          expect(await unitShow(lab, n.name, u), `${n.name} ${u}`).toBe('active/running/yes');
      }
    } catch (err) {
      e.log(await labDiagnostics(lab));
      throw err;
    }
  }, 1_500_000);

  return { topology: () => topology };
}
