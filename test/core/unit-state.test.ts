/** What a unit's state says after a start: up, to wait for (systemd retries it), or refused for good. */
import { describe, expect, it } from 'vitest';
import { judgeStart, parseUnitShow } from '../../src/core/unit-state.js';

const show = (load: string, active: string, sub: string, condition: string) =>
  parseUnitShow(`LoadState=${load}\nActiveState=${active}\nSubState=${sub}\nConditionResult=${condition}\n`);

describe('parseUnitShow', () => {
  it('reads systemctl show lines in any order, ignores others, leaves missing ones empty', () => {
    expect(parseUnitShow('ActiveState=active\nFoo=bar=baz\nLoadState=loaded\n')).toEqual({
      load: 'loaded',
      active: 'active',
      sub: '',
      condition: '',
    });
    expect(parseUnitShow('')).toEqual({ load: '', active: '', sub: '', condition: '' });
  });
});

describe('judgeStart', () => {
  it('a running unit is up', () => {
    expect(judgeStart(show('loaded', 'active', 'running', 'yes'))).toEqual({ kind: 'up' });
  });

  it("the Mesos pre-start check refused the start: systemd's retry is pending, not a failure", () => {
    expect(judgeStart(show('loaded', 'activating', 'auto-restart', 'yes'))).toEqual({
      kind: 'pending',
      seen: 'activating (auto-restart)',
    });
    expect(judgeStart(show('loaded', 'activating', 'start-pre', 'yes')).kind).toBe('pending');
    // A unit that exited and is not (yet) told to restart: still waited for, within the budget.
    expect(judgeStart(show('loaded', 'failed', 'failed', 'yes')).kind).toBe('pending');
  });

  it('systemd refusing outright is final: a failed condition (a held unit), masked, not found, unloadable', () => {
    expect(judgeStart(show('loaded', 'inactive', 'dead', 'no'))).toMatchObject({
      kind: 'refused',
      why: expect.stringMatching(/condition failed.*held/),
    });
    expect(judgeStart(show('masked', 'inactive', 'dead', 'yes'))).toMatchObject({ kind: 'refused' });
    expect(judgeStart(show('not-found', 'inactive', 'dead', 'yes'))).toMatchObject({
      kind: 'refused',
      why: 'the unit does not exist',
    });
    expect(judgeStart(show('bad-setting', 'inactive', 'dead', 'yes')).kind).toBe('refused');
  });

  it('a failed condition of an earlier start does not refuse a unit that runs now', () => {
    expect(judgeStart(show('loaded', 'active', 'running', 'no'))).toEqual({ kind: 'up' });
  });
});
