/**
 * The live path against real HTTP servers on 127.0.0.1: a Marathon serving apps.json, a leading
 * Mesos master serving agents.json and /master/state, and a non-leading master that answers 307
 * with a protocol-relative Location, as Mesos does. Plus the offline files' errors.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperationError, UserError } from '../../src/errors.js';
import { parseTopologyText } from '../../src/topology/load.js';
import {
  fetchSurvivalInputs,
  getJson,
  loadSurvivalInputs,
  masterUrls,
  readSurvivalFiles,
} from '../../src/survival/sources.js';

const appsJson = readFileSync('fixtures/survival/apps.json', 'utf8');
const agentsJson = readFileSync('fixtures/survival/agents.json', 'utf8');
const STATE = JSON.stringify({
  version: '1.9.1',
  domain: { fault_domain: { region: { name: 'eu-south' }, zone: { name: 'barcelona' } } },
});

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
const servers: Server[] = [];
const requests: string[] = [];

async function serve(name: string, handler: Handler): Promise<string> {
  const server = createServer((req, res) => {
    requests.push(`${name} ${req.url}`);
    handler(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  servers.push(server);
  return `127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const sendJson = (res: ServerResponse, body: string) => {
  res.writeHead(200, { 'content-type': 'application/json' });
  res.end(body);
};

let marathon = '';
let leader = '';
let follower = '';
let silent = '';
let broken = '';
/** Ports nobody listens on (servers opened then closed), on other loopback addresses. */
let closed = '';
let closed3 = '';

beforeAll(async () => {
  marathon = await serve('marathon', (req, res) =>
    req.url === '/v2/apps?embed=apps.tasks' ? sendJson(res, appsJson) : res.writeHead(404).end(),
  );
  leader = await serve('leader', (req, res) => {
    if (req.url === '/master/slaves') return sendJson(res, agentsJson);
    if (req.url === '/master/state') return sendJson(res, STATE);
    res.writeHead(404).end();
  });
  // Mesos' non-leading master: 307 to `//<leader>/master/...`
  follower = await serve('follower', (req, res) => res.writeHead(307, { location: `//${leader}${req.url}` }).end());
  silent = await serve('silent', () => undefined); // accepts and never answers
  broken = await serve('broken', (_req, res) => res.writeHead(503).end('No leader elected'));
  closed = await closedPort('127.0.0.2');
  closed3 = await closedPort('127.0.0.3');
});

async function closedPort(host: string): Promise<string> {
  const gone = createServer();
  await new Promise<void>((resolve) => gone.listen(0, host, resolve));
  const hostPort = `${host}:${(gone.address() as AddressInfo).port}`;
  await new Promise<void>((resolve) => gone.close(() => resolve()));
  return hostPort;
}

afterAll(async () => {
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise<void>((resolve) => s.close(() => resolve()));
  }
});

/** Three Mesos masters (first in barcelona, the others in madrid), each `host:port`. */
function topology(opts: {
  marathonUrl?: string;
  mesosUrl?: string;
  masters?: [string, string, string];
  timeoutMs?: number;
}) {
  const masters = opts.masters ?? ['127.0.0.1:5050', '127.0.0.2:5050', '127.0.0.3:5050'];
  const nodes = masters.map((hostPort, i) => {
    const [address, port] = hostPort.split(':');
    return `  - { name: master-${i + 1}, dc: ${i === 0 ? 'barcelona' : 'madrid'}, address: ${address}, roles: [mesos, exhibitor], services: { mesos: { port: ${port} } } }`;
  });
  const marathonBlock =
    opts.marathonUrl === undefined
      ? ''
      : [
          'marathon:',
          `  url: ${opts.marathonUrl}`,
          ...(opts.mesosUrl ? [`  mesosUrl: ${opts.mesosUrl}`] : []),
          `  timeoutMs: ${opts.timeoutMs ?? 2000}`,
        ].join('\n');
  return parseTopologyText(
    ['cluster: lab', 'datacenters: { main: madrid, secondary: barcelona }', 'nodes:', ...nodes, marathonBlock].join(
      '\n',
    ),
  );
}

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('live: Marathon and the leading Mesos master', () => {
  it('follows the non-leader 307 to the leader, reads apps, agents and the masters region', async () => {
    requests.length = 0;
    const t = topology({ marathonUrl: `http://${marathon}`, mesosUrl: `http://${follower}` });
    const inputs = await fetchSurvivalInputs(t);
    expect(inputs.apps).toHaveLength(12);
    expect(inputs.agents).toHaveLength(9);
    expect(inputs.masterRegion).toEqual({ kind: 'known', region: 'eu-south', source: `http://${leader}/master/state` });
    expect(inputs.source).toBe(`http://${marathon}/v2/apps?embed=apps.tasks, http://${leader}/master/slaves`);
    // the follower was asked once, then the leader; /master/state goes straight to the leader
    expect(requests).toEqual([
      'marathon /v2/apps?embed=apps.tasks',
      'follower /master/slaves',
      'leader /master/slaves',
      'leader /master/state',
    ]);
  });

  it('without mesosUrl: tries the masters of the preferred DC first, skipping one that does not answer', async () => {
    requests.length = 0;
    // master-1 (barcelona) refuses connections; master-2 (madrid) is the follower that redirects
    const t = topology({ marathonUrl: `http://${marathon}`, masters: [closed, follower, closed3] });
    expect(masterUrls(t, 'madrid')).toEqual([`http://${follower}/`, `http://${closed3}/`, `http://${closed}/`]);
    const inputs = await fetchSurvivalInputs(t, { preferDc: 'barcelona', masterRegion: 'eu-central' });
    expect(inputs.agents).toHaveLength(9);
    // --master-region overrides /master/state, which is then not asked
    expect(inputs.masterRegion).toEqual({ kind: 'known', region: 'eu-central', source: '--master-region' });
    expect(requests).toEqual([
      'marathon /v2/apps?embed=apps.tasks',
      'follower /master/slaves',
      'leader /master/slaves',
    ]);
  });

  it('no master answers: OperationError (exit 1) naming each URL and its cause', async () => {
    const t = topology({ marathonUrl: `http://${marathon}`, masters: [closed, broken, closed3] });
    const err = await rejection(fetchSurvivalInputs(t));
    expect(err).toBeInstanceOf(OperationError);
    expect(err).toMatchObject({ code: 'survival-mesos-unreachable', exitCode: 1 });
    expect((err as OperationError).details).toEqual([
      `Mesos master http://${closed}/master/slaves: connection refused`,
      `Mesos master http://${broken}/master/slaves: HTTP 503: No leader elected`,
      `Mesos master http://${closed3}/master/slaves: connection refused`,
    ]);
  });

  it('Marathon not answering within marathon.timeoutMs: OperationError naming the URL', async () => {
    const t = topology({ marathonUrl: `http://${silent}`, mesosUrl: `http://${leader}`, timeoutMs: 300 });
    const started = Date.now();
    const err = await rejection(fetchSurvivalInputs(t));
    expect(Date.now() - started).toBeLessThan(5000);
    expect(err).toMatchObject({ code: 'survival-unreachable', exitCode: 1 });
    expect(err.message).toBe(`Marathon http://${silent}/v2/apps?embed=apps.tasks: no answer within 300 ms`);
  });

  it('an HTTP error or an answer that is not the expected JSON: OperationError naming the URL', async () => {
    const notFound = await rejection(getJson(`http://${marathon}/nothing`, 1000, 'Marathon'));
    expect(notFound).toMatchObject({
      code: 'survival-http-error',
      exitCode: 1,
      message: `Marathon http://${marathon}/nothing: HTTP 404`,
    });
    const odd = await serve('odd-marathon', (_req, res) =>
      sendJson(res, JSON.stringify({ apps: [{ id: '/x', instances: 'two' }] })),
    );
    const err = await rejection(
      fetchSurvivalInputs(topology({ marathonUrl: `http://${odd}`, mesosUrl: `http://${leader}` })),
    );
    expect(err).toMatchObject({ code: 'survival-bad-response', exitCode: 1 });
    expect(err.message).toBe(
      `http://${odd}/v2/apps?embed=apps.tasks: the answer is not the JSON of Marathon apps expected`,
    );
    expect((err as OperationError).details).toEqual(['apps[0].instances: expected a number, got a string']);
    const html = await serve('html', (_req, res) =>
      res.writeHead(200, { 'content-type': 'text/html' }).end('<html>login</html>'),
    );
    const notJson = await rejection(getJson(`http://${html}/v2/apps`, 1000, 'Marathon'));
    expect(notJson).toMatchObject({ code: 'survival-bad-response', exitCode: 1 });
    expect(notJson.message).toMatch(new RegExp(`^Marathon http://${html}/v2/apps: the answer is not JSON`));
  });

  it('a redirect loop stops after three hops', async () => {
    const loop = await serve('loop', (req, res) => res.writeHead(307, { location: req.url ?? '/' }).end());
    const err = await rejection(getJson(`http://${loop}/master/slaves`, 1000, 'Mesos master'));
    expect(err).toMatchObject({ code: 'survival-redirect-loop', exitCode: 1 });
  });

  it('no marathon block and no files: UserError (exit 2) saying what to add', async () => {
    const t = topology({});
    const err = await rejection(loadSurvivalInputs(t, {}));
    expect(err).toBeInstanceOf(UserError);
    expect(err).toMatchObject({ code: 'survival-no-marathon', exitCode: 2 });
    expect(err.message).toContain('--apps <file> --agents <file>');
  });
});

describe('offline files', () => {
  it('reads both, with --master-region when given', async () => {
    const inputs = await readSurvivalFiles('fixtures/survival/apps.json', 'fixtures/survival/agents.json', 'eu-south');
    expect(inputs.apps).toHaveLength(12);
    expect(inputs.masterRegion).toEqual({ kind: 'known', region: 'eu-south', source: '--master-region' });
  });

  it.each([
    [
      'fixtures/survival/nope.json',
      'fixtures/survival/agents.json',
      'survival-file-unreadable',
      'fixtures/survival/nope.json: cannot read: no such file',
    ],
    [
      'fixtures/survival/invalid/apps-not-json.json',
      'fixtures/survival/agents.json',
      'survival-file-invalid',
      'fixtures/survival/invalid/apps-not-json.json: not valid JSON',
    ],
    [
      'fixtures/survival/invalid/apps-bad-operator.json',
      'fixtures/survival/agents.json',
      'survival-file-invalid',
      'fixtures/survival/invalid/apps-bad-operator.json: not the JSON of Marathon apps (/v2/apps?embed=apps.tasks) (2 problems)',
    ],
    [
      'fixtures/survival/apps.json',
      'fixtures/survival/invalid/agents-missing-hostname.json',
      'survival-file-invalid',
      'fixtures/survival/invalid/agents-missing-hostname.json: not the JSON of Mesos agents (/master/slaves) (1 problem)',
    ],
    ['fixtures/survival/agents.json', 'fixtures/survival/agents.json', 'survival-file-invalid', 'apps: required'],
  ])('%s + %s: UserError %s', async (apps, agents, code, message) => {
    const err = await rejection(readSurvivalFiles(apps, agents));
    expect(err).toBeInstanceOf(UserError);
    expect(err).toMatchObject({ code, exitCode: 2 });
    expect([err.message, ...(err as UserError).details].join('\n')).toContain(message);
  });

  it('--apps without --agents is a bad flag', async () => {
    const err = await rejection(loadSurvivalInputs(topology({}), { apps: 'fixtures/survival/apps.json' }));
    expect(err).toMatchObject({ code: 'bad-flag', exitCode: 2 });
  });
});
