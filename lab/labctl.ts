/**
 * The lab's systemctl: what the topology's command templates run on a node (through ssh and
 * `sudo -n`), via the generated `<lab>/bin/labctl` wrapper.
 *
 *   labctl <labDir> start|stop|restart|mask|disable|unmask|enable|is-active|is-enabled|exists <node> <unit>
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
};

async function main(): Promise<number> {
  const [dir, verb, node, unit] = process.argv.slice(2);
  // `exists`: the unit is known on the node (systemctl cat), whatever its state.
  const isExists = verb === 'exists';
  // `is-enabled`: the supervisor's is-active answer carries the unit's masked state too.
  const isEnabled = verb === 'is-enabled' || verb === 'isEnabled';
  const op = isExists || isEnabled ? 'is-active' : verb ? ALIASES[verb] : undefined;
  if (!dir || !op || !node || !unit) {
    process.stderr.write('usage: labctl start|stop|restart|mask|unmask|is-active|is-enabled <node> <unit>\n');
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
