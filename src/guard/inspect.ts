/**
 * What a master's guard looks like from outside (pure): the read-only script `dcfail guard status`
 * and `status` run on a node, and the parser of its answer. The answer is untrusted: only lines of
 * the expected shapes count, every value is held to what such a file holds.
 */
import { BEACON_SOCKET, DEFAULT_PATHS, DROPIN_NAME, GUARD_VERSION, type GuardNodeSpec } from './render.js';
import { quote } from '../remote/shell.js';

export interface GuardUnitState {
  unit: string;
  dropIn: boolean;
  /** What the check decides if the unit started now: `start` or `down`, with its log line. */
  verdict?: { start: boolean; why: string };
}

export interface GuardNodeState {
  node: string;
  /** The script's version, or null when it is not installed. */
  scriptVersion: number | null;
  /** GUARD_VERSION in guard.conf, or null. */
  confVersion: number | null;
  /** OTHER_MASTERS in guard.conf, as written. */
  otherMasters: string[] | null;
  whenUnsure: string | null;
  beacon: string;
  /** `hold` (every unit) and `hold.<unit>` files present. */
  holds: string[];
  /** The failover state file: `failed-over <dc> <run>`, `failing-back <dc> <run>`; null: none (normal). */
  state: { kind: string; dc: string; run: string } | null;
  units: GuardUnitState[];
}

/** One master's guard as read by dcfail (`guard status`, `status`, preflight). */
export interface GuardNodeReport {
  node: string;
  dc: string;
  /** null: the node could not be read (the problem says why). */
  state: GuardNodeState | null;
  problems: string[];
}

const unitOf = (u: string) => u.replace(/\.service$/, '');

/**
 * The read-only inspection of one node's guard. With `verdict`, each unit's check is run as a dry
 * run (it reads and asks the other DC, at most a few seconds; it changes nothing on the node).
 */
export function inspectScript(spec: GuardNodeSpec, opts: { verdict: boolean }): string {
  const p = { ...DEFAULT_PATHS, ...spec.paths };
  const lines = [
    `s=${quote(p.script)}; c=${quote(p.conf)}; d=${quote(p.stateDir)}`,
    `if [ -r "$s" ]; then echo "script $(sh "$s" version 2>/dev/null | head -c 100 | tr -cd 'a-z0-9 .-')"; else echo "script -"; fi`,
    `[ -r "$c" ] && grep -E '^(GUARD_VERSION|OTHER_MASTERS|WHEN_UNSURE)=' "$c" | head -c 4000 | sed 's/^/conf /'`,
    `for f in "$d"/hold "$d"/hold.*; do [ -e "$f" ] && echo "hold \${f##*/}"; done`,
    `[ -r "$d/failover" ] && echo "state $(head -c 300 "$d/failover" | head -n 1)"`,
    `echo "beacon $(systemctl is-active ${BEACON_SOCKET} 2>/dev/null | head -c 40)"`,
  ];
  for (const u of spec.units) {
    const unit = unitOf(u.unit);
    lines.push(`[ -r ${quote(`${p.systemdDir}/${unit}.service.d/${DROPIN_NAME}`)} ] && echo "dropin ${unit}"`);
    if (opts.verdict)
      lines.push(
        `if [ -r "$s" ]; then o=$(timeout 20 sh "$s" check ${quote(unit)} ${u.cluster} ${spec.whenUnsure} 2>&1 >/dev/null); r=$?; echo "verdict ${unit} $r $(printf '%s' "$o" | tail -n 1 | head -c 400 | tr -d '\\r')"; fi`,
      );
  }
  lines.push('true');
  return lines.join('\n');
}

const VERSION = /^dcfail-guard (\d{1,6})$/;
const HOLD = /^hold(\.[A-Za-z0-9@._:-]{1,128})?$/;
const WORD = /^[A-Za-z0-9._:@-]{1,128}$/;

/** Parses inspectScript's answer; lines of any other shape are ignored. */
export function parseInspection(node: string, spec: GuardNodeSpec, stdout: string): GuardNodeState {
  const out: GuardNodeState = {
    node,
    scriptVersion: null,
    confVersion: null,
    otherMasters: null,
    whenUnsure: null,
    beacon: 'unknown',
    holds: [],
    state: null,
    units: spec.units.map((u) => ({ unit: unitOf(u.unit), dropIn: false })),
  };
  const verdicts = new Map<string, { start: boolean; why: string }>();
  for (const raw of stdout.split('\n').slice(0, 200)) {
    const line = raw.trimEnd();
    const sp = line.indexOf(' ');
    const key = sp < 0 ? line : line.slice(0, sp);
    const rest = sp < 0 ? '' : line.slice(sp + 1);
    if (key === 'script') {
      const m = VERSION.exec(rest.trim());
      out.scriptVersion = m ? Number(m[1]) : null;
    } else if (key === 'conf') {
      const m = /^(GUARD_VERSION|OTHER_MASTERS|WHEN_UNSURE)='([^']{0,2000})'$/.exec(rest);
      if (!m) continue;
      if (m[1] === 'GUARD_VERSION' && /^\d{1,6}$/.test(m[2]!)) out.confVersion = Number(m[2]);
      if (m[1] === 'OTHER_MASTERS') out.otherMasters = m[2]!.split(' ').filter((a) => WORD.test(a));
      if (m[1] === 'WHEN_UNSURE' && (m[2] === 'start' || m[2] === 'wait')) out.whenUnsure = m[2];
    } else if (key === 'hold' && HOLD.test(rest)) {
      out.holds.push(rest);
    } else if (key === 'state') {
      const [kind, dc, run] = rest.trim().split(/\s+/);
      if ((kind === 'failed-over' || kind === 'failing-back') && WORD.test(dc ?? '') && WORD.test(run ?? ''))
        out.state = { kind, dc: dc!, run: run! };
    } else if (key === 'beacon') {
      out.beacon = /^[a-z-]{1,40}$/.test(rest.trim()) ? rest.trim() : 'unknown';
    } else if (key === 'dropin') {
      const u = out.units.find((x) => x.unit === rest.trim());
      if (u) u.dropIn = true;
    } else if (key === 'verdict') {
      const m = /^(\S+) (\d{1,3}) ?(.*)$/.exec(rest);
      if (m && out.units.some((x) => x.unit === m[1]))
        verdicts.set(m[1]!, { start: m[2] === '0', why: m[3]!.replace(/^dcfail-guard\[[^\]]*\]: /, '') });
    }
  }
  for (const u of out.units) {
    const v = verdicts.get(u.unit);
    if (v) u.verdict = v;
  }
  return out;
}

/** Is the guard on this node complete and current? The reasons it is not, each a short clause. */
export function guardProblems(s: GuardNodeState, spec: GuardNodeSpec): string[] {
  const out: string[] = [];
  if (s.scriptVersion === null) out.push('not installed');
  else if (s.scriptVersion < GUARD_VERSION || (s.confVersion ?? 0) < GUARD_VERSION)
    out.push(`outdated (v${Math.min(s.scriptVersion, s.confVersion ?? 0)}, this dcfail installs v${GUARD_VERSION})`);
  else if (s.scriptVersion > GUARD_VERSION) out.push(`newer than this dcfail (v${s.scriptVersion})`);
  for (const u of s.units) if (!u.dropIn) out.push(`no drop-in for ${u.unit}`);
  if (s.scriptVersion !== null && s.beacon !== 'active') out.push(`beacon ${s.beacon}`);
  if (s.otherMasters !== null && [...s.otherMasters].sort().join(' ') !== [...spec.otherMasters].sort().join(' '))
    out.push(`asks ${s.otherMasters.join(' ') || 'nobody'}, the topology's other DC is ${spec.otherMasters.join(' ')}`);
  if (s.whenUnsure !== null && s.whenUnsure !== spec.whenUnsure)
    out.push(`whenUnsure ${s.whenUnsure}, the topology says ${spec.whenUnsure}`);
  return out;
}
