/** The check kinds only ZooKeeper has (its steps are the generic ones: files and units). */
export type ZookeeperCheck =
  /** ZooKeeper serves on `servers` (standalone for one), accepts a test write under /dcfail. */
  | { kind: 'zookeeper'; servers: string[]; mode: 'standalone' | 'quorum' }
  /** ZooKeeper runs on the node but must not serve yet: it waits for peers of the full ensemble. */
  | { kind: 'zookeeper-waiting'; ensembleSize: number };
