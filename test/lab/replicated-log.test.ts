/** The Mesos stand-in's replicated-log rules, as a pure function (the lab suites test them live). */
import { describe, expect, it } from 'vitest';
import { canRecoverRegistrar, decideRecovery, EMPTY_LOG, type PeerView, type ReplicaLog } from '../../lab/standins/replicated-log.js';

const voting = (version: number): ReplicaLog => ({ status: 'VOTING', version, entries: Array.from({ length: version }, (_, i) => ({ version: i + 1, data: i, at: '' })) });
const starting: ReplicaLog = { status: 'STARTING', version: 0, entries: [] };
const peer = (address: string, log: ReplicaLog): PeerView => ({ kind: 'answered', address, log });
const down = (address: string): PeerView => ({ kind: 'unreachable', address });

describe('decideRecovery', () => {
  it('an EMPTY replica next to a lone VOTING one stays EMPTY at quorum 2', () => {
    const d = decideRecovery(EMPTY_LOG, [peer('a', voting(3))], 2);
    expect(d.kind).toBe('wait');
  });

  it('an EMPTY replica next to a lone VOTING one and an EMPTY one stays EMPTY (no auto-initialisation)', () => {
    expect(decideRecovery(EMPTY_LOG, [peer('a', voting(3)), peer('b', EMPTY_LOG)], 2).kind).toBe('wait');
  });

  it('catches up from a quorum of VOTING replicas, taking the newest registry', () => {
    const d = decideRecovery(EMPTY_LOG, [peer('a', voting(3)), peer('b', voting(5))], 2);
    expect(d).toMatchObject({ kind: 'catch-up', voting: 2 });
    if (d.kind === 'catch-up') expect(d.from.version).toBe(5);
  });

  it('auto-initialises when every registered replica is EMPTY and they reach the quorum (the trap)', () => {
    expect(decideRecovery(EMPTY_LOG, [peer('a', EMPTY_LOG), peer('b', EMPTY_LOG)], 2).kind).toBe('auto-initialize-start');
    expect(decideRecovery(EMPTY_LOG, [peer('a', EMPTY_LOG)], 2).kind).toBe('auto-initialize-start');
    expect(decideRecovery(starting, [peer('a', starting)], 2).kind).toBe('auto-initialize-finish');
    expect(decideRecovery(starting, [peer('a', voting(0))], 2).kind).toBe('auto-initialize-finish');
  });

  it('does not auto-initialise alone, nor while a registered replica does not answer', () => {
    expect(decideRecovery(EMPTY_LOG, [], 2).kind).toBe('wait');
    expect(decideRecovery(EMPTY_LOG, [peer('a', EMPTY_LOG), down('b')], 2).kind).toBe('wait');
    expect(decideRecovery(EMPTY_LOG, [peer('a', EMPTY_LOG), peer('b', EMPTY_LOG)], 3).kind).toBe('auto-initialize-start');
    expect(decideRecovery(EMPTY_LOG, [peer('a', EMPTY_LOG)], 3).kind).toBe('wait');
  });

  it('a STARTING replica does not join a VOTING minority that holds data', () => {
    expect(decideRecovery(starting, [peer('a', voting(2))], 2).kind).toBe('wait');
  });

  it('a VOTING replica has nothing to do', () => {
    expect(decideRecovery(voting(1), [], 2).kind).toBe('already-voting');
  });
});

describe('canRecoverRegistrar', () => {
  it('needs its own replica VOTING and a quorum of VOTING replicas including itself', () => {
    expect(canRecoverRegistrar('VOTING', 1, 2)).toBe(true);
    expect(canRecoverRegistrar('VOTING', 0, 2)).toBe(false);
    expect(canRecoverRegistrar('EMPTY', 2, 2)).toBe(false);
    expect(canRecoverRegistrar('VOTING', 1, 3)).toBe(false);
  });
});
