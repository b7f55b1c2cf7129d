/**
 * `dcfail report <run> --html <file>`: the incident report, one self-contained HTML file (inline
 * CSS and SVG, no script, no external asset; a Content-Security-Policy forbids loading anything).
 * Every value from the journal is untrusted and goes through `esc` (text and attributes alike):
 * a step summary holding `<script>` shows as text.
 */
import { type Timeline, type StepKind, duration, keptFilesOf, summaryOf, timelineOf } from '../runs/digest.js';
import type { RunJournal } from '../runs/journal-file.js';
import { safeText } from './escape.js';

/** HTML text and attribute values; control characters shown as escapes, as on a terminal. */
function esc(s: string): string {
  return safeText(s).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const KIND_COLOUR: Record<StepKind, string> = {
  fence: '#b91c1c',
  edit: '#2563eb',
  service: '#d97706',
  verify: '#16a34a',
  data: '#7c3aed',
  member: '#0891b2',
  other: '#6b7280',
};
const KIND_TITLE: Record<StepKind, string> = {
  fence: 'fence',
  edit: 'file edit',
  service: 'service start/stop',
  verify: 'verification',
  data: 'data moved or copied',
  member: 'etcd membership',
  other: 'other',
};

/** A round step for the axis: about eight ticks. */
function tickStep(spanMs: number): number {
  const raw = spanMs / 8;
  const p = 10 ** Math.floor(Math.log10(Math.max(raw, 1)));
  return [1, 2, 5, 10].map((m) => m * p).find((s) => s >= raw) ?? 10 * p;
}

function timelineSvg(t: Timeline, j: RunJournal): string {
  const labelW = 300;
  const plotW = 860;
  const rowH = 24;
  const top = 54;
  const height = top + t.rows.length * rowH + 56;
  const width = labelW + plotW + 70;
  const x = (ms: number) => labelW + (Math.max(0, ms) / t.spanMs) * plotW;
  const parts: string[] = [];
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" id="timeline" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" aria-label="timeline of the run">`,
  );
  t.rows.forEach((r, i) => {
    const y = top + i * rowH;
    if (i % 2 === 0) parts.push(`<rect x="0" y="${y}" width="${width}" height="${rowH}" fill="#f3f4f6"/>`);
    parts.push(`<text class="row-label" x="${labelW - 8}" y="${y + 16}" text-anchor="end">${esc(r.label)}</text>`);
  });
  const step = tickStep(t.spanMs);
  const axisY = top + t.rows.length * rowH;
  for (let ms = 0; ms <= t.spanMs; ms += step) {
    parts.push(
      `<line x1="${x(ms)}" y1="${top}" x2="${x(ms)}" y2="${axisY}" stroke="#d1d5db" stroke-width="1"/>`,
      `<text class="tick" x="${x(ms)}" y="${axisY + 14}" text-anchor="middle">${esc(duration(ms))}</text>`,
    );
  }
  for (const b of t.bars) {
    const y = top + b.row * rowH + 4;
    const w = Math.max(2, x(b.endMs) - x(b.startMs));
    const failed = b.step.status === 'failed';
    parts.push(
      `<rect class="bar" data-index="${b.index + 1}" data-kind="${b.kind}" data-status="${b.step.status}" x="${x(b.startMs).toFixed(1)}" y="${y}" width="${w.toFixed(1)}" height="${rowH - 8}" rx="2" fill="${KIND_COLOUR[b.kind]}"${failed ? ' stroke="#000" stroke-width="2"' : ''}><title>${esc(`${b.index + 1}. ${b.step.summary} (${duration(b.step.ms)}, ${b.step.status})`)}</title></rect>`,
    );
  }
  for (const m of t.marks) {
    const colour = m.kind === 'loss-certificate' ? '#9f1239' : m.kind === 'confirmation' ? '#1d4ed8' : '#111827';
    parts.push(
      `<g class="mark" data-mark="${m.kind}"><line x1="${x(m.atMs)}" y1="${m.kind === 'loss-certificate' ? top - 26 : top - 16}" x2="${x(m.atMs)}" y2="${axisY}" stroke="${colour}" stroke-width="2" stroke-dasharray="5 3"/>` +
        // The loss certificate is usually moments before the confirmation: its label goes left, a row higher.
        (m.kind === 'loss-certificate'
          ? `<text x="${x(m.atMs) - 3}" y="${top - 30}" fill="${colour}" class="mark-label" text-anchor="end">${esc(m.label)}</text></g>`
          : `<text x="${x(m.atMs) + 3}" y="${top - 20}" fill="${colour}" class="mark-label">${esc(m.label)}</text></g>`),
    );
  }
  const confirm = t.marks.find((m) => m.kind === 'confirmation');
  if (j.timeToRecoveryMs !== undefined && confirm) {
    const y = axisY + 34;
    const x1 = x(confirm.atMs);
    const x2 = x(confirm.atMs + j.timeToRecoveryMs);
    parts.push(
      `<g id="ttr"><line x1="${x1}" y1="${y}" x2="${x2}" y2="${y}" stroke="#1d4ed8" stroke-width="3"/>` +
        `<line x1="${x1}" y1="${y - 6}" x2="${x1}" y2="${y + 6}" stroke="#1d4ed8" stroke-width="2"/>` +
        `<line x1="${x2}" y1="${y - 6}" x2="${x2}" y2="${y + 6}" stroke="#1d4ed8" stroke-width="2"/>` +
        `<text x="${(x1 + x2) / 2}" y="${y + 18}" text-anchor="middle" class="ttr-label">time to recovery ${esc(duration(j.timeToRecoveryMs))}</text></g>`,
    );
  }
  parts.push('</svg>');
  return parts.join('\n');
}

function table(head: string[], rows: string[][], cls = ''): string {
  return `<table${cls ? ` class="${cls}"` : ''}><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

const CSS = `
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; color: #111827; margin: 24px; max-width: 1240px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #e5e7eb; }
.outcome { display: inline-block; padding: 2px 8px; border-radius: 4px; color: #fff; font-weight: 600; }
.o-done { background: #16a34a; } .o-failed, .o-refused, .o-aborted { background: #b91c1c; } .o-interrupted, .o-unfinished { background: #d97706; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 16px; } dl.facts dt { color: #6b7280; }
table { border-collapse: collapse; font-size: 13px; } th, td { text-align: left; padding: 3px 8px; border-bottom: 1px solid #e5e7eb; vertical-align: top; }
td { font-family: ui-monospace, 'DejaVu Sans Mono', monospace; word-break: break-all; }
svg text { font: 11px system-ui, sans-serif; fill: #374151; } svg .mark-label { font-weight: 600; } svg .ttr-label { font-weight: 600; fill: #1d4ed8; }
.legend span { display: inline-block; margin-right: 14px; } .legend i { display: inline-block; width: 12px; height: 12px; margin-right: 4px; vertical-align: -1px; }
.warn { color: #b91c1c; font-weight: 600; } .note { color: #6b7280; }
`;

/** The report as one HTML document. */
export function renderReportHtml(j: RunJournal): string {
  const s = summaryOf(j);
  const t = timelineOf(j);
  const executed = new Map(j.steps.map((st) => [st.id, st]));
  const lost = s.runbook === 'failover' ? (s.from ?? j.evidence?.dc ?? null) : null;
  const facts: [string, string][] = [
    ['cluster', j.cluster],
    ['runbook', `${s.runbook} ${s.from ?? '?'} → ${s.to ?? '?'}`],
    ['operator', `${j.operator} on ${j.host}`],
    ['topology', j.topology],
    ['started', j.startedAt],
    ...(j.evidenceAt ? ([['loss certificate', j.evidenceAt]] as [string, string][]) : []),
    ...(j.confirmedAt ? ([['confirmed', j.confirmedAt]] as [string, string][]) : []),
    ...(j.finishedAt ? ([['finished', j.finishedAt]] as [string, string][]) : []),
    ['time to recovery', s.timeToRecoveryMs === null ? '-' : `${duration(s.timeToRecoveryMs)} (from confirmation)`],
    ['steps', `${s.stepsDone} done of ${s.stepsTotal ?? '?'} planned`],
    [
      'flags',
      Object.entries(j.flags)
        .map(([k, v]) => (v === true ? `--${k}` : `--${k} ${JSON.stringify(v)}`))
        .join(' ') || '(none)',
    ],
  ];
  const kinds = [...new Set(t.bars.map((b) => b.kind))];
  const body: string[] = [
    `<h1>dcfail ${esc(s.runbook)} of ${esc(j.cluster)}: <span class="outcome o-${esc(s.outcome)}">${esc(s.outcome)}</span></h1>`,
    `<p class="note">Run ${esc(j.runId)}. Incident report generated by dcfail from the run's journal.</p>`,
    `<dl class="facts">${facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v)}</dd>`).join('')}</dl>`,
  ];
  if (j.error)
    body.push(
      `<h2>Why it stopped</h2><p class="warn">[${esc(j.error.code)}] ${esc(j.error.message)}</p>`,
      j.error.details.length > 0 ? `<ul>${j.error.details.map((d) => `<li>${esc(d)}</li>`).join('')}</ul>` : '',
    );
  for (const w of j.warnings ?? [])
    body.push(
      `<p class="warn">Warning [${esc(w.code)}]: ${esc(w.message)}</p>`,
      w.details.length > 0 ? `<ul>${w.details.map((d) => `<li>${esc(d)}</li>`).join('')}</ul>` : '',
    );
  body.push(
    `<h2>Timeline</h2>`,
    `<p class="note">One bar per executed step (${t.bars.length}), a row per track and node, from the run's start${
      t.estimated ? '; step times are estimated: this journal has no step start times' : ''
    }. Hover a bar for its step.</p>`,
    `<p class="legend">${kinds.map((k) => `<span><i style="background:${KIND_COLOUR[k]}"></i>${esc(KIND_TITLE[k])}</span>`).join('')}</p>`,
    timelineSvg(t, j),
  );
  const e = j.evidence;
  if (e) {
    body.push(
      `<h2>Evidence that ${esc(e.dc)} is lost: ${esc(e.verdict)}</h2>`,
      `<p class="note">Every configured check, ${e.attempts} attempts each; nothing of the lost DC may answer as a cluster member.</p>`,
      table(
        ['node', 'check', 'attempts saw'],
        e.checks.map((c) => [c.node, c.check, c.results.join(', ')]),
      ),
      table(
        ['survivor', 'sane', 'why'],
        e.survivors.map((v) => [v.node, v.sane ? 'yes' : 'NO', v.why]),
      ),
      e.answeringAsMembers.length > 0
        ? `<p class="warn">Answering as members: ${esc(e.answeringAsMembers.join(', '))}</p>`
        : '',
      e.reasons.length > 0 ? `<ul>${e.reasons.map((r) => `<li>${esc(r)}</li>`).join('')}</ul>` : '',
    );
  }
  body.push(`<h2>What was lost, or could have been</h2>`);
  if (j.failoverPoint && Object.keys(j.failoverPoint).length > 0) {
    const keys = [...new Set(Object.values(j.failoverPoint).flatMap((p) => Object.keys(p)))];
    body.push(
      `<p>${
        lost
          ? `A failover is a forced recovery: writes committed only in ${esc(lost)} after this point are gone.`
          : 'Where the survivors stood when the failover began.'
      } The failover point, per survivor:</p>`,
      table(
        ['node', ...keys],
        Object.entries(j.failoverPoint).map(([node, p]) => [node, ...keys.map((k) => (k in p ? String(p[k]) : '-'))]),
        'point',
      ),
    );
  } else body.push(`<p class="note">The journal records no failover point.</p>`);
  const kept = keptFilesOf(j);
  if (kept.length > 0)
    body.push(
      `<p>Kept on the nodes (backups of every edited file, data moved aside, copies of the replicas):</p>`,
      table(
        ['kind', 'node', 'of', 'kept at'],
        kept.map((k) => [k.what, k.node, k.target, k.path]),
      ),
    );
  if (j.plan) {
    body.push(
      `<h2>The plan (${j.plan.steps.length} steps)</h2>`,
      table(
        ['#', 'node', 'summary', 'outcome', 'duration'],
        j.plan.steps.map((p, i) => {
          const x = executed.get(p.id);
          return [
            String(i + 1),
            p.node ?? (p.cluster ? `${p.cluster} cluster` : 'locally'),
            p.summary,
            x ? x.status : 'not run',
            x ? duration(x.ms) : '',
          ];
        }),
        'plan',
      ),
    );
  }
  body.push(
    `<h2>Steps as executed</h2>`,
    table(
      ['#', 'start', 'node', 'duration', 'outcome', 'summary', 'detail'],
      t.bars.map((b) => [
        String(b.index + 1),
        `+${duration(b.startMs)}`,
        b.where,
        duration(b.step.ms),
        b.step.status,
        b.step.summary,
        b.step.detail,
      ]),
      'steps',
    ),
  );
  return [
    '<!DOCTYPE html>',
    '<html lang="en"><head><meta charset="utf-8">',
    `<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'">`,
    '<meta name="viewport" content="width=device-width, initial-scale=1">',
    `<title>${esc(`dcfail ${s.runbook} ${j.runId} (${j.cluster}): ${s.outcome}`)}</title>`,
    `<style>${CSS}</style></head><body>`,
    ...body,
    '</body></html>',
    '',
  ].join('\n');
}
