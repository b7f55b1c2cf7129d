/**
 * A run with a recording host: the events it sends, asserted as values rather than as rendered
 * text. Without a lab, the one run that touches no node: a failover away from the secondary DC
 * (the main DC keeps every quorum), which plans nothing and reports it.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { firstDifference, runRunbook } from '../../src/apply/run.js';
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

describe('firstDifference: a saved plan against the re-plan of a resumed apply', () => {
  const edit = (file: string) => ({
    id: `zk:config:${file}`,
    action: 'edit-file',
    node: 'master-3',
    file,
    changes: { K: '1' },
  });
  const check = (id: string, file: string) => ({
    id,
    action: 'verify',
    node: 'master-3',
    check: { kind: 'file', file },
  });
  const restart = { id: 'zk:restart', action: 'restart', node: 'master-3', unit: 'dcos-exhibitor' };
  const saved = [edit('/a'), edit('/b'), check('v', '/a'), check('v#2', '/b'), restart];
  const asSteps = (x: object[]) => x as unknown as Parameters<typeof firstDifference>[1];
  /** What the node holds: the interrupted run wrote /a before it could record it. */
  const held = async (s: unknown) => {
    const step = s as { action: string; file?: string };
    return step.action === 'verify' || step.file === '/a';
  };

  it('accepts a check renumbered because an edit before it landed unrecorded, and refuses any other change', async () => {
    // The re-plan edits /b only, and its one check of master-3 takes the first id.
    const fresh = [edit('/b'), check('v', '/b'), restart];
    expect(await firstDifference(saved, asSteps(fresh), held)).toBeNull();
    // Not a resumed apply (nothing done before): the same re-plan is a different plan.
    expect((await firstDifference(saved, asSteps(fresh), null))?.code).toBe('plan-differs');
    // A step the re-plan adds that is not a check still refuses.
    const extra = [edit('/b'), check('v', '/b'), { ...restart, id: 'zk:restart#2' }, restart];
    expect((await firstDifference(saved, asSteps(extra), held))?.code).toBe('plan-differs');
  });
});
