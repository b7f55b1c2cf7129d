/**
 * Issue 15, the runs that go wrong, on one 3-master machines lab (lab instance 6), madrid lost
 * once: a topology that disagrees with the nodes (item 1: refused, nothing touched), a fence hook
 * aimed at the survivors (9), the lost DC coming back as members during the last step of a
 * failover (2) and the returning DC's own quorum left serving by a divergence refusal (5).
 * The full runs (a flapping main DC failed over and back with a marker that must hold what the
 * disks held, items 4 and 1; the lost DC back between steps, 14) are in unsafe-cycles.long.test.ts.
 *
 * Time scale 0.2 (lab/machines/timers.ts): every test here checks what dcfail decides and in which
 * order, not how long DC/OS takes; ZooKeeper's own timers (tickTime, syncLimit) stay DC/OS's.
 */
import { writeFile } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  dcfail,
  describeRun,
  errorCode,
  failbackArgs,
  REPO,
  runFailover,
  waitFor,
  writeZnodes,
} from '../../support/e2e.js';
import {
  answersAsZkMember,
  dcosFiles,
  markerOn,
  QUORUM_UNITS,
  sh,
  useMachinesE2e,
} from '../../support/machines-e2e.js';
import { both, journals, stepsDone } from './common.js';
import { ATTEST, badDayLab } from './lab-runs.js';

const e = useMachinesE2e({
  instance: 6,
  tag: 'm-badday-unsafe',
  masters: 3,
  dcos: '2.2',
  label: 'bad-day unsafe',
  timeScale: 0.2,
});
const b = badDayLab(e);
const MYID = '/var/lib/dcos/exhibitor/zookeeper/snapshot/myid';

/** master-3's DC/OS files before anything ran. */
let m3Before: Record<string, string>;

beforeAll(async () => {
  await b.setUp();
  m3Before = await dcosFiles(e.lab(), b.m3());
});

describe('main lost: runs that must refuse and touch nothing', () => {
  it('item 1: a topology whose zkIds disagree with the nodes: failover refuses (exit 3) naming every disagreement, and touches nothing', async () => {
    await b.loseMain();
    // The nodes say 1:master-1, 2:master-2, 3:master-3; this copy says 2, 1, 4.
    const wrong = await b.topology('wrong-ids', (t) => {
      t.hooks.fence = { madrid: `${b.countedFence()} madrid` };
      t.nodes[0].zkId = 2;
      t.nodes[1].zkId = 1;
      t.nodes[2].zkId = 4;
    });
    const idBefore = await sh(e.lab(), b.m3(), `cat ${MYID}`);
    const r = await runFailover(wrong, [], false);
    e.log(`failover with wrong zkIds: exit ${r.exitCode}: ${both(r).trim().split('\n').slice(-4).join(' | ')}`);
    expect(r.exitCode, describeRun(r)).toBe(3);
    const out = both(r);
    for (const n of b.allNodes())
      expect(out, `names ${n}`).toMatch(
        new RegExp(`${n}[^\\n]*(zkId|ZooKeeper id|server id|EXHIBITOR_STATICENSEMBLE)`),
      );
    expect(out).toMatch(/EXHIBITOR_STATICENSEMBLE/);
    expect(await dcosFiles(e.lab(), b.m3()), 'master-3 files untouched').toEqual(m3Before);
    expect(await sh(e.lab(), b.m3(), `cat ${MYID}`), 'myid unchanged').toBe(idBefore);
    expect(await markerOn(e.lab(), b.m3()), 'no marker written').toBeNull();
    expect(await b.fences(), 'the fence hook did not run').toBe(0);
  }, 120_000);

  it('item 9: a fence hook aimed at the survivors is noticed after the fence, before the survivors are touched: no etcd stop, no forced cluster', async () => {
    // An IPMI fence whose action is a reboot (fence_ipmilan's default), pointed at the wrong DC:
    // barcelona is powered off, its units held on its disks, and powered on again.
    const reboot = `${e.dir}/bin/fence-reboot`;
    await writeFile(
      reboot,
      `#!/bin/sh\nset -e\n${b.fenceAndHold()} "$1"\nDCFAIL_LAB_DIR='${e.dir}' ${process.execPath} ${REPO}/dist/lab/machines/cli.js power-on "$1" >&2\n`,
      { mode: 0o755 },
    );
    const swapped = await b.topology('swapped-fence', (t) => (t.hooks.fence = { madrid: `${reboot} barcelona` }));
    const r = await runFailover(swapped, [], false);
    const j = (await journals()).at(-1);
    e.log(`failover with the fence aimed at barcelona: exit ${r.exitCode}; steps done: ${stepsDone(j).join(', ')}`);
    try {
      expect(r.exitCode, describeRun(r)).toBe(3);
      expect(both(r)).toMatch(
        /master-3[^\n]*(fenced|masked|held)|(fenced|masked|held)[^\n]*master-3|survivor[^\n]*fenced/i,
      );
      expect(
        stepsDone(j).filter((id) => !id.startsWith('fence')),
        'no step after the fence (no etcd stop)',
      ).toEqual([]);
      expect(await dcosFiles(e.lab(), b.m3()), 'no ETCD_FORCE_NEW_CLUSTER written, nothing edited').toEqual(m3Before);
    } finally {
      // The survivor's holds lifted by hand, its units started (alone, it waits for madrid as before).
      await sh(
        e.lab(),
        b.m3(),
        'rm -f /var/lib/dcfail/guard/hold.* /etc/systemd/system/*.d/dcfail-hold.conf && systemctl daemon-reload && ' +
          `systemctl start --no-block ${QUORUM_UNITS.join(' ')}`,
      );
    }
  }, 180_000);
});

describe('the lost DC comes back during a run', () => {
  it('item 2: back as members during the last step: never `failover done`, exit 3', async () => {
    // madrid is still dark (items 1 and 9 changed nothing of it); the last step, Mesos' verification, is held (lab-runs.ts).
    const held = await b.heldTopology('dcos-mesos-master');
    let stopped = false;
    let revived = false;
    const r = await b.failoverWhile(held, ATTEST, async (j) => {
      const etcdSteps = (j.plan?.steps ?? []).filter((s: any) => s.id.startsWith('etcd:')).map((s: any) => s.id);
      const done = stepsDone(j);
      if (!stopped && done.includes(`mesos:restart:mesos:${b.m3()}`)) stopped = true;
      if (stopped && !revived && etcdSteps.length > 0 && etcdSteps.every((id: string) => done.includes(id))) {
        await b.madridBackThenRelease('dcos-mesos-master');
        revived = true;
      }
    });
    expect(revived, 'the scenario was set up (madrid back while the last step ran)').toBe(true);
    e.log(`lost DC back during the last step: exit ${r.exitCode}, outcome ${r.json?.outcome}, error ${errorCode(r)}`);
    expect(r.json?.outcome, describeRun(r)).not.toBe('done');
    expect(r.exitCode).toBe(3);
    expect(both(r)).toMatch(/madrid/);
    expect(await answersAsZkMember(b.madrid()), 'madrid still runs its own quorum (the situation is real)').toBe(true);
  }, 300_000);

  it('item 5: a divergence refusal quarantines the returning DC (or says plainly it still serves and how to stop it)', async () => {
    // Continues from item 2: madrid runs a ZooKeeper quorum of its own next to the failed-over barcelona.
    await waitFor(
      'madrid takes writes on its own',
      async () => (await writeZnodes(b.madrid(), '/badday/divergent', 20), true),
      60_000,
      1000,
    );
    const unfenced = await b.topology('unfenced', (t) => delete t.hooks);
    const r = await dcfail(failbackArgs(unfenced, ['--json']));
    e.log(`failback beside madrid's own quorum: exit ${r.exitCode} (${errorCode(r)})`);
    expect(r.exitCode, describeRun(r)).toBe(3);
    expect(errorCode(r)).toBe('divergent');
    await sleep(2000);
    const serving: string[] = [];
    const held: string[] = [];
    for (const n of b.madrid())
      for (const u of QUORUM_UNITS) {
        const s = await sh(
          e.lab(),
          n.name,
          `systemctl is-active ${u} || true; test -e /var/lib/dcfail/guard/hold.${u} && echo held || true`,
        );
        if (/^active$/m.test(s)) serving.push(`${n.name}/${u}`);
        if (/^held$/m.test(s)) held.push(`${n.name}/${u}`);
      }
    e.log(`after the refusal: serving ${serving.join(', ') || 'nothing'}; held ${held.join(', ') || 'nothing'}`);
    const text = JSON.stringify(r.json);
    if (serving.length > 0) {
      // Not quarantined: then it must say so, and how to stop them.
      expect(text, `still serving: ${serving.join(', ')}`).toMatch(/still serv/i);
      expect(text).toMatch(/stop/);
    } else {
      expect(await answersAsZkMember(b.madrid()), "madrid's quorum is stopped").toBe(false);
      expect(held.sort(), 'every quorum unit of madrid held').toEqual(
        b
          .madrid()
          .flatMap((n) => QUORUM_UNITS.map((u) => `${n.name}/${u}`))
          .sort(),
      );
    }
    // Whatever the answer, split brain must not be left serving silently.
    expect(serving.length === 0 || /still serv/i.test(text)).toBe(true);
  }, 180_000);
});
