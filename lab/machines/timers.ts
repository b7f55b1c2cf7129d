/**
 * Every timer of the machines lab, in one place, with DC/OS's values as the defaults. The stand-ins
 * and the rendered unit files read them from here; nothing else in the lab invents a delay.
 *
 * `DCFAIL_LAB_TIME_SCALE` (default 1) multiplies all of them together, for a test that checks the
 * order of events rather than their timing. The demo, the nothing-lost tests and the bench run at
 * scale 1: the real values. ZooKeeper's own tickTime/initLimit/syncLimit are ZooKeeper's, written
 * into zoo.cfg as Exhibitor writes them, and are never scaled.
 */

/** ZooKeeper's settings as Exhibitor writes them into zoo.cfg (dcos/exhibitor, DC/OS defaults). */
export const ZK_TICK_MS = 2000;
export const ZK_INIT_LIMIT = 10;
export const ZK_SYNC_LIMIT = 5;

/** The unscaled DC/OS values, in milliseconds. */
export const DCOS_TIMERS = {
  /** Exhibitor's `check-ms` when master_count > 1 (dcos/dcos packages/exhibitor/extra/start_exhibitor.py). */
  exhibitorCheckMsMulti: 30_000,
  /** Exhibitor's `check-ms` when master_count is 1 (same file). */
  exhibitorCheckMsSingle: 2_000,
  /**
   * Exhibitor restarts a ZooKeeper DOWN or NOT_SERVING for longer than
   * 2 x tickTime x max(initLimit, syncLimit) (dcos/exhibitor MonitorRunningInstance).
   */
  exhibitorDeadZkRestartMs: 2 * ZK_TICK_MS * Math.max(ZK_INIT_LIMIT, ZK_SYNC_LIMIT),
  /** dcos-exhibitor's ExecStartPost waits this long for ZooKeeper to answer (dcos/dcos packages/exhibitor). */
  exhibitorStartPostWaitMs: 60_000,
  /**
   * The `sleep 5` between two tries of that ExecStartPost (`until echo ruok | curl ... telnet://localhost:2181;
   * do sleep 5; done`, dcos/dcos packages/exhibitor/extra/dcos-exhibitor.service, DC/OS 2.2; absent in 2.1).
   */
  exhibitorStartPostPollMs: 5_000,
  /**
   * Exhibitor's own 4lw socket timeout towards its local ZooKeeper: its `--timeout` default, 30000 ms, which
   * DC/OS does not pass (dcos/exhibitor exhibitor-standalone ExhibitorCLI.java, state/FourLetterWord.java).
   */
  exhibitorZkTimeoutMs: 30_000,
  /**
   * Exhibitor's HTTP client towards a peer's `/exhibitor/v1/cluster/state` (what cluster/status is built from):
   * connect timeout 10000 ms, read timeout 3000 ms (dcos/exhibitor RemoteConnectionConfiguration.java defaults).
   * A powered-off peer (TCP times out, not refused) makes every cluster/status call take the connect timeout.
   */
  exhibitorRemoteConnectTimeoutMs: 10_000,
  exhibitorRemoteReadTimeoutMs: 3_000,
  /** dcos-exhibitor.service RestartSec=5. */
  exhibitorRestartMs: 5_000,
  /** dcos-mesos-master.service RestartSec=15 (StartLimitInterval=0). */
  mesosRestartMs: 15_000,
  /** Mesos' ZooKeeper session timeout (src/master/constants.hpp, MASTER_ZOOKEEPER_SESSION_TIMEOUT). */
  mesosZkSessionMs: 10_000,
  /** DC/OS sets --registry_fetch_timeout=60secs (dcos/dcos gen/dcos-config.yaml). */
  mesosRegistryFetchMs: 60_000,
  /** DC/OS sets --registry_store_timeout=60secs (same file). */
  mesosRegistryStoreMs: 60_000,
  /** A replica's recovery retries after T x (1 + rand), T = 500 ms (apache/mesos src/log/recover.cpp, RecoverProcess::finished). */
  mesosLogRecoverRetryMs: 500,
  /** One round of the log's recover protocol gives up and starts again after 10 s (src/log/recover.hpp, runRecoverProtocol's default timeout). */
  mesosLogRecoverRoundMs: 10_000,
  /** A nacked Paxos round retries with a higher proposal after T..2T, T = 100 ms (src/log/consensus.cpp, retry()). */
  mesosLogNackRetryMs: 100,
  /** The overlay module's replicated log fetch/store timeout: 5 minutes unless master.json sets replicated_log_timeout, which DC/OS does not (dcos/dcos-mesos-modules overlay/master.cpp; dcos/dcos gen/dcos-config.yaml). */
  overlayLogTimeoutMs: 300_000,
  /** The overlay module's ZooKeeper session for its log group: ZookeeperConfig.session_timeout default 10 s (overlay/messages.proto). */
  overlayZkSessionMs: 10_000,
  /** A demoted overlay manager is restarted by its ProcessSupervisor after 3 s (overlay/master.cpp). */
  overlayManagerRestartMs: 3_000,
  /** The Mesos agent's registration backoff factor, 1 s (src/slave/constants.hpp DEFAULT_REGISTRATION_BACKOFF_FACTOR); the agent stand-in re-registers at this pace. */
  agentRegistrationBackoffMs: 1_000,
  /**
   * Lab only: the Mesos stand-ins poll ZooKeeper at this period where Mesos sets a watch (leader
   * detection, group membership). Mesos reacts to a watch at once; 100 ms is the lab's lag.
   */
  labZkPollMs: 100,
  /** dcos-etcd RestartSec=10; the seed's etcd unit is treated alike. */
  etcdRestartMs: 10_000,
} as const;

export type TimerName = keyof typeof DCOS_TIMERS;
export type Timers = { readonly [K in TimerName]: number };

/** The scale from the environment: a positive number, 1 when unset. Anything else is refused. */
export function timeScale(env: NodeJS.ProcessEnv = process.env): number {
  const raw = env['DCFAIL_LAB_TIME_SCALE'];
  if (raw === undefined || raw === '') return 1;
  if (!/^(?:\d+(?:\.\d+)?|\.\d+)$/.test(raw)) throw new Error(`DCFAIL_LAB_TIME_SCALE='${raw}': expected a positive number`);
  const n = Number(raw);
  if (!(n > 0 && n <= 10)) throw new Error(`DCFAIL_LAB_TIME_SCALE=${raw}: expected a number in (0, 10]`);
  return n;
}

/** Every timer multiplied by `scale` (rounded to whole milliseconds, at least 1). */
export function scaledTimers(scale: number): Timers {
  const out = {} as Record<TimerName, number>;
  for (const [k, v] of Object.entries(DCOS_TIMERS) as [TimerName, number][]) out[k] = Math.max(1, Math.round(v * scale));
  return out;
}

/** The timers in force for this process (reads DCFAIL_LAB_TIME_SCALE). */
export function labTimers(env: NodeJS.ProcessEnv = process.env): Timers {
  return scaledTimers(timeScale(env));
}

/** systemd's time span syntax for a number of milliseconds (`15s`, `1500ms`). */
export function systemdSpan(ms: number): string {
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
