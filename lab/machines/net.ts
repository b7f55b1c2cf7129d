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
import { DC_NET, DCS, dcNet, hostAddress, LAB_NET_CIDR, type AgentNode, type MachinesLayout } from './layout.js';
import { must, run } from './run.js';

const CHAINS = { FORWARD: 'DCFL-FWD', INPUT: 'DCFL-IN', OUTPUT: 'DCFL-OUT' } as const;
/** NFQUEUE numbers of the two directions of the inter-DC link. */
export const DELAY_QUEUES = { [`${DCS[0]}>${DCS[1]}`]: 7101, [`${DCS[1]}>${DCS[0]}`]: 7102 } as const;

async function ipt(args: string[]): Promise<void> {
  await must('iptables', ['-w', '5', ...args]);
}

async function linkExists(name: string): Promise<boolean> {
  return (await run('ip', ['link', 'show', 'dev', name])).exitCode === 0;
}

/** Bridges, host addresses, forwarding, and the lab's chains hooked into the host's. Idempotent. */
export async function netUp(): Promise<void> {
  for (const dc of DCS) {
    const { bridge } = dcNet(dc);
    if (!(await linkExists(bridge))) await must('ip', ['link', 'add', bridge, 'type', 'bridge']);
    await must('ip', ['addr', 'replace', `${hostAddress(dc)}/24`, 'dev', bridge]);
    await must('ip', ['link', 'set', bridge, 'up']);
  }
  await must('sysctl', ['-q', '-w', 'net.ipv4.ip_forward=1']);
  for (const [parent, chain] of Object.entries(CHAINS)) {
    await run('iptables', ['-w', '5', '-N', chain]);
    if ((await run('iptables', ['-w', '5', '-C', parent, '-j', chain])).exitCode !== 0) await ipt(['-I', parent, '1', '-j', chain]);
  }
}

/**
 * Rewrites the lab's chains from the wanted state: partitioned DCs are cut off from the other DC
 * and from the host; the link between the DCs goes through the delay queues when a delay is set.
 */
export async function applyRules(state: { partitioned: readonly string[]; delayed: boolean }): Promise<void> {
  for (const chain of Object.values(CHAINS)) await ipt(['-F', chain]);
  const [a, b] = DCS.map((dc) => dcNet(dc).bridge) as [string, string];
  for (const dc of state.partitioned) {
    const br = dcNet(dc).bridge;
    await ipt(['-A', CHAINS.FORWARD, '-i', br, '!', '-o', br, '-j', 'DROP']);
    await ipt(['-A', CHAINS.FORWARD, '-o', br, '!', '-i', br, '-j', 'DROP']);
    await ipt(['-A', CHAINS.INPUT, '-i', br, '-j', 'DROP']);
    await ipt(['-A', CHAINS.OUTPUT, '-o', br, '-j', 'DROP']);
  }
  if (state.delayed) {
    await ipt(['-A', CHAINS.FORWARD, '-i', a, '-o', b, '-j', 'NFQUEUE', '--queue-num', String(DELAY_QUEUES[`${DCS[0]}>${DCS[1]}`]), '--queue-bypass']);
    await ipt(['-A', CHAINS.FORWARD, '-i', b, '-o', a, '-j', 'NFQUEUE', '--queue-num', String(DELAY_QUEUES[`${DCS[1]}>${DCS[0]}`]), '--queue-bypass']);
  }
  await ipt(['-A', CHAINS.FORWARD, '-i', 'dcfl-+', '-o', 'dcfl-+', '-j', 'ACCEPT']);
  // No route out: nothing from a lab bridge is forwarded anywhere else, and nothing else in.
  await ipt(['-A', CHAINS.FORWARD, '-i', 'dcfl-+', '-j', 'DROP']);
  await ipt(['-A', CHAINS.FORWARD, '-o', 'dcfl-+', '-j', 'DROP']);
}

/** Starts one link-delay per direction; returns their pids. */
export function startDelayers(binary: string, logFile: string, latencyMs: number, jitterMs: number): number[] {
  const pids: number[] = [];
  for (const queue of Object.values(DELAY_QUEUES)) {
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
  const dc = agent.dc;
  if ((await run('ip', ['netns', 'pids', agent.netns])).exitCode !== 0) await must('ip', ['netns', 'add', agent.netns]);
  if (!(await linkExists(agent.veth))) {
    await must('ip', ['link', 'add', agent.veth, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', agent.netns]);
  }
  await must('ip', ['link', 'set', agent.veth, 'master', dcNet(dc).bridge, 'up']);
  const inNs = (args: string[]) => must('ip', ['netns', 'exec', agent.netns, 'ip', ...args]);
  await inNs(['link', 'set', 'lo', 'up']);
  await inNs(['addr', 'replace', `${agent.address}/24`, 'dev', 'eth0']);
  await inNs(['link', 'set', 'eth0', 'up']);
  await inNs(['route', 'replace', LAB_NET_CIDR, 'via', hostAddress(dc)]);
}

/** Removes everything `netUp`, `applyRules` and `agentNetUp` made. */
export async function netDown(layout: Pick<MachinesLayout, 'agents'> | undefined): Promise<void> {
  for (const [parent, chain] of Object.entries(CHAINS)) {
    while ((await run('iptables', ['-w', '5', '-D', parent, '-j', chain])).exitCode === 0) {
      /* removed one hook */
    }
    await run('iptables', ['-w', '5', '-F', chain]);
    await run('iptables', ['-w', '5', '-X', chain]);
  }
  for (const a of layout?.agents ?? []) {
    await run('ip', ['link', 'del', a.veth]);
    await run('ip', ['netns', 'del', a.netns]);
  }
  for (const dc of Object.keys(DC_NET)) await run('ip', ['link', 'del', dcNet(dc).bridge]);
}
