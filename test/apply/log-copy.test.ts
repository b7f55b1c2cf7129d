/**
 * A failback's Mesos log steps as the executor runs them, against two real sshds: the plan's
 * `copy-replicated-log` steps (registry and overlay, from the leader) performed by the effects,
 * then their `log-copied` checks; a byte changed afterwards makes the check fail.
 */
import { appendFileSync, existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeEffects } from '../../src/apply/effects.js';
import type { EffectContext } from '../../src/apply/effect-kit.js';
import { failedOverFacts, planFailback } from '../../src/plan/failback.js';
import { offlineFacts } from '../../src/plan/facts.js';
import type { Step } from '../../src/plan/plan.js';
import { RemotePool } from '../../src/remote/ssh.js';
import { parseTopology } from '../../src/topology/load.js';
import type { Topology } from '../../src/topology/model.js';
import { needs } from '../support/skips.js';
import { LAB_USER, sh } from '../support/sshd.js';
import { makeLogTree, startCopyRig, treeDigest, type CopyRig } from '../support/stream-copy-rig.js';

const canRun = needs(process.getuid?.() === 0 && existsSync('/usr/sbin/sshd'), 'log copy steps: needs root and sshd');
const [A, B] = ['127.0.31.11', '127.0.31.12'] as const;

let rig: CopyRig;
let t: Topology;
let pool: RemotePool;
const notes: Record<string, unknown> = {};
const dirOf = (node: string) => join(rig.dir, node);

beforeAll(async () => {
  if (!canRun) return;
  rig = await startCopyRig([A, B], 2222);
  // master-1 returns (madrid); master-3 is the surviving leader; master-2 is never reached.
  const node = (name: string, dc: string, address: string) => ({
    name,
    dc,
    address,
    roles: ['mesos', 'exhibitor'],
    services: { mesos: { workDir: `${dirOf(name)}/work`, overlayLogDir: `${dirOf(name)}/overlay` } },
  });
  t = parseTopology({
    cluster: 'log-copy',
    datacenters: { main: 'madrid', secondary: 'barcelona' },
    ssh: {
      user: LAB_USER,
      port: 2222,
      identityFile: join(rig.dir, 'client'),
      knownHostsFile: join(rig.dir, 'known_hosts'),
    },
    nodes: [node('master-1', 'madrid', B), node('master-2', 'madrid', '127.0.31.13'), node('master-3', 'barcelona', A)],
  });
  makeLogTree(`${dirOf('master-3')}/work/replicated_log`, 3);
  makeLogTree(`${dirOf('master-3')}/overlay/overlay_replicated_log`, 1);
  // The returning master's stale logs, owned by someone else than root: the copy takes that owner.
  for (const p of ['work/replicated_log', 'overlay/overlay_replicated_log']) {
    sh(`mkdir -p ${dirOf('master-1')}/${p} && echo stale > ${dirOf('master-1')}/${p}/METADATA`);
    sh(`chown -R ${LAB_USER}:${LAB_USER} ${dirOf('master-1')}/${p}`);
  }
  pool = new RemotePool({ agentSocket: null });
}, 60_000);

afterAll(async () => {
  await pool?.closeAll();
  await rig?.stop();
});

function ctx(): EffectContext {
  return {
    topology: t,
    topologyDir: rig.dir,
    pool,
    runId: 'run-1',
    backupRootOf: (n) => `${dirOf(n)}/backups`,
    commandTimeoutMs: 30_000,
    hookEnv: {},
    note: (k, v) => (notes[k] = v),
  };
}

describe.runIf(canRun)('copy-replicated-log and log-copied, performed', () => {
  it("copies both logs from the leader's host, keeps the stale ones, and the checks hold", async () => {
    const facts = failedOverFacts(offlineFacts(t), 'madrid');
    const online = {
      ...facts,
      mode: 'online' as const,
      live: { zkServing: [], mesosLeader: 'master-3', etcd: null, active: {} },
    };
    const steps = planFailback(online, { returningDc: 'madrid' }).steps.filter(
      (s) =>
        s.node === 'master-1' &&
        (s.action === 'copy-replicated-log' || (s.action === 'verify' && s.check.kind === 'log-copied')),
    );
    expect(
      steps.map((s) =>
        s.action === 'verify' ? `verify:${s.check.kind}` : `${s.action}:${(s as Step & { log: string }).log}`,
      ),
    ).toEqual([
      'copy-replicated-log:registry',
      'copy-replicated-log:overlay',
      'verify:log-copied',
      'verify:log-copied',
    ]);
    const effects = nodeEffects(ctx());
    for (const s of steps) {
      if (s.action === 'verify') await effects.verify(s.node, s.check, 10_000);
      else
        expect(await effects.perform(s)).toMatch(/^copied \d+ KiB from master-3 \(sha256 [0-9a-f]{12} on both ends\)$/);
    }
    for (const p of ['work/replicated_log', 'overlay/overlay_replicated_log']) {
      expect(await treeDigest(`${dirOf('master-1')}/${p}`)).toEqual(await treeDigest(`${dirOf('master-3')}/${p}`));
      // The old log is kept beside it; the copy has the owner of the replica it replaced.
      expect(await treeDigest(`${dirOf('master-1')}/${p}.dcfail-run-1-replaced`)).toEqual({
        METADATA: expect.stringMatching(/^6:/),
      });
      expect(statSync(`${dirOf('master-1')}/${p}/METADATA`).uid).toBe(Number(sh(`id -u ${LAB_USER}`)));
      expect(existsSync(`${dirOf('master-1')}/${p}.dcfail-incoming`)).toBe(false);
    }
    expect(notes['log-copy:overlay:master-1']).toMatchObject({
      from: 'master-3',
      sha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });

    // One byte more in one file of the copy: the check no longer holds.
    appendFileSync(`${dirOf('master-1')}/overlay/overlay_replicated_log/METADATA`, ' ');
    const overlayCheck = steps.find(
      (s) => s.action === 'verify' && s.check.kind === 'log-copied' && s.check.log === 'overlay',
    )!;
    if (overlayCheck.action !== 'verify') throw new Error('unreachable');
    await expect(effects.verify('master-1', overlayCheck.check, 1_000)).rejects.toThrow(
      /overlay log on master-1 differs from master-3's/,
    );
  }, 120_000);
});
