/**
 * The one real-timer check: with no DCFAIL_LAB_TIME_SCALE and master_count 3, the Exhibitor stand-in starts
 * ZooKeeper 30 s after it starts (check-ms, dcos/dcos start_exhibitor.py), not before. About 33 s of wall time.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DCOS_TIMERS } from '../../../lab/machines/timers.js';
import { nodeDirs, readIfExists, requireBuilt, ruok, scratch, sleep, startExhibitor, stopExhibitor, waitFor, type RunningExhibitor } from './standin-helpers.js';

describe('Exhibitor stand-in at scale 1', () => {
  const { root, masterCountFile } = scratch('exhibitor-scale1', 3);
  const n = nodeDirs(root, masterCountFile, '127.0.72.1');
  let e: RunningExhibitor;

  beforeAll(() => {
    requireBuilt();
    // The other two masters are absent: only the start delay is under test.
    e = startExhibitor(n, { EXHIBITOR_BACKEND: 'STATIC', EXHIBITOR_STATICENSEMBLE: '1:127.0.72.1,2:127.0.72.2,3:127.0.72.3' });
  });
  afterAll(async () => {
    await stopExhibitor(e);
    rmSync(root, { recursive: true, force: true });
  });

  it('starts ZooKeeper at the first pass, 30 s after start', async () => {
    expect(DCOS_TIMERS.exhibitorCheckMsMulti).toBe(30_000);
    await sleep(Math.max(0, e.startedAt + 28_000 - Date.now()));
    expect(readIfExists(n.zkPid)).toBeUndefined();
    expect(await ruok(n.ip)).toBeUndefined();
    expect(e.proc.exitCode).toBeNull();
    const at = await waitFor('zk.pid', () => (readIfExists(n.zkPid) !== undefined ? Date.now() : undefined), 5000, 20);
    expect(at - e.startedAt).toBeGreaterThanOrEqual(30_000);
    expect(at - e.startedAt).toBeLessThan(31_500);
    // A lone member of a three-server ensemble: ZooKeeper runs and answers ruok, without a quorum.
    await waitFor('ruok', async () => (await ruok(n.ip)) === 'imok', 5000);
  }, 60_000);
});
