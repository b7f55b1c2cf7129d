/**
 * A small Mesos agent stand-in (one per DC, in a network namespace of its own, not under systemd):
 *
 *   node mesos-agent.js --ip IP [--port 5051] --zk zk://h:2181,.../mesos --work-dir DIR [--hostname H]
 *                       [--resources 'cpus:2;mem:4096;disk:10240'] [--domain '{"fault_domain":{...}}']
 *
 * Like a Mesos agent with DC/OS's overlay agent module, it finds the leading master through
 * ZooKeeper (the smallest json.info_ znode, src/master/detector/zookeeper.cpp), registers with it
 * (an admission: a registry write), asks the leader's overlay module for its subnet (an overlay log
 * write), and keeps re-registering with whoever leads, every registration backoff (1 s, scaled), so
 * that a failed-over cluster sees it too. Its agent id and subnet are checkpointed in
 * <work-dir>/agent.json (Mesos: <work_dir>/meta/slaves/latest) and kept across restarts.
 *
 *   GET /state -> { id, hostname, master, master_hostname, overlay: { subnet, vtep_ip } | null,
 *                   registered, overlay_registered }
 */
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { labTimers } from '../timers.js';
import { parseZkUrl, sequenceOf, ZkSession } from './mesos-zk.js';

function log(msg: string): void {
  process.stdout.write(`${new Date().toISOString()} mesos-agent[${process.pid}] ${msg}\n`);
}
function arg(name: string, dflt?: string): string {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? process.argv[i + 1] : dflt;
  if (v === undefined) {
    log(`F --${name} is required`);
    process.exit(2);
  }
  return v;
}

interface Checkpoint {
  id?: string;
  subnet?: string;
  vtep_ip?: string;
}

const ip = arg('ip');
const port = Number(arg('port', '5051'));
const hostname = arg('hostname', ip);
const workDir = arg('work-dir');
// --resources as Mesos parses it (`cpus:2;mem:4096;disk:10240`), --domain as Mesos' JSON flag.
const resources = arg('resources', 'cpus:2;mem:4096;disk:10240')
  .split(';')
  .filter(Boolean)
  .map((kv) => {
    const [name, value] = kv.split(':');
    return { name: name ?? '', type: 'SCALAR' as const, scalar: { value: Number(value) } };
  });
const domainArg = arg('domain', '');
const domain: unknown = domainArg ? JSON.parse(domainArg) : undefined;
const { servers, path } = parseZkUrl(arg('zk'));
const t = labTimers();
const file = `${workDir}/agent.json`;

mkdirSync(workDir, { recursive: true });
let cp: Checkpoint = {};
try {
  cp = JSON.parse(readFileSync(file, 'utf8')) as Checkpoint;
} catch {
  // first start
}
function checkpoint(): void {
  writeFileSync(`${file}.tmp`, JSON.stringify(cp));
  renameSync(`${file}.tmp`, file);
}

interface Leader {
  pid: string;
  hostname: string;
  address: { ip: string; port: number };
}
let leader: Leader | undefined;
let registered = false;
let overlayRegistered = false;
let session: ZkSession | undefined;

async function detect(): Promise<Leader | undefined> {
  if (!session || session.locallyExpired(t.mesosZkSessionMs)) {
    session?.close();
    session = await ZkSession.open(servers, t.mesosZkSessionMs, t.mesosZkSessionMs);
  }
  const names = (await session.children(path, t.mesosZkSessionMs)).filter((n) => n.startsWith('json.info_'));
  names.sort((a, b) => sequenceOf(a) - sequenceOf(b));
  const first = names[0];
  if (!first) return undefined;
  const data = await session.getData(`${path === '/' ? '' : path}/${first}`, t.mesosZkSessionMs);
  return data ? (JSON.parse(data) as Leader) : undefined;
}

/** A registration waits at most for one registry store (the master aborts after that). */
async function post(url: string, body: unknown): Promise<{ status: number; json: unknown }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), redirect: 'manual', signal: AbortSignal.timeout(t.mesosRegistryStoreMs) });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    // plain text answer
  }
  return { status: res.status, json };
}

async function tick(): Promise<void> {
  const l = await detect();
  if (l?.pid !== leader?.pid) {
    log(l ? `New leading master detected: ${l.pid}` : 'No leading master');
    registered = false;
    overlayRegistered = false;
  }
  leader = l;
  if (!l) return;
  const base = `http://${l.address.ip}:${l.address.port}`;
  const r = await post(`${base}/lab/agents/register`, { hostname, port, resources, ...(domain !== undefined ? { domain } : {}), ...(cp.id ? { agent_id: cp.id } : {}) });
  if (r.status === 200) {
    const id = (r.json as { agent_id: string }).agent_id;
    if (!registered) log(`${cp.id ? 'Re-registered' : 'Registered'} with ${l.pid} as ${id}`);
    registered = true;
    if (cp.id !== id) {
      cp = { ...cp, id };
      checkpoint();
    }
  } else {
    registered = false;
  }
  const o = await post(`${base}/lab/overlay/register`, { ip });
  if (o.status === 200) {
    const ov = (o.json as { agent: { overlays: { subnet: string; backend: { vxlan: { vtep_ip: string } } }[] } }).agent.overlays[0];
    if (ov && (ov.subnet !== cp.subnet || !overlayRegistered)) log(`Overlay subnet ${ov.subnet} from ${l.pid}`);
    overlayRegistered = true;
    if (ov && (ov.subnet !== cp.subnet || ov.backend.vxlan.vtep_ip !== cp.vtep_ip)) {
      cp = { ...cp, subnet: ov.subnet, vtep_ip: ov.backend.vxlan.vtep_ip };
      checkpoint();
    }
  } else {
    overlayRegistered = false;
  }
}

const server = createServer((req, res) => {
  if (req.method === 'GET' && req.url === '/state') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: cp.id ?? null,
        hostname,
        pid: `slave(1)@${ip}:${port}`,
        master: leader?.pid ?? null,
        master_hostname: leader?.hostname ?? null,
        registered,
        overlay_registered: overlayRegistered,
        overlay: cp.subnet ? { subnet: cp.subnet, vtep_ip: cp.vtep_ip } : null,
      }),
    );
    return;
  }
  res.writeHead(404);
  res.end();
});
server.listen(port, ip, () => log(`listening on http://${ip}:${port}, zk ${servers}${path}`));

for (;;) {
  try {
    await tick();
  } catch (err) {
    log(`W ${(err as Error).message}`);
    registered = false;
  }
  await new Promise((r) => setTimeout(r, t.agentRegistrationBackoffMs));
}
