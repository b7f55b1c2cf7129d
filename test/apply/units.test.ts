/**
 * Holds and starts through the topology's templates, against a tiny service manager (a shell
 * script keeping its state in files) that behaves as systemd does for the cases that matter: a
 * drop-in condition read at daemon-reload, a pre-start check that refuses and is retried.
 */
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, stringify } from 'yaml';
import { holdUnit, liftHold, readHold, startUnit } from '../../src/apply/units.js';
import { LocalRemote } from '../../src/remote/local.js';
import { parseTopologyText } from '../../src/topology/load.js';

const D = mkdtempSync(join(tmpdir(), 'dcfail-units-'));
afterAll(() => rmSync(D, { recursive: true, force: true }));

// State per unit in $D/u.<unit>.*: active (active|activating|inactive), refuse (starts left to refuse),
// retry (shows left before systemd's retry brings an activating unit up), cond (the conditions read at reload).
const CTL = `#!/bin/sh
D=${D}
verb=$1; u=$2
st() { cat "$D/u.$u.$1" 2>/dev/null || echo "$2"; }
conds() { for f in $D/systemd/$u.service.d/*.conf; do [ -r "$f" ] && sed -n 's/^ConditionPathExists=!//p' "$f"; done; }
case "$verb" in
  daemon-reload) echo x >>"$D/reloads"; for x in $(ls $D | sed -n 's/^u\\.\\(.*\\)\\.active$/\\1/p') m; do u=$x; conds >"$D/u.$u.cond"; done ;;
  start|restart)
    for p in $(st cond ''); do if [ -e "$p" ]; then echo no >"$D/u.$u.condres"; echo inactive >"$D/u.$u.active"; exit 0; fi; done
    echo yes >"$D/u.$u.condres"
    n=$(st refuse 0)
    if [ "$n" -gt 0 ]; then echo $((n - 1)) >"$D/u.$u.refuse"; echo activating >"$D/u.$u.active"; echo "pre-start check failed" >&2; exit 1; fi
    echo active >"$D/u.$u.active" ;;
  stop) echo inactive >"$D/u.$u.active"; echo x >>"$D/stops.$u" ;;
  is-active) [ "$(st active inactive)" = active ] ;;
  show)
    a=$(st active inactive)
    if [ "$a" = activating ]; then r=$(st retry 0); if [ "$r" -le 0 ]; then a=active; echo active >"$D/u.$u.active"; else echo $((r - 1)) >"$D/u.$u.retry"; fi; fi
    printf 'LoadState=%s\\nActiveState=%s\\nSubState=x\\nConditionResult=%s\\n' "$(st load loaded)" "$a" "$(st condres yes)" ;;
  *) exit 2 ;;
esac
`;
writeFileSync(join(D, 'ctl'), CTL);
chmodSync(join(D, 'ctl'), 0o755);

const y = parse(readFileSync('fixtures/topologies/example.yaml', 'utf8')) as Record<string, never> & {
  services: Record<string, unknown>;
};
y.services['dcfail'] = { stateDir: `${D}/state`, systemdDir: `${D}/systemd` };
y.services['commands'] = {
  start: `${D}/ctl start {unit}`,
  stop: `${D}/ctl stop {unit}`,
  restart: `${D}/ctl restart {unit}`,
  reload: `${D}/ctl daemon-reload`,
  isActive: `${D}/ctl is-active {unit}`,
  show: `${D}/ctl show {unit}`,
  allowAnyProgram: true,
};
const node = parseTopologyText(stringify(y), 't.yaml').nodes[0]!;
const remote = new LocalRemote();
const set = (unit: string, key: string, v: string) => writeFileSync(join(D, `u.${unit}.${key}`), `${v}\n`);
const reloads = () =>
  existsSync(join(D, 'reloads')) ? readFileSync(join(D, 'reloads'), 'utf8').split('\n').length - 1 : 0;

describe('the hold', () => {
  it('writes flag and drop-in, reloads, stops; a held unit does not start; a re-run changes nothing; lifting lets it start', async () => {
    set('m', 'active', 'active');
    const out = await holdUnit(remote, node, 'm', 5000);
    expect(out).toMatch(/held .*reloaded.* and stopped/);
    expect(readFileSync(`${D}/state/guard/hold.m`, 'utf8')).toMatch(/held by dcfail/);
    expect(readFileSync(`${D}/systemd/m.service.d/dcfail-hold.conf`, 'utf8')).toContain(
      `ConditionPathExists=!${D}/state/guard/hold.m`,
    );
    expect(reloads()).toBe(1);
    expect(await readHold(remote, node, 'm', 5000)).toEqual({ flag: true, dropIn: true, active: false });

    // Held: systemd skips the start (exit 0, inactive, ConditionResult=no): a refused step, at once.
    const t0 = Date.now();
    await expect(startUnit(remote, node, 'start', 'm', 5000, 30_000)).rejects.toThrow(/condition failed/);
    expect(Date.now() - t0).toBeLessThan(10_000);

    // Idempotent: the drop-in is there already, no second reload; the stop runs again (a pending restart).
    expect(await holdUnit(remote, node, 'm', 5000)).not.toMatch(/reloaded/);
    expect(reloads()).toBe(1);

    await liftHold(remote, node, 'm', 5000);
    expect(await readHold(remote, node, 'm', 5000)).toEqual({ flag: false, dropIn: true, active: false });
    expect(await startUnit(remote, node, 'start', 'm', 5000, 30_000)).toBe('start m: ok');
  });

  it('a drop-in without its flag, or a flag without its drop-in, is not a hold', async () => {
    set('e', 'active', 'inactive');
    await holdUnit(remote, node, 'e', 5000);
    rmSync(`${D}/systemd/e.service.d/dcfail-hold.conf`);
    expect(await readHold(remote, node, 'e', 5000)).toEqual({ flag: true, dropIn: false, active: false });
  });
});

describe('startUnit', () => {
  it('a start the pre-start check refused is not a failure when systemd brings the unit up within the budget', async () => {
    set('p', 'refuse', '1');
    set('p', 'retry', '2');
    const out = await startUnit(remote, node, 'start', 'p', 5000, 20_000, 100);
    expect(out).toMatch(/refused at first \(exit 1: pre-start check failed\); up after \d+ s \(systemd retried it\)/);
  });

  it('fails when the unit does not come up within the budget, saying what it saw', async () => {
    set('q', 'refuse', '1');
    set('q', 'retry', '1000');
    await expect(startUnit(remote, node, 'start', 'q', 5000, 1500, 100)).rejects.toThrow(
      /start q failed \(exit 1: pre-start check failed\) and it did not come up within 1500 ms \(last seen activating/,
    );
  });

  it('a masked or missing unit is refused at once', async () => {
    set('z', 'load', 'not-found');
    set('z', 'refuse', '1');
    await expect(startUnit(remote, node, 'start', 'z', 5000, 60_000)).rejects.toThrow(/does not exist/);
  });
});
