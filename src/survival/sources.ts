/**
 * Where the survival report's observations come from: live from Marathon and the leading Mesos
 * master, or from the same JSON saved to files (CI). Errors name the URL or file and the cause:
 * an unreachable or misbehaving cluster is an OperationError (exit 1), an unreadable or malformed
 * file a UserError (exit 2).
 */
import { readFile } from 'node:fs/promises';
import { OperationError, UserError } from '../errors.js';
import { membersOf, type Topology } from '../topology/model.js';
import { parseMarathonApps, parseMasterRegion, parseMesosAgents, type Parsed } from './inputs.js';
import type { MasterRegion, SurvivalInputs } from './report.js';

const DEFAULT_TIMEOUT_MS = 5000;
const MAX_REDIRECTS = 3;

export interface SurvivalSourceOptions {
  /** Saved `/v2/apps?embed=apps.tasks` JSON; with `agents`, the run is offline. */
  readonly apps?: string | undefined;
  /** Saved `/master/slaves` JSON. */
  readonly agents?: string | undefined;
  /** The masters' fault-domain region; offline the only way to know it, live it overrides `/master/state`. */
  readonly masterRegion?: string | undefined;
  /** Ask this DC's masters first (the surviving DC when one DC is assumed down). */
  readonly preferDc?: string | undefined;
}

/** Files when both are given, else live from `marathon.url` and the Mesos masters. */
export async function loadSurvivalInputs(t: Topology, o: SurvivalSourceOptions): Promise<SurvivalInputs> {
  if ((o.apps === undefined) !== (o.agents === undefined)) {
    throw new UserError(
      'bad-flag',
      '--apps and --agents go together: give both files for an offline report, or neither to read the cluster',
    );
  }
  if (o.apps !== undefined && o.agents !== undefined) return readSurvivalFiles(o.apps, o.agents, o.masterRegion);
  return fetchSurvivalInputs(t, o);
}

// ---------------------------------------------------------------------------------------------
// Offline

export async function readSurvivalFiles(
  appsFile: string,
  agentsFile: string,
  masterRegion?: string,
): Promise<SurvivalInputs> {
  const apps = fileResult(
    appsFile,
    'Marathon apps (/v2/apps?embed=apps.tasks)',
    parseMarathonApps(await readJsonFile(appsFile)),
  );
  const agents = fileResult(
    agentsFile,
    'Mesos agents (/master/slaves)',
    parseMesosAgents(await readJsonFile(agentsFile)),
  );
  const region: MasterRegion =
    masterRegion !== undefined
      ? { kind: 'known', region: masterRegion, source: '--master-region' }
      : { kind: 'unknown', why: 'offline; pass --master-region to check the agents against it' };
  return { apps, agents, masterRegion: region, source: `files ${appsFile}, ${agentsFile}` };
}

async function readJsonFile(file: string): Promise<unknown> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : String(code ?? err);
    throw new UserError('survival-file-unreadable', `${file}: cannot read: ${why}`, [], { cause: err });
  }
  try {
    return JSON.parse(text);
  } catch (err) {
    throw new UserError('survival-file-invalid', `${file}: not valid JSON: ${(err as Error).message}`, [], {
      cause: err,
    });
  }
}

function fileResult<T>(file: string, what: string, parsed: Parsed<T>): T {
  if (parsed.ok) return parsed.value;
  throw new UserError(
    'survival-file-invalid',
    `${file}: not the JSON of ${what} (${parsed.issues.length} problem${parsed.issues.length === 1 ? '' : 's'})`,
    parsed.issues,
  );
}

// ---------------------------------------------------------------------------------------------
// Live

export async function fetchSurvivalInputs(t: Topology, o: SurvivalSourceOptions = {}): Promise<SurvivalInputs> {
  const marathon = t.marathon;
  if (!marathon) {
    throw new UserError(
      'survival-no-marathon',
      `the topology has no 'marathon' block: add marathon.url to read the cluster, or pass --apps <file> --agents <file> for an offline report`,
    );
  }
  const timeoutMs = marathon.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const appsUrl = new URL('v2/apps?embed=apps.tasks', withSlash(marathon.url)).toString();
  const appsDoc = await getJson(appsUrl, timeoutMs, 'Marathon');
  const apps = liveResult(appsDoc.url, 'Marathon apps', parseMarathonApps(appsDoc.body));

  const masters = marathon.mesosUrl !== undefined ? [marathon.mesosUrl] : masterUrls(t, o.preferDc);
  if (masters.length === 0)
    throw new UserError('survival-no-mesos', 'no Mesos master in the topology and no marathon.mesosUrl');
  const failures: string[] = [];
  for (const base of masters) {
    let slaves: { body: unknown; url: string };
    try {
      slaves = await getJson(new URL('master/slaves', withSlash(base)).toString(), timeoutMs, 'Mesos master');
    } catch (err) {
      if (!(err instanceof OperationError)) throw err;
      failures.push(err.message);
      continue;
    }
    const agents = liveResult(slaves.url, 'Mesos agents', parseMesosAgents(slaves.body));
    // The leader answered (perhaps after a redirect): ask it for its own domain too.
    const masterRegion: MasterRegion =
      o.masterRegion !== undefined
        ? { kind: 'known', region: o.masterRegion, source: '--master-region' }
        : await fetchMasterRegion(new URL('state', slaves.url).toString(), timeoutMs);
    return { apps, agents, masterRegion, source: `${appsDoc.url}, ${slaves.url}` };
  }
  throw new OperationError(
    'survival-mesos-unreachable',
    `no Mesos master answered /master/slaves (${masters.length} tried)`,
    failures,
  );
}

async function fetchMasterRegion(url: string, timeoutMs: number): Promise<MasterRegion> {
  try {
    const state = await getJson(url, timeoutMs, 'Mesos master');
    const parsed = parseMasterRegion(state.body);
    if (!parsed.ok)
      return { kind: 'unknown', why: `${state.url}: unexpected JSON (${parsed.issues[0] ?? 'no detail'})` };
    return parsed.value === undefined
      ? { kind: 'none', source: state.url }
      : { kind: 'known', region: parsed.value, source: state.url };
  } catch (err) {
    if (err instanceof OperationError) return { kind: 'unknown', why: err.message };
    throw err;
  }
}

/** `http://address:port/` of every Mesos master, those of `preferDc` first. */
export function masterUrls(t: Topology, preferDc?: string): string[] {
  const masters = membersOf(t, 'mesos');
  const ordered =
    preferDc === undefined
      ? masters
      : [...masters.filter((n) => n.dc === preferDc), ...masters.filter((n) => n.dc !== preferDc)];
  return ordered.map(
    (n) => `http://${n.address.includes(':') ? `[${n.address}]` : n.address}:${n.services.mesos.port}/`,
  );
}

function withSlash(url: string): string {
  return url.endsWith('/') ? url : `${url}/`;
}

function liveResult<T>(url: string, what: string, parsed: Parsed<T>): T {
  if (parsed.ok) return parsed.value;
  throw new OperationError(
    'survival-bad-response',
    `${url}: the answer is not the JSON of ${what} expected`,
    parsed.issues,
  );
}

const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * GET a JSON document. Redirects are followed by hand, to the Location they name (a non-leading
 * Mesos master answers 307 with `Location: //leader:5050/master/slaves`), at most three times.
 */
export async function getJson(url: string, timeoutMs: number, what: string): Promise<{ body: unknown; url: string }> {
  let current = url;
  for (let hop = 0; hop <= MAX_REDIRECTS; hop += 1) {
    let res: Response;
    let text: string;
    try {
      res = await fetch(current, {
        redirect: 'manual',
        signal: AbortSignal.timeout(timeoutMs),
        headers: { accept: 'application/json' },
      });
      if (REDIRECTS.has(res.status)) {
        const location = res.headers.get('location');
        await res.body?.cancel();
        if (!location)
          throw new OperationError(
            'survival-bad-response',
            `${what} ${current}: HTTP ${res.status} redirect without a Location header`,
          );
        current = new URL(location, current).toString();
        continue;
      }
      text = await res.text();
    } catch (err) {
      if (err instanceof OperationError) throw err;
      throw new OperationError(
        'survival-unreachable',
        `${what} ${current}: ${describeFetchError(err, timeoutMs)}`,
        [],
        { cause: err },
      );
    }
    if (!res.ok) {
      const snippet = text.trim().split('\n')[0]?.slice(0, 200) ?? '';
      throw new OperationError(
        'survival-http-error',
        `${what} ${current}: HTTP ${res.status}${snippet ? `: ${snippet}` : ''}`,
      );
    }
    try {
      return { body: JSON.parse(text), url: current };
    } catch (err) {
      throw new OperationError(
        'survival-bad-response',
        `${what} ${current}: the answer is not JSON (${(err as Error).message})`,
        [],
        { cause: err },
      );
    }
  }
  throw new OperationError(
    'survival-redirect-loop',
    `${what} ${url}: more than ${MAX_REDIRECTS} redirects (last to ${current})`,
  );
}

function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof Error && (err.name === 'TimeoutError' || err.name === 'AbortError'))
    return `no answer within ${timeoutMs} ms`;
  const cause = err instanceof Error ? (err.cause as { code?: string; message?: string } | undefined) : undefined;
  if (cause?.code === 'ECONNREFUSED') return 'connection refused';
  if (cause?.code === 'ENOTFOUND') return 'host name not found';
  if (cause?.code === 'ECONNRESET') return 'connection reset';
  if (cause?.code) return `${cause.code}${cause.message ? ` (${cause.message})` : ''}`;
  return err instanceof Error ? err.message : String(err);
}
