/**
 * What real DC/OS does, on the machines lab with DC/OS's real timers (scale 1, DC/OS 2.2 units):
 * the Exhibitor restart that blocks until ZooKeeper serves, the Mesos pre-start check that fails a
 * start and lets systemd retry 15 s later, a leader that cannot recover its registrar, a wiped
 * master at quorum 1, divergent logs, the overlay log's allocations. Each test leaves the lab as
 * it found it (every cluster ready) for the next.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { untilClustersReady, labDown, labUp, type Lab } from '../../../lab/machines/lab.js';
import { DCOS_PATHS, PORTS } from '../../../lab/machines/layout.js';
import { httpJson, zkMode } from '../../../lab/machines/probes.js';
import { sleep, waitFor } from '../../../lab/machines/run.js';
import { getHealth, journalTimes, machineNowUs, mesosUrl, mesosView, overlayLog, registryLog, sh, unitProps } from './support.js';

const DIR = `${process.cwd()}/.lab-test-dcos`;
const o = { dir: DIR };
let lab: Lab;
const addr = (name: string) => lab.layout.nodes.find((n) => n.name === name)!.address;

async function ready(timeoutMs = 180_000): Promise<void> {
  await untilClustersReady(lab.layout, timeoutMs, 1000);
}

/** `systemctl start dcos-mesos-master`, then the unit active (by this start or systemd's retry). */
async function startMesos(node: string): Promise<void> {
  await sh(node, 'systemctl start dcos-mesos-master', o);
  await waitFor(`${node}'s dcos-mesos-master active`, async () => (await sh(node, 'systemctl is-active dcos-mesos-master', o)).exitCode === 0, 60_000, 1000);
}

/** The master that leads with a recovered registrar. */
async function recoveredLeader(): Promise<string> {
  return waitFor('a recovered Mesos leader', async () => {
    for (const n of lab.layout.nodes) if ((await mesosView(n.address))?.recovered) return n.name;
    return undefined;
  }, 120_000, 500);
}

beforeAll(async () => {
  lab = await labUp({ masters: 3, dcos: '2.2', dir: DIR, timeScale: 1 });
}, 240_000);

afterAll(async () => {
  await labDown(o);
}, 60_000);

describe('DC/OS behaviour on real systemd (2.2 units, real timers)', () => {
  it('systemctl restart dcos-exhibitor (master_count 3) returns only once ZooKeeper serves, after Exhibitor first check 30 s after start', async () => {
    const seen: (string | undefined)[] = [];
    let polling = true;
    const poller = (async () => {
      while (polling) {
        seen.push(await zkMode(addr('master-1'), 500));
        await sleep(1000);
      }
    })();
    const t0 = Date.now();
    const r = await sh('master-1', 'systemctl restart dcos-exhibitor', { ...o, timeoutMs: 120_000 });
    const took = Date.now() - t0;
    polling = false;
    await poller;
    expect(r.exitCode).toBe(0);
    expect(took).toBeGreaterThan(30_000);
    expect(took).toBeLessThan(60_000 + 10_000);
    // While the restart blocked, ZooKeeper did not serve for the first check-ms; once it returned, it does.
    expect(seen.slice(2, 25).every((m) => m === undefined)).toBe(true);
    expect(['leader', 'follower']).toContain(await zkMode(addr('master-1')));
    await ready();
  }, 180_000);

  it('the Mesos pre-start check fails the start while ZooKeeper does not serve, and systemd retries it every 15 s until it does', async () => {
    expect((await sh('master-2', 'systemctl stop dcos-exhibitor', o)).exitCode).toBe(0);
    const since = await machineNowUs('master-2', o);
    const restart = await sh('master-2', 'systemctl restart dcos-mesos-master', o);
    expect(restart.exitCode).not.toBe(0);
    expect((await sh('master-2', 'systemctl is-active dcos-mesos-master', o)).stdout.trim()).toBe('activating');
    // Three failed attempts: at once, then each RestartSec=15 later.
    const failures = await waitFor('three failed pre-start checks', async () => {
      const t = await journalTimes('master-2', 'dcos-mesos-master.service', 'Control process exited', since, o);
      return t.length >= 3 ? t : undefined;
    }, 60_000, 1000);
    const gaps = failures.slice(1, 3).map((t, i) => (t - failures[i]!) / 1e6);
    for (const g of gaps) {
      expect(g).toBeGreaterThanOrEqual(15);
      expect(g).toBeLessThan(20);
    }
    // ZooKeeper back: the next retry passes and the unit is active again, without anyone starting it.
    expect((await sh('master-2', 'systemctl start dcos-exhibitor', { ...o, timeoutMs: 120_000 })).exitCode).toBe(0);
    await waitFor('dcos-mesos-master active on its own', async () => (await sh('master-2', 'systemctl is-active dcos-mesos-master', o)).exitCode === 0, 40_000, 1000);
    await ready();
  }, 240_000);

  it('a leader that cannot reach a quorum of replicas is elected but never recovers its registrar (no metric says it did), and aborts after the 60 s fetch timeout', async () => {
    const leader = await recoveredLeader();
    const others = lab.layout.nodes.map((n) => n.name).filter((n) => n !== leader);
    const [stopped, survivor] = others as [string, string];
    // The leader and one more stop: their replicas are gone, their ZooKeeper znodes linger 10 s.
    for (const n of [leader, stopped]) expect((await sh(n, 'systemctl stop dcos-mesos-master', o)).exitCode).toBe(0);
    const since = await machineNowUs(survivor, o);
    const electedAt = await waitFor(`${survivor} elected`, async () => ((await mesosView(addr(survivor)))?.elected ? Date.now() : undefined), 40_000, 200);
    // Elected, and for as long as it stays so: no registry size gauge, an empty registry, GET_HEALTH 503.
    const samples: boolean[] = [];
    for (let i = 0; i < 10; i++) {
      const v = await mesosView(addr(survivor));
      if (v?.elected) samples.push(v.recovered);
      await sleep(2000);
    }
    expect(samples.length).toBeGreaterThan(5);
    expect(samples.every((rec) => rec === false)).toBe(true);
    const v = await mesosView(addr(survivor));
    expect(Object.keys(v?.metrics ?? {}).filter((k) => /registry_version|master\/quorum|replicated_log\/voting/.test(k))).toEqual([]);
    expect(await httpJson(mesosUrl(addr(survivor), '/registrar(1)/registry'))).toEqual({});
    const health = await getHealth(addr(survivor));
    expect(health?.status).toBe(503);
    expect(health?.body).toContain('Master has not finished recovery');
    // The fetch timeout (60 s) aborts the process; systemd restarts it (NRestarts counts it).
    const aborted = await waitFor('the registrar recovery to abort', async () => {
      const t = await journalTimes(survivor, 'dcos-mesos-master.service', 'Failed to recover registrar', since, o);
      return t.length > 0 ? t[0]! : undefined;
    }, 90_000, 1000);
    expect(aborted / 1000 - electedAt).toBeGreaterThan(55_000);
    await waitFor('systemd to restart it', async () => Number((await unitProps(survivor, 'dcos-mesos-master', ['NRestarts'], o))['NRestarts']) >= 1, 30_000, 1000);
    // Putting the lab back: as on DC/OS, a start may be refused by the pre-start check (ZooKeeper
    // busy) and systemd retries it 15 s later; what must hold is that the unit comes up.
    for (const n of [leader, stopped]) await startMesos(n);
    await ready();
  }, 300_000);

  it('a wiped master at quorum 1 initialises an empty registry on its own, beside VOTING peers; two divergent logs then stay divergent', async () => {
    const peer = 'master-1';
    const wiped = 'master-3';
    const before = await registryLog(addr(peer));
    expect(before?.status).toBe('VOTING');
    expect(before!.actions.some((a) => a.type === 'APPEND')).toBe(true);
    await sh(wiped, 'systemctl stop dcos-mesos-master', o);
    // Quorum 1, written through the symlink as an operator's editor would; the replica wiped.
    await sh(wiped, `sed 's/^MESOS_QUORUM=.*/MESOS_QUORUM=1/' ${DCOS_PATHS.mesosEnvFile} > /tmp/mm && cat /tmp/mm > ${DCOS_PATHS.mesosEnvFile} && rm -rf ${DCOS_PATHS.mesosWorkDir}/replicated_log`, o);
    await sh(wiped, 'systemctl start dcos-mesos-master', o);
    const fresh = await waitFor(`${wiped}'s replica to settle`, async () => {
      const d = await registryLog(addr(wiped));
      return d?.status === 'VOTING' ? d : undefined;
    }, 60_000, 500);
    // VOTING with nothing of the registry: the peers' history is not there.
    expect(fresh.actions.filter((a) => a.type === 'APPEND')).toEqual([]);
    const peerNow = await registryLog(addr(peer));
    expect(peerNow!.actions.filter((a) => a.type === 'APPEND').length).toBeGreaterThan(0);

    // Divergence: the quorum-1 master leads alone and writes; then the others lead and write the same positions.
    for (const n of ['master-1', 'master-2']) await sh(n, 'systemctl stop dcos-mesos-master', o);
    await waitFor(`${wiped} leading with a recovered registrar`, async () => (await mesosView(addr(wiped)))?.recovered, 60_000, 500);
    const lone = (await registryLog(addr(wiped)))!;
    await sh(wiped, 'systemctl stop dcos-mesos-master', o);
    for (const n of ['master-1', 'master-2']) await sh(n, 'systemctl start dcos-mesos-master', o);
    await waitFor('master-1 or master-2 leading with a recovered registrar', async () => (await mesosView(addr('master-1')))?.recovered || (await mesosView(addr('master-2')))?.recovered, 90_000, 500);
    await sh(wiped, `sed 's/^MESOS_QUORUM=.*/MESOS_QUORUM=2/' ${DCOS_PATHS.mesosEnvFile} > /tmp/mm && cat /tmp/mm > ${DCOS_PATHS.mesosEnvFile}`, o);
    await sh(wiped, 'systemctl start dcos-mesos-master', o);
    await ready();
    await sleep(3000);
    const mine = (await registryLog(addr(wiped)))!;
    const theirs = (await registryLog(addr(peer)))!;
    // Every position the lone master learned keeps its value; where the majority learned another value, the histories differ.
    const loneLearned = lone.actions.filter((a) => a.learned && a.type === 'APPEND');
    expect(loneLearned.length).toBeGreaterThan(0);
    for (const a of loneLearned) expect(mine.actions.find((b) => b.position === a.position)?.value).toBe(a.value);
    const differing = loneLearned.filter((a) => {
      const t = theirs.actions.find((b) => b.position === a.position);
      return t?.learned && t.value !== a.value;
    });
    expect(differing.length).toBeGreaterThan(0);
  }, 420_000);

  it('the overlay log takes the agents\' subnet allocations: one subnet per agent, none shared, in the leader\'s /overlay-master/state', async () => {
    const leader = await recoveredLeader();
    const state = await waitFor('both agents allocated', async () => {
      const s = await httpJson<{ agents: { ip: string; overlays: { subnet: string }[] }[] }>(mesosUrl(addr(leader), '/overlay-master/state'));
      return s && s.agents.length >= 2 ? s : undefined;
    }, 60_000, 1000);
    const subnets = state.agents.flatMap((a) => a.overlays.map((x) => x.subnet));
    expect(new Set(subnets).size).toBe(subnets.length);
    expect(state.agents.map((a) => a.ip).sort()).toEqual(lab.layout.agents.map((a) => a.address).sort());
    const agentState = await httpJson<{ overlay: { subnet: string } | null }>(`http://${lab.layout.agents[0]!.address}:${PORTS.agent}/state`);
    expect(subnets).toContain(agentState?.overlay?.subnet);
    // The allocations are in the overlay replicated log, a second log beside the registry's.
    const log = await overlayLog(addr(leader));
    expect(log?.status).toBe('VOTING');
    expect(log!.actions.some((a) => a.type === 'APPEND' && (a.value ?? '').includes(agentState!.overlay!.subnet))).toBe(true);
  }, 120_000);
});
