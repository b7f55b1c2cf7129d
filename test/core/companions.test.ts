/**
 * The other quorum services on the masters: what a node's answer says, on which masters each is
 * present, and what a failover away from madrid means for each. The expected words and counts are
 * written out here, not computed by the code under test.
 */
import { describe, expect, it } from 'vitest';
import { companionFindings, companionViews, parseCompanionAnswer } from '../../src/core/companions.js';

const DC = { 'master-1': 'madrid', 'master-2': 'madrid', 'master-3': 'barcelona' };

describe('parseCompanionAnswer', () => {
  it('one line per unit in catalogue order: exists exit code, is-active exit code', () => {
    expect(parseCompanionAnswer('0 0\n0 3\n1 4\n')).toEqual({
      'dcos-cockroach': { present: true, active: true },
      'dcos-marathon': { present: true, active: false },
      'dcos-metronome': { present: false, active: false },
    });
  });

  it('untrusted: a missing line, a timeout (124) or anything but two small numbers is unknown for that unit', () => {
    expect(parseCompanionAnswer('0 0\n')).toEqual({
      'dcos-cockroach': { present: true, active: true },
      'dcos-marathon': {},
      'dcos-metronome': {},
    });
    expect(parseCompanionAnswer('0 124\n0 0; rm -rf /\n00000 0\n')).toEqual({
      'dcos-cockroach': {},
      'dcos-marathon': {},
      'dcos-metronome': {},
    });
    expect(parseCompanionAnswer('')['dcos-cockroach']).toEqual({});
  });
});

describe('companionViews', () => {
  it('lists a companion present on at least one master, with where it is active and where it is unknown', () => {
    const views = companionViews([
      { name: 'master-1', companions: parseCompanionAnswer('0 0\n1 4\n1 4\n') },
      { name: 'master-2' },
      { name: 'master-3', companions: parseCompanionAnswer('0 3\n1 4\n1 4\n') },
    ]);
    expect(views).toEqual([
      {
        unit: 'dcos-cockroach',
        name: 'CockroachDB',
        kind: 'majority',
        serves: 'DC/OS IAM: logins, users, ACLs',
        presentOn: ['master-1', 'master-3'],
        activeOn: ['master-1'],
        unknownOn: ['master-2'],
      },
    ]);
  });

  it('nothing present anywhere (an older DC/OS, or not a DC/OS master): no view', () => {
    expect(companionViews([{ name: 'master-1', companions: parseCompanionAnswer('1 4\n1 4\n1 4\n') }])).toEqual([]);
  });
});

describe('companionFindings', () => {
  const everywhere = companionViews(
    ['master-1', 'master-2', 'master-3'].map((name) => ({ name, companions: parseCompanionAnswer('0 0\n0 0\n0 0\n') })),
  );

  it('CockroachDB with 1 of its 3 replicas left: IAM is down while failed over, and dcfail does not move it', () => {
    const [iam, marathon, metronome] = companionFindings(everywhere, DC, 'madrid');
    expect(iam!.code).toBe('iam-down-while-failed-over');
    expect(iam!.message).toContain(
      'dcos-cockroach (CockroachDB, DC/OS IAM: logins, users, ACLs) keeps 1 of its 3 replicas without madrid, and needs 2',
    );
    expect(iam!.message).toContain('IAM logins and ACL changes fail while the cluster runs failed over');
    expect(iam!.message).toContain('dcfail does not move it');
    expect(marathon).toEqual({
      code: 'follows-zookeeper',
      message:
        'dcos-marathon (Marathon, apps) keeps its state in ZooKeeper: it comes back with ZooKeeper on the survivors (master-3); nothing to do',
    });
    expect(metronome!.message).toMatch(/^dcos-metronome \(Metronome, jobs\) keeps its state in ZooKeeper/);
  });

  it('losing the minority DC leaves CockroachDB a majority (2 of 3)', () => {
    const [iam] = companionFindings(everywhere, DC, 'barcelona');
    expect(iam!.code).toBe('companion-keeps-majority');
    expect(iam!.message).toContain('keeps 2 of its 3 replicas without barcelona: a majority, it should keep serving');
  });

  it("the lost DC's masters cannot be asked: their replicas still count (1 of 3 left, not 1 of 1)", () => {
    const seenFromBarcelona = companionViews([
      { name: 'master-1' },
      { name: 'master-2' },
      { name: 'master-3', companions: parseCompanionAnswer('0 3\n1 4\n1 4\n') },
    ]);
    const [iam] = companionFindings(seenFromBarcelona, DC, 'madrid');
    expect(iam!.code).toBe('iam-down-while-failed-over');
    expect(iam!.message).toContain('keeps 1 of its 3 replicas without madrid, and needs 2');
  });

  it('no companion present: no finding', () => {
    expect(companionFindings([], DC, 'madrid')).toEqual([]);
  });
});
