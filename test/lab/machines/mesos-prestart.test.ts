/**
 * dcos-mesos-master's pre-start check, both DC/OS forms, against real ZooKeeper servers run by the Exhibitor
 * stand-in on 127.0.73.1-3 (DCFAIL_LAB_TIME_SCALE=0.1: check-ms 3 s).
 */
import { readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { scaledTimers } from '../../../lab/machines/timers.js';
import {
  clusterStatus,
  nodeDirs,
  readIfExists,
  requireBuilt,
  runPrestart,
  scratch,
  startExhibitor,
  stopExhibitor,
  waitFor,
  zkMode,
  type RunningExhibitor,
} from './standin-helpers.js';

const SCALE = 0.1;
const T = scaledTimers(SCALE);
const IPS = ['127.0.73.1', '127.0.73.2', '127.0.73.3'];
const ENSEMBLE = IPS.map((ip, i) => `${i + 1}:${ip}`).join(',');

describe('mesos pre-start check', () => {
  const { root, masterCountFile } = scratch('mesos-prestart', 3);
  const nodes = IPS.map((ip) => nodeDirs(root, masterCountFile, ip));
  const n1 = nodes[0]!;
  const running: RunningExhibitor[] = [];

  beforeAll(() => {
    requireBuilt();
    for (const n of nodes) running.push(startExhibitor(n, { DCFAIL_LAB_TIME_SCALE: String(SCALE), EXHIBITOR_BACKEND: 'STATIC', EXHIBITOR_STATICENSEMBLE: ENSEMBLE }));
  });
  afterAll(async () => {
    await Promise.all(running.map((e) => stopExhibitor(e)));
    rmSync(root, { recursive: true, force: true });
  });

  it('fails (exit 1, one line) before Exhibitor has started ZooKeeper, in both forms', async () => {
    await waitFor('Exhibitor HTTP', async () => clusterStatus(n1.ip).then(() => true, () => false), 2000);
    expect(readIfExists(n1.zkPid)).toBeUndefined();
    const v22 = await runPrestart(n1, '2.2');
    expect(v22.code).toBe(1);
    expect(v22.out.trim().split('\n')).toHaveLength(1);
    expect(v22.out).toContain('ERROR ZooKeeper not running');
    const v21 = await runPrestart(n1, '2.1');
    expect(v21.code).toBe(1);
    expect(v21.out.trim().split('\n')).toHaveLength(1);
    expect(v21.out).toContain('Expected 3 servers and 1 leader, got 0 servers and 0 leaders');
    expect(readIfExists(join(n1.bootstrapDir, 'exhibitor_pid_stat'))).toBeUndefined();
  });

  it('2.2 passes once the local ZooKeeper is leader or follower; 2.1 only once Exhibitor shows 3 serving and 1 leader', async () => {
    await waitFor('a quorum', async () => (await Promise.all(IPS.map(zkMode))).every((m) => m === 'leader' || m === 'follower'), 15_000);
    // 2.2 asks ZooKeeper itself: it passes as soon as the quorum is there, whatever Exhibitor's cache says.
    for (const n of nodes) {
      const r = await runPrestart(n, '2.2');
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/OK ZooKeeper OK: (leader|follower)/);
    }
    await waitFor('Exhibitor status: 3 serving', async () => (await clusterStatus(n1.ip)).every((r) => r.description === 'serving'), 2 * T.exhibitorCheckMsMulti + 2000);
    const r21 = await runPrestart(n1, '2.1');
    expect(r21.code).toBe(0);
    expect(r21.out).toContain('Serving hosts: `127.0.73.1,127.0.73.2,127.0.73.3`');
    // The stash is zk.pid's mtime in nanoseconds.
    expect(readFileSync(join(n1.bootstrapDir, 'exhibitor_pid_stat'), 'utf8')).toBe(statSync(n1.zkPid, { bigint: true }).mtimeNs.toString());
  });

  it('2.2 wants standalone when master_count is 1 (a follower or leader is not ready)', async () => {
    const one = join(root, 'master_count_1');
    writeFileSync(one, '1\n');
    const r = await runPrestart(n1, '2.2', { DCFAIL_LAB_MASTER_COUNT_FILE: one });
    expect(r.code).toBe(1);
    expect(r.out).toMatch(/ERROR ZooKeeper not in correct mode: (leader|follower)/);
    const none = await runPrestart(n1, '2.2', { DCFAIL_LAB_MASTER_COUNT_FILE: join(root, 'absent') });
    expect(none.code).toBe(0);
    expect(none.out).toContain("master_count file doesn't exist, not waiting");
  });

  it('2.1 takes the stashed-pid shortcut while the same ZooKeeper runs, even without a quorum; not once it was restarted', async () => {
    const pid = Number(readFileSync(n1.zkPid, 'utf8'));
    await Promise.all([stopExhibitor(running[1]!), stopExhibitor(running[2]!)]);
    await waitFor('node 1 without quorum', async () => (await zkMode(n1.ip))?.includes('not currently serving'), 10_000);
    expect(Number(readFileSync(n1.zkPid, 'utf8'))).toBe(pid);

    const shortcut = await runPrestart(n1, '2.1');
    expect(shortcut.code).toBe(0);
    expect(shortcut.out).toContain('Shortcut succeeeded');
    // Without the stash the same moment fails: the status no longer has 3 serving.
    const noStash = await runPrestart(n1, '2.1', { DCFAIL_LAB_BOOTSTRAP_DIR: join(root, 'empty-bootstrap') });
    expect(noStash.code).toBe(1);
    expect(noStash.out).toMatch(/Expected 3 servers and 1 leader, got [0-2] servers/);
    const v22 = await runPrestart(n1, '2.2');
    expect(v22.code).toBe(1);
    expect(v22.out).toContain('ZooKeeper not in correct mode: latent');

    // Exhibitor restarts the NOT_SERVING ZooKeeper (> 40 s scaled): a new zk.pid, the shortcut no longer holds.
    await waitFor('ZooKeeper restarted by Exhibitor', () => {
      const raw = readIfExists(n1.zkPid);
      return raw !== undefined && Number(raw) !== pid;
    }, T.exhibitorDeadZkRestartMs + 3 * T.exhibitorCheckMsMulti + 2000);
    const after = await runPrestart(n1, '2.1');
    expect(after.code).toBe(1);
    expect(after.out).toContain('Expected 3 servers and 1 leader');
    rmSync(join(root, 'empty-bootstrap'), { recursive: true, force: true });
  }, 40_000);
});
