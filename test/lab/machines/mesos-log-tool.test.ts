/**
 * dcfail's reading of a stopped master's replica (src/components/mesos/log-position.ts: the command
 * run on the node, then its parse) against the lab's `mesos-log` (standins/mesos-log.ts) over
 * replicas written by the stand-in's own replica code, through a real `sh`: positions learned and
 * not, a missing replica left missing, a replica held open by a running master refused as LevelDB
 * refuses it, and the tool's own answers (usage, bad flags, bad ranges) as upstream gives them.
 */
import { execFile, spawn } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Replica } from '../../../lab/machines/standins/log-replica.js';
import { parseLogReading, renderLogReadCommand } from '../../../src/components/mesos/log-position.js';
import { REPO } from './standin-helpers.js';

const run = promisify(execFile);
const TOOL_JS = join(REPO, 'dist/lab/machines/standins/mesos-log.js');

describe("reading a stopped master's replica with mesos-log", () => {
  const root = mkdtempSync(join(tmpdir(), 'mesos-log-'));
  const tool = join(root, 'mesos-log');

  beforeAll(() => {
    if (!existsSync(TOOL_JS)) throw new Error(`${TOOL_JS} is missing: build first (npm run build)`);
    writeFileSync(tool, `#!/bin/sh\nexec ${process.execPath} ${TOOL_JS} "$@"\n`);
    chmodSync(tool, 0o755);
  });
  afterAll(() => rmSync(root, { recursive: true, force: true }));

  /** A VOTING replica with `learned` learned APPENDs from position 1, then `unlearned` accepted ones. */
  function replica(name: string, learned: number, unlearned: number): string {
    const dir = join(root, name);
    const r = Replica.open(dir);
    r.updateStatus('VOTING');
    for (let p = 1; p <= learned + unlearned; p++)
      r.persist({
        position: p,
        promised: 2,
        performed: 2,
        ...(p <= learned ? { learned: true } : {}),
        type: 'APPEND',
        value: `{"entry":${p},"text":"line\nwith \\"quotes\\" and ünïcode"}`,
      });
    r.close();
    return dir;
  }

  const readOn = async (path: string) => {
    const r = await run('sh', ['-c', renderLogReadCommand(tool, path, 10_000)]).then(
      (x) => ({ ...x, code: 0 }),
      (e: { stdout: string; stderr: string; code: number }) => e,
    );
    return parseLogReading(r.stdout, r.code, r.stderr);
  };

  it('tells the last learned position, the end and the unlearned positions of a replica', async () => {
    expect(await readOn(replica('a', 7, 2))).toEqual({ kind: 'read', actions: 9, end: '9', lastLearned: '7', unlearned: 2 });
    expect(await readOn(replica('b', 12, 0))).toEqual({ kind: 'read', actions: 12, end: '12', lastLearned: '12', unlearned: 0 });
  });

  it('an empty replica has no position; a missing one is absent and the tool never runs (it would create it)', async () => {
    const empty = join(root, 'empty');
    Replica.open(empty).close();
    expect(await readOn(empty)).toEqual({ kind: 'read', actions: 0, unlearned: 0 });
    const missing = join(root, 'missing', 'replicated_log');
    expect(await readOn(missing)).toEqual({ kind: 'absent' });
    expect(existsSync(missing)).toBe(false);
  });

  it("a replica a running master holds is unreadable, with LevelDB's lock error, until the master is gone", async () => {
    const dir = replica('held', 3, 0);
    // A process that looks like the master stand-in (its command line names mesos-master.js) holds the lock.
    const master = spawn(process.execPath, ['-e', 'setInterval(() => {}, 1000)', 'mesos-master.js'], { stdio: 'ignore' });
    try {
      writeFileSync(join(dir, 'LOCK'), `${master.pid}\n`);
      const r = await readOn(dir);
      expect(r.kind).toBe('unreadable');
      expect(r.kind === 'unreadable' && r.reason).toMatch(/^Failed to recover the log: IO error: lock .*\/LOCK: Resource temporarily unavailable$/);
    } finally {
      master.kill('SIGKILL');
      await new Promise((res) => master.once('exit', res));
    }
    expect(await readOn(dir)).toEqual({ kind: 'read', actions: 3, end: '3', lastLearned: '3', unlearned: 0 });
  });

  it("prints each action as Mesos' PrintDebugString after a line of dashes, bytes escaped on one line", async () => {
    const dir = replica('print', 1, 1);
    const { stdout } = await run(tool, ['read', `--path=${dir}`, '--from=1', '--to=2', '--timeout=5secs']);
    const blocks = stdout.split(`${'-'.repeat(46)}\n`).filter((b) => b !== '');
    expect(blocks).toHaveLength(2);
    expect(blocks[0]).toBe(
      'position: 1\npromised: 2\nperformed: 2\nlearned: true\ntype: APPEND\nappend {\n' +
        '  bytes: "{\\"entry\\":1,\\"text\\":\\"line\\nwith \\\\\\"quotes\\\\\\" and \\303\\274n\\303\\257code\\"}"\n}\n',
    );
    expect(blocks[1]).toMatch(/^position: 2\npromised: 2\nperformed: 2\ntype: APPEND\n/);
  });

  it('answers as upstream does: usage, unknown commands and flags, a missing --path, a bad range', async () => {
    const fail = (args: string[]) =>
      run(tool, args).then(
        () => ({ code: 0, stderr: '' }),
        (e: { code: number; stderr: string }) => ({ code: e.code, stderr: e.stderr }),
      );
    expect(await fail([])).toEqual({ code: 1, stderr: expect.stringMatching(/^Usage: mesos-log <command>/) });
    expect(await fail(['nope'])).toEqual({ code: 1, stderr: expect.stringMatching(/^Cannot find command 'nope'/) });
    expect(await fail(['read'])).toEqual({ code: 1, stderr: expect.stringMatching(/^Missing required flag --path/) });
    expect(await fail(['read', '--path=/x', '--colour=red'])).toEqual({
      code: 1,
      stderr: expect.stringMatching(/^Failed to load unknown flag 'colour'/),
    });
    const dir = replica('range', 2, 0);
    expect(await fail(['read', `--path=${dir}`, '--from=1', '--to=5'])).toEqual({
      code: 1,
      stderr: expect.stringContaining('Bad read range (past end of log)'),
    });
    expect(readFileSync(join(dir, 'LOCK'), 'utf8')).toBe('');
  });
});
