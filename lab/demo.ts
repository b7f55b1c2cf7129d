/**
 * `npm run demo`: the main job on the bundled lab. Lab up, a write load, the main DC dies,
 * `dcfail status`, `dcfail failover`, the main DC comes back (fenced: its units stay held),
 * `dcfail failback`, `dcfail status`, then a check that every write the clusters acknowledged is
 * still there, and lab down. Each stage is shown as it happens, with its time.
 *
 *   npm run demo [-- --masters 5] [-- --keep]
 */
import { noop } from 'cockatiel';
import { Etcd3 } from 'etcd3';
import { execa } from 'execa';
import { openZk, type ZkSession } from '../src/components/zookeeper/probe.js';
import { killDc, labDown, labUp, readLayout, reviveDc, repoRoot } from './lab.js';

const started = Date.now();
const clock = () => `${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s`;
function stage(title: string): void {
  process.stdout.write(`\n\x1b[1m[${clock()}] ${title}\x1b[0m\n`);
}

async function dcfail(args: string[], okCodes: number[] = [0]): Promise<number> {
  const r = await execa('node', [`${repoRoot()}/dist/bin/dcfail.js`, ...args], { stdio: 'inherit', reject: false });
  if (!okCodes.includes(r.exitCode ?? -1)) throw new Error(`dcfail ${args.join(' ')} exited ${r.exitCode}`);
  return r.exitCode ?? -1;
}

/** Writes to etcd and ZooKeeper until stopped; remembers every write that was acknowledged. */
class WriteLoad {
  readonly etcdAcked: string[] = [];
  readonly zkAcked: string[] = [];
  failures = 0;
  private running = true;
  private done: Promise<void> = Promise.resolve();

  constructor(
    private readonly etcdEndpoints: string[],
    private readonly zkConnect: string,
  ) {}

  start(): void {
    this.done = this.loop();
  }

  private async loop(): Promise<void> {
    let i = 0;
    while (this.running) {
      i += 1;
      const key = `/demo/k${String(i).padStart(6, '0')}`;
      const etcd = new Etcd3({ hosts: this.etcdEndpoints, faultHandling: { host: () => noop, global: noop }, defaultCallOptions: () => ({ deadline: new Date(Date.now() + 1000) }) });
      try {
        await etcd.put(key).value(`v${i}`);
        this.etcdAcked.push(key);
      } catch {
        this.failures += 1;
      } finally {
        etcd.close();
      }
      let zk: ZkSession | null = null;
      try {
        zk = await openZk(this.zkConnect, 1000);
        await zk.mkdirp('/demo');
        await zk.put(`/demo/z${String(i).padStart(6, '0')}`, `v${i}`);
        this.zkAcked.push(`/demo/z${String(i).padStart(6, '0')}`);
      } catch {
        this.failures += 1;
      } finally {
        zk?.close();
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.done;
  }
}

/**
 * The load runs in a child process: the native ZooKeeper client logs every refused connection
 * to stderr from C, which would drown the demo's own output. The child reports over IPC.
 */
async function loadChild(): Promise<void> {
  const [etcdList, zkConnect] = process.argv.slice(3);
  const load = new WriteLoad(etcdList!.split(','), zkConnect!);
  load.start();
  process.on('message', async (m) => {
    if (m !== 'stop') return;
    await load.stop();
    process.send!({ etcdAcked: load.etcdAcked, zkAcked: load.zkAcked, failures: load.failures }, () => process.exit(0));
  });
}

function startLoad(etcdEndpoints: string[], zkConnect: string): { stop: () => Promise<{ etcdAcked: string[]; zkAcked: string[]; failures: number }> } {
  const child = execa('node', [`${repoRoot()}/dist/lab/demo.js`, '--load', etcdEndpoints.join(','), zkConnect], { ipc: true, stderr: 'ignore', stdout: 'ignore', reject: false });
  return {
    stop: async () => {
      const result = new Promise<{ etcdAcked: string[]; zkAcked: string[]; failures: number }>((resolve) => child.once('message', (m) => resolve(m as never)));
      child.send('stop');
      const r = await result;
      await child;
      return r;
    },
  };
}

async function main(): Promise<void> {
  const masters = process.argv.includes('--masters') && process.argv[process.argv.indexOf('--masters') + 1] === '5' ? 5 : 3;
  const keep = process.argv.includes('--keep');
  stage(`lab up: ${masters} masters on loopback (real etcd, ZooKeeper, sshd; a Mesos master stand-in)`);
  const lab = await labUp({ masters, onProgress: (m) => process.stdout.write(`  ${m}\n`) });
  const topo = lab.topologyPath;
  const layout = readLayout(lab.dir);
  const etcdEndpoints = layout.nodes.map((n) => `http://${n.address}:2379`);
  const zkConnect = layout.nodes.map((n) => `${n.address}:2181`).join(',');

  stage('a write load starts: an etcd key and a znode every 200 ms, each acknowledgement recorded');
  const load = startLoad(etcdEndpoints, zkConnect);
  await new Promise((r) => setTimeout(r, 3000));
  await dcfail(['status', '-t', topo]);

  stage('the main DC (madrid) dies: every process killed, its addresses blackholed');
  await killDc('main', { dir: lab.dir });
  for (let i = 0; i < 30; i += 1) {
    const r = await execa('node', [`${repoRoot()}/dist/bin/dcfail.js`, 'status', '-t', topo, '--json'], { reject: false });
    const hazards = (JSON.parse(r.stdout || '{}') as { hazards?: { code: string }[] }).hazards ?? [];
    if (hazards.filter((h) => h.code === 'no-quorum').length > 0) break;
    await new Promise((r2) => setTimeout(r2, 1000));
  }
  await dcfail(['status', '-t', topo], [5]);

  stage('dcfail failover --to secondary --yes');
  await dcfail(['failover', '--to', 'secondary', '--yes', '-t', topo]);
  await dcfail(['status', '-t', topo]);

  stage('madrid comes back with its old files (fenced: its units stay held until failback)');
  await reviveDc('main', { dir: lab.dir });
  await new Promise((r) => setTimeout(r, 2000));

  stage('dcfail failback --yes');
  await dcfail(['failback', '--yes', '-t', topo]);

  stage('dcfail status');
  await dcfail(['status', '-t', topo]);

  stage('the write load stops: is every acknowledged write still there?');
  const acked = await load.stop();
  const etcd = new Etcd3({ hosts: etcdEndpoints, faultHandling: { host: () => noop, global: noop }, defaultCallOptions: () => ({ deadline: new Date(Date.now() + 5000) }) });
  const keys = new Set(await etcd.getAll().prefix('/demo/').keys());
  etcd.close();
  const zk = await openZk(zkConnect, 5000);
  const znodes = new Set((await zk.children('/demo')).map((c) => `/demo/${c}`));
  zk.close();
  const lostEtcd = acked.etcdAcked.filter((k) => !keys.has(k));
  const lostZk = acked.zkAcked.filter((k) => !znodes.has(k));
  process.stdout.write(`  etcd: ${acked.etcdAcked.length} writes acknowledged, ${lostEtcd.length} missing\n`);
  process.stdout.write(`  ZooKeeper: ${acked.zkAcked.length} writes acknowledged, ${lostZk.length} missing\n`);
  process.stdout.write(`  (${acked.failures} writes were refused while there was no quorum: refused, not lost)\n`);

  if (!keep) {
    stage('lab down');
    await labDown({ dir: lab.dir });
  }
  stage(lostEtcd.length + lostZk.length === 0 ? 'done: nothing acknowledged was lost' : 'done: SOME ACKNOWLEDGED WRITES ARE MISSING');
  if (lostEtcd.length + lostZk.length > 0) process.exitCode = 1;
}

(process.argv[2] === '--load' ? loadChild() : main()).catch(async (err: unknown) => {
  process.stderr.write(`demo failed: ${(err as Error).message}\n`);
  process.exitCode = 1;
});
