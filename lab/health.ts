/**
 * Is the lab healthy? etcd: every member healthy and a write works. ZooKeeper: every server
 * serving (`srvr` shows a Mode). Mesos: exactly one leader whose registrar recovered, and every
 * replica VOTING. Each check reports a one-line reason, so a lab that does not come up says why.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { PORTS, type LabNode } from './layout.js';
import { httpJson, zkServing } from './probes.js';

const run = promisify(execFile);

export interface Check {
  readonly ok: boolean;
  readonly detail: string;
}

export interface Health {
  readonly healthy: boolean;
  readonly etcd: Check;
  readonly zookeeper: Check;
  readonly mesos: Check;
}

/**
 * Mesos' own metric names: `registrar/log/recovered` is this master's log replica (1 once it is
 * VOTING), `registrar/registry_size_bytes` exists only once the registrar recovered.
 */
export interface MesosMetrics {
  readonly 'master/elected': number;
  readonly 'registrar/log/recovered': number;
  readonly 'registrar/registry_size_bytes'?: number;
  readonly [key: string]: number | undefined;
}

/** Elected with a recovered registrar (the registry size gauge is there). */
export function isRecoveredLeader(m: MesosMetrics | undefined): boolean {
  return m?.['master/elected'] === 1 && m['registrar/registry_size_bytes'] !== undefined;
}

export function etcdEndpoints(nodes: readonly LabNode[]): string {
  return nodes.map((n) => `http://${n.address}:${PORTS.etcdClient}`).join(',');
}

/** Runs etcdctl (API v3) against these endpoints; never throws. */
export async function etcdctl(endpoints: string, args: readonly string[], timeoutMs = 3000): Promise<{ ok: boolean; out: string }> {
  try {
    const { stdout, stderr } = await run('etcdctl', [`--endpoints=${endpoints}`, '--dial-timeout=1s', `--command-timeout=${Math.max(1, Math.floor(timeoutMs / 1000) - 1)}s`, ...args], {
      env: { ...process.env, ETCDCTL_API: '3' },
      timeout: timeoutMs,
    });
    return { ok: true, out: `${stdout}${stderr}`.trim() };
  } catch (err) {
    const e = err as { stdout?: string; stderr?: string; message: string };
    return { ok: false, out: `${e.stdout ?? ''}${e.stderr ?? e.message}`.trim() };
  }
}

export async function checkEtcd(nodes: readonly LabNode[]): Promise<Check> {
  const endpoints = etcdEndpoints(nodes);
  const health = await etcdctl(endpoints, ['endpoint', 'health']);
  if (!health.ok) return { ok: false, detail: `etcd: ${lastLine(health.out)}` };
  const members = await etcdctl(endpoints, ['member', 'list']);
  const lines = members.out.split('\n').filter((l) => l.trim() !== '');
  if (!members.ok || lines.length !== nodes.length || lines.some((l) => !l.includes(', started,'))) {
    return { ok: false, detail: `etcd: member list: ${lines.length} member(s) (${lastLine(members.out)})` };
  }
  const put = await etcdctl(endpoints, ['put', '/dcfail-lab/health', new Date().toISOString()]);
  if (!put.ok) return { ok: false, detail: `etcd: write failed: ${lastLine(put.out)}` };
  return { ok: true, detail: `etcd: ${nodes.length} members healthy, write ok` };
}

export async function checkZooKeeper(nodes: readonly LabNode[]): Promise<Check> {
  const states = await Promise.all(nodes.map((n) => zkServing(n.address, PORTS.zkClient, 1000)));
  const modes = nodes.map((n, i) => `${n.name}=${states[i]?.mode ?? 'not serving'}`).join(' ');
  return { ok: states.every((s) => s !== undefined), detail: `zookeeper: ${modes}` };
}

export async function mesosMetrics(node: LabNode, timeoutMs = 1000): Promise<MesosMetrics | undefined> {
  return httpJson<MesosMetrics>(`http://${node.address}:${PORTS.mesos}/metrics/snapshot`, timeoutMs);
}

export async function checkMesos(nodes: readonly LabNode[]): Promise<Check> {
  const metrics = await Promise.all(nodes.map((n) => mesosMetrics(n)));
  const leaders = nodes.filter((_, i) => metrics[i]?.['master/elected'] === 1);
  const leader = leaders[0];
  const recovered = leader ? isRecoveredLeader(metrics[nodes.indexOf(leader)]) : false;
  const voting = metrics.filter((m) => m?.['registrar/log/recovered'] === 1).length;
  const answering = metrics.filter((m) => m !== undefined).length;
  const ok = leaders.length === 1 && recovered && voting === nodes.length;
  const who = leaders.map((l) => l.name).join(',') || 'none';
  return { ok, detail: `mesos: ${answering}/${nodes.length} answering, leader ${who}${leader ? (recovered ? ' (recovered)' : ' (recovering)') : ''}, ${voting} VOTING` };
}

export async function checkHealth(nodes: readonly LabNode[]): Promise<Health> {
  const [etcd, zookeeper, mesos] = await Promise.all([checkEtcd(nodes), checkZooKeeper(nodes), checkMesos(nodes)]);
  return { healthy: etcd.ok && zookeeper.ok && mesos.ok, etcd, zookeeper, mesos };
}

function lastLine(s: string): string {
  const lines = s.split('\n').filter((l) => l.trim() !== '');
  return lines[lines.length - 1] ?? s;
}
