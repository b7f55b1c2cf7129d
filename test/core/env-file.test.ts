import { describe, expect, it } from 'vitest';
import { applyEnvChanges, envHolds, parseEnvFile } from '../../src/core/env-file.js';
import { parseEnsemble, renderEnsemble } from '../../src/components/zookeeper/settings.js';
import { parseInitialCluster, peerUrlOf, renderInitialCluster } from '../../src/components/etcd/settings.js';

const MESOS = `# DC/OS mesos-master settings
MESOS_WORK_DIR=/var/lib/dcos/mesos/master
MESOS_QUORUM=2
MESOS_ZK=zk://zk-1.zk:2181/mesos
`;

describe('env files', () => {
  it('replaces a setting in place and keeps every other line and comment', () => {
    expect(applyEnvChanges(MESOS, { MESOS_QUORUM: '1' })).toBe(MESOS.replace('MESOS_QUORUM=2', 'MESOS_QUORUM=1'));
  });

  it('removes a setting with null, appends a new one, drops duplicates of a changed key', () => {
    const text = 'A=1\nETCD_FORCE_NEW_CLUSTER=true\nB=2\nA=3\n';
    expect(applyEnvChanges(text, { ETCD_FORCE_NEW_CLUSTER: null, A: '9', C: 'x y' })).toBe('A=9\nB=2\nC="x y"\n');
  });

  it('parses quoted values, export prefixes, and a later line wins', () => {
    const m = parseEnvFile('export A="1 2"\nB=\'x\'\n# C=3\nB=y\n');
    expect([...m]).toEqual([
      ['A', '1 2'],
      ['B', 'y'],
    ]);
    expect(envHolds(m, { B: 'y', C: null })).toBe(true);
    expect(envHolds(m, { B: 'x' })).toBe(false);
  });

  it('round-trips: what is written parses back to the changes', () => {
    const out = applyEnvChanges(MESOS, {
      MESOS_QUORUM: '3',
      EXHIBITOR_STATICENSEMBLE: '1:10.0.0.1,2:10.0.0.2',
      Q: 'a"$b',
    });
    const m = parseEnvFile(out);
    expect(m.get('MESOS_QUORUM')).toBe('3');
    expect(m.get('EXHIBITOR_STATICENSEMBLE')).toBe('1:10.0.0.1,2:10.0.0.2');
    expect(out).toContain('Q="a\\"\\$b"');
  });
});

describe('ensemble and initial-cluster strings', () => {
  it('renders the ensemble ordered by id and parses it back', () => {
    const s = renderEnsemble([
      { id: 3, address: '10.20.1.11' },
      { id: 1, address: '10.10.1.11' },
    ]);
    expect(s).toBe('1:10.10.1.11,3:10.20.1.11');
    expect(parseEnsemble(s)).toEqual([
      { id: 1, address: '10.10.1.11' },
      { id: 3, address: '10.20.1.11' },
    ]);
    expect(parseEnsemble('1:a,oops')).toBeNull();
  });

  it('renders ETCD_INITIAL_CLUSTER in member order and parses it back', () => {
    const s = renderInitialCluster([
      { name: 'm3', peerUrl: peerUrlOf('10.20.1.11', 2380) },
      { name: 'm1', peerUrl: peerUrlOf('::1', 2380) },
    ]);
    expect(s).toBe('m3=http://10.20.1.11:2380,m1=http://[::1]:2380');
    expect(parseInitialCluster(s)?.map((m) => m.name)).toEqual(['m3', 'm1']);
    expect(parseInitialCluster('=x')).toBeNull();
  });
});
