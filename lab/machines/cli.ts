/**
 * `npm run lab -- <command>`: the machines lab's CLI, a thin wrapper over lab.ts (parse, call,
 * render). Scripts and tests outside the project rely on these command names.
 */
import { heal, labDown, labExec, labReset, labStatus, labUp, LabError, partition, powerOff, powerOn, type LabStatus } from './lab.js';
import type { DcosVersion, MasterCount } from './layout.js';

const USAGE = `usage: npm run lab -- <command>
  up [--masters 3|5] [--dcos 2.1|2.2] [--latency-ms N] [--jitter-ms N]
                          boot a two-DC lab of machines (prints the topology's path last)
  down                    power everything off and remove the lab's networks
  reset                   down, then up with the same settings (fresh disks)
  status [--json]         machines, units, ZooKeeper and etcd as each machine says
  exec <node> -- <cmd...> run a command as root inside a machine (exit code passed through)
  power-off <dc>          power cut: every machine of the DC stops at once
  power-on <dc>           the DC's machines boot with the files on their disks
  partition <dc>          cut the DC off from the other DC and from the host
  heal                    undo every partition
<dc> is madrid, barcelona, main or secondary. The lab dir is .lab/ (or $DCFAIL_LAB_DIR).`;

function flag(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  if (i < 0) return undefined;
  const v = args[i + 1];
  if (v === undefined || v.startsWith('--')) throw new LabError(`${name} needs a value`);
  return v;
}

function number(args: string[], name: string, fallback: number, max: number): number {
  const raw = flag(args, name);
  if (raw === undefined) return fallback;
  if (!/^\d+(?:\.\d+)?$/.test(raw) || Number(raw) > max) throw new LabError(`${name} takes a number of milliseconds from 0 to ${max}, not '${raw}'`);
  return Number(raw);
}

function renderStatus(s: LabStatus): string {
  if (!s.running) return `no lab running in ${s.dir}\n`;
  const lines = [
    `lab ${s.dir}: ${s.masters} masters, DC/OS ${s.dcos} units, link delay ${s.latencyMs} ms, time scale ${s.timeScale}` +
      `${s.partitioned.length ? `; partitioned: ${s.partitioned.join(', ')}` : ''}${s.poweredOff.length ? `; powered off: ${s.poweredOff.join(', ')}` : ''}`,
  ];
  for (const m of s.machines) {
    if (!m.powered) {
      lines.push(`  ${m.name.padEnd(9)} ${m.dc.padEnd(10)} ${m.address.padEnd(12)} powered off`);
      continue;
    }
    const units = Object.entries(m.units)
      .map(([u, st]) => `${u}=${st}`)
      .join(' ');
    const probes = m.zookeeper === undefined ? 'unreachable from the host' : `zk=${m.zookeeper} etcd=${m.etcd ? 'healthy' : 'unhealthy'}`;
    lines.push(`  ${m.name.padEnd(9)} ${m.dc.padEnd(10)} ${m.address.padEnd(12)} ${m.system ?? '?'}; ${units}; ${probes}`);
  }
  if (s.topologyPath) lines.push(`topology: ${s.topologyPath}`);
  return `${lines.join('\n')}\n`;
}

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const progress = (m: string) => process.stderr.write(`lab: ${m}\n`);
  const dcArg = () => {
    const dc = rest[0];
    if (!dc) throw new LabError(`${cmd} needs a datacenter (madrid, barcelona, main or secondary)`);
    return dc;
  };
  switch (cmd) {
    case 'up': {
      const masters = Number(flag(rest, '--masters') ?? 3);
      if (masters !== 3 && masters !== 5) throw new LabError('--masters takes 3 or 5');
      const dcos = flag(rest, '--dcos') ?? '2.2';
      if (dcos !== '2.1' && dcos !== '2.2') throw new LabError('--dcos takes 2.1 or 2.2');
      const lab = await labUp({
        masters: masters as MasterCount,
        dcos: dcos as DcosVersion,
        latencyMs: number(rest, '--latency-ms', 2, 1000),
        jitterMs: number(rest, '--jitter-ms', 0.5, 1000),
        onProgress: progress,
      });
      progress(`up in ${(lab.durationMs / 1000).toFixed(1)} s: ${lab.layout.nodes.map((n) => `${n.name}=${n.address} (${n.dc})`).join(', ')}`);
      process.stdout.write(`${lab.topologyPath}\n`);
      return 0;
    }
    case 'down':
      await labDown();
      progress('down');
      return 0;
    case 'reset': {
      const lab = await labReset({ onProgress: progress });
      progress(`reset in ${(lab.durationMs / 1000).toFixed(1)} s`);
      process.stdout.write(`${lab.topologyPath}\n`);
      return 0;
    }
    case 'status': {
      const s = await labStatus();
      process.stdout.write(rest.includes('--json') ? `${JSON.stringify(s, null, 2)}\n` : renderStatus(s));
      return s.running ? 0 : 1;
    }
    case 'exec': {
      const node = rest[0];
      const sep = rest.indexOf('--');
      if (!node || node === '--' || sep < 0 || sep === rest.length - 1) throw new LabError('usage: exec <node> -- <command...>');
      const r = await labExec(node, rest.slice(sep + 1), { timeoutMs: 10 * 60_000 });
      process.stdout.write(r.stdout);
      process.stderr.write(r.stderr);
      return r.exitCode;
    }
    case 'power-off': {
      const r = await powerOff(dcArg());
      progress(`powered off ${r.dc}: ${r.machines.join(', ') || 'nothing was on'}`);
      return 0;
    }
    case 'power-on': {
      const r = await powerOn(dcArg());
      progress(`powered on ${r.dc}: ${r.machines.join(', ') || 'everything was on'} (booting; dcos.target starts every unit with the files on disk)`);
      return 0;
    }
    case 'partition': {
      const dc = await partition(dcArg());
      progress(`partitioned ${dc}: cut off from the other DC and from the host`);
      return 0;
    }
    case 'heal':
      await heal();
      progress('healed: every partition undone');
      return 0;
    default:
      process.stderr.write(`${USAGE}\n`);
      return cmd === undefined ? 0 : 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`lab: ${err instanceof Error && !(err instanceof LabError) ? (err.stack ?? err.message) : (err as Error).message}\n`);
    process.exit(1);
  },
);
