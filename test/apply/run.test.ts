/**
 * A run with a recording host: the events it sends, asserted as values rather than as rendered
 * text. Without a lab, the one run that touches no node: a failover away from the secondary DC
 * (the main DC keeps every quorum), which plans nothing and reports it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { runRunbook } from '../../src/apply/run.js';
import { EXIT } from '../../src/errors.js';
import { recordingHost } from '../../src/views/runbook.js';

const opts = { topology: 'fixtures/topologies/example.yaml', json: false, logLevel: 'info' };

describe('runRunbook with a recording host', () => {
  let saved: string | undefined;
  beforeEach(() => {
    saved = process.env['DCFAIL_STATE_DIR'];
    process.env['DCFAIL_STATE_DIR'] = mkdtempSync(join(tmpdir(), 'dcfail-run-'));
  });
  afterEach(() => {
    if (saved === undefined) delete process.env['DCFAIL_STATE_DIR'];
    else process.env['DCFAIL_STATE_DIR'] = saved;
  });

  it('a failover away from the minority DC changes nothing, asks nothing and reports that', async () => {
    const host = recordingHost(null);
    const code = await runRunbook('failover', { ...opts, to: 'main' }, host);
    expect(code).toBe(EXIT.ok);
    expect(host.requests).toEqual([]);
    expect(host.events.map((e) => e.kind)).toEqual(['report']);
    const report = host.events[0]!;
    if (report.kind !== 'report') throw new Error('not a report');
    expect(report.body).toMatchObject({ outcome: 'done', plan: { runbook: 'failover', steps: [] } });
    expect(report.body['journal']).toMatch(/journal\.json$/);
  });
});
