/**
 * The ssh2 transport against a real OpenSSH sshd on 127.0.30.1 (started once for this file),
 * logging in as the lab user `dcfail`, who has passwordless `sudo -n`.
 */
import { execFileSync, spawn } from 'node:child_process';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  readlinkSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperationError, RefusedError, UserError } from '../../src/errors.js';
import { RemotePool, type SshTarget } from '../../src/remote/ssh.js';
import type { Remote } from '../../src/remote/types.js';
import { LAB_USER, makeKey, makeTempDir, removeDir, sh, startSshd, type KeyPair, type Sshd } from '../support/sshd.js';

const ADDRESS = '127.0.30.1';
const PORT = 2222;

let dir: string;
let client: KeyPair;
let sshd: Sshd & { extraHostKeyField: string | null };
let knownHosts: string;
let pool: RemotePool;
let remote: Remote;
/** A directory the login user owns. */
let work: string;
let labUid: number;
let labGid: number;

function target(overrides: Partial<SshTarget['ssh']> = {}, name = 'node-a', address = ADDRESS): SshTarget {
  return {
    name,
    address,
    ssh: {
      user: LAB_USER,
      port: PORT,
      identityFile: client.privatePath,
      knownHostsFile: knownHosts,
      sudo: false,
      connectTimeoutMs: 5000,
      ...overrides,
    },
  };
}

function writeKnownHosts(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** Whatever a failed promise threw. */
async function thrown(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a failure');
}

function tempFilesIn(d: string): string[] {
  return readdirSync(d).filter((f) => f.includes('.dcfail-'));
}

beforeAll(async () => {
  dir = makeTempDir('ssh');
  client = makeKey(dir, 'client');
  sshd = await startSshd({
    dir,
    address: ADDRESS,
    port: PORT,
    authorizedKeys: client.publicLine,
    extraHostKey: 'ecdsa',
  });
  knownHosts = writeKnownHosts('known_hosts', `[${ADDRESS}]:${PORT} ${sshd.hostKeyField}\n`);
  labUid = Number(sh(`id -u ${LAB_USER}`));
  labGid = Number(sh(`id -g ${LAB_USER}`));
  work = join(dir, 'work');
  mkdirSync(work);
  sh(`chown ${LAB_USER}:${LAB_USER} ${work}`);
  pool = new RemotePool({ agentSocket: null });
  remote = await pool.get(target());
});

afterAll(async () => {
  await pool?.closeAll();
  await sshd?.stop();
  if (dir) removeDir(dir);
});

describe('exec', () => {
  it('returns exit code, stdout and stderr in one shape, success or failure', async () => {
    const ok = await remote.exec('echo out; echo err >&2');
    expect(ok).toMatchObject({ exitCode: 0, signal: null, stdout: 'out\n', stderr: 'err\n', timedOut: false });
    const failed = await remote.exec('echo partial; exit 3');
    expect(failed).toMatchObject({ exitCode: 3, stdout: 'partial\n', timedOut: false });
    expect(failed.durationMs).toBeGreaterThanOrEqual(0);
  });

  it('runs as the login user, or as root with sudo', async () => {
    expect((await remote.exec('id -u')).stdout.trim()).toBe(String(labUid));
    expect((await remote.exec('id -u', { sudo: true })).stdout.trim()).toBe('0');
  });

  it('uses the node default for sudo', async () => {
    const root = await pool.get(target({ sudo: true }, 'node-a-sudo'));
    expect((await root.exec('id -u')).stdout.trim()).toBe('0');
    expect((await root.exec('id -u', { sudo: false })).stdout.trim()).toBe(String(labUid));
    await root.close();
  });

  it('feeds stdin literally, as root too', async () => {
    const input = 'a\'b "c" $(touch /tmp/dcfail-pwned) `x` \\n\nü\n';
    expect((await remote.exec('cat', { stdin: input })).stdout).toBe(input);
    expect((await remote.exec('cat', { stdin: input, sudo: true })).stdout).toBe(input);
    expect(existsSync('/tmp/dcfail-pwned')).toBe(false);
  });

  it('closes stdin when none is given (a reader does not hang)', async () => {
    expect(await remote.exec('cat; echo done')).toMatchObject({ exitCode: 0, stdout: 'done\n' });
  });

  for (const sudo of [false, true]) {
    it(`times out a hung command${sudo ? ' run through sudo' : ''}, returns at once, and the command dies on the node`, async () => {
      const marker = sudo ? '31.4159' : '27.1828';
      const result = await remote.exec(`echo started; sleep ${marker}; echo never`, { timeoutMs: 300, sudo });
      expect(result).toMatchObject({ timedOut: true, exitCode: null, stdout: 'started\n' });
      // The connection is still usable.
      expect((await remote.exec('echo still here')).stdout).toBe('still here\n');
      // The remote `timeout` wrapper kills the command's process group shortly after.
      await expect
        .poll(() => sh(`pgrep -f '^sleep ${marker}$' || true`).trim(), { timeout: 10_000, interval: 100 })
        .toBe('');
    });
  }
});

describe('readFile', () => {
  it('returns the content, or null when the file is absent', async () => {
    const path = join(work, 'read-me.txt');
    writeFileSync(path, 'hello\n');
    expect(await remote.readFile(path)).toBe('hello\n');
    expect(await remote.readFile(join(work, 'absent.txt'))).toBeNull();
  });

  it('reads a root-only file through sudo, and says why it cannot without', async () => {
    const path = join(dir, 'root-only.txt');
    writeFileSync(path, 'secret\n', { mode: 0o600 });
    expect(await remote.readFile(path, { sudo: true })).toBe('secret\n');
    const err = await thrown(remote.readFile(path));
    expect(err).toBeInstanceOf(OperationError);
    expect(err).toMatchObject({ code: 'remote-read', exitCode: 1 });
    expect(err.message).toContain('Permission denied');
    expect(err.message).toContain(`node-a (${ADDRESS}:${PORT})`);
  });
});

describe('writeFileAtomic', () => {
  it('edits a symlinked file through the link: the link stays a link, its target changes', async () => {
    const pkg = join(work, 'packages', 'mesos--abc', 'etc');
    const etc = join(work, 'etc');
    mkdirSync(pkg, { recursive: true });
    mkdirSync(etc, { recursive: true });
    writeFileSync(join(pkg, 'master_count'), '5\n');
    symlinkSync('../packages/mesos--abc/etc/master_count', join(etc, 'master_count'));
    sh(`chown -R ${LAB_USER}:${LAB_USER} ${work}/packages ${etc}`);

    const result = await remote.writeFileAtomic(join(etc, 'master_count'), '3\n');

    expect(result).toEqual({ path: join(pkg, 'master_count'), backup: null, changed: true });
    expect(lstatSync(join(etc, 'master_count')).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(etc, 'master_count'))).toBe('../packages/mesos--abc/etc/master_count');
    expect(readFileSync(join(pkg, 'master_count'), 'utf8')).toBe('3\n');
    expect(tempFilesIn(pkg)).toEqual([]);
  });

  it('writes a root-owned 0640 file through sudo: owner, group and mode kept, backup left', async () => {
    const etc = join(dir, 'root-etc');
    mkdirSync(etc, { mode: 0o755 });
    const path = join(etc, 'mesos-master');
    writeFileSync(path, 'MESOS_QUORUM=3\n');
    sh(`chown root:${LAB_USER} ${path} && chmod 0640 ${path}`);
    const backupDir = join(dir, 'backups', 'run-1', 'step-1');

    const result = await remote.writeFileAtomic(path, 'MESOS_QUORUM=2\n', { sudo: true, backupDir });

    expect(result).toEqual({ path, backup: `${backupDir}${path}`, changed: true });
    const st = statSync(path);
    expect({ uid: st.uid, gid: st.gid, mode: st.mode & 0o7777 }).toEqual({ uid: 0, gid: labGid, mode: 0o640 });
    expect(readFileSync(path, 'utf8')).toBe('MESOS_QUORUM=2\n');
    const bst = statSync(result.backup!);
    expect(readFileSync(result.backup!, 'utf8')).toBe('MESOS_QUORUM=3\n');
    // The backup is private (issue 13, item 9): root's, readable by no one else, whatever the original's group.
    expect({ uid: bst.uid, gid: bst.gid, mode: bst.mode & 0o7777 }).toEqual({ uid: 0, gid: 0, mode: 0o600 });
    expect(tempFilesIn(etc)).toEqual([]);
  });

  it('cannot write a root-owned file without sudo: refused, old file intact, no temp file', async () => {
    const etc = join(dir, 'root-etc-2');
    mkdirSync(etc, { mode: 0o755 });
    const path = join(etc, 'exhibitor');
    writeFileSync(path, 'old\n', { mode: 0o644 });

    const err = await thrown(remote.writeFileAtomic(path, 'new\n'));

    expect(err).toBeInstanceOf(OperationError);
    expect(err).toMatchObject({ code: 'remote-write' });
    expect(err.message).toContain('(temp)');
    expect(readFileSync(path, 'utf8')).toBe('old\n');
    expect(tempFilesIn(etc)).toEqual([]);
  });

  it('a write failing after its temp file exists leaves the old file intact and removes the temp file', async () => {
    // The directory is the login user's, the file root's: the temp file is created and filled,
    // then giving it root's ownership fails.
    const d = join(work, 'mixed');
    mkdirSync(d);
    sh(`chown ${LAB_USER} ${d}`);
    const path = join(d, 'etcd.conf');
    writeFileSync(path, 'ETCD_NAME=a\n', { mode: 0o644 });

    const err = await thrown(remote.writeFileAtomic(path, 'ETCD_NAME=b\n', { backupDir: join(work, 'bk-mixed') }));

    expect(err).toMatchObject({ code: 'remote-write' });
    expect(err.message).toContain('(owner)');
    expect(err.message).toContain('the old file is intact');
    expect(readFileSync(path, 'utf8')).toBe('ETCD_NAME=a\n');
    expect(statSync(path).uid).toBe(0);
    expect(tempFilesIn(d)).toEqual([]);
    expect(existsSync(join(work, 'bk-mixed'))).toBe(false);
  });

  it('never overwrites a backup: a second write to the same backup path fails and changes nothing', async () => {
    const path = join(work, 'twice.conf');
    writeFileSync(path, 'v1\n');
    sh(`chown ${LAB_USER}:${LAB_USER} ${path}`);
    const backupDir = join(work, 'bk-twice');

    const first = await remote.writeFileAtomic(path, 'v2\n', { backupDir });
    expect(first.backup).toBe(`${backupDir}${path}`);
    const err = await thrown(remote.writeFileAtomic(path, 'v3\n', { backupDir }));

    expect(err).toBeInstanceOf(OperationError);
    expect(err).toMatchObject({ code: 'backup-exists' });
    expect(readFileSync(first.backup!, 'utf8')).toBe('v1\n');
    expect(readFileSync(path, 'utf8')).toBe('v2\n');
    expect(tempFilesIn(work)).toEqual([]);
    // Another step's backup directory is fine.
    const third = await remote.writeFileAtomic(path, 'v3\n', { backupDir: join(work, 'bk-twice-2') });
    expect(readFileSync(third.backup!, 'utf8')).toBe('v2\n');
  });

  it('reports changed=false and touches nothing when the content is already there', async () => {
    const path = join(work, 'same.conf');
    writeFileSync(path, 'same\n');
    sh(`chown ${LAB_USER}:${LAB_USER} ${path}`);
    const before = statSync(path);
    const backupDir = join(work, 'bk-same');

    const result = await remote.writeFileAtomic(path, 'same\n', { backupDir });

    expect(result).toEqual({ path, backup: null, changed: false });
    const after = statSync(path);
    expect([after.ino, after.mtimeMs]).toEqual([before.ino, before.mtimeMs]);
    expect(existsSync(backupDir)).toBe(false);
  });

  it('creates an absent file with mode 0644 and no backup', async () => {
    const path = join(work, 'new.conf');
    const result = await remote.writeFileAtomic(path, 'fresh\n', { backupDir: join(work, 'bk-new') });
    expect(result).toEqual({ path, backup: null, changed: true });
    expect(statSync(path).mode & 0o7777).toBe(0o644);
    expect(statSync(path).uid).toBe(labUid);
  });

  it('round-trips paths and contents with shell syntax literally', async () => {
    const weird = join(work, `we'ird dir $(touch pwned-dir) ; x`);
    mkdirSync(weird);
    sh(`chown ${LAB_USER} "${weird.replaceAll('$', '\\$')}"`);
    const path = join(weird, 'file `touch pwned` $HOME *.conf');
    const content = "x='$(touch " + dir + "/pwned-content)'\n`id`\n$HOME \\ \"q\" ' '' \n\tünï\u00a0code\n*\n";
    const backupDir = join(work, 'bk weird $(touch x)');

    const first = await remote.writeFileAtomic(path, content, { backupDir });
    expect(first).toEqual({ path, backup: null, changed: true });
    expect(await remote.readFile(path)).toBe(content);
    expect(readFileSync(path, 'utf8')).toBe(content);
    // As root, only through directories no one else may write (item 4 of issue 13): root's for this half.
    const owned = `"${work}" "${weird.replaceAll('$', '\\$')}"`;
    sh(`chown root ${owned}`);
    try {
      const second = await remote.writeFileAtomic(path, `${content}more\n`, { backupDir, sudo: true });
      expect(second.backup).toBe(`${backupDir}${path}`);
      expect(readFileSync(second.backup!, 'utf8')).toBe(content);
      expect(await remote.readFile(path, { sudo: true })).toBe(`${content}more\n`);
    } finally {
      sh(`chown ${LAB_USER} ${owned}`);
    }
    expect(readdirSync(dir).filter((f) => f.startsWith('pwned'))).toEqual([]);
    // Where an injected `touch pwned` would land: the remote shell's cwd (the user's home), /tmp, ours.
    expect(
      sh(`find ${dir} /tmp ~${LAB_USER} ${process.cwd()} -maxdepth 4 -name 'pwned*' 2>/dev/null || true`).trim(),
    ).toBe('');
    expect(existsSync(join(work, 'x'))).toBe(false);
  });

  it('writes an empty file and a file without a final newline exactly', async () => {
    const path = join(work, 'exact.conf');
    await remote.writeFileAtomic(path, 'no newline');
    expect(readFileSync(path, 'utf8')).toBe('no newline');
    await remote.writeFileAtomic(path, '');
    expect(readFileSync(path, 'utf8')).toBe('');
    expect(await remote.readFile(path)).toBe('');
  });
});

describe('host keys', () => {
  it('refuses a changed host key, naming the host and the fingerprint the server offered', async () => {
    const other = makeKey(dir, 'impostor');
    const file = writeKnownHosts('known_hosts_changed', `[${ADDRESS}]:${PORT} ${other.publicLine}\n`);
    const p = new RemotePool({ agentSocket: null });
    const err = await thrown(p.get(target({ knownHostsFile: file })));
    await p.closeAll();

    expect(err).toBeInstanceOf(RefusedError);
    expect(err).toMatchObject({ code: 'host-key-changed', exitCode: 3 });
    expect(err.message).toContain(`${ADDRESS}:${PORT}`);
    expect(err.message).toContain(sshd.hostKey.fingerprint);
    expect((err as RefusedError).details.join('\n')).toContain(other.fingerprint);
  });

  it('refuses an unknown host', async () => {
    const file = writeKnownHosts(
      'known_hosts_unknown',
      `[127.0.30.9]:${PORT} ${sshd.hostKeyField}\n${ADDRESS} ${sshd.hostKeyField}\n`,
    );
    const p = new RemotePool({ agentSocket: null });
    const err = await thrown(p.get(target({ knownHostsFile: file })));
    await p.closeAll();
    expect(err).toBeInstanceOf(RefusedError);
    expect(err).toMatchObject({ code: 'host-key-unknown', exitCode: 3 });
    expect(err.message).toContain(`${ADDRESS}:${PORT}`);
    expect(err.message).toContain(sshd.hostKey.fingerprint);
  });

  it('refuses a revoked key even when a line trusts it', async () => {
    const file = writeKnownHosts(
      'known_hosts_revoked',
      `[${ADDRESS}]:${PORT} ${sshd.hostKeyField}\n@revoked * ${sshd.hostKeyField}\n`,
    );
    const p = new RemotePool({ agentSocket: null });
    const err = await thrown(p.get(target({ knownHostsFile: file })));
    await p.closeAll();
    expect(err).toMatchObject({ code: 'host-key-revoked', exitCode: 3 });
  });

  it('accepts a hashed known_hosts entry (hashed by ssh-keygen -H)', async () => {
    const file = writeKnownHosts('known_hosts_hashed', `[${ADDRESS}]:${PORT} ${sshd.hostKeyField}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file]);
    expect(readFileSync(file, 'utf8')).toMatch(/^\|1\|/);
    const p = new RemotePool({ agentSocket: null });
    const r = await p.get(target({ knownHostsFile: file }));
    expect((await r.exec('echo hashed')).stdout).toBe('hashed\n');
    await p.closeAll();
  });

  it('asks for the key type known_hosts holds when the server has several', async () => {
    // The server offers ed25519 and ecdsa; only the ecdsa key is known.
    const file = writeKnownHosts('known_hosts_ecdsa', `[${ADDRESS}]:${PORT} ${sshd.extraHostKeyField}\n`);
    const p = new RemotePool({ agentSocket: null });
    const r = await p.get(target({ knownHostsFile: file }));
    expect((await r.exec('echo ecdsa')).exitCode).toBe(0);
    await p.closeAll();
  });
});

describe('connection errors', () => {
  it('names the node, address and port when nothing listens', async () => {
    const p = new RemotePool({ agentSocket: null });
    const err = await thrown(p.get(target({ port: 2299 })));
    expect(err).toBeInstanceOf(OperationError);
    expect(err).toMatchObject({ code: 'ssh-connect', exitCode: 1 });
    expect(err.message).toContain(`node-a (${ADDRESS}:2299)`);
    expect(err.message).toContain('connection refused');
  });

  it('says the connection dropped, and why, when it dies under a run; the pool then connects again', async () => {
    const p = new RemotePool({ agentSocket: null });
    try {
      const r = await p.get(target({ sudo: true }));
      // The session's sshd process (an ancestor of the command's shell) dies: the connection drops.
      await r
        .exec(
          'p=$$; while [ "$(ps -o comm= -p "$p")" != sshd ]; do p=$(ps -o ppid= -p "$p" | tr -d " "); done; kill -KILL "$p"',
          {
            sudo: false,
          },
        )
        .catch(() => undefined);
      const err = await thrown(r.exec('true'));
      expect(err).toBeInstanceOf(OperationError);
      expect(err).toMatchObject({ code: 'ssh-exec' });
      expect(err.message).toContain(`node-a (${ADDRESS}:${PORT})`);
      expect(err.message).toMatch(/\(the connection dropped: .+\)/);
      const again = await p.get(target({ sudo: true }));
      expect(again).not.toBe(r);
      expect((await again.exec('echo back')).stdout).toBe('back\n');
    } finally {
      await p.closeAll();
    }
  });

  it('says authentication failed, without key material', async () => {
    const stranger = makeKey(dir, 'stranger');
    const p = new RemotePool({ agentSocket: null });
    const err = await thrown(p.get(target({ identityFile: stranger.privatePath })));
    expect(err).toMatchObject({ code: 'ssh-auth', exitCode: 1 });
    expect(err.message).toContain(`node-a (${ADDRESS}:${PORT})`);
    expect(err.message).toContain(`'${LAB_USER}'`);
    const key = readFileSync(stranger.privatePath, 'utf8').split('\n')[1]!;
    expect(err.message).not.toContain(key.slice(0, 20));
    await p.closeAll();
  });

  it('is a user error when the identity or known_hosts file is missing', async () => {
    const p = new RemotePool({ agentSocket: null });
    const noKey = await thrown(p.get(target({ identityFile: join(dir, 'missing_key') })));
    expect(noKey).toBeInstanceOf(UserError);
    expect(noKey).toMatchObject({ code: 'ssh-config', exitCode: 2 });
    expect(noKey.message).toContain('missing_key');
    const noKnown = await thrown(p.get(target({ knownHostsFile: join(dir, 'missing_known_hosts') })));
    expect(noKnown).toMatchObject({ code: 'ssh-config', exitCode: 2 });
    const neither = await thrown(p.get(target({ identityFile: undefined })));
    expect(neither).toMatchObject({ code: 'ssh-identity', exitCode: 2 });
    expect(p.connectAttempts).toBe(0);
  });

  it('refuses a passphrase-protected identity file as a user error, without its content', async () => {
    const locked = join(dir, 'locked_key');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', 'secret-pass', '-f', locked]);
    const p = new RemotePool({ agentSocket: null });
    const err = await thrown(p.get(target({ identityFile: locked })));
    expect(err).toMatchObject({ code: 'ssh-identity', exitCode: 2 });
    expect(err.message).toContain(locked);
    expect(err.message).not.toContain('BEGIN');
  });

  it('authenticates through ssh-agent when no identity file is set', async () => {
    const socket = join(dir, 'agent.sock');
    const agent = spawn('ssh-agent', ['-D', '-a', socket], { stdio: 'ignore' });
    try {
      await expect.poll(() => existsSync(socket)).toBe(true);
      execFileSync('ssh-add', ['-q', client.privatePath], {
        env: { ...process.env, SSH_AUTH_SOCK: socket },
        stdio: 'ignore',
      });
      const p = new RemotePool({ agentSocket: socket });
      const r = await p.get(target({ identityFile: undefined }));
      expect((await r.exec('echo agent')).stdout).toBe('agent\n');
      await p.closeAll();
    } finally {
      agent.kill();
    }
  });

  it('expands ~/ in key paths from the home directory given', async () => {
    const p = new RemotePool({ agentSocket: null, homeDir: dir });
    const r = await p.get(target({ identityFile: '~/client', knownHostsFile: '~/known_hosts' }));
    expect((await r.exec('echo home')).stdout).toBe('home\n');
    await p.closeAll();
  });
});

describe('connection reuse', () => {
  it('hands every step the same connection, and reconnects after a close', async () => {
    const p = new RemotePool({ agentSocket: null });
    const before = sshd.acceptedLogins();
    const [a, b] = await Promise.all([p.get(target()), p.get(target())]);
    expect(a).toBe(b);
    await Promise.all(Array.from({ length: 10 }, (_, i) => a.exec(`echo ${i}`)));
    expect(await p.get(target())).toBe(a);
    expect(p.connectAttempts).toBe(1);
    await expect.poll(() => sshd.acceptedLogins()).toBe(before + 1);

    await a.close();
    const c = await p.get(target());
    expect(c).not.toBe(a);
    expect((await c.exec('echo again')).stdout).toBe('again\n');
    expect(p.connectAttempts).toBe(2);
    await expect(a.exec('true')).rejects.toMatchObject({ code: 'ssh-exec' });
    await p.closeAll();
  });
});
