/**
 * The lab's systemctl: what the topology's command templates run on a node (through ssh and
 * `sudo -n`), via the generated `<lab>/bin/labctl` wrapper.
 *
 *   labctl <labDir> start|stop|restart|mask|disable|unmask|enable|is-active|is-enabled|exists|show|hold <node> <unit>
 *   labctl <labDir> daemon-reload <node>
 *
 * `show` prints systemctl show's LoadState, ActiveState, SubState and ConditionResult lines. `hold`
 * (the lab's fence) writes a unit's hold flag and drop-in out of band. The supervisor reads the
 * units' drop-ins at boot and at daemon-reload, as systemd does: a held unit's start succeeds and
 * leaves it inactive (ConditionResult=no).
 *
 * Exit status as systemctl's: 0 done (is-active: running; is-enabled: `enabled`), 1 failed (is-enabled:
 * `masked`), 3 not running.
 */
import { sendRequest, type UnitAction } from './protocol.js';

const ALIASES: Record<string, UnitAction> = {
  start: 'start',
  stop: 'stop',
  restart: 'restart',
  mask: 'mask',
  disable: 'mask',
  unmask: 'unmask',
  enable: 'unmask',
  'is-active': 'is-active',
  isActive: 'is-active',
  show: 'show',
  hold: 'hold',
};

async function main(): Promise<number> {
  const [dir, verb, node, unit] = process.argv.slice(2);
  if (dir && verb === 'daemon-reload' && node) {
    try {
      const res = await sendRequest(`${dir}/supervisor.sock`, { op: 'daemon-reload', node });
      if (!res.ok) {
        process.stderr.write(`${res.error}\n`);
        return 1;
      }
      return 0;
    } catch (err) {
      process.stderr.write(`labctl: the lab supervisor does not answer (${(err as Error).message})\n`);
      return 1;
    }
  }
  // `exists`: the unit is known on the node (systemctl cat), whatever its state.
  const isExists = verb === 'exists';
  // `is-enabled`: the supervisor's is-active answer carries the unit's masked state too.
  const isEnabled = verb === 'is-enabled' || verb === 'isEnabled';
  const op = isExists || isEnabled ? 'is-active' : verb ? ALIASES[verb] : undefined;
  if (!dir || !op || !node || !unit) {
    process.stderr.write('usage: labctl start|stop|restart|mask|unmask|is-active|is-enabled|show|hold <node> <unit> | daemon-reload <node>\n');
    return 2;
  }
  let res;
  try {
    res = await sendRequest(`${dir}/supervisor.sock`, { op, node, unit: unit.replace(/\.service$/, '') });
  } catch (err) {
    process.stderr.write(`labctl: the lab supervisor does not answer (${(err as Error).message})\n`);
    return 1;
  }
  if (!res.ok) {
    process.stderr.write(`${res.error}\n`);
    return isExists ? 1 : op === 'is-active' ? 3 : 1;
  }
  if (isExists) return 0;
  if (isEnabled) {
    const masked = (res.result as { masked?: boolean }).masked === true;
    process.stdout.write(`${masked ? 'masked' : 'enabled'}\n`);
    return masked ? 1 : 0;
  }
  if (op === 'show') {
    const r = res.result as { load: string; active: string; sub: string; condition: string };
    process.stdout.write(`LoadState=${r.load}\nActiveState=${r.active}\nSubState=${r.sub}\nConditionResult=${r.condition}\n`);
    return 0;
  }
  if (op === 'is-active') {
    const active = (res.result as { active: boolean }).active;
    process.stdout.write(`${active ? 'active' : 'inactive'}\n`);
    return active ? 0 : 3;
  }
  return 0;
}

main().then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`labctl: ${(err as Error).message}\n`);
    process.exit(1);
  },
);
