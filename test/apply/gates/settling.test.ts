/**
 * The pure judgement of the first seconds after a loss: a survivor that still counts the lost DC
 * in is settling while its own timer may still run, and reaches the lost DC once that is past.
 * Times are plain numbers (ms); the windows are written out by hand, not computed by the code under test.
 */
import { describe, expect, it } from 'vitest';
import {
  etcdWindow,
  judgeSettling,
  secondsUp,
  settlingLines,
  shouldLookAgain,
  zookeeperWindow,
  type LostView,
} from '../../../src/apply/gates/settling.js';
import { parseZkConf } from '../../../src/components/zookeeper/probe.js';
import { readEtcdEnv } from '../../../src/components/etcd/settings.js';
import { parseEnvFile } from '../../../src/core/env-file.js';

const ZK: LostView = {
  node: 'master-3',
  cluster: 'exhibitor',
  message: "ZooKeeper on master-3 serves in an ensemble with madrid's servers",
};
const ETCD: LostView = { node: 'master-3', cluster: 'etcd', message: 'etcd on master-3 follows a leader in madrid' };
const WINDOWS = (v: LostView) =>
  v.cluster === 'exhibitor' ? { ms: 10_000, why: 'zk 10 s' } : { ms: 2000, why: 'etcd 2 s' };
const judge = (samples: { atMs: number; views: LostView[] }[]) =>
  judgeSettling({ silentByMs: 1000, samples, windowOf: WINDOWS, marginMs: 2000 });

describe('judgeSettling', () => {
  it('no survivor counts the lost DC in at the last look: settled, whatever the looks before said', () => {
    expect(judge([{ atMs: 1000, views: [] }])).toEqual({ kind: 'settled' });
    expect(
      judge([
        { atMs: 1000, views: [ZK, ETCD] },
        { atMs: 2000, views: [ZK] },
        { atMs: 9000, views: [] },
      ]),
    ).toEqual({ kind: 'settled' });
  });

  it('a follower seen one second after the first look is settling, and says how long its window has left', () => {
    // silent by 1000, window 10 000 + margin 2000: surely noticed by 13 000; seen at 2000: 11 000 to go.
    const j = judge([
      { atMs: 1000, views: [ZK] },
      { atMs: 2000, views: [ZK] },
    ]);
    expect(j).toEqual({
      kind: 'settling',
      waiting: [{ view: ZK, window: { ms: 10_000, why: 'zk 10 s' }, ms: 11_000 }],
    });
  });

  it('at the very end of the window it still settles; one millisecond past it the survivor reaches the lost DC', () => {
    expect(judge([{ atMs: 13_000, views: [ZK] }]).kind).toBe('settling');
    const j = judge([{ atMs: 13_001, views: [ZK] }]);
    expect(j).toEqual({
      kind: 'still-counts-lost',
      past: [{ view: ZK, window: { ms: 10_000, why: 'zk 10 s' }, ms: 12_001 }],
    });
  });

  it('each service has its own window: etcd past its 2 s while ZooKeeper still settles is a survivor that reaches the lost DC', () => {
    const j = judge([{ atMs: 6000, views: [ZK, ETCD] }]);
    expect(j.kind).toBe('still-counts-lost');
    if (j.kind === 'still-counts-lost') expect(j.past.map((p) => p.view.cluster)).toEqual(['etcd']);
  });

  it('looks again only while settling and before the budget ends', () => {
    const settling = judge([{ atMs: 1000, views: [ZK] }]);
    expect(shouldLookAgain(settling, 5000, 7000)).toBe(true);
    expect(shouldLookAgain(settling, 7000, 7000)).toBe(false);
    expect(shouldLookAgain({ kind: 'settled' }, 1000, 7000)).toBe(false);
    expect(shouldLookAgain(judge([{ atMs: 20_000, views: [ZK] }]), 1000, 30_000)).toBe(false);
  });

  it('the lines say settling and how long to wait, or that the survivor still reaches the lost DC', () => {
    const settling = settlingLines(judge([{ atMs: 2000, views: [ZK] }]), 'madrid');
    expect(settling).toEqual([
      "ZooKeeper on master-3 serves in an ensemble with madrid's servers, though no probe reaches madrid: it is settling (zk 10 s); wait 11 s and run again",
    ]);
    const past = settlingLines(judge([{ atMs: 20_000, views: [ZK] }]), 'madrid');
    expect(past[0]).toContain('19 s after every probe of madrid failed, longer than zk 10 s');
    expect(past[0]).toContain('it still reaches madrid, which dcfail cannot');
    expect(settlingLines({ kind: 'settled' }, 'madrid')).toEqual([]);
  });

  it('waits are whole seconds rounded up, at least one', () => {
    expect(secondsUp(0)).toBe(1);
    expect(secondsUp(1000)).toBe(1);
    expect(secondsUp(1001)).toBe(2);
    expect(secondsUp(10_999)).toBe(11);
  });
});

describe('the windows', () => {
  it("ZooKeeper: syncLimit x tickTime plus one tick, from the server's conf, else DC/OS's 5 x 2000 ms", () => {
    expect(zookeeperWindow({ tickTimeMs: 3000, syncLimit: 4 }).ms).toBe(15_000);
    expect(zookeeperWindow({ tickTimeMs: 3000, syncLimit: 4 }).why).toContain(
      '4 x 3000 ms plus one tick, its own conf',
    );
    expect(zookeeperWindow(undefined).ms).toBe(12_000);
    expect(zookeeperWindow(undefined).why).toContain("DC/OS's zoo.cfg values");
  });

  it("etcd: twice the election timeout, etcd's 1000 ms when the file does not set it", () => {
    expect(etcdWindow(2500).ms).toBe(5000);
    expect(etcdWindow(undefined).ms).toBe(2000);
  });

  it('conf: tickTime and syncLimit from a 3.4 reply; anything else is no answer', () => {
    const reply = [
      'clientPort=2181',
      'dataDir=/var/lib/dcos/exhibitor/zookeeper/snapshot/version-2',
      'tickTime=2000',
      'maxClientCnxns=0',
      'serverId=3',
      'initLimit=10',
      'syncLimit=5',
      'electionAlg=3',
      '',
    ].join('\n');
    expect(parseZkConf(reply)).toEqual({ tickTimeMs: 2000, syncLimit: 5 });
    expect(parseZkConf('This ZooKeeper instance is not currently serving requests\n')).toBeUndefined();
    expect(parseZkConf('tickTime=2000\nsyncLimit=0\n')).toBeUndefined();
    expect(parseZkConf('tickTime=99999999999\nsyncLimit=5\n')).toBeUndefined();
    expect(parseZkConf('tickTime=2000;rm -rf /\nsyncLimit=5\n')).toBeUndefined();
  });

  it('etcd env file: ETCD_ELECTION_TIMEOUT in ms when it is a plain positive number', () => {
    const id = (text: string) => readEtcdEnv(parseEnvFile(text)).identity.electionTimeoutMs;
    expect(id('ETCD_NAME=master-3\nETCD_ELECTION_TIMEOUT=2500\n')).toBe(2500);
    expect(id('ETCD_NAME=master-3\n')).toBeUndefined();
    expect(id('ETCD_ELECTION_TIMEOUT=0\n')).toBeUndefined();
    expect(id('ETCD_ELECTION_TIMEOUT=1s\n')).toBeUndefined();
  });
});
