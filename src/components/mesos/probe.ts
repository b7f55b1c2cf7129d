/**
 * Mesos master probes over HTTP: `/metrics/snapshot` (master/elected, registrar/log/recovered,
 * the registry version) on every master, `/master/state` through the leader (a follower answers
 * 307 to the leader, 503 when there is none).
 */
export interface MesosMasterStatus {
  url: string;
  reachable: boolean;
  elected?: boolean;
  recovered?: boolean;
  registryVersion?: number;
  quorum?: number;
  version?: string;
  error?: string;
}

/** The most a Mesos answer dcfail reads may hold (metrics/snapshot is tens of KiB). */
const BODY_MAX_BYTES = 4 * 1024 * 1024;

async function cappedText(r: Response, max: number): Promise<string> {
  if (!r.body) return '';
  const chunks: Uint8Array[] = [];
  let n = 0;
  for await (const chunk of r.body as unknown as AsyncIterable<Uint8Array>) {
    n += chunk.length;
    if (n > max) {
      await r.body.cancel().catch(() => undefined);
      throw new Error(`the answer exceeded ${max} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks).toString('utf8');
}

async function getJson(
  url: string,
  timeoutMs: number,
): Promise<{ status: number; location: string | null; body: unknown }> {
  // The signal bounds the whole exchange, body included; the body is capped too.
  const r = await fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(timeoutMs) });
  let body: unknown = null;
  const text = await cappedText(r, BODY_MAX_BYTES);
  try {
    body = text === '' ? null : JSON.parse(text);
  } catch {
    body = text;
  }
  return { status: r.status, location: r.headers.get('location'), body };
}

function num(v: unknown): number | undefined {
  return typeof v === 'number'
    ? v
    : typeof v === 'string' && v !== '' && !Number.isNaN(Number(v))
      ? Number(v)
      : undefined;
}

export async function probeMesosMaster(address: string, port: number, timeoutMs: number): Promise<MesosMasterStatus> {
  const url = `http://${address.includes(':') ? `[${address}]` : address}:${port}`;
  try {
    const m = await getJson(`${url}/metrics/snapshot`, timeoutMs);
    if (m.status !== 200 || typeof m.body !== 'object' || m.body === null)
      return { url, reachable: true, error: `metrics/snapshot answered ${m.status}` };
    const b = m.body as Record<string, unknown>;
    const version = await getJson(`${url}/version`, timeoutMs)
      .then((v) =>
        v.status === 200 ? String((v.body as Record<string, unknown>)?.['version'] ?? '') || undefined : undefined,
      )
      .catch(() => undefined);
    return {
      url,
      reachable: true,
      elected: num(b['master/elected']) === 1,
      recovered: num(b['registrar/log/recovered']) === 1,
      ...(num(b['registrar/registry_version']) !== undefined
        ? { registryVersion: num(b['registrar/registry_version'])! }
        : {}),
      ...(num(b['master/quorum']) !== undefined ? { quorum: num(b['master/quorum'])! } : {}),
      ...(version ? { version } : {}),
    };
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code ?? (err as Error).name;
    return {
      url,
      reachable: false,
      error: cause === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : String(cause),
    };
  }
}
