/**
 * `dcfail status --watch`: one frame per observation, what changed since the previous one marked.
 * Pure: the command hands in both reports; a terminal redraws the frame in place, anything else
 * gets the frames one after the other, each opened by its own header line.
 */
import { CLUSTER_TITLE } from '../core/clusters.js';
import type { ExitCode } from '../errors.js';
import type { Finding } from '../core/safety.js';
import { renderStatus, type StatusResult } from './status.js';

export interface WatchLine {
  text: string;
  /** Differs from the previous observation's frame (always false for the first). */
  changed: boolean;
}

export interface Observed {
  report: StatusResult & { undetermined?: boolean };
  exitCode: ExitCode;
}

const findingKey = (f: Finding) => `[${f.code}${f.cluster ? `:${f.cluster}` : ''}] ${f.message}`;

function quorumText(r: StatusResult, cluster: string): string {
  const lc = r.clusters.find((c) => c.cluster === cluster);
  if (!lc) return 'absent';
  if (lc.quorums.length === 0) return 'NO QUORUM';
  // Members sorted: the same quorum listed in another order is no change.
  return lc.quorums
    .map((q) => `{${[...q.members].sort().join(', ')}}${q.leader ? ` leader ${q.leader}` : ''}`)
    .join(' AND ');
}

/** What changed between two observations, in words (empty when nothing that matters did). */
export function statusChanges(prev: Observed, cur: Observed): string[] {
  const out: string[] = [];
  const p = prev.report;
  const c = cur.report;
  if (p.mode !== c.mode) out.push(`mode ${p.mode} -> ${c.mode}`);
  if (prev.exitCode !== cur.exitCode) out.push(`exit code ${prev.exitCode} -> ${cur.exitCode}`);
  if (Boolean(p.undetermined) !== Boolean(c.undetermined))
    out.push(c.undetermined ? 'the state can no longer be read' : 'the state can be read again');
  for (const cluster of new Set([...p.clusters, ...c.clusters].map((x) => x.cluster))) {
    const a = quorumText(p, cluster);
    const b = quorumText(c, cluster);
    if (a !== b) out.push(`${CLUSTER_TITLE[cluster]}: ${a} -> ${b}`);
  }
  for (const dc of new Set([...Object.keys(p.dcs), ...Object.keys(c.dcs)])) {
    const a = p.dcs[dc]?.sshReachable ?? 0;
    const b = c.dcs[dc]?.sshReachable ?? 0;
    if (a !== b) out.push(`${dc}: ${a} -> ${b} of ${c.dcs[dc]?.nodes ?? p.dcs[dc]?.nodes ?? 0} nodes answer SSH`);
  }
  const before = new Set(p.hazards.map(findingKey));
  const after = new Set(c.hazards.map(findingKey));
  for (const h of after) if (!before.has(h)) out.push(`+ hazard ${h}`);
  for (const h of before) if (!after.has(h)) out.push(`- hazard cleared ${h}`);
  return out;
}

/**
 * The frame of one observation: a header (its number, time, exit code), what changed in words,
 * then the status report with each line that differs from the previous frame marked. The
 * report's first line (mode and time) counts as changed only when the mode did.
 */
export function watchFrame(
  prev: Observed | undefined,
  cur: Observed,
  opts: { count: number; intervalMs: number },
): WatchLine[] {
  const lines: WatchLine[] = [];
  const header = `-- observation ${opts.count} at ${cur.report.observedAt}, every ${opts.intervalMs / 1000}s (Ctrl-C to stop); exit code ${cur.exitCode}`;
  lines.push({ text: header, changed: false });
  if (prev) {
    const changes = statusChanges(prev, cur);
    lines.push({
      text:
        changes.length === 0 ? 'no change since the previous observation' : 'changed since the previous observation:',
      changed: false,
    });
    for (const c of changes) lines.push({ text: `  ${c}`, changed: true });
  }
  lines.push({ text: '', changed: false });
  const body = renderStatus(cur.report).replace(/\n$/, '').split('\n');
  const previous = prev ? new Set(renderStatus(prev.report).split('\n').slice(1)) : undefined;
  body.forEach((text, i) => {
    const changed =
      previous === undefined
        ? false
        : i === 0
          ? prev!.report.mode !== cur.report.mode
          : text !== '' && !previous.has(text);
    lines.push({ text, changed });
  });
  return lines;
}

/** A frame as plain text: changed lines carry a `*` in a two-column gutter. */
export function watchFrameText(lines: readonly WatchLine[]): string {
  return `${lines.map((l) => `${l.changed ? '* ' : '  '}${l.text}`.trimEnd()).join('\n')}\n`;
}
