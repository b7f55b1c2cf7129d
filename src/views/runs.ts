/**
 * `dcfail history` and `dcfail show` for people. Everything here comes from journals, untrusted:
 * the process Io escapes control characters on the way out (views/io.ts), and each field is put
 * on one line (line feeds inside a field shown as `\n`), so a journal cannot forge a line.
 */
import { type RunSummary, duration, keptFilesOf, summaryOf, timelineOf } from '../runs/digest.js';
import type { ReadJournal, RunJournal } from '../runs/journal-file.js';

/** A journal field on one line. */
function oneLine(s: string): string {
  return s.replace(/\r?\n|\r/g, '\\n');
}

function when(iso: string): string {
  return iso.replace('T', ' ').replace(/\.\d+Z$/, 'Z');
}

function fromTo(s: RunSummary): string {
  return `${s.from ?? '?'} -> ${s.to ?? '?'}`;
}

function stepsOf(s: RunSummary): string {
  return `${s.stepsDone}/${s.stepsTotal ?? '-'}`;
}

/** The history table, newest first; unreadable journals as one line each, after it. */
export function renderHistory(read: readonly ReadJournal[], runsDir: string): string[] {
  const ok = read.flatMap((r) => (r.kind === 'ok' ? [summaryOf(r.journal)] : []));
  const lines: string[] = [];
  if (ok.length === 0 && read.length === 0) return [`No runs in ${runsDir}.`];
  if (ok.length > 0) {
    const rows = [
      ['RUN', 'RUNBOOK', 'FROM -> TO', 'OPERATOR', 'STARTED', 'OUTCOME', 'RECOVERY', 'STEPS'],
      ...ok.map((s) => [
        s.runId,
        s.runbook,
        fromTo(s),
        s.operator,
        when(s.startedAt),
        s.outcome,
        s.timeToRecoveryMs === null ? '-' : duration(s.timeToRecoveryMs),
        stepsOf(s),
      ]),
    ].map((r) => r.map(oneLine));
    const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
    for (const r of rows)
      lines.push(
        r
          .map((c, i) => c.padEnd(widths[i]!))
          .join('  ')
          .trimEnd(),
      );
  }
  for (const r of read) if (r.kind === 'bad') lines.push(`! ${oneLine(r.file)}: ${oneLine(r.why)} (left out)`);
  return lines;
}

function flagsText(flags: RunJournal['flags']): string {
  const f = Object.entries(flags).map(([k, v]) => (v === true ? `--${k}` : `--${k} ${JSON.stringify(v)}`));
  return f.length > 0 ? f.join(' ') : '(none)';
}

/** One run, for people: who, what, the evidence, the failover point, every step, what was kept. */
export function renderRun(j: RunJournal): string[] {
  const s = summaryOf(j);
  const t = timelineOf(j);
  const o = oneLine;
  const lines = [
    `Run ${s.runId}: ${s.runbook} ${fromTo(s)} of ${o(s.cluster)}, ${s.outcome}`,
    `  operator:   ${o(j.operator)} on ${o(j.host)}`,
    `  topology:   ${o(j.topology)}`,
    `  started:    ${when(j.startedAt)}`,
    ...(j.evidenceAt ? [`  evidence:   ${when(j.evidenceAt)} (loss certificate)`] : []),
    ...(j.confirmedAt ? [`  confirmed:  ${when(j.confirmedAt)}`] : []),
    ...(j.finishedAt ? [`  finished:   ${when(j.finishedAt)}`] : []),
    `  recovery:   ${s.timeToRecoveryMs === null ? '-' : `${duration(s.timeToRecoveryMs)} (from confirmation to the last verification)`}`,
    `  steps:      ${stepsOf(s)} done`,
    `  flags:      ${o(flagsText(j.flags))}`,
  ];
  for (const [k, v] of Object.entries(j.flags))
    if (typeof v === 'string') lines.push(`    --${k}, the reason given: ${o(v)}`);
  if (j.error) {
    lines.push('', `Stopped: [${o(j.error.code)}] ${o(j.error.message)}`);
    for (const d of j.error.details) lines.push(`  ${o(d)}`);
  }
  for (const w of j.warnings ?? []) {
    lines.push('', `Warning: [${o(w.code)}] ${o(w.message)}`);
    for (const d of w.details) lines.push(`  ${o(d)}`);
  }
  const e = j.evidence;
  if (e) {
    lines.push('', `Evidence that ${o(e.dc)} is lost: ${e.verdict} (${e.attempts} attempts per check)`);
    for (const c of e.checks)
      lines.push(`  ${o(c.node).padEnd(12)} ${o(c.check).padEnd(16)} ${o(c.results.join(', '))}`);
    for (const n of e.answeringAsMembers) lines.push(`  answers as a member: ${o(n)}`);
    for (const v of e.survivors) lines.push(`  survivor ${o(v.node)}: ${v.sane ? 'sane' : 'NOT sane'} (${o(v.why)})`);
    for (const r of e.reasons) lines.push(`  reason: ${o(r)}`);
  }
  if (j.failoverPoint && Object.keys(j.failoverPoint).length > 0) {
    lines.push(
      '',
      "Failover point (where each survivor's replicas stood; writes past it only in the lost DC are lost):",
    );
    for (const [node, p] of Object.entries(j.failoverPoint))
      lines.push(
        `  ${o(node).padEnd(12)} ${Object.entries(p)
          .map(([k, v]) => `${o(k)}=${o(String(v))}`)
          .join('  ')}`,
      );
  }
  lines.push(
    '',
    `Steps (${s.stepsDone} done of ${s.stepsTotal ?? '?'} planned; in the order they finished, +time from the run's start${t.estimated ? ', estimated: this journal has no step start times' : ''}):`,
  );
  for (const b of t.bars) {
    const st = b.step;
    lines.push(
      `  ${String(b.index + 1).padStart(3)}. ${`+${duration(b.startMs)}`.padEnd(11)} ${o(b.where).padEnd(17)} ${duration(st.ms).padStart(9)}  ${st.status === 'done' ? 'done  ' : 'FAILED'}  ${o(st.summary)}`,
      `       ${o(st.detail)}`,
    );
  }
  const kept = keptFilesOf(j);
  if (kept.length > 0) {
    lines.push('', 'Backups and copies (on the nodes):');
    for (const k of kept) lines.push(`  ${k.what.padEnd(7)} ${o(k.node).padEnd(12)} ${o(k.target)} -> ${o(k.path)}`);
  }
  return lines;
}
