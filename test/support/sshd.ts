/**
 * A real OpenSSH sshd on a loopback address, for the transport's tests: its own host key, a
 * client key in AuthorizedKeysFile, login as the lab user `dcfail` (lab/deps.sh).
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const LAB_USER = 'dcfail';

/** A world-traversable temp dir (the login user must reach files in it). */
export function makeTempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `dcfail-${prefix}-`));
  chmodSync(dir, 0o755);
  return dir;
}

export interface KeyPair {
  readonly privatePath: string;
  readonly publicLine: string;
  /** `SHA256:...` as ssh-keygen prints it: computed by OpenSSH, not by our code. */
  readonly fingerprint: string;
}

export function makeKey(dir: string, name: string, type: 'ed25519' | 'ecdsa' = 'ed25519'): KeyPair {
  const privatePath = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-C', name, '-f', privatePath]);
  const publicLine = readFileSync(`${privatePath}.pub`, 'utf8').trim();
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${privatePath}.pub`], {
    encoding: 'utf8',
  }).split(' ')[1]!;
  return { privatePath, publicLine, fingerprint };
}

export interface Sshd {
  readonly address: string;
  readonly port: number;
  readonly hostKey: KeyPair;
  /** The `<type> <base64>` part of the host's public key, for known_hosts lines. */
  readonly hostKeyField: string;
  /** Everything sshd logged so far (`-e`: to stderr). */
  log(): string;
  /** How many logins sshd accepted. */
  acceptedLogins(): number;
  stop(): Promise<void>;
}

export async function startSshd(opts: {
  dir: string;
  address: string;
  port: number;
  authorizedKeys: string;
  /** A second host key the server also offers (the first is always ed25519). */
  extraHostKey?: 'ecdsa';
}): Promise<Sshd & { readonly extraHostKeyField: string | null }> {
  const dir = join(opts.dir, `sshd-${opts.address}-${opts.port}`);
  mkdirSync(dir, { recursive: true });
  chmodSync(dir, 0o755);
  const hostKey = makeKey(dir, 'host_ed25519');
  const extra = opts.extraHostKey ? makeKey(dir, `host_${opts.extraHostKey}`, opts.extraHostKey) : null;
  const authorized = join(dir, 'authorized_keys');
  writeFileSync(authorized, `${opts.authorizedKeys}\n`, { mode: 0o644 });
  const config = join(dir, 'sshd_config');
  writeFileSync(
    config,
    [
      `ListenAddress ${opts.address}:${opts.port}`,
      `HostKey ${hostKey.privatePath}`,
      ...(extra ? [`HostKey ${extra.privatePath}`] : []),
      `AuthorizedKeysFile ${authorized}`,
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'StrictModes no',
      'PidFile none',
      'MaxStartups 100',
      'MaxSessions 50',
      'Subsystem sftp internal-sftp',
      '',
    ].join('\n'),
  );
  mkdirSync('/run/sshd', { recursive: true });
  const proc: ChildProcess = spawn('/usr/sbin/sshd', ['-D', '-e', '-f', config], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let log = '';
  proc.stderr!.on('data', (b: Buffer) => (log += b.toString('utf8')));
  await waitForPort(opts.address, opts.port, proc, () => log);
  const [type, b64] = hostKey.publicLine.split(' ');
  return {
    address: opts.address,
    port: opts.port,
    hostKey,
    hostKeyField: `${type} ${b64}`,
    extraHostKeyField: extra ? extra.publicLine.split(' ').slice(0, 2).join(' ') : null,
    log: () => log,
    acceptedLogins: () => log.split('\n').filter((l) => l.startsWith('Accepted publickey for ')).length,
    stop: () =>
      new Promise<void>((resolve) => {
        if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
        proc.once('exit', () => resolve());
        proc.kill('SIGTERM');
      }),
  };
}

async function waitForPort(host: string, port: number, proc: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`sshd exited: ${log()}`);
    const isUp = await new Promise<boolean>((resolve) => {
      const s = connect({ host, port }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (isUp) return;
    if (Date.now() > deadline) throw new Error(`sshd on ${host}:${port} did not come up: ${log()}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

export function removeDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true });
}

/** Runs a command as root on this machine (the tests run as root), for setup and checks. */
export function sh(command: string): string {
  return execFileSync('/bin/sh', ['-c', command], { encoding: 'utf8' });
}
