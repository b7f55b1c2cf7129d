/**
 * Issue 15, items 6 and 14 (the --log-file part): bad input is exit 2, names what is wrong and
 * touches nothing. No lab: the topology points at loopback addresses where nothing listens
 * (127.5.250.x), so a run that got past its flags would only meet refused connections.
 */
process.env['DCFAIL_LAB_NET'] = '5';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { dcfail, describeRun, REPO, secs } from '../../support/e2e.js';
import { both, build, freshStateDir, journals } from './common.js';

/** A command run to its end (execa's calls are what knip lists as binaries; these are the lab's own tools). */
const sh = (cmd: string, args: string[]) => promisify(execFile)(cmd, args);

const DIR = `${REPO}/.lab-badday-input`;
let topo: string;
let state: string;

beforeAll(async () => {
  console.log(`[bad-day input] dcfail built in ${secs(await build())}`);
  state = freshStateDir('input');
  const t = parse(await readFile(`${REPO}/fixtures/topologies/example.yaml`, 'utf8'));
  t.nodes = t.nodes.map((n: any, i: number) => ({ ...n, address: `127.5.250.${i + 1}` }));
  t.ssh = { ...t.ssh, connectTimeoutMs: 500 };
  t.health = { ...t.health, timeoutMs: 300, attempts: 1 };
  delete t.hooks;
  await mkdir(DIR, { recursive: true });
  // A readable key and known_hosts file, so a run that got past its flags would get as far as connecting.
  await rm(join(DIR, 'key'), { force: true });
  await sh('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-f', join(DIR, 'key')]);
  await writeFile(join(DIR, 'known_hosts'), '');
  t.ssh.identityFile = join(DIR, 'key');
  t.ssh.knownHostsFile = join(DIR, 'known_hosts');
  topo = join(DIR, 'nowhere.yaml');
  await writeFile(topo, stringify(t));
}, 300_000);

describe('item 6: every numeric flag is validated (exit 2, naming the flag, nothing touched)', () => {
  const bad = ['1e3', '0', '-5', 'abc', '90 s', '90x', '1.5.2', '99999999999999999999'];
  for (const cmd of ['failover', 'failback'] as const)
    for (const v of bad)
      it(`${cmd} --verify-timeout ${JSON.stringify(v)}: exit 2, names --verify-timeout, no run started`, async () => {
        const before = (await journals()).length;
        const args =
          cmd === 'failover'
            ? ['failover', '--to', 'secondary', '--yes', '-t', topo, `--verify-timeout=${v}`]
            : ['failback', '--yes', '-t', topo, `--verify-timeout=${v}`];
        const r = await dcfail(args);
        expect(r.exitCode, describeRun(r)).toBe(2);
        expect(both(r)).toMatch(/--verify-timeout/);
        expect(both(r), 'the bad value is quoted back').toContain(v);
        expect((await journals()).length, 'no run was started (no journal)').toBe(before);
        expect(existsSync(join(state, 'locks')), 'no lock was taken').toBe(false);
      });
});

describe('item 14: --log-file under a regular file is bad input', () => {
  it('exit 2, one line naming the path, no stack trace, no run started', async () => {
    const file = join(DIR, 'a-regular-file');
    await writeFile(file, 'not a directory\n');
    const before = (await journals()).length;
    for (const args of [
      ['failover', '--to', 'secondary', '--yes', '-t', topo, '--log-file', `${file}/audit.log`],
      ['failback', '--yes', '-t', topo, '--log-file', `${file}/audit.log`],
    ]) {
      const r = await dcfail(args);
      expect(r.exitCode, describeRun(r)).toBe(2);
      expect(r.stderr).toContain(`${file}/audit.log`);
      expect(r.stderr, 'no stack trace').not.toMatch(/^\s+at .+:\d+:\d+\)?$/m);
      expect(r.stderr, 'not an internal error').not.toMatch(/internal error/i);
    }
    expect((await journals()).length, 'no run was started').toBe(before);
  });
});

describe('the contract documents what the fixes decide', () => {
  const read = (p: string) => readFile(p, 'utf8');
  it('item 10: the README says what `status` exit codes mean for monitoring (0, 1 and 5, with no fault tolerance and a half-done run as hazards)', async () => {
    const readme = await read(`${REPO}/README.md`);
    const para = readme.split(/\n(?=#+ )/).find((sec) => /monitor/i.test(sec) && /status/.test(sec));
    expect(para, 'a README section on status for monitoring').toBeDefined();
    for (const code of ['0', '1', '5']) expect(para).toMatch(new RegExp(`\`${code}\``));
    expect(para).toMatch(/fault tolerance/i);
    expect(para).toMatch(/halfway|half-done|stopped run|mixed/i);
  });

  // The README's exit-code table is the contract CI reads (../shared/spec/CLI.md is read-only for CI).
  it('item 11: the exit-code table has a row for an interrupted run (130)', async () => {
    expect(await read(`${REPO}/README.md`)).toMatch(/^\|\s*130\s*\|[^\n]*interrupt/im);
  });
});
