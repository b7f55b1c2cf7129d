/**
 * DC/OS's overlay network module on the master (github:dcos/dcos-mesos-modules overlay/master.cpp,
 * ManagerProcess), reduced to what a failover touches: agent subnet allocations kept in a second
 * replicated log, recovered lazily at the first agent registration, served at
 * `/overlay-master/state` as `JSON::protobuf(networkState)`.
 */
import { Aborted, type Logger, type ReplicatedLog } from './replicated-log.js';

export interface OverlayInfo {
  readonly name: string;
  readonly subnet: string;
  readonly prefix: number;
}
export interface NetworkConfig {
  readonly vtep_subnet: string;
  readonly vtep_mac_oui: string;
  readonly overlays: readonly OverlayInfo[];
}
export interface AgentOverlayInfo {
  readonly info: OverlayInfo;
  readonly subnet: string;
  readonly backend: { readonly vxlan: { readonly vni: number; readonly vtep_name: string; readonly vtep_ip: string; readonly vtep_mac: string } };
}
export interface AgentInfo {
  readonly ip: string;
  readonly overlays: readonly AgentOverlayInfo[];
}
/** overlay/overlay.proto State. */
export interface OverlayState {
  readonly network?: NetworkConfig;
  readonly agents: readonly AgentInfo[];
}

/** DC/OS's default `dcos_overlay_network` (dcos/dcos gen/calc.py), IPv4 part. */
export const DCOS_DEFAULT_OVERLAY: NetworkConfig = {
  vtep_subnet: '44.128.0.0/20',
  vtep_mac_oui: '70:B3:D5:00:00:00',
  overlays: [{ name: 'dcos', subnet: '9.0.0.0/8', prefix: 24 }],
};

function ipToInt(ip: string): number {
  return ip.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
}
function intToIp(n: number): string {
  return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.');
}
function parseCidr(cidr: string): { base: number; bits: number } {
  const [ip, bits] = cidr.split('/');
  const b = Number(bits);
  const size = 2 ** (32 - b);
  return { base: Math.floor(ipToInt(ip ?? '') / size) * size, bits: b };
}

/** The lowest /prefix of the overlay's subnet not in `used` (overlay/master.cpp Overlay::allocate: freeNetworks.begin()). */
export function allocateSubnet(overlay: OverlayInfo, used: ReadonlySet<string>): string | undefined {
  const { base, bits } = parseCidr(overlay.subnet);
  const count = 2 ** (overlay.prefix - bits);
  const size = 2 ** (32 - overlay.prefix);
  for (let i = 0; i < count; i++) {
    const s = `${intToIp(base + i * size)}/${overlay.prefix}`;
    if (!used.has(s)) return s;
  }
  return undefined;
}

export type OverlayRegistration = { readonly kind: 'ok'; readonly agent: AgentInfo } | { readonly kind: 'dropped'; readonly reason: string };

export class OverlayManager {
  private readonly log: ReplicatedLog;
  private readonly config: NetworkConfig;
  private readonly timeoutMs: number;
  private readonly restartMs: number;
  private readonly say: Logger;
  /** networkState: what has been stored (plus the configured network). */
  private state: OverlayState;
  /** storedState.isSome(): recovered from the log. */
  private stored = false;
  recovering = false;
  /** The in-memory agents database (may hold agents not stored yet). */
  private agents = new Map<string, AgentInfo>();
  /** Terminated by demote(); the supervisor restarts a clean manager after restartMs. */
  terminated = false;
  private storing: Promise<unknown> = Promise.resolve();

  constructor(log: ReplicatedLog, config: NetworkConfig, timeoutMs: number, restartMs: number, say: Logger) {
    this.log = log;
    this.config = config;
    this.timeoutMs = timeoutMs;
    this.restartMs = restartMs;
    this.say = say;
    this.state = { network: config, agents: [] };
  }

  /** GET /overlay-master/state: JSON::protobuf(networkState). */
  view(): OverlayState {
    return this.state;
  }

  /** ManagerProcess::registerAgent (reduced to the IPv4 `dcos` overlays). */
  async register(ip: string): Promise<OverlayRegistration> {
    if (this.terminated) return { kind: 'dropped', reason: 'overlay manager terminated, restarting' };
    if (!this.stored && !this.recovering) {
      // The first registration starts the recovery and is dropped: the agent will retry.
      void this.recover();
      return { kind: 'dropped', reason: 'moving to RECOVERING' };
    }
    if (!this.stored) return { kind: 'dropped', reason: 'in RECOVERING state' };
    const known = this.agents.get(ip);
    if (known) {
      if (this.state.agents.some((a) => a.ip === ip)) return { kind: 'ok', agent: known };
      return { kind: 'dropped', reason: 'agent info has not been updated in the replicated log yet' };
    }
    const usedSubnets = new Set<string>();
    const usedVteps = new Set<string>();
    for (const a of this.agents.values())
      for (const o of a.overlays) {
        usedSubnets.add(o.subnet);
        usedVteps.add(o.backend.vxlan.vtep_ip);
      }
    const vtep = allocateSubnet({ name: 'vtep', subnet: this.config.vtep_subnet, prefix: 32 }, new Set([...usedVteps].map((v) => `${v.split('/')[0]}/32`).concat([`${intToIp(parseCidr(this.config.vtep_subnet).base)}/32`])));
    if (!vtep) return { kind: 'dropped', reason: 'no free VTEP IP' };
    const vtepIp = vtep.split('/')[0] ?? '';
    const v = ipToInt(vtepIp);
    // Vtep::generateMAC: the OUI's first three bytes, then the VTEP IP's last three.
    const oui = this.config.vtep_mac_oui.toLowerCase().split(':').slice(0, 3);
    const mac = [...oui, ...[16, 8, 0].map((s) => (Math.floor(v / 2 ** s) % 256).toString(16).padStart(2, '0'))].join(':');
    const overlays: AgentOverlayInfo[] = [];
    for (const o of this.config.overlays) {
      const subnet = allocateSubnet(o, usedSubnets);
      if (!subnet) return { kind: 'dropped', reason: `no free subnets available in the ${o.name} overlay` };
      overlays.push({ info: o, subnet, backend: { vxlan: { vni: 1024, vtep_name: 'vtep1024', vtep_ip: `${vtepIp}/${parseCidr(this.config.vtep_subnet).bits}`, vtep_mac: mac } } });
    }
    const agent: AgentInfo = { ip, overlays };
    this.agents.set(ip, agent);
    this.say(`overlay: new registration from ${ip}: ${overlays.map((o) => `${o.info.name} ${o.subnet}`).join(', ')}`);
    const ok = await this.update((s) => ({ ...s, agents: [...s.agents, agent] }));
    return ok ? { kind: 'ok', agent } : { kind: 'dropped', reason: 'failed to store the network state' };
  }

  /** ManagerProcess::update/store: one store at a time; a failed store demotes the manager. */
  private update(op: (s: OverlayState) => OverlayState): Promise<boolean> {
    const run = async (): Promise<boolean> => {
      if (this.terminated) return false;
      const next = op(this.state);
      const ac = new AbortController();
      const t = setTimeout(() => ac.abort(`Failed to perform store within ${this.timeoutMs} ms`), this.timeoutMs);
      try {
        const ok = await this.log.store(JSON.stringify(next), ac.signal);
        if (!ok) {
          this.say('overlay: W Not updating `State` since this Master might have been demoted.');
          this.demote();
          return false;
        }
        this.state = next;
        this.say('overlay: Stored the network state successfully');
        return true;
      } catch (err) {
        this.say(`overlay: W Not updating \`State\` due to failure to write to log: ${(err as Error).message}`);
        this.demote();
        return false;
      } finally {
        clearTimeout(t);
      }
    };
    const p = this.storing.then(run, run);
    this.storing = p;
    return p;
  }

  private async recover(): Promise<void> {
    this.recovering = true;
    const ac = new AbortController();
    const t = setTimeout(() => ac.abort(`Failed to perform fetch within ${this.timeoutMs} ms`), this.timeoutMs);
    try {
      const value = await this.log.fetch(ac.signal);
      const s = value ? (JSON.parse(value) as OverlayState) : { agents: [] };
      if (!s.network) {
        this.say('overlay: No network state present, hence nothing to recover from replicated log');
      } else {
        for (const a of s.agents) this.agents.set(a.ip, a);
        this.state = { network: this.config, agents: s.agents };
        this.say(`overlay: recovered ${s.agents.length} agent(s) from the replicated log`);
      }
      this.stored = true;
    } catch (err) {
      const why = err instanceof Aborted ? err.message : (err as Error).message;
      this.say(`overlay: W might have been demoted. Aborting recovery of replicated log: ${why}`);
      this.demote();
    } finally {
      clearTimeout(t);
      this.recovering = false;
    }
  }

  /** ManagerProcess::demote: terminate; the ProcessSupervisor starts a clean manager 3 s later. */
  private demote(): void {
    if (this.terminated) return;
    this.say('overlay: W Demoting (terminating) overlay-master');
    this.terminated = true;
    this.log.demote();
    setTimeout(() => {
      this.state = { network: this.config, agents: [] };
      this.agents = new Map();
      this.stored = false;
      this.recovering = false;
      this.terminated = false;
      this.say('overlay: overlay-master restarted by its supervisor');
    }, this.restartMs);
  }
}
