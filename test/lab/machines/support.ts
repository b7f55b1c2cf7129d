/** Helpers for the machines lab's own tests: reading what the machines and the stand-ins say. */
import { labExec, type LabOptions } from '../../../lab/machines/lab.js';
import { PORTS } from '../../../lab/machines/layout.js';
import { httpGet, httpJson, mesosMetrics } from '../../../lab/machines/probes.js';

export const mesosUrl = (address: string, path: string) => `http://${address}:${PORTS.mesos}${path}`;

/** One replica's log as the stand-in dumps it (lab-only endpoint). */
export interface LogDump {
  readonly status: string;
  readonly promised: number;
  readonly begin: number;
  readonly end: number;
  readonly actions: readonly { position: number; learned?: boolean; type?: string; value?: string }[];
}

export async function registryLog(address: string): Promise<LogDump | undefined> {
  return httpJson<LogDump>(mesosUrl(address, '/lab/log/registry'));
}

export async function overlayLog(address: string): Promise<LogDump | undefined> {
  return httpJson<LogDump>(mesosUrl(address, '/lab/log/overlay'));
}

export async function sh(node: string, script: string, opts: LabOptions & { timeoutMs?: number } = {}) {
  return labExec(node, ['sh', '-c', script], opts);
}

/** `systemctl show` properties of a unit, as a map. */
export async function unitProps(node: string, unit: string, props: readonly string[], opts: LabOptions = {}): Promise<Record<string, string>> {
  const r = await labExec(node, ['systemctl', 'show', unit, ...props.map((p) => `--property=${p}`)], opts);
  return Object.fromEntries(
    r.stdout
      .trim()
      .split('\n')
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
}

/** Microsecond timestamps of the journal lines of a unit whose message contains `text`, since `sinceUs`. */
export async function journalTimes(node: string, unit: string, text: string, sinceUs: number, opts: LabOptions = {}): Promise<number[]> {
  const r = await labExec(node, ['journalctl', '-u', unit, '-o', 'json', '--since', `@${Math.floor(sinceUs / 1e6)}`, '--no-pager'], opts);
  const out: number[] = [];
  for (const line of r.stdout.split('\n')) {
    if (!line.trim()) continue;
    const e = JSON.parse(line) as { MESSAGE?: unknown; __REALTIME_TIMESTAMP?: string };
    if (typeof e.MESSAGE === 'string' && e.MESSAGE.includes(text) && Number(e.__REALTIME_TIMESTAMP) >= sinceUs) out.push(Number(e.__REALTIME_TIMESTAMP));
  }
  return out;
}

export async function machineNowUs(node: string, opts: LabOptions = {}): Promise<number> {
  return Number((await labExec(node, ['date', '+%s%6N'], opts)).stdout.trim());
}

export interface MesosView {
  readonly elected: boolean;
  /** registrar/registry_size_bytes is present only once the registrar fetched the registry (src/master/registrar.cpp). */
  readonly recovered: boolean;
  readonly metrics: Record<string, number>;
}

export async function mesosView(address: string): Promise<MesosView | undefined> {
  const m = await mesosMetrics(address);
  if (!m) return undefined;
  return { elected: m['master/elected'] === 1, recovered: m['registrar/registry_size_bytes'] !== undefined, metrics: m };
}

export async function getHealth(address: string) {
  return httpGet(mesosUrl(address, '/api/v1'), { method: 'POST', body: JSON.stringify({ type: 'GET_HEALTH' }) });
}
