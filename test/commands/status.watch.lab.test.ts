/**
 * Issue 14 item 4 against the real 3-master lab, through the built binary: `status --format
 * prometheus` checked by promtool and read back in each state (normal, main lost without
 * quorum, failed over), and `status --watch` seeing the loss happen, then stopped by Ctrl-C.
 */
process.env['DCFAIL_LAB_NET'] = '47';
import { describe, expect, it } from 'vitest';
import { killDc } from '../../lab/lab.js';
import { CLUSTER_NAME } from '../../lab/layout.js';
import { describeRun, runFailover, spawnDcfail, useE2eLab, waitFor } from '../support/e2e.js';
import { hasPromtool, promtoolCheck, samples } from '../support/prometheus.js';
import { needs } from '../support/skips.js';

let topology: string;
// The lab's own topology, not the suite's fast copy: on a loaded machine its 700 ms health
// timeout lets a probe miss a live server, and the state under test would flap.
const { dir } = useE2eLab({ tag: 'status-watch', masters: 3, label: 'status watch' }, (lab) => {
  topology = lab.topologyPath;
});

/**
 * `status --format prometheus` through the binary, its stdout exactly as written (execa's result
 * strips the final line feed, which the format requires), checked by promtool.
 */
async function prometheus(): Promise<{ exitCode: number; text: string; s: Map<string, number>; c: string }> {
  const child = spawnDcfail(['status', '-t', topology, '--format', 'prometheus']);
  let text = '';
  child.stdout!.on('data', (d: Buffer) => (text += d.toString()));
  const r = await child;
  const check = await promtoolCheck(text);
  expect(check, `promtool check metrics, exit ${r.exitCode}\n${text}\n${String(r.stderr)}`).toEqual({
    exitCode: 0,
    output: '',
  });
  return { exitCode: r.exitCode ?? -1, text, s: samples(text), c: `cluster="${CLUSTER_NAME}"` };
}

/**
 * Polls until status exits with `code` and `settled` holds (the lab settling, a survivor that still
 * counts itself in a group for a moment after a loss, or a failover's end); the last output either way.
 */
async function prometheusUntil(
  code: number,
  settled: (p: Awaited<ReturnType<typeof prometheus>>) => boolean = () => true,
  timeoutMs = 90_000,
): Promise<Awaited<ReturnType<typeof prometheus>>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const p = await prometheus();
    if ((p.exitCode === code && settled(p)) || Date.now() > deadline) return p;
    await new Promise((r) => setTimeout(r, 1000));
  }
}

const COMPONENTS = ['exhibitor', 'mesos', 'etcd'] as const;

describe.runIf(needs(hasPromtool(), 'promtool is not installed (apt-get install prometheus)'))(
  'status --format prometheus and --watch on the 3-master lab',
  () => {
    it(
      'normal: promtool accepts it; mode normal, every quorum and leader present, no hazard, exit 0',
      { timeout: 120_000 },
      async () => {
        // Right after `up` a leader may still be settling: the state status reports must be the settled one.
        const { exitCode, text, s, c } = await prometheusUntil(0);
        expect(exitCode, text).toBe(0);
        expect(s.get(`dcfail_status_exit_code{${c}}`)).toBe(0);
        expect(s.get(`dcfail_mode{${c},mode="normal"}`)).toBe(1);
        expect(s.get(`dcfail_mode{${c},mode="failed-over"}`)).toBe(0);
        for (const k of COMPONENTS) {
          expect(s.get(`dcfail_cluster_members{${c},component="${k}"}`), k).toBe(3);
          expect(s.get(`dcfail_cluster_quorum_present{${c},component="${k}"}`), k).toBe(1);
          expect(s.get(`dcfail_cluster_quorum_members{${c},component="${k}"}`), k).toBe(3);
          expect(s.get(`dcfail_cluster_leader_present{${c},component="${k}"}`), k).toBe(1);
        }
        expect(s.get(`dcfail_hazards_found{${c}}`)).toBe(0);
        expect([...s.keys()].filter((k) => k.startsWith('dcfail_hazards{'))).toEqual([]);
        expect(s.get(`dcfail_dc_ssh_reachable{${c},dc="madrid"}`)).toBe(2);
        const at = s.get(`dcfail_observation_timestamp_seconds{${c}}`)!;
        expect(Math.abs(at - Date.now() / 1000)).toBeLessThan(60);
      },
    );

    it(
      '--watch without a terminal: one frame per observation; the loss of madrid is marked as it happens; Ctrl-C ends it with the last exit code',
      { timeout: 180_000 },
      async () => {
        const watch = spawnDcfail(['status', '-t', topology, '--watch', '--interval', '1s']);
        let out = '';
        watch.stdout!.on('data', (d: Buffer) => (out += d.toString()));
        await waitFor('the first frame', async () => /-- observation 1 at /.test(out), 60_000);
        expect(out).not.toMatch(/^\* /m);
        await killDc('main', { dir });
        await waitFor('a frame with the lost quorums', async () => /\+ hazard \[no-quorum:etcd\]/.test(out), 90_000);
        // Once the loss has settled, a frame says nothing changed; then Ctrl-C.
        const lostAt = out.indexOf('+ hazard [no-quorum:etcd]');
        await waitFor(
          'a frame with no change after the loss',
          async () => /no change since the previous observation/.test(out.slice(lostAt)),
          60_000,
        );
        watch.kill('SIGINT');
        const r = await watch;
        expect(r.exitCode, String(r.stderr)).toBe(5);
        expect(String(r.stderr)).toBe('');
        // Each frame is numbered in order, and only what changed is marked.
        const numbers = [...out.matchAll(/^ {2}-- observation (\d+) at /gm)].map((m) => Number(m[1]));
        expect(numbers).toEqual(numbers.map((_, i) => i + 1));
        // etcd may lose one member before the other, and the survivor may still count itself in a
        // group without a leader for a frame: the frame that says NO QUORUM may start from any of these.
        expect(out).toMatch(/^\* {3}etcd: \{master-[123](, master-[123])*\}( leader master-\d)? -> NO QUORUM$/m);
        expect(out).toMatch(/^\* {3}madrid: 2 -> 0 of 2 nodes answer SSH$/m);
        expect(out).toMatch(/^\* etcd {11}NO QUORUM$/m);
        // The frames came about every second (the interval), not back to back.
        expect(numbers.length).toBeLessThan(200);
      },
    );

    it(
      'main lost: promtool accepts it; no quorum anywhere, hazards by kind, exit 5',
      { timeout: 120_000 },
      async () => {
        const { exitCode, text, s, c } = await prometheusUntil(5, (p) =>
          COMPONENTS.every((k) => p.s.get(`dcfail_cluster_quorum_present{${p.c},component="${k}"}`) === 0),
        );
        expect(exitCode, text).toBe(5);
        expect(s.get(`dcfail_status_exit_code{${c}}`)).toBe(5);
        for (const k of COMPONENTS) {
          expect(s.get(`dcfail_cluster_quorum_present{${c},component="${k}"}`), k).toBe(0);
          expect(s.get(`dcfail_cluster_leader_present{${c},component="${k}"}`), k).toBe(0);
        }
        expect(s.get(`dcfail_hazards{${c},kind="no-quorum"}`)).toBe(3);
        expect(s.get(`dcfail_hazards{${c},kind="dc-unreachable"}`)).toBe(1);
        expect(s.get(`dcfail_hazards_found{${c}}`)).toBeGreaterThanOrEqual(4);
        expect(s.get(`dcfail_dc_ssh_reachable{${c},dc="madrid"}`)).toBe(0);
      },
    );

    it(
      'failed over: promtool accepts it; mode failed-over, one-member quorums with their leader, exit 0',
      { timeout: 240_000 },
      async () => {
        const f = await runFailover(topology, ['--attest-fenced', 'the lab killed madrid']);
        expect(f.exitCode, describeRun(f)).toBe(0);
        const { exitCode, text, s, c } = await prometheusUntil(0);
        expect(exitCode, text).toBe(0);
        expect(s.get(`dcfail_mode{${c},mode="failed-over"}`)).toBe(1);
        expect(s.get(`dcfail_mode{${c},mode="normal"}`)).toBe(0);
        for (const k of COMPONENTS) {
          expect(s.get(`dcfail_cluster_quorum_present{${c},component="${k}"}`), k).toBe(1);
          expect(s.get(`dcfail_cluster_quorum_members{${c},component="${k}"}`), k).toBe(1);
          expect(s.get(`dcfail_cluster_leader_present{${c},component="${k}"}`), k).toBe(1);
        }
        expect(s.get(`dcfail_hazards_found{${c}}`)).toBe(0);
      },
    );
  },
);
