/**
 * The lab's networks on the host: one bridge per DC (the host at .254 on each), the link between
 * the DCs (routed by the host, delayed in user space by link-delay), partitions (iptables), and the
 * agents' network namespaces. Everything the lab adds is named `dcfl-*` and lives in its own
 * iptables chains, so `down` removes exactly what `up` made.
 *
 * No route out: the machines' only route is 198.18.0.0/15 through the host, and DCFL-FWD drops any
 * forwarded packet from a lab bridge to anything but another lab bridge.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { DCS, dcNet, LAB_NET_CIDR, type AgentNode } from './layout.js';
import { must, run } from './run.js';

const chains = (instance: number) => ({ FORWARD: `DCFL${instance}-FWD`, INPUT: `DCFL${instance}-IN`, OUTPUT: `DCFL${instance}-OUT` });
/** NFQUEUE numbers of the two directions of the inter-DC link: main to secondary, secondary to main. */
export const delayQueues = (instance: number): [number, number] => [7100 + 10 * instance + 1, 7100 + 10 * instance + 2];
const bridges = (instance: number) => DCS.map((dc) => dcNet(dc, instance).bridge) as [string, string];

async function ipt(args: string[]): Promise<void> {
  await must('iptables', ['-w', '5', ...args]);
}

async function linkExists(name: string): Promise<boolean> {
  return (await run('ip', ['link', 'show', 'dev', name])).exitCode === 0;
}

/** Bridges, host addresses, forwarding, and the lab's chains hooked into the host's. Idempotent. */
export async function netUp(instance: number): Promise<void> {
  for (const dc of DCS) {
    const { bridge, gateway } = dcNet(dc, instance);
    if (!(await linkExists(bridge))) await must('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await must('ip', ['addr', 'replace', `${gateway}/24`, 'dev', bridge]);
    await must('ip', ['link', 'set', bridge, 'up']);
  }
  await must('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
  for (const [parent, chain] of Object.entries(chains(instance))) {
    await run('iptables', ['-w', '5', '-N', chain]);
    if ((await run('iptables', ['-w', '5', '-C', parent, '-j', chain])).exitCode !== 0) await ipt(['-I', parent, '1', '-j', chain]);
  }
}

/**
 * Rewrites the lab's chains from the wanted state: partitioned DCs are cut off from the other DC
 * and from the host; the link between the DCs goes through the delay queues when a delay is set.
 */
export async function applyRules(instance: number, state: { partitioned: readonly string[]; delayed: boolean }): Promise<void> {
  const CHAINS = chains(instance);
  for (const chain of Object.values(CHAINS)) await ipt(['-F', chain]);
  const [a, b] = bridges(instance);
  const [ab, ba] = delayQueues(instance);
  const ours = `dcfl${instance}-+`;
  for (const dc of state.partitioned) {
    const br = dcNet(dc, instance).bridge;
    await ipt(['-A', CHAINS.FORWARD, '-i', br, '!', '-o', br, '-j', 'DROP']);
    await ipt(['-A', CHAINS.FORWARD, '-o', br, '!', '-i', br, '-j', 'DROP']);
    await ipt(['-A', CHAINS.INPUT, '-i', br, '-j', 'DROP']);
    await ipt(['-A', CHAINS.OUTPUT, '-o', br, '-j', 'DROP']);
  }
  if (state.delayed) {
    await ipt(['-A', CHAINS.FORWARD, '-i', a, '-o', b, '-j', 'NFQUEUE', '--queue-num', String(ab), '--queue-bypass']);
    await ipt(['-A', CHAINS.FORWARD, '-i', b, '-o', a, '-j', 'NFQUEUE', '--queue-num', String(ba), '--queue-bypass']);
  }
  await ipt(['-A', CHAINS.FORWARD, '-i', ours, '-o', ours, '-j', 'ACCEPT']);
  // No route out: nothing from the lab's bridges is forwarded anywhere else (another lab included), and nothing else in.
  await ipt(['-A', CHAINS.FORWARD, '-i', ours, '-j', 'DROP']);
  await ipt(['-A', CHAINS.FORWARD, '-o', ours, '-j', 'DROP']);
}

/** Starts one link-delay per direction; returns their pids. */
export function startDelayers(instance: number, binary: string, logFile: string, latencyMs: number, jitterMs: number): number[] {
  const pids: number[] = [];
  for (const queue of delayQueues(instance)) {
    const fd = openSync(logFile, 'a');
    const child = spawn(binary, [String(queue), String(Math.round(latencyMs * 1000)), String(Math.round(jitterMs * 1000))], {
      detached: true,
      stdio: ['ignore', fd, fd],
    });
    closeSync(fd);
    child.unref();
    if (child.pid === undefined) throw new Error(`cannot start ${binary}`);
    pids.push(child.pid);
  }
  return pids;
}

/** The agent stand-in's namespace on its DC's bridge: own address, route to the lab only. */
export async function agentNetUp(agent: AgentNode): Promise<void> {
  if ((await run('ip', ['netns', 'pids', agent.netns])).exitCode !== 0) await must('ip', ['netns', 'add', agent.netns]);
  if (!(await linkExists(agent.veth))) {
    await must('ip', ['link', 'add', agent.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', agent.netns]);
  }
  await must('ip', ['link', 'set', agent.veth, 'master', agent.net.bridge, 'up']);
  const inNs = (args: string[]) => must('ip', ['netns', 'exec', agent.netns, 'ip', ...args]);
  await inNs(['link', 'set', 'lo', 'up']);
  await inNs(['addr', 'replace', `${agent.address}/24`, 'dev', 'eth0']);
  await inNs(['link', 'set', 'eth0', 'up']);
  await inNs(['route', 'replace', LAB_NET_CIDR, 'via', agent.net.gateway]);
}

/** Removes everything `netUp`, `applyRules` and `agentNetUp` made. */
export async function netDown(instance: number, agents: readonly AgentNode[] = []): Promise<void> {
  for (const [parent, chain] of Object.entries(chains(instance))) {
    while ((await run('iptables', ['-w', '5', '-D', parent, '-j', chain])).exitCode === 0) {
      /* removed one hook */
    }
    await run('iptables', ['-w', '5', '-F', chain]);
    await run('iptables', ['-w', '5', '-X', chain]);
  }
  for (const a of agents) {
    await run('ip', ['link', 'del', a.veth]);
    await run('ip', ['netns', 'del', a.netns]);
  }
  for (const br of bridges(instance)) await run('ip', ['link', 'del', br]);
}
