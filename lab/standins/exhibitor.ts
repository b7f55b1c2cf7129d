/**
 * An Exhibitor stand-in: does what DC/OS's Exhibitor does with a static ensemble, nothing more.
 *
 *   node exhibitor.js --env-file F --address IP --zk-data-dir D --conf-dir D [--client-port 2181]
 *
 * - reads EXHIBITOR_STATICENSEMBLE (`id:ip,...`) from the exhibitor env file;
 * - refuses to start (exit 1) when this node's address is not in the ensemble;
 * - writes zoo.cfg (`server.N=ip:2888:3888`, dataDir <zkDataDir>/snapshot, dataLogDir
 *   <zkDataDir>/transactions) and myid, then runs ZooKeeper as its child; a single-server
 *   ensemble gives a zoo.cfg with one server line, which ZooKeeper runs standalone;
 * - exits when ZooKeeper exits (the supervisor restarts it), stops ZooKeeper on SIGTERM.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { parseEnsemble, parseEnvFile, PORTS } from '../layout.js';

function log(msg: string): void {
  process.stdout.write(`${new Date().toISOString()} exhibitor[${process.pid}] ${msg}\n`);
}

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

export const ZK_JVM_FLAGS = ['-Xmx256m', '-XX:+UseSerialGC', '-XX:TieredStopAtLevel=1', '-XX:-UsePerfData', '-Djava.net.preferIPv4Stack=true'];
export const ZK_CLASSPATH = '/usr/share/java/zookeeper.jar:/usr/share/java/slf4j-simple.jar';

export function renderZooCfg(opts: { ensemble: readonly { id: number; address: string }[]; self: string; clientPort: number; zkDataDir: string }): string {
  return [
    '# Written by the Exhibitor stand-in from EXHIBITOR_STATICENSEMBLE; do not edit.',
    'tickTime=2000',
    'initLimit=10',
    'syncLimit=5',
    `dataDir=${opts.zkDataDir}/snapshot`,
    `dataLogDir=${opts.zkDataDir}/transactions`,
    `clientPort=${opts.clientPort}`,
    `clientPortAddress=${opts.self}`,
    'admin.enableServer=false',
    '4lw.commands.whitelist=srvr,mntr,ruok,stat,conf,cons,isro',
    'autopurge.purgeInterval=0',
    ...opts.ensemble.map((s) => `server.${s.id}=${s.address}:${PORTS.zkPeer}:${PORTS.zkElection}`),
    '',
  ].join('\n');
}

function writeAtomic(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  writeFileSync(tmp, text, { mode: 0o644 });
  renameSync(tmp, path);
}

function main(): void {
  const envFile = arg('env-file');
  const self = arg('address');
  const zkDataDir = arg('zk-data-dir');
  const confDir = arg('conf-dir');
  const clientPort = Number(arg('client-port') ?? PORTS.zkClient);
  if (!envFile || !self || !zkDataDir || !confDir) {
    log('usage: exhibitor --env-file F --address IP --zk-data-dir D --conf-dir D');
    process.exit(2);
  }
  const value = parseEnvFile(readFileSync(envFile, 'utf8')).get('EXHIBITOR_STATICENSEMBLE');
  if (!value) {
    log(`E ${envFile}: EXHIBITOR_STATICENSEMBLE is missing`);
    process.exit(1);
  }
  const ensemble = parseEnsemble(value);
  const me = ensemble.find((s) => s.address === self);
  if (!me) {
    log(`E refusing to start ZooKeeper: this node (${self}) is not in EXHIBITOR_STATICENSEMBLE=${value}`);
    process.exit(1);
  }
  mkdirSync(`${zkDataDir}/snapshot`, { recursive: true });
  mkdirSync(`${zkDataDir}/transactions`, { recursive: true });
  mkdirSync(confDir, { recursive: true });
  const cfgPath = `${confDir}/zoo.cfg`;
  writeAtomic(cfgPath, renderZooCfg({ ensemble, self, clientPort, zkDataDir }));
  writeAtomic(`${zkDataDir}/snapshot/myid`, `${me.id}\n`);
  log(`ensemble ${value}: this node is server ${me.id}${ensemble.length === 1 ? ' (standalone)' : ''}; starting ZooKeeper with ${cfgPath}`);

  const zk = spawn('java', [...ZK_JVM_FLAGS, '-cp', ZK_CLASSPATH, 'org.apache.zookeeper.server.quorum.QuorumPeerMain', cfgPath], {
    stdio: ['ignore', 'inherit', 'inherit'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: '/root' },
  });
  let stopping = false;
  const stop = (sig: NodeJS.Signals) => {
    stopping = true;
    log(`received ${sig}, stopping ZooKeeper`);
    zk.kill('SIGTERM');
    setTimeout(() => zk.kill('SIGKILL'), 5000).unref();
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
  zk.on('exit', (code, signal) => {
    log(`ZooKeeper exited (${signal ?? `code ${code}`})`);
    process.exit(stopping ? 0 : 1);
  });
}

main();
