/**
 * Mesos master probes over HTTP, reading only what real Mesos serves (apache/mesos; DC/OS pins
 * 1.11, identical in every file cited here):
 * - `GET /metrics/snapshot` on every master: `master/elected`; `registrar/log/recovered`, which
 *   says only that this master's own log replica finished its recovery (src/log/log.cpp
 *   `_recovered`), on every VOTING master before any election; `registrar/registry_size_bytes`, a
 *   pull gauge that fails, and so is left out of the snapshot, until the registrar fetched the
 *   registry (src/master/registrar.cpp `_registry_size_bytes`); `registrar/log/ensemble_size`,
 *   the replicas in the log's ZooKeeper group (src/log/log.hpp `_ensemble_size`).
 * - `GET /flags` on every master: `flags.quorum`, the quorum the master runs with (never assumed).
 * - On the elected master only: `POST /api/v1 {"type":"GET_HEALTH"}`, which answers 503 "Master
 *   has not finished recovery" until the registrar recovered and stored this MasterInfo, then 200
 *   `{"get_health":{"healthy":true}}` (src/master/http.cpp `api`, `getHealth`); and
 *   `GET /registrar(1)/registry`, the registry the registrar holds, `{}` until it fetched one,
 *   answered (not redirected) by every master (src/master/registrar.cpp `getRegistry`).
 * Every answer is untrusted: each read is bounded in time and size and validated by a schema; a
 * bad answer becomes one line naming the master's address and the endpoint.
 */
import { z } from 'zod';
import { formatIssues } from '../../topology/load.js';

/** What the registry held: the agents it knows of (registry.proto: slaves, unreachable, gone). */
export interface MesosRegistry {
  /** Agent ids, sorted, without duplicates. */
  agents: string[];
  /** `registrar/registry_size_bytes` when read. */
  sizeBytes?: number;
}

export interface MesosMasterStatus {
  url: string;
  reachable: boolean;
  elected?: boolean;
  /** `registrar/log/recovered` = 1: this master's log replica is VOTING. Not the registrar. */
  replicaRecovered?: boolean;
  /** `registrar/registry_size_bytes` present: the registrar fetched the registry. */
  registrarRecovered?: boolean;
  registrySizeBytes?: number;
  /** `registrar/log/ensemble_size`: replicas in the log's ZooKeeper group. */
  ensembleSize?: number;
  /** `flags.quorum` of `/flags`. */
  quorum?: number;
  /** Elected master only: GET_HEALTH answered healthy (the master finished its recovery). */
  healthy?: boolean;
  /** Elected master only, when not healthy: what GET_HEALTH answered. */
  health?: string;
  /** Elected master only, once its registrar holds one: the registry's agents. */
  registry?: MesosRegistry;
  version?: string;
  /** A probe that failed, or an answer that did not validate: endpoint and why. */
  error?: string;
}

/** The most a Mesos answer dcfail reads may hold (a registry of thousands of agents is a few MiB). */
const BODY_MAX_BYTES = 8 * 1024 * 1024;
/** The most agents a registry may list before dcfail refuses to read it. */
const AGENTS_MAX = 100_000;

class ProbeError extends Error {}

async function cappedText(r: Response, max: number): Promise<string> {
  if (!r.body) return '';
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
    n += chunk.length;
    if (n > max) {
      await r.body.cancel().catch(() => undefined);
      throw new ProbeError(`the answer exceeded ${max} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

interface Answer {
  status: number;
  location: string | null;
  text: string;
}

async function request(url: string, timeoutMs: number, body?: unknown): Promise<Answer> {
  // The signal bounds the whole exchange, body included; the body is capped too. Redirects are
  // not followed: a follower's 307 says it is not the leader.
  const r = await fetch(url, {
    redirect: 'manual',
    signal: AbortSignal.timeout(timeoutMs),
    ...(body === undefined
      ? {}
      : {
          method: 'POST',
          headers: { 'content-type': 'application/json', accept: 'application/json' },
          body: JSON.stringify(body),
        }),
  });
  return { status: r.status, location: r.headers.get('location'), text: await cappedText(r, BODY_MAX_BYTES) };
}

/** One line for people: a remote text, control characters dropped, cut short. */
function excerpt(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are what it drops
  const t = text.replace(/[\u0000-\u001f\u007f-\u009f]+/g, ' ').trim();
  return t.length > 120 ? `${t.slice(0, 120)}...` : t;
}

function parsed<S extends z.ZodType>(endpoint: string, a: Answer, schema: S): z.infer<S> {
  if (a.status !== 200)
    throw new ProbeError(`${endpoint} answered HTTP ${a.status}${a.text.trim() ? ` (${excerpt(a.text)})` : ''}`);
  let value: unknown;
  try {
    value = JSON.parse(a.text);
  } catch {
    throw new ProbeError(`${endpoint} did not answer JSON (${excerpt(a.text) || 'empty'})`);
  }
  const r = schema.safeParse(value);
  if (!r.success) throw new ProbeError(`${endpoint}: ${formatIssues(r.error.issues).slice(0, 3).join('; ')}`);
  return r.data;
}

const GAUGE = z.number().finite().nonnegative();
const MetricsSchema = z.looseObject({
  'master/elected': z.union([z.literal(0), z.literal(1)], { error: 'expected 0 or 1' }),
  'registrar/log/recovered': z.union([z.literal(0), z.literal(1)]).optional(),
  'registrar/registry_size_bytes': GAUGE.optional(),
  'registrar/log/ensemble_size': GAUGE.optional(),
});
const FlagsSchema = z.looseObject({
  flags: z.looseObject({
    quorum: z
      .string()
      .regex(/^[1-9][0-9]{0,3}$/, 'expected a whole number of replicas')
      .optional(),
  }),
});
const VersionSchema = z.looseObject({ version: z.string().max(64) });
const HealthSchema = z.looseObject({ get_health: z.looseObject({ healthy: z.boolean() }) });
// eslint-disable-next-line no-control-regex -- control characters are what it refuses
const AGENT_ID = z.string().regex(/^[^\u0000-\u001f\u007f]{1,256}$/, 'expected an agent id');
const ID = z.looseObject({ value: AGENT_ID });
const listOf = <T extends z.ZodType>(item: T) => z.looseObject({ slaves: z.array(item).max(AGENTS_MAX) }).optional();
/** registry.proto as JSON::protobuf renders it; `{}` before the registrar fetched the registry. */
const RegistrySchema = z.looseObject({
  master: z.looseObject({}).optional(),
  slaves: listOf(z.looseObject({ info: z.looseObject({ id: ID }) })),
  unreachable: listOf(z.looseObject({ id: ID })),
  gone: listOf(z.looseObject({ id: ID })),
});

function agentsOf(r: z.infer<typeof RegistrySchema>): string[] {
  const ids = [
    ...(r.slaves?.slaves ?? []).map((s) => s.info.id.value),
    ...(r.unreachable?.slaves ?? []).map((s) => s.id.value),
    ...(r.gone?.slaves ?? []).map((s) => s.id.value),
  ];
  return [...new Set(ids)].sort();
}

function whyFailed(err: unknown, timeoutMs: number): string {
  if (err instanceof ProbeError) return err.message;
  const e = err as { name?: string; cause?: { code?: string } };
  if (e.name === 'TimeoutError') return `no answer within ${timeoutMs} ms`;
  return e.cause?.code ?? e.name ?? 'failed';
}

export async function probeMesosMaster(address: string, port: number, timeoutMs: number): Promise<MesosMasterStatus> {
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  let metrics: z.infer<typeof MetricsSchema>;
  try {
    metrics = parsed('/metrics/snapshot', await request(`${url}/metrics/snapshot`, timeoutMs), MetricsSchema);
  } catch (err) {
    // Answered, but not as Mesos: reachable, with the reason. No answer: unreachable.
    return err instanceof ProbeError
      ? { url, reachable: true, error: err.message }
      : { url, reachable: false, error: `/metrics/snapshot: ${whyFailed(err, timeoutMs)}` };
  }
  const size = metrics['registrar/registry_size_bytes'];
  const ensemble = metrics['registrar/log/ensemble_size'];
  const out: MesosMasterStatus = {
    url,
    reachable: true,
    elected: metrics['master/elected'] === 1,
    replicaRecovered: metrics['registrar/log/recovered'] === 1,
    registrarRecovered: size !== undefined,
    ...(size !== undefined ? { registrySizeBytes: size } : {}),
    ...(ensemble !== undefined ? { ensembleSize: ensemble } : {}),
  };
  const errors: string[] = [];
  const attempt = async (what: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (err) {
      errors.push(err instanceof ProbeError ? err.message : `${what}: ${whyFailed(err, timeoutMs)}`);
    }
  };
  await Promise.all([
    attempt('/flags', async () => {
      const q = parsed('/flags', await request(`${url}/flags`, timeoutMs), FlagsSchema).flags.quorum;
      if (q !== undefined) out.quorum = Number(q);
    }),
    attempt('/version', async () => {
      out.version = parsed('/version', await request(`${url}/version`, timeoutMs), VersionSchema).version;
    }),
    out.elected &&
      attempt('/api/v1 GET_HEALTH', async () => {
        const a = await request(`${url}/api/v1`, timeoutMs, { type: 'GET_HEALTH' });
        if (a.status === 503) {
          out.healthy = false;
          out.health = `GET_HEALTH answered 503 (${excerpt(a.text) || 'no reason given'})`;
          return;
        }
        out.healthy = parsed('/api/v1 GET_HEALTH', a, HealthSchema).get_health.healthy;
        if (!out.healthy) out.health = 'GET_HEALTH answered healthy: false';
      }),
    out.elected &&
      attempt('/registrar(1)/registry', async () => {
        const r = parsed(
          '/registrar(1)/registry',
          await request(`${url}/registrar(1)/registry`, timeoutMs),
          RegistrySchema,
        );
        if (r.master !== undefined || r.slaves !== undefined)
          out.registry = { agents: agentsOf(r), ...(size !== undefined ? { sizeBytes: size } : {}) };
      }),
  ]);
  if (errors.length > 0) out.error = errors.join('; ');
  return out;
}
