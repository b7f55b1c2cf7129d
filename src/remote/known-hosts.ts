/**
 * known_hosts, as OpenSSH writes it, and the host key check ssh2's `hostVerifier` needs. Pure
 * apart from hashing: parsing and verdicts take text and key bytes, never files or sockets.
 *
 * Supported: plain host patterns (`host`, `[host]:port`, comma lists, `*`/`?` wildcards, `!`
 * negations), hashed entries (`|1|salt|hmac`), and the markers: a key on a `@revoked` line is
 * refused for every host; `@cert-authority` lines are skipped (dcfail does not do host
 * certificates, so they never make a key trusted).
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import { RefusedError } from '../errors.js';

export type KnownHostMarker = 'revoked' | 'cert-authority' | null;

export interface KnownHostEntry {
  readonly marker: KnownHostMarker;
  /** The host field as written: a pattern list, or a hashed `|1|salt|hmac` entry. */
  readonly hosts: string;
  readonly keyType: string;
  /** The raw public key (the base64 field, decoded): what ssh2's hostVerifier receives. */
  readonly key: Buffer;
  /** 1-based line number, for messages. */
  readonly line: number;
}

/** Parses known_hosts text. Comments, blank lines and lines that are not entries are skipped, as OpenSSH does. */
export function parseKnownHosts(text: string): KnownHostEntry[] {
  const entries: KnownHostEntry[] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const fields = raw.trim().split(/[ \t]+/);
    if (fields[0] === undefined || fields[0] === '' || fields[0].startsWith('#')) return;
    let marker: KnownHostMarker = null;
    if (fields[0].startsWith('@')) {
      if (fields[0] === '@revoked') marker = 'revoked';
      else if (fields[0] === '@cert-authority') marker = 'cert-authority';
      else return; // an unknown marker: OpenSSH ignores the line
      fields.shift();
    }
    const [hosts, keyType, keyB64] = fields;
    if (!hosts || !keyType || !keyB64 || !/^[A-Za-z0-9+/]+={0,2}$/.test(keyB64)) return;
    const key = Buffer.from(keyB64, 'base64');
    if (key.length === 0) return;
    entries.push({ marker, hosts, keyType, key, line: i + 1 });
  });
  return entries;
}

/** The name OpenSSH looks up for a host: `host` on port 22, `[host]:port` elsewhere. */
export function knownHostName(host: string, port: number): string {
  const h = host.toLowerCase();
  return port === 22 ? h : `[${h}]:${port}`;
}

/** Whether an entry's host field names `name` (as made by knownHostName). */
export function entryMatchesHost(entry: Pick<KnownHostEntry, 'hosts'>, name: string): boolean {
  const { hosts } = entry;
  if (hosts.startsWith('|1|')) {
    const [, , saltB64, hashB64] = hosts.split('|');
    if (!saltB64 || !hashB64) return false;
    const salt = Buffer.from(saltB64, 'base64');
    const want = Buffer.from(hashB64, 'base64');
    const got = createHmac('sha1', salt).update(name).digest();
    return got.length === want.length && timingSafeEqual(got, want);
  }
  let matched = false;
  for (const raw of hosts.split(',')) {
    const negated = raw.startsWith('!');
    const pattern = (negated ? raw.slice(1) : raw).toLowerCase();
    if (pattern === '' || !matchGlob(pattern, name)) continue;
    if (negated) return false; // a negated match overrides every positive one
    matched = true;
  }
  return matched;
}

/** OpenSSH's host patterns: `*` any run of characters, `?` one character, the rest literal. */
function matchGlob(pattern: string, text: string): boolean {
  const re = pattern
    .replace(/[.+^${}()|[\]\\]/g, '\\$&')
    .replaceAll('*', '.*')
    .replaceAll('?', '.');
  return new RegExp(`^${re}$`, 's').test(text);
}

/** OpenSSH's fingerprint format: `SHA256:` and the unpadded base64 of the key's SHA-256. */
export function fingerprintOf(key: Buffer): string {
  return `SHA256:${createHash('sha256').update(key).digest('base64').replace(/=+$/, '')}`;
}

/** The algorithm name a raw SSH public key starts with (`ssh-ed25519`), or null if malformed. */
export function keyTypeOf(key: Buffer): string | null {
  if (key.length < 4) return null;
  const len = key.readUInt32BE(0);
  if (len === 0 || len > 64 || key.length < 4 + len) return null;
  const type = key.subarray(4, 4 + len).toString('latin1');
  return /^[\x21-\x7e]+$/.test(type) ? type : null;
}

export type HostKeyVerdict =
  | { readonly kind: 'trusted'; readonly line: number }
  | { readonly kind: 'unknown' }
  /** known_hosts has keys for this host, none of them the one offered. */
  | { readonly kind: 'changed'; readonly expected: readonly { keyType: string; fingerprint: string; line: number }[] }
  | { readonly kind: 'revoked'; readonly line: number };

/** Judges the key a server offered for `host:port` against known_hosts entries. */
export function verifyHostKey(
  entries: readonly KnownHostEntry[],
  host: string,
  port: number,
  key: Buffer,
): HostKeyVerdict {
  const revoked = entries.find((e) => e.marker === 'revoked' && e.key.equals(key));
  if (revoked) return { kind: 'revoked', line: revoked.line };
  const name = knownHostName(host, port);
  const forHost = entries.filter((e) => e.marker === null && entryMatchesHost(e, name));
  const trusted = forHost.find((e) => e.key.equals(key));
  if (trusted) return { kind: 'trusted', line: trusted.line };
  if (forHost.length === 0) return { kind: 'unknown' };
  return {
    kind: 'changed',
    expected: forHost.map((e) => ({ keyType: e.keyType, fingerprint: fingerprintOf(e.key), line: e.line })),
  };
}

/** The host key algorithms ssh2 may negotiate, in its default order. */
const HOST_KEY_ALGORITHMS = [
  'ssh-ed25519',
  'ecdsa-sha2-nistp256',
  'ecdsa-sha2-nistp384',
  'ecdsa-sha2-nistp521',
  'rsa-sha2-512',
  'rsa-sha2-256',
  'ssh-rsa',
] as const;

/**
 * Host key algorithms to offer, those known_hosts holds a key of for this host first (as OpenSSH
 * does): a server with several host keys then shows the one we know, instead of one we do not
 * and a spurious "changed" refusal.
 */
export function preferredHostKeyAlgorithms(entries: readonly KnownHostEntry[], host: string, port: number): string[] {
  const name = knownHostName(host, port);
  const known = new Set(entries.filter((e) => e.marker === null && entryMatchesHost(e, name)).map((e) => e.keyType));
  const first = HOST_KEY_ALGORITHMS.filter((a) => known.has(a) || (known.has('ssh-rsa') && a.startsWith('rsa-sha2-')));
  return [...first, ...HOST_KEY_ALGORITHMS.filter((a) => !first.includes(a))];
}

export interface HostKeyContext {
  readonly node: string;
  readonly host: string;
  readonly port: number;
  /** The known_hosts file consulted, for the message. */
  readonly knownHostsFile: string;
}

/** The refusal for a key that is not trusted: names the host, port and the offered fingerprint. */
export function hostKeyRefusal(
  verdict: Exclude<HostKeyVerdict, { kind: 'trusted' }>,
  key: Buffer,
  ctx: HostKeyContext,
): RefusedError {
  const where = `${ctx.node} (${ctx.host}:${ctx.port})`;
  const offered = `${keyTypeOf(key) ?? 'unknown-type'} ${fingerprintOf(key)}`;
  const lookup = knownHostName(ctx.host, ctx.port);
  switch (verdict.kind) {
    case 'unknown':
      return new RefusedError(
        'host-key-unknown',
        `host key of ${where} is not in ${ctx.knownHostsFile}: the server offered ${offered}; refusing to connect`,
        [`no entry for ${lookup}; check the fingerprint out of band, then add the host's key to ${ctx.knownHostsFile}`],
      );
    case 'changed':
      return new RefusedError(
        'host-key-changed',
        `host key of ${where} has CHANGED: the server offered ${offered}, which ${ctx.knownHostsFile} does not hold for ${lookup}; refusing to connect`,
        [
          ...verdict.expected.map((e) => `expected (line ${e.line}): ${e.keyType} ${e.fingerprint}`),
          'someone may be intercepting the connection, or the host was reinstalled; check the new fingerprint out of band before replacing the entry',
        ],
      );
    case 'revoked':
      return new RefusedError(
        'host-key-revoked',
        `host key of ${where} is revoked: the server offered ${offered}, marked @revoked in ${ctx.knownHostsFile} (line ${verdict.line}); refusing to connect`,
      );
  }
}
