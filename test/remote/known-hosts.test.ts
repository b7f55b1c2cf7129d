/**
 * known_hosts parsing and the host key verdicts. Keys, hashed entries and fingerprints are made
 * by OpenSSH's ssh-keygen, so our reading is checked against theirs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { RefusedError } from '../../src/errors.js';
import {
  entryMatchesHost,
  fingerprintOf,
  hostKeyRefusal,
  keyTypeOf,
  knownHostName,
  parseKnownHosts,
  preferredHostKeyAlgorithms,
  verifyHostKey,
} from '../../src/remote/known-hosts.js';

const dir = mkdtempSync(join(tmpdir(), 'dcfail-kh-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function keygen(name: string, type = 'ed25519'): { field: string; raw: Buffer; fingerprint: string } {
  const path = join(dir, name);
  execFileSync('ssh-keygen', ['-q', '-t', type, '-N', '', '-f', path]);
  const [kt, b64] = readFileSync(`${path}.pub`, 'utf8').split(' ');
  const fingerprint = execFileSync('ssh-keygen', ['-l', '-E', 'sha256', '-f', `${path}.pub`], {
    encoding: 'utf8',
  }).split(' ')[1]!;
  return { field: `${kt} ${b64}`, raw: Buffer.from(b64!, 'base64'), fingerprint };
}

const a = keygen('a');
const b = keygen('b');
const ec = keygen('ec', 'ecdsa');

describe('parseKnownHosts', () => {
  it('reads entries, markers and line numbers, and skips comments, blanks and junk', () => {
    const text = [
      '# comment',
      '',
      `10.0.0.1,master-1 ${a.field} comment words`,
      `@revoked * ${b.field}`,
      `@cert-authority *.example.com ${ec.field}`,
      '@unknown-marker host ssh-ed25519 AAAA',
      'only-two fields',
      'host ssh-ed25519 not*base64',
      `  [10.0.0.2]:2222\t${ec.field}  `,
    ].join('\n');
    const entries = parseKnownHosts(text);
    expect(entries.map((e) => [e.line, e.marker, e.hosts, e.keyType])).toEqual([
      [3, null, '10.0.0.1,master-1', 'ssh-ed25519'],
      [4, 'revoked', '*', 'ssh-ed25519'],
      [5, 'cert-authority', '*.example.com', 'ecdsa-sha2-nistp256'],
      [9, null, '[10.0.0.2]:2222', 'ecdsa-sha2-nistp256'],
    ]);
    expect(entries[0]!.key.equals(a.raw)).toBe(true);
  });
});

describe('host matching', () => {
  it('names a host as OpenSSH looks it up', () => {
    expect(knownHostName('10.0.0.1', 22)).toBe('10.0.0.1');
    expect(knownHostName('Master-1.Example', 2222)).toBe('[master-1.example]:2222');
  });

  it('matches comma lists, wildcards and negations', () => {
    const m = (hosts: string, name: string) => entryMatchesHost({ hosts }, name);
    expect(m('10.0.0.1,master-1', 'master-1')).toBe(true);
    expect(m('10.0.0.1,master-1', 'master-2')).toBe(false);
    expect(m('10.0.0.1', '10.0.0.10')).toBe(false);
    expect(m('10.0.0.*', '10.0.0.10')).toBe(true);
    expect(m('10.0.0.?', '10.0.0.10')).toBe(false);
    expect(m('*.example.com,!bad.example.com', 'ok.example.com')).toBe(true);
    expect(m('*.example.com,!bad.example.com', 'bad.example.com')).toBe(false);
    expect(m('[10.0.0.1]:2222', '[10.0.0.1]:2222')).toBe(true);
    expect(m('[10.0.0.1]:2222', '10.0.0.1')).toBe(false);
    expect(m('MASTER-1', 'master-1')).toBe(true);
  });

  it('matches hashed entries written by ssh-keygen -H, for plain and [host]:port names', () => {
    const file = join(dir, 'hashed');
    writeFileSync(file, `10.0.0.1 ${a.field}\n[10.0.0.2]:2222 ${b.field}\n`);
    execFileSync('ssh-keygen', ['-q', '-H', '-f', file]);
    const entries = parseKnownHosts(readFileSync(file, 'utf8'));
    expect(entries.every((e) => e.hosts.startsWith('|1|'))).toBe(true);
    expect(verifyHostKey(entries, '10.0.0.1', 22, a.raw).kind).toBe('trusted');
    expect(verifyHostKey(entries, '10.0.0.2', 2222, b.raw).kind).toBe('trusted');
    expect(verifyHostKey(entries, '10.0.0.2', 22, b.raw).kind).toBe('unknown');
    expect(verifyHostKey(entries, '10.0.0.1', 22, b.raw).kind).toBe('changed');
    expect(entryMatchesHost({ hosts: '|1|bad' }, '10.0.0.1')).toBe(false);
  });
});

describe('verifyHostKey', () => {
  const entries = parseKnownHosts(
    [`[10.0.0.1]:2222 ${a.field}`, `10.0.0.3 ${a.field}`, `10.0.0.3 ${ec.field}`, `@cert-authority * ${b.field}`].join(
      '\n',
    ),
  );

  it('trusts the known key', () => {
    expect(verifyHostKey(entries, '10.0.0.1', 2222, a.raw)).toEqual({ kind: 'trusted', line: 1 });
    expect(verifyHostKey(entries, '10.0.0.3', 22, ec.raw)).toEqual({ kind: 'trusted', line: 3 });
  });

  it('calls a different key for a known host changed, listing what was expected', () => {
    expect(verifyHostKey(entries, '10.0.0.1', 2222, b.raw)).toEqual({
      kind: 'changed',
      expected: [{ keyType: 'ssh-ed25519', fingerprint: a.fingerprint, line: 1 }],
    });
  });

  it('calls a host without entries unknown; a cert-authority line trusts nothing', () => {
    expect(verifyHostKey(entries, '10.0.0.9', 22, a.raw)).toEqual({ kind: 'unknown' });
    expect(verifyHostKey(entries, '10.0.0.9', 22, b.raw)).toEqual({ kind: 'unknown' });
  });

  it('refuses a revoked key for every host, even one a line trusts it for', () => {
    const withRevoked = parseKnownHosts(`10.0.0.1 ${a.field}\n@revoked 10.9.9.9 ${a.field}\n`);
    expect(verifyHostKey(withRevoked, '10.0.0.1', 22, a.raw)).toEqual({ kind: 'revoked', line: 2 });
  });
});

describe('fingerprints and refusals', () => {
  it('prints fingerprints exactly as ssh-keygen does', () => {
    expect(fingerprintOf(a.raw)).toBe(a.fingerprint);
    expect(fingerprintOf(ec.raw)).toBe(ec.fingerprint);
    expect(keyTypeOf(a.raw)).toBe('ssh-ed25519');
    expect(keyTypeOf(Buffer.from([0, 0]))).toBeNull();
  });

  it('names the node, host:port, the offered fingerprint and the expected ones', () => {
    const ctx = { node: 'master-1', host: '10.0.0.1', port: 2222, knownHostsFile: '/home/op/.ssh/known_hosts' };
    const changed = hostKeyRefusal(
      { kind: 'changed', expected: [{ keyType: 'ssh-ed25519', fingerprint: a.fingerprint, line: 1 }] },
      b.raw,
      ctx,
    );
    expect(changed).toBeInstanceOf(RefusedError);
    expect(changed).toMatchObject({ code: 'host-key-changed', exitCode: 3 });
    expect(changed.message).toContain('master-1 (10.0.0.1:2222)');
    expect(changed.message).toContain(`ssh-ed25519 ${b.fingerprint}`);
    expect(changed.details.join('\n')).toContain(a.fingerprint);
    const unknown = hostKeyRefusal({ kind: 'unknown' }, b.raw, ctx);
    expect(unknown).toMatchObject({ code: 'host-key-unknown', exitCode: 3 });
    expect(unknown.details.join('\n')).toContain('[10.0.0.1]:2222');
    expect(hostKeyRefusal({ kind: 'revoked', line: 4 }, b.raw, ctx)).toMatchObject({ code: 'host-key-revoked' });
  });
});

describe('preferredHostKeyAlgorithms', () => {
  it('puts the algorithms of the known keys first, keeping the rest', () => {
    const entries = parseKnownHosts(`10.0.0.3 ${ec.field}\n[10.0.0.4]:22 ssh-rsa AAAAB3NzaC1yc2E=\n`);
    const forEc = preferredHostKeyAlgorithms(entries, '10.0.0.3', 22);
    expect(forEc[0]).toBe('ecdsa-sha2-nistp256');
    expect(forEc).toContain('ssh-ed25519');
    expect(preferredHostKeyAlgorithms(entries, '10.0.0.9', 22)[0]).toBe('ssh-ed25519');
    const rsa = parseKnownHosts('10.0.0.5 ssh-rsa AAAAB3NzaC1yc2E=\n');
    expect(preferredHostKeyAlgorithms(rsa, '10.0.0.5', 22).slice(0, 3)).toEqual([
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
    ]);
  });
});
