/**
 * The topology file, as one zod schema: the only place its shape is stated. Types come from
 * z.infer; nothing past the loader re-validates. Every value that can end up in a remote shell
 * command (names, units, paths, addresses, command templates) is held to a strict pattern here,
 * so that no topology can inject shell syntax; commands are quoted anyway (src/remote/shell.ts).
 */
import { z } from 'zod';
import { CLUSTERS, clusterMembers, type ClusterName } from '../core/clusters.js';
import { isEvenSplit } from '../core/quorum.js';
import { splitWords } from '../core/words.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;
const UNIT = /^[A-Za-z0-9][A-Za-z0-9@._-]{0,127}$/;
// One way to match any input (each repetition starts with '/'): linear time, unlike the nested
// `(?:[...]+\/?)*`, which backtracked for ever on a long path with a trailing space.
const REMOTE_PATH = /^\/$|^(?:\/[A-Za-z0-9._@+-]+)+\/?$/;
const USER = /^[a-z_][a-z0-9_.-]{0,31}$/;
const HOST_LABEL = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?$/;
/** Command templates: plain words, no shell syntax; `{unit}` and `{node}` are the only placeholders. */
const COMMAND_TEMPLATE = /^[A-Za-z0-9_./@:=, -]*(?:\{(?:unit|node)\}[A-Za-z0-9_./@:=, -]*)*$/;
/** One word of a service-manager template: plain characters, or a whole placeholder. */
const TEMPLATE_WORD = /^[A-Za-z0-9_./@:=,-]+$|^\{unit\}$|^\{node\}$/;
/** The programs a template may run as root on every node without `allowAnyProgram`. */
const SERVICE_MANAGERS = [
  'systemctl',
  '/bin/systemctl',
  '/usr/bin/systemctl',
  'service',
  '/usr/sbin/service',
  'initctl',
  'rc-service',
  'sv',
] as const;
/** The verbs of `isActive` and `exists`: status and the read commands `status`, `preflight` and `plan` run. */
const READ_VERBS = ['is-active', 'status', 'cat', 'show', 'list-unit-files'];
// eslint-disable-next-line no-control-regex -- control characters are exactly what it rejects
const NO_CONTROL = /^[^\u0000-\u001f\u007f]+$/;

const unitName = z
  .string()
  .max(128, { error: 'expected a unit name of at most 128 characters', abort: true })
  .regex(UNIT, 'expected a unit name');

const name = (what: string) =>
  z
    .string()
    .max(63, { error: `expected a ${what} of at most 63 characters`, abort: true })
    .regex(
      NAME,
      `expected a ${what}: letters, digits, '.', '_' or '-', starting with a letter or digit, at most 63 characters`,
    );

const remotePath = z
  .string()
  .max(4096, { error: 'expected at most 4096 characters', abort: true })
  .regex(REMOTE_PATH, 'expected an absolute remote path of letters, digits and ._@+- (no spaces, no shell syntax)')
  .refine((p) => !p.split('/').includes('..'), { message: "a remote path may not contain '..'" });

const localPath = z
  .string()
  .min(1)
  .max(4096, { abort: true })
  .regex(NO_CONTROL, 'expected a path without control characters');

const port = z
  .int('expected a whole number')
  .min(1, 'a port is between 1 and 65535')
  .max(65535, 'a port is between 1 and 65535');
const positiveMs = z
  .int('expected a whole number of milliseconds')
  .positive('expected a positive number of milliseconds');

function isIPv4(s: string): boolean {
  return z.ipv4().safeParse(s).success;
}

/** An IPv4 or IPv6 address, or an RFC 1123 host name. A dotted all-numeric name must be a valid IPv4. */
function isValidAddress(s: string): boolean {
  if (isIPv4(s)) return true;
  if (z.ipv6().safeParse(s).success) return true;
  if (s.length > 253) return false;
  const labels = s.split('.');
  if (!labels.every((l) => HOST_LABEL.test(l))) return false;
  // 10.10.1.999 is a typo of an address, not a host name.
  if (labels.every((l) => /^\d+$/.test(l))) return false;
  return true;
}

const address = z
  .string()
  .max(253, { error: 'expected an address of at most 253 characters', abort: true })
  .refine(isValidAddress, { message: 'expected an IP address or a host name' });

const commandTemplate = z
  .string()
  .min(1)
  .max(512, { error: 'expected at most 512 characters', abort: true })
  .regex(
    COMMAND_TEMPLATE,
    'expected a command of plain words; the only placeholders are {unit} and {node}, no shell syntax',
  );

/** A local command line (hooks): split into words as a shell would (quotes, backslashes), run without a shell. */
const localCommand = z
  .string()
  .trim()
  .min(1, 'expected a command')
  .max(4096, 'expected at most 4096 characters')
  .regex(NO_CONTROL, 'expected a single-line command')
  .refine((c) => splitWords(c).ok, {
    error: (i) => {
      const w = splitWords(String(i.input));
      return w.ok ? 'invalid command' : `the command has ${w.error}`;
    },
  });

export const SshSchema = z.strictObject({
  user: z
    .string()
    .max(32, { error: 'expected a user name of at most 32 characters', abort: true })
    .regex(USER, 'expected a user name (lower case letters, digits, _ . -)')
    .default('core'),
  port: port.default(22),
  identityFile: localPath.optional(),
  knownHostsFile: localPath.default('~/.ssh/known_hosts'),
  sudo: z.boolean().default(true),
  connectTimeoutMs: positiveMs.default(5000),
});

const MesosServiceSchema = z.strictObject({
  masterCountFile: remotePath.default('/opt/mesosphere/etc/master_count'),
  envFile: remotePath.default('/opt/mesosphere/etc/mesos-master'),
  workDir: remotePath.default('/var/lib/dcos/mesos/master'),
  /**
   * The overlay module's `replicated_log_dir`: its own replicated log is `<dir>/overlay_replicated_log`
   * (dcos/dcos-mesos-modules overlay/master.cpp; DC/OS sets /var/lib/dcos/mesos/master/ in gen/dcos-config.yaml).
   * null: the overlay module is off (`dcos_overlay_enable: false`), there is no second log.
   */
  overlayLogDir: remotePath.nullable().default('/var/lib/dcos/mesos/master'),
  unit: unitName.default('dcos-mesos-master'),
  port: port.default(5050),
  /**
   * Mesos' replicated-log tool (`mesos-log`, apache/mesos src/log/main.cpp; DC/OS links its package's
   * bin into /opt/mesosphere/bin). A failback with no Mesos leader among the survivors reads each
   * stopped survivor's replicas with `mesos-log read` to copy the most advanced one.
   */
  logTool: remotePath.default('/opt/mesosphere/bin/mesos-log'),
  /**
   * How long a start/stop/restart of the unit may take: DC/OS's pre-start check fails the start at
   * once while ZooKeeper does not serve (systemd retries after RestartSec=15 s), so 60 s.
   */
  commandTimeoutMs: positiveMs.default(60_000),
  /**
   * How long a verification of Mesos may take to hold: a refused pre-start check (15 s), the ZooKeeper
   * session of a stopped leader (10 s), a registrar recovery aborted after its 60 s fetch timeout and
   * restarted 15 s later, and the next recovery: 180 s.
   */
  verifyTimeoutMs: positiveMs.default(180_000),
});
const ExhibitorServiceSchema = z.strictObject({
  envFile: remotePath.default('/opt/mesosphere/etc/exhibitor'),
  zkDataDir: remotePath.default('/var/lib/dcos/exhibitor/zookeeper'),
  unit: unitName.default('dcos-exhibitor'),
  zkClientPort: port.default(2181),
  /**
   * How long a start/stop/restart may take: with master_count > 1 Exhibitor starts ZooKeeper at its
   * first check, 30 s after it starts, and DC/OS 2.2's ExecStartPost waits up to 60 s for ZooKeeper:
   * `systemctl restart dcos-exhibitor` blocks 30-40 s, 90 s at worst; 120 s.
   */
  commandTimeoutMs: positiveMs.default(120_000),
  /**
   * How long a verification of ZooKeeper may take to hold: a server that does not serve is restarted by
   * Exhibitor only after 40 s, at a 30 s check, then elects: 120 s.
   */
  verifyTimeoutMs: positiveMs.default(120_000),
});
const EtcdServiceSchema = z.strictObject({
  envFile: remotePath.default('/opt/stratio/etcd/conf/etcd.conf'),
  /** Optional: where ETCD_DATA_DIR points. Online runs read it from envFile; offline plans show this. */
  dataDir: remotePath.optional(),
  unit: unitName.default('etcd'),
  clientPort: port.default(2379),
  peerPort: port.default(2380),
  /** How long a start/stop/restart may take: Type=notify, so a start blocks until etcd is ready (systemd's 90 s). */
  commandTimeoutMs: positiveMs.default(100_000),
  /** How long a verification of etcd may take to hold (RestartSec=10 s, a learner catching up). */
  verifyTimeoutMs: positiveMs.default(60_000),
});
const CommandsSchema = z.strictObject({
  start: commandTemplate.default('systemctl start {unit}'),
  stop: commandTemplate.default('systemctl stop {unit}'),
  restart: commandTemplate.default('systemctl restart {unit}'),
  /**
   * Deprecated, no longer run: the failback's quarantine is a hold (a drop-in with
   * `ConditionPathExists=!<flag>` and the flag, see README), since `systemctl mask` fails on DC/OS's
   * units (regular files in /etc/systemd/system). Accepted so that existing files validate.
   */
  disable: commandTemplate.default('systemctl mask {unit}'),
  /** Deprecated, no longer run (see `disable`): the start of a held unit removes its flag. */
  enable: commandTemplate.default('systemctl unmask {unit}'),
  /** Makes the service manager read a new drop-in (the hold's). Needs no `{unit}`. */
  reload: commandTemplate.default('systemctl daemon-reload'),
  /**
   * Prints the unit's state as `KEY=value` lines (LoadState, ActiveState, SubState, ConditionResult):
   * tells a start systemd refused (not found, masked, a condition failed) from one it retries.
   */
  show: commandTemplate.default('systemctl show --property=LoadState,ActiveState,SubState,ConditionResult {unit}'),
  /** Exit 0 when the unit is running. Used by status and by verify steps. */
  isActive: commandTemplate.default('systemctl is-active --quiet {unit}'),
  /** Prints the unit's enablement (`masked` = fenced, as `systemctl mask` leaves it). Used after the fence. */
  isEnabled: commandTemplate.default('systemctl is-enabled {unit}'),
  /** Exit 0 when the unit exists on the node. Used by preflight. */
  exists: commandTemplate.default('systemctl cat {unit}'),
  /**
   * Lets the templates run any program (as root, on every node): without it each template is a
   * service manager (SERVICE_MANAGERS) acting on `{unit}`, and isActive/exists only read.
   */
  allowAnyProgram: z.boolean().default(false),
});

const TEMPLATE_KEYS = [
  'start',
  'stop',
  'restart',
  'disable',
  'enable',
  'reload',
  'isActive',
  'show',
  'exists',
] as const;

/** Why a template is not a service manager acting on {unit} (read-only for isActive/exists), or null. */
function serviceManagerProblem(key: (typeof TEMPLATE_KEYS)[number], template: string): string | null {
  const words = template.split(' ').filter((w) => w !== '');
  const program = words[0] ?? '';
  if (!(SERVICE_MANAGERS as readonly string[]).includes(program))
    return `runs '${program}', not a service manager (${SERVICE_MANAGERS.join(', ')}); set services.commands.allowAnyProgram: true to let the topology run any program as root on every node`;
  const bad = words.find((w) => !TEMPLATE_WORD.test(w));
  if (bad !== undefined) return `'${bad}' is not a plain word or a whole {unit}/{node} placeholder`;
  if (key === 'reload') {
    if (words.length !== 2 || words[1] !== 'daemon-reload') return "expected the service manager's daemon-reload";
    return null;
  }
  if (!words.includes('{unit}')) return 'expected the template to act on {unit}';
  if (key === 'isActive' || key === 'exists' || key === 'show') {
    const verbs = words.slice(1).filter((w) => !w.startsWith('-') && w !== '{unit}' && w !== '{node}');
    const writes = verbs.find((v) => !READ_VERBS.includes(v));
    if (writes !== undefined || verbs.length === 0)
      return `expected a read-only verb (${READ_VERBS.join(', ')}); '${writes ?? '(none)'}' is not one`;
  }
  return null;
}

/** dcfail's own state on a node: the run lock, backups of edited files, the failover marker. */
const DcfailStateSchema = z.strictObject({
  stateDir: remotePath.default('/var/lib/dcfail'),
  /**
   * Where the units' drop-ins go (the quarantine's hold: `<systemdDir>/<unit>.service.d/dcfail-hold.conf`);
   * systemd reads /etc/systemd/system before /run and /usr, and it survives a reboot.
   */
  systemdDir: remotePath.default('/etc/systemd/system'),
});

export const ServicesSchema = z.strictObject({
  dcfail: DcfailStateSchema.prefault({}),
  mesos: MesosServiceSchema.prefault({}),
  exhibitor: ExhibitorServiceSchema.prefault({}),
  etcd: EtcdServiceSchema.prefault({}),
  commands: CommandsSchema.prefault({}),
});

/**
 * Per-node overrides: any field of ssh or services, none required, and no defaults of their own
 * (zod's `.partial()` would keep the defaults, and a node overriding only `user` would silently
 * get the default knownHostsFile instead of the topology's).
 */
function overrideOf<T extends z.ZodObject>(schema: T): z.ZodType<Partial<z.output<T>>, Partial<z.input<T>>> {
  const shape: Record<string, z.ZodType> = {};
  for (const [key, field] of Object.entries(schema.shape as Record<string, z.ZodType>)) {
    shape[key] = (field instanceof z.ZodDefault ? (field.unwrap() as z.ZodType) : field).optional();
  }
  return z.strictObject(shape) as unknown as z.ZodType<Partial<z.output<T>>, Partial<z.input<T>>>;
}
const SshOverrideSchema = overrideOf(SshSchema);
const ServicesOverrideSchema = z.strictObject({
  dcfail: overrideOf(DcfailStateSchema).optional(),
  mesos: overrideOf(MesosServiceSchema).optional(),
  exhibitor: overrideOf(ExhibitorServiceSchema).optional(),
  etcd: overrideOf(EtcdServiceSchema).optional(),
  commands: overrideOf(CommandsSchema).optional(),
});

export const ROLES = ['mesos', 'exhibitor', 'etcd'] as const;
export type Role = (typeof ROLES)[number];

const NodeSchema = z.strictObject({
  name: name('node name'),
  dc: name('datacenter name'),
  address,
  roles: z
    .array(z.enum(ROLES, { error: `expected one of ${ROLES.join(', ')}` }))
    .min(1, 'a node needs at least one role'),
  zkId: z
    .int('expected a whole number')
    .min(1, 'a ZooKeeper id is between 1 and 255')
    .max(255, 'a ZooKeeper id is between 1 and 255')
    .optional(),
  ssh: SshOverrideSchema.optional(),
  services: ServicesOverrideSchema.optional(),
});

const HEALTH_CHECKS = ['ssh', 'tcp'] as const;

const HealthSchema = z.strictObject({
  checks: z
    .array(z.enum(HEALTH_CHECKS, { error: `expected one of ${HEALTH_CHECKS.join(', ')}` }))
    .min(1)
    .default(['ssh', 'tcp']),
  timeoutMs: positiveMs.default(2000),
  attempts: z.int('expected a whole number').positive('expected at least 1 attempt').default(3),
});

const HooksSchema = z.strictObject({
  preFailover: localCommand.optional(),
  postFailover: localCommand.optional(),
  preFailback: localCommand.optional(),
  postFailback: localCommand.optional(),
  onFailure: localCommand.optional(),
  /** Per DC: a command that keeps that DC down (power off, shut ports). */
  fence: z.record(name('datacenter name'), localCommand).optional(),
  /** Names of the operator's environment variables hooks receive besides the minimal set (e.g. IPMI_PASSWORD). */
  env: z
    .array(
      z
        .string()
        .max(128)
        .regex(/^[A-Z_][A-Z0-9_]*$/, 'expected an environment variable name (A-Z, 0-9, _)'),
    )
    .optional(),
});

const MarathonSchema = z.strictObject({
  url: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }),
  /** Mesos master URL for /master/slaves; defaults to the first master of the surviving DC. */
  mesosUrl: z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }).optional(),
  dcAttribute: z.string().min(1).default('datacenter'),
  /** Fault-domain level that names a DC, when agents carry no DC attribute. */
  faultDomainLevel: z.enum(['zone', 'region']).default('zone'),
  timeoutMs: positiveMs.default(5000),
});

/**
 * The return guard (src/guard/README.md): declared here, installed by `dcfail guard install`. With
 * it, preflight requires the guard on every master and the runbooks publish the failover state.
 */
const GuardSchema = z.strictObject({
  /** The other DC does not answer at a start: start as DC/OS would (default) or stay down and retry. */
  whenUnsure: z.enum(['start', 'wait']).default('start'),
  /** The beacon's TCP port on every master (a systemd socket). */
  beaconPort: port.default(8186),
  /** Exhibitor's REST port (its cluster list is the ZooKeeper membership evidence). */
  exhibitorPort: port.default(8181),
  /** curl on the masters (DC/OS ships its own). */
  curl: remotePath.default('/opt/mesosphere/bin/curl'),
});

/** A Calico node name, or a pattern of one where `*` stands for any run of characters. */
const calicoNodePattern = z
  .string()
  .max(253, { error: 'expected at most 253 characters', abort: true })
  .regex(/^[A-Za-z0-9*][A-Za-z0-9.*_-]*$/, 'expected a Calico node name (letters, digits, . _ -), * as a wildcard');

/** An IPv4 network, `10.10.0.0/16`. */
const ipv4Cidr = z
  .string()
  .max(18, { error: 'expected an IPv4 network such as 10.10.0.0/16', abort: true })
  .refine(
    (s) => {
      const m = /^([0-9.]+)\/(\d{1,2})$/.exec(s);
      return m !== null && isIPv4(m[1]!) && Number(m[2]) <= 32;
    },
    { message: 'expected an IPv4 network such as 10.10.0.0/16' },
  );

/** A Kubernetes-style label key or value, as Calico selectors read them. */
const labelKey = z
  .string()
  .max(253, { error: 'expected at most 253 characters', abort: true })
  .regex(/^[A-Za-z0-9][A-Za-z0-9._/-]*$/, 'expected a label key (letters, digits, . _ / -)');
const labelValue = z
  .string()
  .max(63, { error: 'expected at most 63 characters', abort: true })
  .regex(/^[A-Za-z0-9._-]*$/, 'expected a label value (letters, digits, . _ -)');

/**
 * Which Calico nodes are in this DC: a node matches when its name matches one of `nodes`, or its
 * BGP IPv4 address is in one of `cidrs`, or it carries every label of `labels`.
 */
const CalicoDcSchema = z
  .strictObject({
    nodes: z.array(calicoNodePattern).max(1000).optional(),
    cidrs: z.array(ipv4Cidr).max(1000).optional(),
    labels: z.record(labelKey, labelValue).optional(),
  })
  .refine((d) => (d.nodes?.length ?? 0) + (d.cidrs?.length ?? 0) + Object.keys(d.labels ?? {}).length > 0, {
    message: 'expected at least one of nodes, cidrs, labels',
  });

/** Calico's configuration in etcd (its etcdv3 datastore): read by `status` and `survival`. */
const CalicoSchema = z.strictObject({
  /** Calico's etcd; default: the topology's etcd members (http://address:clientPort). */
  etcdEndpoints: z
    .array(z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' }))
    .min(1)
    .max(16)
    .optional(),
  timeoutMs: positiveMs.default(5000),
  /** Per DC, which Calico nodes are in it (besides the topology's own nodes, by name or address). */
  datacenters: z.record(name('datacenter name'), CalicoDcSchema).default({}),
});

export const TopologyInputSchema = z.strictObject({
  cluster: name('cluster name'),
  datacenters: z.strictObject({ main: name('datacenter name'), secondary: name('datacenter name') }),
  ssh: SshSchema.prefault({}),
  services: ServicesSchema.prefault({}),
  nodes: z.array(NodeSchema).min(1, 'a topology needs at least one node'),
  health: HealthSchema.prefault({}),
  hooks: HooksSchema.optional(),
  marathon: MarathonSchema.optional(),
  guard: GuardSchema.optional(),
  calico: CalicoSchema.optional(),
});

/** The schema with the cross-field rules: every issue found is reported, each at its key path. */
export const TopologySchema = TopologyInputSchema.superRefine((t, ctx) => {
  const { main, secondary } = t.datacenters;
  if (main === secondary) {
    ctx.addIssue({
      code: 'custom',
      path: ['datacenters', 'secondary'],
      message: `main and secondary are both '${main}'; they must be two different datacenters`,
    });
  }
  const dcs = new Set([main, secondary]);
  const seen = { name: new Map<string, number>(), address: new Map<string, number>(), zkId: new Map<number, number>() };
  let exhibitorPosition = 0;
  t.nodes.forEach((node, i) => {
    if (!dcs.has(node.dc)) {
      ctx.addIssue({
        code: 'custom',
        path: ['nodes', i, 'dc'],
        message: `'${node.dc}' is not a declared datacenter (declared: ${main}, ${secondary})`,
      });
    }
    const dupRole = node.roles.find((r, j) => node.roles.indexOf(r) !== j);
    if (dupRole)
      ctx.addIssue({ code: 'custom', path: ['nodes', i, 'roles'], message: `role '${dupRole}' is listed twice` });
    const hasMesos = node.roles.includes('mesos');
    const hasExhibitor = node.roles.includes('exhibitor');
    if (hasMesos !== hasExhibitor) {
      ctx.addIssue({
        code: 'custom',
        path: ['nodes', i, 'roles'],
        message: `roles 'mesos' and 'exhibitor' go together (DC/OS runs both on every master); this node has only '${hasMesos ? 'mesos' : 'exhibitor'}'`,
      });
    }
    if (node.zkId !== undefined && !hasExhibitor) {
      ctx.addIssue({
        code: 'custom',
        path: ['nodes', i, 'zkId'],
        message: 'zkId is set on a node without the exhibitor role',
      });
    }
    const checkDup = <K>(map: Map<K, number>, key: K, field: string, label: string) => {
      const first = map.get(key);
      if (first !== undefined) {
        ctx.addIssue({
          code: 'custom',
          path: ['nodes', i, field],
          message: `duplicate ${label} '${String(key)}' (also nodes[${first}])`,
        });
      } else {
        map.set(key, i);
      }
    };
    checkDup(seen.name, node.name, 'name', 'node name');
    checkDup(seen.address, node.address.toLowerCase(), 'address', 'address');
    if (hasExhibitor) {
      exhibitorPosition += 1;
      checkDup(
        seen.zkId,
        node.zkId ?? exhibitorPosition,
        'zkId',
        node.zkId === undefined ? 'ZooKeeper id (the default, its position)' : 'ZooKeeper id',
      );
    }
  });
  const topCommands = t.services.commands;
  const checkTemplates = (commands: Partial<Record<string, unknown>>, path: (string | number)[]) => {
    const anyProgram = commands['allowAnyProgram'] ?? topCommands.allowAnyProgram;
    if (anyProgram === true) return;
    for (const key of TEMPLATE_KEYS) {
      const template = commands[key];
      if (typeof template !== 'string') continue;
      const problem = serviceManagerProblem(key, template);
      if (problem) ctx.addIssue({ code: 'custom', path: [...path, key], message: problem });
    }
  };
  checkTemplates(topCommands, ['services', 'commands']);
  t.nodes.forEach((node, i) => {
    const own = node.services?.commands as Partial<Record<string, unknown>> | undefined;
    // The templates a node overrides, under its own opt-in or else the topology's.
    if (own) checkTemplates(own, ['nodes', i, 'services', 'commands']);
  });
  for (const dc of Object.keys(t.hooks?.fence ?? {})) {
    if (!dcs.has(dc))
      ctx.addIssue({ code: 'custom', path: ['hooks', 'fence', dc], message: `'${dc}' is not a declared datacenter` });
  }
  for (const dc of Object.keys(t.calico?.datacenters ?? {})) {
    if (!dcs.has(dc))
      ctx.addIssue({
        code: 'custom',
        path: ['calico', 'datacenters', dc],
        message: `'${dc}' is not a declared datacenter (declared: ${main}, ${secondary})`,
      });
  }
  // An even split cannot survive the loss of either DC: neither side holds a majority. (Judged
  // only once every node sits in a declared DC, else the counts mean nothing.)
  const allPlaced = t.nodes.every((n) => dcs.has(n.dc));
  for (const cluster of allPlaced ? CLUSTERS : []) {
    const members = clusterMembers(t.nodes, cluster);
    const inMain = members.filter((n) => n.dc === main).length;
    const inSecondary = members.filter((n) => n.dc === secondary).length;
    if (members.length > 0 && isEvenSplit(inMain, inSecondary)) {
      ctx.addIssue({
        code: 'custom',
        path: ['nodes'],
        message: `the ${clusterLabel(cluster)} cluster is split evenly (${inMain} in ${main}, ${inSecondary} in ${secondary}): neither DC can hold a majority`,
      });
    }
  }
});

function clusterLabel(c: ClusterName): string {
  return c === 'exhibitor' ? 'ZooKeeper (exhibitor)' : c;
}

export type ParsedTopology = z.output<typeof TopologyInputSchema>;
export type SshConfig = z.output<typeof SshSchema>;
export type ServicesConfig = z.output<typeof ServicesSchema>;
