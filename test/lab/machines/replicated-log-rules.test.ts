/**
 * The replica's Paxos rules (lab/machines/standins/log-replica.ts, from apache/mesos
 * src/log/replica.cpp), on real files in a temporary directory.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { afterEach, describe, expect, it } from 'vitest';
import { allocateSubnet } from '../../../lab/machines/standins/mesos-overlay.js';
import { Replica } from '../../../lab/machines/standins/log-replica.js';

const dirs: string[] = [];
function fresh(): string {
  const d = mkdtempSync(`${tmpdir()}/replica-`);
  dirs.push(d);
  return d;
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function voting(dir = fresh()): Replica {
  const r = Replica.open(dir);
  r.updateStatus('VOTING');
  return r;
}

describe('replica rules (src/log/replica.cpp)', () => {
  it('a new replica is EMPTY with no promise, and persists that at once', () => {
    const d = fresh();
    const r = Replica.open(d);
    expect(r.status).toBe('EMPTY');
    expect(r.promised).toBe(0);
    expect(JSON.parse(readFileSync(`${d}/METADATA`, 'utf8'))).toEqual({ status: 'EMPTY', promised: 0 });
  });

  it('a replica that is not VOTING ignores promises and writes', () => {
    const r = Replica.open(fresh());
    r.updateStatus('RECOVERING');
    expect(r.onPromise({ proposal: 5 }).type).toBe('IGNORED');
    expect(r.onWrite({ proposal: 5, position: 1, type: 'NOP' })?.type).toBe('IGNORED');
    expect(r.promised).toBe(0);
    expect(r.read(1)).toBeUndefined();
  });

  it('an implicit promise is given once per proposal and returns the end of the log', () => {
    const r = voting();
    r.persist({ position: 3, promised: 0, performed: 1, learned: true, type: 'NOP' });
    expect(r.onPromise({ proposal: 2 })).toMatchObject({ type: 'ACCEPT', okay: true, position: 3 });
    expect(r.promised).toBe(2);
    expect(r.onPromise({ proposal: 2 })).toMatchObject({ type: 'REJECT', proposal: 2 });
    expect(r.onPromise({ proposal: 1 })).toMatchObject({ type: 'REJECT', proposal: 2 });
  });

  it('an explicit promise hands back the action already there, and refuses a lower proposal', () => {
    const r = voting();
    expect(r.onWrite({ proposal: 1, position: 4, type: 'APPEND', value: 'x' })?.type).toBe('ACCEPT');
    const p = r.onPromise({ proposal: 3, position: 4 });
    expect(p.type).toBe('ACCEPT');
    expect(p.action).toMatchObject({ position: 4, performed: 1, type: 'APPEND', value: 'x' });
    expect(r.onPromise({ proposal: 2, position: 4 })).toMatchObject({ type: 'REJECT', proposal: 3 });
    // A write below the position's promise is rejected.
    expect(r.onWrite({ proposal: 2, position: 4, type: 'NOP' })).toMatchObject({ type: 'REJECT', proposal: 3 });
    expect(r.read(4)?.value).toBe('x');
  });

  it('a learned position is never overwritten by a write (the write gets no reply)', () => {
    const r = voting();
    r.onLearned({ position: 2, promised: 1, performed: 1, learned: true, type: 'APPEND', value: 'agreed' });
    expect(r.onWrite({ proposal: 9, position: 2, type: 'APPEND', value: 'other' })).toBeUndefined();
    expect(r.read(2)).toMatchObject({ learned: true, value: 'agreed' });
    // An unlearned position is overwritten by a write with a high enough proposal.
    r.onWrite({ proposal: 1, position: 3, type: 'APPEND', value: 'first' });
    expect(r.onWrite({ proposal: 2, position: 3, type: 'APPEND', value: 'second' })?.type).toBe('ACCEPT');
    expect(r.read(3)?.value).toBe('second');
  });

  it('a learned notice is persisted as it comes, even over a different learned value (replica.cpp learned() checks nothing)', () => {
    const r = voting();
    r.onLearned({ position: 5, promised: 1, performed: 1, learned: true, type: 'APPEND', value: 'mine' });
    r.onLearned({ position: 5, promised: 4, performed: 4, learned: true, type: 'APPEND', value: 'theirs' });
    expect(r.read(5)?.value).toBe('theirs');
    // Even a replica that does not vote stores what it is told was learned (catch-up relies on it).
    const e = Replica.open(fresh());
    e.onLearned({ position: 0, promised: 1, performed: 1, learned: true, type: 'NOP' });
    expect(e.status).toBe('EMPTY');
    expect(e.missing(0, 0)).toEqual([]);
  });

  it('missing() lists holes and unlearned positions', () => {
    const r = voting();
    r.onLearned({ position: 0, promised: 1, performed: 1, learned: true, type: 'NOP' });
    r.onWrite({ proposal: 1, position: 2, type: 'APPEND', value: 'v' });
    expect(r.missing(0, 3)).toEqual([1, 2, 3]);
  });

  it('a byte copy of the directory is the same replica: status, promise and positions', () => {
    const d = fresh();
    const r = voting(d);
    r.onPromise({ proposal: 7 });
    r.onLearned({ position: 1, promised: 7, performed: 7, learned: true, type: 'APPEND', value: 'reg' });
    const copy = fresh();
    cpSync(d, copy, { recursive: true });
    const c = Replica.open(copy);
    expect(c.status).toBe('VOTING');
    expect(c.promised).toBe(7);
    expect(c.end).toBe(1);
    expect(c.read(1)).toMatchObject({ learned: true, value: 'reg' });
  });
});

describe('overlay subnet allocation (overlay/master.cpp Overlay::allocate)', () => {
  it('takes the lowest free /24 of 9.0.0.0/8', () => {
    const o = { name: 'dcos', subnet: '9.0.0.0/8', prefix: 24 };
    expect(allocateSubnet(o, new Set())).toBe('9.0.0.0/24');
    expect(allocateSubnet(o, new Set(['9.0.0.0/24', '9.0.2.0/24']))).toBe('9.0.1.0/24');
  });
});
