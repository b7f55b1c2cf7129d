/**
 * `npm run lab -- up [--masters 3|5] | down | reset | status [--json] | kill-dc <dc> | revive-dc <dc>`
 * A thin wrapper over lab.ts: parse, call, render. `up` prints the topology path last.
 */
import { killDc, labDown, labReset, labStatus, labUp, LabError, reviveDc } from './lab.js';

const USAGE = 'usage: npm run lab -- up [--masters 3|5] | down | reset | status [--json] | kill-dc <dc> | revive-dc <dc>';

async function main(argv: string[]): Promise<number> {
  const [cmd, ...rest] = argv;
  const progress = (m: string) => process.stderr.write(`lab: ${m}\n`);
  switch (cmd) {
    case 'up': {
      const i = rest.indexOf('--masters');
      const masters = i >= 0 ? Number(rest[i + 1]) : 3;
      if (masters !== 3 && masters !== 5) throw new LabError('--masters takes 3 or 5');
      const lab = await labUp({ masters, onProgress: progress });
      progress(`up in ${(lab.durationMs / 1000).toFixed(1)} s: ${lab.nodes.map((n) => `${n.name}=${n.address} (${n.dc})`).join(', ')}`);
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
      if (rest.includes('--json')) {
        process.stdout.write(`${JSON.stringify(s, null, 2)}\n`);
        return s.running ? 0 : 1;
      }
      if (!s.running || !s.supervisor) {
        process.stdout.write(`no lab running in ${s.dir}\n`);
        return 1;
      }
      const sup = s.supervisor;
      process.stdout.write(`lab ${s.dir} (supervisor pid ${sup.pid})${sup.killedDcs.length ? `, killed: ${sup.killedDcs.join(', ')}` : ''}${sup.blackholed.length ? `, blackholed: ${sup.blackholed.join(', ')}` : ''}\n`);
      const byNode = new Map<string, string[]>();
      for (const u of sup.units) {
        const state = u.active ? 'active' : u.masked ? 'masked' : u.stopped ? 'stopped' : 'inactive';
        const list = byNode.get(`${u.node} (${u.dc})`) ?? [];
        list.push(`${u.unit}=${state}${u.masked && u.active ? '+masked' : ''}`);
        byNode.set(`${u.node} (${u.dc})`, list);
      }
      for (const [node, units] of byNode) process.stdout.write(`  ${node}: ${units.join(' ')}\n`);
      if (s.health) for (const c of [s.health.etcd, s.health.zookeeper, s.health.mesos]) process.stdout.write(`  ${c.ok ? 'ok  ' : 'FAIL'} ${c.detail}\n`);
      return 0;
    }
    case 'kill-dc': {
      const dc = rest[0];
      if (!dc) throw new LabError('kill-dc needs a datacenter (madrid, barcelona, main or secondary)');
      const r = await killDc(dc);
      progress(`killed ${r.killed} process(es) in ${dc}; addresses ${r.unreachable}: ${r.detail}`);
      return 0;
    }
    case 'revive-dc': {
      const dc = rest[0];
      if (!dc) throw new LabError('revive-dc needs a datacenter (madrid, barcelona, main or secondary)');
      await reviveDc(dc);
      progress(`revived ${dc}: sshd and every service not masked nor held starting with the old files`);
      return 0;
    }
    default:
      process.stderr.write(`${USAGE}\n`);
      return 2;
  }
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`lab: ${err instanceof LabError ? err.message : ((err as Error).stack ?? String(err))}\n`);
    process.exit(1);
  },
);
