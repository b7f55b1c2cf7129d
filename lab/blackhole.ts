/**
 * Making a DC's addresses unreachable the way a dead WAN link is: iptables OUTPUT DROP rules to
 * and from each address (loopback traffic passes OUTPUT, so this works on 127.x), tagged with a
 * comment so the lab only ever removes its own rules. When iptables is not usable the caller
 * falls back to "refused" (nothing listens on a killed node).
 */
import { execFileSync } from 'node:child_process';

export const IPTABLES_COMMENT = 'dcfail-lab';

function rule(dir: '-d' | '-s', address: string): string[] {
  return ['OUTPUT', dir, address, '-m', 'comment', '--comment', IPTABLES_COMMENT, '-j', 'DROP'];
}

function iptables(args: readonly string[]): string {
  return execFileSync('iptables', ['-w', '5', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
}

function has(r: readonly string[]): boolean {
  try {
    iptables(['-C', ...r]);
    return true;
  } catch {
    return false;
  }
}

export interface BlackholeResult {
  readonly ok: boolean;
  readonly detail: string;
}

/** Drops all traffic to and from these addresses (on) or lifts the lab's rules for them (off). */
export function setBlackhole(addresses: readonly string[], on: boolean): BlackholeResult {
  try {
    for (const a of addresses) {
      for (const dir of ['-d', '-s'] as const) {
        const r = rule(dir, a);
        if (on) {
          if (!has(r)) iptables(['-I', ...r]);
        } else {
          while (has(r)) iptables(['-D', ...r]);
        }
      }
    }
    return { ok: true, detail: on ? `iptables OUTPUT DROP to and from ${addresses.join(', ')}` : 'iptables rules removed' };
  } catch (err) {
    const e = err as { stderr?: string; message?: string };
    const why = (e.stderr ?? e.message ?? String(err)).split('\n').find((l) => l.trim() !== '') ?? 'unknown error';
    return { ok: false, detail: `iptables not usable (${why}): addresses refuse connections instead` };
  }
}

/** The addresses among `candidates` that the lab's rules currently blackhole. */
export function blackholedAmong(candidates: readonly string[]): string[] {
  try {
    const out = iptables(['-S', 'OUTPUT']);
    const found = new Set<string>();
    for (const line of out.split('\n')) {
      if (!line.includes(IPTABLES_COMMENT)) continue;
      const m = /-[ds] (\S+?)(?:\/32)? /.exec(line);
      if (m && candidates.includes(m[1]!)) found.add(m[1]!);
    }
    return [...found].sort();
  } catch {
    return [];
  }
}
