/**
 * What the return guard adds to a boot (machines lab, real systemd, DC/OS 2.2 units, real timers; npm run
 * test:long): madrid is power-cycled 3 times without the guard and 3 times with it (barcelona answering, not failed
 * over), and each time the time etcd and dcos-exhibitor spend between leaving `inactive` and their main process
 * (their ExecStartPre lines) is read from systemd. Lab instance 4, as guard.lab.test.ts.
 */
process.env['DCFAIL_LAB_INSTANCE'] = '4';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { untilClustersReady, labDown, labUp, powerOff, powerOn, type Lab } from '../../lab/machines/lab.js';
import { waitFor } from '../../lab/machines/run.js';
import { guardLines, installGuard, nowSec, preStartUs, removeDropIns } from './support.js';

const DIR = `${process.cwd()}/.lab-test-guard-boot`;
const o = { dir: DIR };
const MADRID = ['master-1', 'master-2'];
let lab: Lab;

const median = (xs: readonly number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

beforeAll(async () => {
  lab = await labUp({ masters: 3, dcos: '2.2', dir: DIR, timeScale: 1 });
}, 240_000);

afterAll(async () => {
  await labDown(o);
}, 60_000);

describe('return guard: boot cost', () => {
  it('a routine boot of madrid: the guard adds a fraction of a second per unit (under 1 s)', async () => {
    const boot = async (): Promise<{ us: number[]; cycleMs: number }> => {
      const t0 = Date.now();
      await powerOff('madrid', o);
      await powerOn('madrid', o);
      const cycleMs = Date.now() - t0;
      const us: number[] = [];
      for (const n of MADRID) {
        for (const u of ['etcd', 'dcos-exhibitor']) {
          const got = await waitFor(
            `${n} ${u} main process`,
            async () => {
              const v = await preStartUs(n, u, o);
              return v === undefined ? undefined : { v };
            },
            60_000,
            250,
          );
          us.push(got.v);
        }
      }
      return { us, cycleMs };
    };
    for (const n of MADRID) await removeDropIns(n, o);
    const without: number[] = [];
    for (let i = 0; i < 3; i++) without.push(...(await boot()).us);
    for (const n of lab.layout.nodes) await installGuard(lab.layout, n.name, 'start', o);
    const withGuard: number[] = [];
    for (let i = 0; i < 3; i++) withGuard.push(...(await boot()).us);
    const t = (await nowSec('master-1', o)) - 60;
    expect((await guardLines('master-1', 'etcd', t, o)).join('\n')).toMatch(
      /starting: no failover evidence in barcelona/,
    );
    console.log(
      `guard boot cost (µs between leaving inactive and the main process, etcd and dcos-exhibitor on master-1/2, 3 boots): ` +
        `without: median ${median(without)} max ${Math.max(...without)} [${without.join(', ')}]; ` +
        `with: median ${median(withGuard)} max ${Math.max(...withGuard)} [${withGuard.join(', ')}]`,
    );
    expect(median(withGuard)).toBeLessThan(1_000_000);
    await untilClustersReady(lab.layout, 150_000, 1000);
  }, 420_000);
});
