/**
 * The text formats of the files dcfail edits, parsed and rendered without I/O: DC/OS env files
 * (`KEY=value` lines, as systemd's EnvironmentFile reads them) and single-value files such as
 * master_count. Edits keep every other line, comment and the order as they were.
 */

/** Settings of a file edit: new value as a string, or null to remove the line. */
export type Changes = Record<string, string | null>;

/** Where a setting dcfail owns lives: which of a node's files, which key, which format, whose. */
export interface SettingRef {
  file: 'masterCount' | 'mesosEnv' | 'exhibitorEnv' | 'etcdEnv';
  key: string;
  format: 'env' | 'value';
  cluster: 'exhibitor' | 'mesos' | 'etcd';
}

const ENV_LINE = /^\s*(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=(.*)$/;

function unquote(raw: string): string {
  const v = raw.trim();
  if (v.length >= 2 && ((v.startsWith('"') && v.endsWith('"')) || (v.startsWith("'") && v.endsWith("'")))) {
    return v.slice(1, -1);
  }
  return v;
}

/** The settings of an env file; a later line wins, as in systemd. */
export function parseEnvFile(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split('\n')) {
    if (/^\s*#/.test(line)) continue;
    const m = ENV_LINE.exec(line);
    if (m) out.set(m[1]!, unquote(m[2]!));
  }
  return out;
}

function renderValue(value: string): string {
  return /^[A-Za-z0-9_.,:=/@+-]*$/.test(value) ? value : `"${value.replace(/(["\\$`])/g, '\\$1')}"`;
}

/**
 * Applies changes to an env file: a setting's line is replaced in place (duplicates dropped), a
 * null removes it, a new one is appended. The result ends with a newline.
 */
export function applyEnvChanges(text: string, changes: Changes): string {
  const pending = new Map(Object.entries(changes));
  const written = new Set<string>();
  const lines = text === '' ? [] : text.replace(/\n$/, '').split('\n');
  const out: string[] = [];
  for (const line of lines) {
    const m = /^\s*#/.test(line) ? null : ENV_LINE.exec(line);
    const key = m?.[1];
    if (key === undefined || !pending.has(key)) {
      out.push(line);
      continue;
    }
    const value = pending.get(key);
    if (value === null || value === undefined || written.has(key)) continue;
    out.push(`${key}=${renderValue(value)}`);
    written.add(key);
  }
  for (const [key, value] of pending) {
    if (value !== null && !written.has(key)) out.push(`${key}=${renderValue(value)}`);
  }
  return out.length === 0 ? '' : `${out.join('\n')}\n`;
}

/** The value of a one-value file (master_count). */
export function parseValueFile(text: string): string {
  return text.trim();
}

export function renderValueFile(value: string): string {
  return `${value}\n`;
}

/** True when the parsed settings already hold every change (a null: the key is absent). */
export function envHolds(settings: ReadonlyMap<string, string>, changes: Changes): boolean {
  return Object.entries(changes).every(([k, v]) => (v === null ? !settings.has(k) : settings.get(k) === v));
}
