/**
 * What a service manager says of a unit (`systemctl show --property=LoadState,ActiveState,SubState,
 * ConditionResult`), and what it means for a start. Pure.
 *
 * On DC/OS a start can fail and still come up: dcos-mesos-master's pre-start check exits 1 while
 * ZooKeeper does not serve, `systemctl start` exits non-zero and systemd starts it again after
 * RestartSec (the unit is `activating (auto-restart)` meanwhile). That is a start to wait for. A
 * start systemd refuses outright (no such unit, masked, a condition failed: a held unit) never
 * comes up by itself: that is a failed step at once.
 */

export interface UnitState {
  /** `loaded`, `not-found`, `masked`, `error`, ... (empty when the manager did not say). */
  readonly load: string;
  /** `active`, `activating`, `inactive`, `failed`, `deactivating`, `reloading`. */
  readonly active: string;
  readonly sub: string;
  /** `no` when the last start was skipped because a condition failed. */
  readonly condition: string;
}

/** Parses `KEY=value` lines; keys it does not know are ignored, missing ones are empty. */
export function parseUnitShow(text: string): UnitState {
  const v = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) v.set(line.slice(0, i).trim(), line.slice(i + 1).trim());
  }
  return {
    load: v.get('LoadState') ?? '',
    active: v.get('ActiveState') ?? '',
    sub: v.get('SubState') ?? '',
    condition: v.get('ConditionResult') ?? '',
  };
}

export type StartVerdict =
  /** The unit runs. */
  | { kind: 'up' }
  /** It will come up by itself or may still: starting, waiting for systemd's retry, or not told yet. */
  | { kind: 'pending'; seen: string }
  /** systemd will not start it: no point waiting. */
  | { kind: 'refused'; why: string };

function seen(s: UnitState): string {
  return `${s.active || '?'}${s.sub ? ` (${s.sub})` : ''}`;
}

/** What a unit's state says after a start or restart was asked for. */
export function judgeStart(s: UnitState): StartVerdict {
  if (s.load === 'not-found') return { kind: 'refused', why: 'the unit does not exist' };
  if (s.load === 'masked') return { kind: 'refused', why: 'the unit is masked' };
  if (s.load === 'error' || s.load === 'bad-setting')
    return { kind: 'refused', why: `the unit cannot be loaded (${s.load})` };
  if (s.active === 'active' || s.active === 'reloading') return { kind: 'up' };
  if (s.condition === 'no' && (s.active === 'inactive' || s.active === 'failed'))
    return { kind: 'refused', why: 'a start condition failed (is the unit held? a dcfail hold or drop-in condition)' };
  return { kind: 'pending', seen: seen(s) };
}
