/**
 * `dcfail preflight`: peacetime readiness, for cron or CI against production. One line per
 * check; exit 0 only when every check passes (1 otherwise).
 */
import { access, constants } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, isAbsolute, resolve } from 'node:path';
import { CLUSTERS } from '../core/clusters.js';
import { EXIT, type ExitCode } from '../errors.js';
import { etcdFileChecks } from '../components/etcd/preflight.js';
import { mesosFileChecks } from '../components/mesos/preflight.js';
import { zookeeperFileChecks } from '../components/zookeeper/preflight.js';
import { declaredConfig } from '../plan/facts.js';
import { renderCommand } from '../remote/shell.js';
import { RemotePool } from '../remote/ssh.js';
import type { Remotes } from '../remote/types.js';
import type { Remote } from '../remote/types.js';
import { loadTopology } from '../topology/load.js';
import { inspectGuards } from './guard.js';
import type { Topology, TopologyNode } from '../topology/model.js';
import type { GlobalOptions } from './options.js';
import type { Io } from '../views/io.js';
import { preflightLines, type Check } from '../views/preflight.js';

function expandHome(p: string): string {
  return p.startsWith('~/') ? resolve(homedir(), p.slice(2)) : p;
}

async function localChecks(t: Topology, topologyFile: string): Promise<Check[]> {
  const out: Check[] = [];
  const base = dirname(resolve(topologyFile));
  const keys = new Set(t.nodes.map((n) => n.ssh.identityFile).filter((k): k is string => k !== undefined));
  if (keys.size === 0) {
    const agent = Boolean(process.env['SSH_AUTH_SOCK']);
    out.push({
      host: 'local',
      check: 'ssh key',
      ok: agent,
      detail: agent
        ? 'no identityFile; using ssh-agent (SSH_AUTH_SOCK)'
        : 'no identityFile in the topology and no ssh-agent (SSH_AUTH_SOCK)',
    });
  }
  for (const k of keys) {
    const path = expandHome(k);
    const ok = await access(path, constants.R_OK).then(
      () => true,
      () => false,
    );
    out.push({ host: 'local', check: 'ssh key', ok, detail: ok ? `${k} is readable` : `${k} cannot be read` });
  }
  for (const k of new Set(t.nodes.map((n) => n.ssh.knownHostsFile))) {
    const ok = await access(expandHome(k), constants.R_OK).then(
      () => true,
      () => false,
    );
    out.push({
      host: 'local',
      check: 'known_hosts',
      ok,
      detail: ok ? `${k} is readable` : `${k} cannot be read: host keys cannot be verified`,
    });
  }
  const hooks: [string, string][] = [];
  for (const [name, cmd] of Object.entries(t.hooks)) {
    if (typeof cmd === 'string') hooks.push([name, cmd]);
    else if (cmd) for (const [dc, c] of Object.entries(cmd)) hooks.push([`fence.${dc}`, c]);
  }
  for (const [name, cmd] of hooks) {
    const exe = cmd.split(/\s+/)[0]!;
    const path = exe.startsWith('~/')
      ? expandHome(exe)
      : isAbsolute(exe)
        ? exe
        : exe.includes('/')
          ? resolve(base, exe)
          : null;
    if (path === null) {
      out.push({ host: 'local', check: `hook ${name}`, ok: true, detail: `${exe} is looked up on PATH at run time` });
      continue;
    }
    const ok = await access(path, constants.X_OK).then(
      () => true,
      () => false,
    );
    out.push({
      host: 'local',
      check: `hook ${name}`,
      ok,
      detail: ok ? `${exe} exists and is executable` : `${exe} is missing or not executable (${path})`,
    });
  }
  return out;
}

async function nodeChecks(t: Topology, n: TopologyNode, pool: Remotes): Promise<Check[]> {
  const out: Check[] = [];
  const add = (check: string, ok: boolean, detail: string) => out.push({ host: n.name, check, ok, detail });
  // The checks below run in parallel; the report lists them in the order they are declared here,
  // so two runs over the same state print the same lines (cron diffs, CI logs).
  const order: string[] = [];
  const declare = (check: string) => (order.push(check), check);
  let remote: Remote;
  try {
    remote = await pool.get(n);
    add('ssh', true, `${n.ssh.user}@${n.address}:${n.ssh.port}, host key verified`);
  } catch (err) {
    add('ssh', false, (err as Error).message);
    return out;
  }
  const timeoutMs = Math.max(t.health.timeoutMs, 5000);
  const sudo = await remote
    .exec('sudo -n true', { sudo: false, timeoutMs })
    .catch((e: Error) => ({ exitCode: null, stderr: e.message }));
  const sudoOk = sudo.exitCode === 0;
  add(
    'sudo -n',
    sudoOk || !n.ssh.sudo,
    sudoOk
      ? 'passwordless sudo works'
      : `sudo -n fails: ${sudo.stderr.trim().split('\n')[0] ?? ''}${n.ssh.sudo ? '' : ' (not needed: ssh.sudo is false)'}`,
  );

  const want = declaredConfig(t)[n.name] ?? {};
  const read = async (path: string) => remote.readFile(path).catch((e: Error) => Promise.reject(e));
  const fileCheck = async (label: string, path: string, judge: (text: string) => string | null) => {
    declare(`file ${label}`);
    try {
      const text = await read(path);
      if (text === null) return add(`file ${label}`, false, `${path} does not exist`);
      const problem = judge(text);
      add(`file ${label}`, problem === null, problem ?? `${path} agrees with the topology`);
    } catch (err) {
      add(`file ${label}`, false, `${path}: ${(err as Error).message}`);
    }
  };
  const checks: Promise<unknown>[] = [];
  // In this order in the report: the masters' files, Exhibitor's, etcd's.
  const fileChecks = [...mesosFileChecks(n, want), ...zookeeperFileChecks(n, want), ...etcdFileChecks(t, n)];
  for (const fc of fileChecks) checks.push(fileCheck(fc.label, fc.path, fc.judge));
  for (const c of CLUSTERS.filter((x) => n.roles.includes(x))) {
    const unit = n.services[c].unit;
    declare(`unit ${unit}`);
    checks.push(
      remote
        .exec(renderCommand(n.services.commands.exists, { unit, node: n.name }), { timeoutMs })
        .then((r) =>
          add(
            `unit ${unit}`,
            r.exitCode === 0,
            r.exitCode === 0 ? 'exists' : `not found (${(r.stderr.trim() || `exit ${r.exitCode}`).split('\n')[0]})`,
          ),
        )
        .catch((e: Error) => add(`unit ${unit}`, false, e.message)),
    );
  }
  await Promise.all(checks);
  const rank = (c: Check) => (order.includes(c.check) ? order.indexOf(c.check) : -1);
  return out.sort((a, b) => rank(a) - rank(b));
}

/**
 * The return guard: declared in the topology, it must be on every master, current and agreeing
 * with the topology, and in a cluster that is not failed over no node holds a hold or a state.
 * Not declared: one line says so (a topology without `guard:` has chosen to run without it).
 */
async function guardChecks(t: Topology, pool: Remotes): Promise<Check[]> {
  if (!t.guard)
    return [
      {
        host: 'local',
        check: 'return guard',
        ok: true,
        detail:
          'not declared (no `guard:` in the topology): a lost DC that powers on starts with its old files unless the fence keeps it down',
      },
    ];
  const reports = await inspectGuards(t, pool, { verdict: false });
  return reports.flatMap((r): Check[] => {
    const checks: Check[] = [
      {
        host: r.node,
        check: 'return guard',
        ok: r.state !== null && r.problems.length === 0,
        detail:
          r.problems.length === 0
            ? `v${r.state!.scriptVersion} installed, beacon ${r.state!.beacon}, whenUnsure ${r.state!.whenUnsure}`
            : `${r.problems.join('; ')}: run dcfail guard install`,
      },
    ];
    if (r.state && (r.state.state || r.state.holds.length > 0))
      checks.push({
        host: r.node,
        check: 'guard state',
        ok: false,
        detail: [
          r.state.state ? `failover state ${r.state.state.kind} ${r.state.state.dc} (run ${r.state.state.run})` : '',
          r.state.holds.length > 0 ? `held (${r.state.holds.join(', ')})` : '',
        ]
          .filter(Boolean)
          .join(', ')
          .concat(
            ': a failover or failback is under way, or was left unfinished (dcfail status; dcfail guard lift <dc>)',
          ),
      });
    return checks;
  });
}

async function runPreflight(t: Topology, topologyFile: string, pool: Remotes): Promise<Check[]> {
  const [local, guard, ...nodes] = await Promise.all([
    localChecks(t, topologyFile),
    guardChecks(t, pool),
    ...t.nodes.map((n) => nodeChecks(t, n, pool)),
  ]);
  return [...local!, ...guard!, ...nodes.flat()];
}

export async function preflight(opts: GlobalOptions, io: Io): Promise<ExitCode> {
  const t = await loadTopology(opts.topology);
  const pool = new RemotePool();
  try {
    const checks = await runPreflight(t, opts.topology, pool);
    const ok = checks.every((c) => c.ok);
    if (opts.json) io.out(JSON.stringify({ ok, checks }, null, 2));
    else for (const line of preflightLines(checks)) io.out(line);
    return ok ? EXIT.ok : EXIT.failed;
  } finally {
    await pool.closeAll();
  }
}
