/**
 * How a failover, failback or apply run looks on a terminal: the plan before confirmation, a
 * line per step, warnings on stderr, and the report (text, or the --json document). Also the
 * answers to the run's confirmation: the DC typed on a terminal, or --yes; none without either.
 */
import type { RunbookEvent, RunHost } from '../apply/host.js';
import type { RunEvent } from '../apply/executor.js';
import type { Io } from './io.js';
import { renderPlanText } from './plan-text.js';
import { progressRenderer } from './progress.js';

export function terminalHost(io: Io, opts: { json: boolean; yes?: boolean | undefined }): RunHost {
  let renderer: ((e: RunEvent) => void) | null = null;
  return {
    notify(e: RunbookEvent) {
      switch (e.kind) {
        case 'plan-ready':
          if (opts.json) return;
          io.out(renderPlanText(e.plan));
          renderer = progressRenderer(io, e.plan);
          return;
        case 'warning':
          io.err(`WARNING: ${e.message}`);
          for (const d of e.details) io.err(`  ${d}`);
          return;
        case 'notice':
          io.err(e.message);
          return;
        case 'report':
          if (opts.json)
            io.out(JSON.stringify(e.body, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v), 2));
          else for (const line of e.text) io.out(line);
          return;
        default:
          renderer?.(e);
      }
    },
    async request(r) {
      if (opts.yes) return r.dc;
      if (!io.isTTY || !io.ask) return null;
      return io.ask(`Type the name of the DC (${r.dc}) to ${r.what}, anything else aborts: `);
    },
  };
}

/** A host for tests: it records every event and request, and gives the answer it was handed. */
export function recordingHost(answer: string | null): RunHost & { events: RunbookEvent[]; requests: unknown[] } {
  const events: RunbookEvent[] = [];
  const requests: unknown[] = [];
  return {
    events,
    requests,
    notify: (e) => events.push(e),
    request: async (r) => {
      requests.push(r);
      return answer;
    },
  };
}
