import { UserError } from '../errors.js';
/** The global flags every command receives (../shared/spec/CLI.md, "Flags every command takes"). */
export interface GlobalOptions {
  /** Path of the topology file (`-t`, `$DCFAIL_TOPOLOGY`, else ./dcfail.yaml). */
  topology: string;
  /** One JSON document on stdout, nothing else there. */
  json: boolean;
  logFile?: string | undefined;
  logLevel: string;
}

/** The flags of failover, failback and apply (../shared/spec/CLI.md); each is recorded in the journal. */
export interface RunbookOptions extends GlobalOptions {
  yes?: boolean;
  overrideLossCheck?: string;
  attestFenced?: string;
  breakLock?: boolean;
  discardDivergent?: boolean;
  /** How long each verification may take to hold (ms). */
  verifyTimeoutMs?: number;
}

/**
 * A duration flag: digits with an optional unit (`ms`, `s`, `m`; no unit = milliseconds), within
 * [min, max] ms. Anything else (`1e3`, `-5`, `90 s`, `1.5.2`, a number past 2^53) is bad input,
 * named with the flag and the value as given.
 */
export function parseDuration(flag: string, raw: string, range: { minMs: number; maxMs: number }): number {
  const bad = () =>
    new UserError(
      'bad-flag',
      `${flag} ${JSON.stringify(raw)}: expected a duration such as 90s, 2m or 90000 (milliseconds), from ${range.minMs / 1000}s to ${range.maxMs / 60_000}m`,
    );
  const m = /^(\d+)(ms|s|m)?$/.exec(raw);
  if (!m) throw bad();
  const n = Number(m[1]);
  if (!Number.isSafeInteger(n)) throw bad();
  const ms = n * (m[2] === 's' ? 1000 : m[2] === 'm' ? 60_000 : 1);
  if (!Number.isSafeInteger(ms) || ms < range.minMs || ms > range.maxMs) throw bad();
  return ms;
}

/** A count flag: plain digits, from 1 to `max`; anything else is bad input. */
export function parseCount(flag: string, raw: string, max: number): number {
  const n = /^\d{1,9}$/.test(raw) ? Number(raw) : NaN;
  if (!(n >= 1 && n <= max))
    throw new UserError('bad-flag', `${flag} ${JSON.stringify(raw)}: expected a whole number from 1 to ${max}`);
  return n;
}
