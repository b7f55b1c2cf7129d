/**
 * Mesos' replicated-log tool, `mesos-log` (/opt/mesosphere/bin/mesos-log on a DC/OS master), for the
 * stand-in's replicas (log-replica.ts). Only the `read` command, rule for rule:
 *
 * - apache/mesos src/log/main.cpp: no command, usage on stderr and exit 1; an unknown one,
 *   "Cannot find command '<c>'" and the usage, exit 1; a tool's error on stderr, exit 1.
 * - src/log/tool/read.cpp: flags --path (required: "Missing required flag --path"), --from, --to,
 *   --timeout; an unknown flag is an error of the flags' loader (stout: "Failed to load unknown flag").
 *   The replica is opened (src/log/replica.cpp ReplicaProcess::restore: a failed restore exits 1 with
 *   "Failed to recover the log: <error>"), its beginning and end read, then from..to (defaults: begin
 *   and end) printed, each action after a line of 46 dashes as `Action::PrintDebugString`.
 * - src/log/leveldb.cpp LevelDBStorage::restore: `create_if_missing`, so a missing replica is created
 *   (an EMPTY one); a database another process has open fails on LevelDB's LOCK.
 * - src/log/replica.cpp ReplicaProcess::read: "Bad read range (to < from)", "(truncated position)",
 *   "(past end of log)"; positions in range that the replica lacks (holes) are skipped.
 *
 * The lab's replicas never truncate: begin is 0.
 */
import { pathToFileURL } from 'node:url';
import { Replica, type Action } from './log-replica.js';

const DASHES = '-'.repeat(46);
const COMMANDS = ['benchmark', 'initialize', 'read', 'replica'];

function usage(argv0: string): string {
  return `Usage: ${argv0} <command> [OPTIONS]\n\nAvailable commands:\n    help\n${COMMANDS.map((c) => `    ${c}\n`).join('')}`;
}

/** protobuf's CEscape of a bytes field in text format: printable ASCII as is, the rest as octal. */
function cEscape(bytes: Buffer): string {
  let out = '';
  for (const b of bytes) {
    if (b === 0x0a) out += '\\n';
    else if (b === 0x0d) out += '\\r';
    else if (b === 0x09) out += '\\t';
    else if (b === 0x22) out += '\\"';
    else if (b === 0x27) out += "\\'";
    else if (b === 0x5c) out += '\\\\';
    else if (b < 0x20 || b >= 0x7f) out += `\\${b.toString(8).padStart(3, '0')}`;
    else out += String.fromCharCode(b);
  }
  return out;
}

/** `Action::PrintDebugString` (src/messages/log.proto field order: position, promised, performed, learned, type, nop, append). */
export function debugString(a: Action): string {
  const lines = [`position: ${a.position}`, `promised: ${a.promised}`];
  if (a.performed !== undefined) lines.push(`performed: ${a.performed}`);
  if (a.learned !== undefined) lines.push(`learned: ${a.learned}`);
  if (a.type !== undefined) lines.push(`type: ${a.type}`);
  if (a.type === 'NOP') lines.push('nop {', '}');
  if (a.type === 'APPEND') lines.push('append {', `  bytes: "${cEscape(Buffer.from(a.value ?? '', 'utf8'))}"`, '}');
  return `${lines.join('\n')}\n`;
}

interface ReadFlags {
  path?: string;
  from?: number;
  to?: number;
}

function parseFlags(args: readonly string[]): ReadFlags | string {
  const flags: ReadFlags = {};
  for (const arg of args) {
    const m = /^--([a-z_]+)(?:=(.*))?$/.exec(arg);
    if (!m) return `Failed to load flag '${arg}'`;
    const [, name, value] = m;
    if (name === 'help') return 'help';
    if (value === undefined) return `Failed to load non-boolean flag '${name}' via '${arg}'`;
    if (name === 'path') flags.path = value;
    else if (name === 'from' || name === 'to') {
      if (!/^\d+$/.test(value)) return `Failed to load flag '${name}': Failed to load value '${value}'`;
      flags[name] = Number(value);
    } else if (name === 'timeout') {
      if (!/^\d+(\.\d+)?(ns|us|ms|secs|mins|hrs|days|weeks)$/.test(value))
        return `Failed to load flag 'timeout': Failed to load value '${value}': Invalid duration format`;
    } else return `Failed to load unknown flag '${name}'`;
  }
  return flags;
}

const READ_USAGE = 'Usage: read [options]\n\nThis command is used to read the log.\n';

/** The `read` command: what it prints on stdout and stderr, and its exit code. */
export function readCommand(args: readonly string[]): { stdout: string; stderr: string; code: number } {
  const flags = parseFlags(args);
  if (typeof flags === 'string') return { stdout: '', stderr: `${flags}\n\n${READ_USAGE}`, code: 1 };
  if (flags.path === undefined) return { stdout: '', stderr: `Missing required flag --path\n\n${READ_USAGE}`, code: 1 };
  let replica: Replica;
  try {
    replica = Replica.open(flags.path);
  } catch (err) {
    return { stdout: '', stderr: `Failed to recover the log: ${(err as Error).message}\n`, code: 1 };
  }
  try {
    const from = flags.from ?? replica.begin;
    const to = flags.to ?? replica.end;
    const stderr = `I mesos-log read.cpp] Attempting to read the log from ${from} to ${to}\n`;
    const bad =
      to < from ? 'to < from' : from < replica.begin ? 'truncated position' : replica.end < to ? 'past end of log' : undefined;
    if (bad) return { stdout: '', stderr: `${stderr}Bad read range (${bad})\n`, code: 1 };
    let stdout = '';
    for (let p = from; p <= to; p++) {
      const a = replica.read(p);
      if (a) stdout += `${DASHES}\n${debugString(a)}`;
    }
    return { stdout, stderr, code: 0 };
  } finally {
    replica.close();
  }
}

export function main(argv: readonly string[]): number {
  const argv0 = 'mesos-log';
  const [command, ...rest] = argv;
  if (command === undefined || (command === 'help' && rest.length === 0)) {
    process.stderr.write(usage(argv0));
    return command === undefined ? 1 : 0;
  }
  if (command !== 'read') {
    process.stderr.write(
      COMMANDS.includes(command) || command === 'help'
        ? `the lab's mesos-log has only the read command\n`
        : `Cannot find command '${command}'\n\n${usage(argv0)}`,
    );
    return 1;
  }
  const r = readCommand(rest);
  process.stdout.write(r.stdout);
  process.stderr.write(r.stderr);
  return r.code;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) process.exitCode = main(process.argv.slice(2));
