#!/usr/bin/env node
/**
 * `npm test`: the default suite as two vitest runs side by side, each running its files one at a
 * time. Most of a machines-lab file's time is DC/OS's own timers (Exhibitor's 30 s check, systemd's
 * 15 s retries, ZooKeeper's session timeouts), not CPU, so two labs share the 2 cores well; one lane
 * alone would take over 50 minutes. The lanes never share a lab instance (each file's instance is
 * fixed in the file: 198.18.(10i+1..2).0/24, dcfl<i> names) nor a loopback range:
 *   lane 1: the kill -9 matrix (instance 2), the nothing-lost suite and the unit starts (5), the first-second failover (7),
 *           preflight and status (3), runs and apply (8);
 *   lane 2: everything else (the guard 4, bad day and security 6, the machines lab's own tests 0 and
 *           every test on loopback addresses).
 * One full run on this machine kind, with other test runs beside it on the same cores: lane 1 2,691 s,
 * lane 2 2,412 s (the kill -9 sample of 6 points 660 s of lane 1).
 * Each lane's lines are prefixed with its number; the two JSON reports are merged into
 * .test-results.json (what .ci/run summarises). Extra arguments go to both vitest runs.
 */
import process from 'node:process';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createInterface } from 'node:readline';

const LANE1 = [
  'test/e2e/kill9.lab.test.ts',
  'test/e2e/machines/failover-failback.lab.test.ts',
  'test/e2e/machines/unit-starts.lab.test.ts',
  'test/e2e/machines/failover-first-second.lab.test.ts',
  'test/commands/preflight-status.lab.test.ts',
  'test/commands/status.five.lab.test.ts',
  'test/e2e/machines/runs.lab.test.ts',
  'test/e2e/machines/apply.lab.test.ts',
];
const extra = process.argv.slice(2);
const vitest = 'node_modules/vitest/vitest.mjs';

function lane(n, args) {
  const report = `.test-results-${n}.json`;
  rmSync(report, { force: true });
  const child = spawn(
    process.execPath,
    [vitest, 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...args, ...extra],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, FORCE_COLOR: process.env.FORCE_COLOR ?? '0' },
    },
  );
  for (const [stream, out] of [
    [child.stdout, process.stdout],
    [child.stderr, process.stderr],
  ]) {
    createInterface({ input: stream }).on('line', (l) => out.write(`[${n}] ${l}\n`));
  }
  return new Promise((resolve) =>
    child.on('close', (code, signal) => resolve({ n, code: code ?? (signal ? 1 : 0), report })),
  );
}

const started = Date.now();
const results = await Promise.all([
  lane(1, LANE1),
  lane(
    2,
    LANE1.flatMap((f) => ['--exclude', f]),
  ),
]);

const merged = {
  numTotalTests: 0,
  numPassedTests: 0,
  numFailedTests: 0,
  numPendingTests: 0,
  numTodoTests: 0,
  numTotalTestSuites: 0,
  numFailedTestSuites: 0,
  success: true,
  testResults: [],
};
for (const r of results) {
  let j;
  try {
    j = JSON.parse(readFileSync(r.report, 'utf8'));
  } catch {
    process.stderr.write(`lane ${r.n} wrote no report (exit ${r.code})\n`);
    merged.success = false;
    continue;
  }
  for (const k of [
    'numTotalTests',
    'numPassedTests',
    'numFailedTests',
    'numPendingTests',
    'numTodoTests',
    'numTotalTestSuites',
    'numFailedTestSuites',
  ])
    merged[k] += j[k] ?? 0;
  merged.success &&= Boolean(j.success) && r.code === 0;
  merged.testResults.push(...(j.testResults ?? []));
}
writeFileSync('.test-results.json', `${JSON.stringify(merged)}\n`);
const secs = ((Date.now() - started) / 1000).toFixed(0);
process.stdout.write(
  `\nboth lanes done in ${secs} s: ${merged.numPassedTests} passed, ${merged.numFailedTests} failed (lane exits ${results.map((r) => r.code).join(', ')})\n`,
);
process.exit(results.every((r) => r.code === 0) && merged.success ? 0 : 1);
