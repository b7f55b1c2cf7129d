/**
 * The return guard's files for one master, rendered from a plain description (pure: no I/O, no node:*).
 * What the guard does and why: src/guard/README.md. The script itself: dcfail-guard.sh (shipped as
 * GUARD_SCRIPT from script.ts, kept equal to it by test/guard/render.test.ts).
 *
 *   const install = guardInstall(spec);        // files, symlinks, the units to reload
 *   const sh = renderInstallScript(install);   // run as root on the node (sh -s < sh): idempotent
 */
import { GUARD_SCRIPT } from './script.js';

/** Bumped whenever the script, the drop-ins, the beacon units or guard.conf's keys change. */
export const GUARD_VERSION = 1;

export type WhenUnsure = 'start' | 'wait';
/** Which cluster's membership a unit's check looks at (mesos: the ZooKeeper ensemble it runs on). */
export type GuardCluster = 'exhibitor' | 'mesos' | 'etcd';

export interface GuardUnit {
  /** systemd unit name, with or without `.service`. */
  readonly unit: string;
  readonly cluster: GuardCluster;
}

export interface GuardPorts {
  readonly exhibitor: number;
  readonly etcdClient: number;
  /** The guard's beacon (a systemd socket on every master). */
  readonly beacon: number;
}

export interface GuardPaths {
  readonly script: string;
  readonly conf: string;
  readonly stateDir: string;
  readonly systemdDir: string;
}

const DEFAULT_PORTS: GuardPorts = { exhibitor: 8181, etcdClient: 2379, beacon: 8186 };
/** Where the guard lives on a master (its state dir holds the hold files and the failover state). */
export const DEFAULT_PATHS: GuardPaths = {
  script: '/opt/dcfail/guard/dcfail-guard.sh',
  conf: '/etc/dcfail/guard.conf',
  stateDir: '/var/lib/dcfail/guard',
  systemdDir: '/etc/systemd/system',
};
/** DC/OS's curl; the lab (and a plain Linux) has /usr/bin/curl. */
const DCOS_CURL = '/opt/mesosphere/bin/curl';
export const DROPIN_NAME = 'dcfail-guard.conf';
export const BEACON_SOCKET = 'dcfail-guard-beacon.socket';
const BEACON_SERVICE = 'dcfail-guard-beacon@.service';

export interface GuardNodeSpec {
  readonly node: string;
  readonly address: string;
  readonly dc: string;
  readonly otherDc: string;
  /** Addresses of the other DC's masters (its survivors, were this DC lost). */
  readonly otherMasters: readonly string[];
  /** This node's etcd peer URL as the members list it (required when a unit guards etcd). */
  readonly etcdPeerUrl?: string;
  readonly whenUnsure: WhenUnsure;
  readonly units: readonly GuardUnit[];
  readonly ports?: Partial<GuardPorts>;
  readonly paths?: Partial<GuardPaths>;
  readonly curl?: string;
  /** curl's --connect-timeout and --max-time, seconds (defaults 1 and 2: a boot waits 2 s at most). */
  readonly connectTimeoutSec?: number;
  readonly maxTimeSec?: number;
  /** Rounds of asking while nothing answers (1 s apart; default 3): a boot waits 3 x 2 + 2 = 8 s at most. */
  readonly rounds?: number;
}

export interface GuardFile {
  readonly path: string;
  readonly mode: number;
  readonly content: string;
}

export interface GuardInstall {
  readonly version: number;
  readonly files: readonly GuardFile[];
  readonly symlinks: readonly { path: string; target: string }[];
  /** Directories to create (0755), parents first. */
  readonly dirs: readonly string[];
  /** Sockets to (re)start once installed. */
  readonly sockets: readonly string[];
}

const SAFE = /^[A-Za-z0-9._:/@+-]+$/;

function safe(what: string, v: string): string {
  if (!SAFE.test(v)) throw new Error(`guard: ${what} '${v}' has characters the guard's files cannot hold`);
  return v;
}

const unitName = (u: string): string => (u.endsWith('.service') ? u : `${u}.service`);
const shortUnit = (u: string): string => u.replace(/\.service$/, '');

function pathsOf(spec: GuardNodeSpec): GuardPaths {
  return { ...DEFAULT_PATHS, ...spec.paths };
}

function portsOf(spec: GuardNodeSpec): GuardPorts {
  return { ...DEFAULT_PORTS, ...spec.ports };
}

function dirOf(p: string): string {
  return p.slice(0, p.lastIndexOf('/')) || '/';
}

/** /etc/dcfail/guard.conf: sourced by the script (KEY='value' lines only). */
export function renderGuardConf(spec: GuardNodeSpec): string {
  const ports = portsOf(spec);
  const paths = pathsOf(spec);
  if (spec.otherMasters.length === 0) throw new Error(`guard: ${spec.node} has no masters in the other DC to ask`);
  if (spec.units.some((u) => u.cluster === 'etcd') && !spec.etcdPeerUrl)
    throw new Error(`guard: ${spec.node} guards etcd but has no etcd peer URL`);
  const rounds = spec.rounds ?? 3;
  if (!Number.isInteger(rounds) || rounds < 1 || rounds > 9) throw new Error(`guard: rounds ${rounds} must be 1 to 9`);
  const kv: [string, string][] = [
    ['GUARD_VERSION', String(GUARD_VERSION)],
    ['NODE_NAME', safe('node name', spec.node)],
    ['NODE_ADDRESS', safe('address', spec.address)],
    ['NODE_DC', safe('dc', spec.dc)],
    ['OTHER_DC', safe('dc', spec.otherDc)],
    ['OTHER_MASTERS', spec.otherMasters.map((a) => safe('address', a)).join(' ')],
    ['EXHIBITOR_PORT', String(ports.exhibitor)],
    ['ETCD_CLIENT_PORT', String(ports.etcdClient)],
    ['ETCD_PEER_URL', spec.etcdPeerUrl ? safe('etcd peer URL', spec.etcdPeerUrl) : ''],
    ['BEACON_PORT', String(ports.beacon)],
    ['WHEN_UNSURE', spec.whenUnsure],
    ['CURL', safe('curl', spec.curl ?? DCOS_CURL)],
    ['STATE_DIR', safe('state dir', paths.stateDir)],
    ['CONNECT_TIMEOUT', String(spec.connectTimeoutSec ?? 1)],
    ['MAX_TIME', String(spec.maxTimeSec ?? 2)],
    ['ROUNDS', String(rounds)],
  ];
  return [
    `# dcfail return guard of ${spec.node} (${spec.dc}), written by dcfail: do not edit (see src/guard/README.md).`,
    ...kv.map(([k, v]) => `${k}='${v}'`),
    '',
  ].join('\n');
}

/**
 * The drop-in of one guarded unit: an ExecStartPre that runs the check, or, when the script is missing,
 * applies whenUnsure itself (so a deleted script neither blocks nor silently unguards without a log line).
 * Appended after the unit's own ExecStartPre lines (any failing one keeps the unit down).
 */
export function renderDropIn(spec: GuardNodeSpec, u: GuardUnit): string {
  const paths = pathsOf(spec);
  const unit = shortUnit(safe('unit', u.unit));
  const script = safe('script path', paths.script);
  const exitMissing = spec.whenUnsure === 'wait' ? 'exit 1' : 'exit 0';
  const word = spec.whenUnsure === 'wait' ? 'staying down' : 'starting';
  const cmd =
    `if [ -r ${script} ]; then exec /bin/sh ${script} check ${unit} ${u.cluster} ${spec.whenUnsure}; fi; ` +
    `echo "dcfail-guard[${unit}]: ${word}: cannot run the check: ${script} missing (whenUnsure=${spec.whenUnsure})" >&2; ${exitMissing}`;
  return [
    `# dcfail return guard v${GUARD_VERSION} for ${unit} (${u.cluster}): written by dcfail, see src/guard/README.md.`,
    '# Exit 1 keeps the unit down; Restart=always retries it after RestartSec.',
    '[Service]',
    `ExecStartPre=/bin/sh -c '${cmd}'`,
    '',
  ].join('\n');
}

/** The beacon: a socket on every master, one short-lived instance per connection, answering its failover state. */
function renderBeaconSocket(spec: GuardNodeSpec): string {
  return [
    `# dcfail return guard v${GUARD_VERSION}: the beacon, read without credentials by the other DC's guards.`,
    '[Unit]',
    'Description=dcfail guard beacon (does this DC run failed over?)',
    '',
    '[Socket]',
    `ListenStream=${portsOf(spec).beacon}`,
    'Accept=yes',
    'MaxConnections=32',
    '',
    '[Install]',
    'WantedBy=sockets.target',
    '',
  ].join('\n');
}

function renderBeaconService(spec: GuardNodeSpec): string {
  return [
    `# dcfail return guard v${GUARD_VERSION}: one beacon answer.`,
    '[Unit]',
    'Description=dcfail guard beacon answer',
    '',
    '[Service]',
    // timeout(1) as well as RuntimeMaxSec: systemd before 229 (CentOS 7 has 219) ignores RuntimeMaxSec and LogLevelMax.
    `ExecStart=/usr/bin/timeout 5 /bin/sh ${safe('script path', pathsOf(spec).script)} beacon`,
    'StandardInput=socket',
    'StandardOutput=socket',
    'StandardError=journal',
    'RuntimeMaxSec=5',
    'LogLevelMax=notice',
    '',
  ].join('\n');
}

/** Every file of the guard on one node (script, config, one drop-in per unit, the beacon's units). */
export function guardInstall(spec: GuardNodeSpec, script: string = GUARD_SCRIPT): GuardInstall {
  const paths = pathsOf(spec);
  const sd = paths.systemdDir;
  const files: GuardFile[] = [
    { path: paths.script, mode: 0o755, content: script },
    { path: paths.conf, mode: 0o644, content: renderGuardConf(spec) },
    ...spec.units.map((u) => ({
      path: `${sd}/${unitName(u.unit)}.d/${DROPIN_NAME}`,
      mode: 0o644,
      content: renderDropIn(spec, u),
    })),
    { path: `${sd}/${BEACON_SOCKET}`, mode: 0o644, content: renderBeaconSocket(spec) },
    { path: `${sd}/${BEACON_SERVICE}`, mode: 0o644, content: renderBeaconService(spec) },
  ];
  const dirs = [...new Set([...files.map((f) => dirOf(f.path)), paths.stateDir, `${sd}/sockets.target.wants`])];
  return {
    version: GUARD_VERSION,
    files,
    symlinks: [{ path: `${sd}/sockets.target.wants/${BEACON_SOCKET}`, target: `${sd}/${BEACON_SOCKET}` }],
    dirs,
    sockets: [BEACON_SOCKET],
  };
}

function heredoc(content: string, n: number): { open: string; body: string } {
  const tag = `DCFAIL_GUARD_EOF_${n}`;
  if (content.split('\n').includes(tag)) throw new Error(`guard: a file holds the line ${tag}`);
  return { open: `<<'${tag}'`, body: `${content.endsWith('\n') ? content : `${content}\n`}${tag}` };
}

/**
 * A POSIX sh script that installs (or upgrades) the guard: each file is written (temp file, rename) only
 * when its content or mode differs, so installing twice changes nothing (not even an mtime); systemd
 * reloads only when a unit file changed. Prints `changed <path>` per written file and `unchanged` when
 * nothing was. Run as root: `sh -s < script`.
 */
export function renderInstallScript(install: GuardInstall): string {
  const lines = [
    '#!/bin/sh',
    `# dcfail return guard v${install.version}: install or upgrade in place (idempotent).`,
    'set -eu',
    'changed=0',
    'units=0',
  ];
  lines.push(`mkdir -p ${install.dirs.map((d) => `'${safe('dir', d)}'`).join(' ')}`);
  install.files.forEach((f, i) => {
    const p = `'${safe('path', f.path)}'`;
    const mode = f.mode.toString(8);
    const h = heredoc(f.content, i);
    const unit = f.path.includes('/systemd/') ? ' units=1;' : '';
    lines.push(
      `cat > ${p}.dcfail-new ${h.open}`,
      h.body,
      `if [ -f ${p} ] && cmp -s ${p}.dcfail-new ${p} && [ "$(stat -c %a ${p})" = ${mode} ]; then rm -f ${p}.dcfail-new; ` +
        `else chmod ${mode} ${p}.dcfail-new && mv -f ${p}.dcfail-new ${p} && echo "changed ${f.path}" && changed=1;${unit} fi`,
    );
  });
  for (const l of install.symlinks) {
    const p = `'${safe('path', l.path)}'`;
    const t = `'${safe('path', l.target)}'`;
    lines.push(
      `if [ "$(readlink ${p} 2>/dev/null || true)" != ${t} ]; then ln -sfn ${t} ${p}; echo "changed ${l.path}"; changed=1; units=1; fi`,
    );
  }
  lines.push(
    'if [ "$units" = 1 ]; then systemctl daemon-reload; fi',
    ...install.sockets.map(
      (s) => `if [ "$units" = 1 ] || ! systemctl is-active --quiet ${s}; then systemctl restart ${s}; fi`,
    ),
    'if [ "$changed" = 0 ]; then echo unchanged; fi',
    '',
  );
  return lines.join('\n');
}

// ---- what dcfail writes on the nodes at run time ------------------------------------------------

export type FailoverState = { kind: 'failed-over' | 'failing-back'; dc: string; run: string } | { kind: 'normal' };

/** The failover state file's content (the beacon serves it; a survivor's own guard reads it). */
function renderFailoverState(s: FailoverState): string {
  return s.kind === 'normal' ? '' : `${s.kind} ${safe('dc', s.dc)} ${safe('run id', s.run)}\n`;
}

/**
 * Shell that publishes a failover state on a node (atomically: temp file, rename), or removes it (`normal`).
 * dcfail runs it on every survivor BEFORE the failover's first change (failed-over), at the start of a
 * failback once the returning DC is held (failing-back), and after the failback's last step (normal).
 */
export function publishStateCommand(s: FailoverState, paths: Partial<GuardPaths> = {}): string {
  const dir = safe('state dir', { ...DEFAULT_PATHS, ...paths }.stateDir);
  if (s.kind === 'normal') return `rm -f '${dir}/failover'`;
  return `mkdir -p '${dir}' && printf '%s\\n' '${renderFailoverState(s).trim()}' > '${dir}/failover.tmp' && mv -f '${dir}/failover.tmp' '${dir}/failover'`;
}

/**
 * Shell that holds (or lifts) a node's guarded units: `hold` for every unit (`dcfail guard hold <dc>`),
 * or `hold.<unit>` for one (failback's quarantine lifts them one unit at a time, as it starts each).
 */
export function holdCommand(op: 'hold' | 'lift', unit?: string, paths: Partial<GuardPaths> = {}): string {
  const dir = safe('state dir', { ...DEFAULT_PATHS, ...paths }.stateDir);
  const f = `'${dir}/${unit ? `hold.${shortUnit(safe('unit', unit))}` : 'hold'}'`;
  return op === 'hold' ? `mkdir -p '${dir}' && touch ${f}` : `rm -f ${f}`;
}

/** script.ts's text for a given dcfail-guard.sh (test/guard/render.test.ts keeps the two equal; DCFAIL_GUARD_REGEN=1 rewrites it). */
export function renderScriptModule(sh: string): string {
  return [
    '/**',
    ' * dcfail-guard.sh as a string, for the bundle (esbuild ships no loose files). GENERATED from',
    ' * src/guard/dcfail-guard.sh by renderScriptModule (render.ts): edit the .sh, then',
    ' *   DCFAIL_GUARD_REGEN=1 npx vitest run test/guard/render.test.ts',
    ' * (the test fails while the two differ).',
    ' */',
    `export const GUARD_SCRIPT: string = ${JSON.stringify(sh)};`,
    '',
  ].join('\n');
}

/** The name of the hold's drop-in, beside the guard's own (`dcfail-guard.conf`) in `<unit>.service.d/`. */
const HOLD_DROPIN_NAME = 'dcfail-hold.conf';

/** Where a unit's hold lives on a node: its flag (the guard's `hold.<unit>`) and the drop-in that reads it. */
export interface HoldPaths {
  /** `<stateDir>/hold.<unit>`: while it exists the unit does not start. */
  readonly flag: string;
  /** `<systemdDir>/<unit>.service.d/dcfail-hold.conf`. */
  readonly dropIn: string;
}

/**
 * The hold of one unit. `guardStateDir` is the guard's state directory (`<services.dcfail.stateDir>/guard`),
 * so the failback's quarantine and `dcfail guard hold` share one flag: one file means "held" for both.
 */
export function holdPathsOf(unit: string, guardStateDir: string, systemdDir: string): HoldPaths {
  const u = safe('unit', unit);
  return {
    flag: `${safe('state dir', guardStateDir)}/hold.${shortUnit(u)}`,
    dropIn: `${safe('systemd dir', systemdDir)}/${unitName(u)}.d/${HOLD_DROPIN_NAME}`,
  };
}

/**
 * The hold's drop-in: systemd skips the start of the unit while the flag exists (`systemctl start`
 * exits 0 and the unit stays inactive; at boot `dcos.target` does not start it either). Without the
 * flag it is inert, so it may stay once the hold is lifted. A drop-in in /etc/systemd/system outranks
 * nothing of DC/OS's (the unit file is not replaced) and survives a reboot, which neither `systemctl
 * mask` (refused: the unit file is a regular file there) nor a runtime mask (outranked, gone at boot) do.
 */
export function renderHoldDropIn(paths: HoldPaths): string {
  return [
    '# dcfail hold: while the flag below exists this unit does not start (failback quarantine, dcfail guard hold).',
    '# Written by dcfail; inert without the flag. See src/guard/README.md.',
    '[Unit]',
    `ConditionPathExists=!${paths.flag}`,
    '',
  ].join('\n');
}
