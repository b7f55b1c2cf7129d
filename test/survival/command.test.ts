/** `dcfail survival` (src/commands/survival.ts), offline on fixtures/survival. */
import { describe, expect, it } from 'vitest';
import { captureIo } from '../../src/views/io.js';
import { survival } from '../../src/commands/survival.js';
import { DcfailError } from '../../src/errors.js';
import type { SurvivalReport } from '../../src/survival/report.js';

const DIR = 'fixtures/survival';
const base = {
  topology: `${DIR}/topology.yaml`,
  json: false,
  logLevel: 'info',
  apps: `${DIR}/apps.json`,
  agents: `${DIR}/agents.json`,
};

async function failure(p: Promise<unknown>): Promise<DcfailError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof DcfailError) return err;
    throw err;
  }
  throw new Error('expected a DcfailError');
}

describe('dcfail survival', () => {
  it('exit 5 when a critical app would not survive (/payments/api, GROUP_BY datacenter 2)', async () => {
    const io = captureIo();
    expect(await survival(base, io)).toBe(5);
    expect(io.stdout).toContain('HAZARD: 1 critical app would not survive: /payments/api');
    expect(io.stderr).toBe('');
  });

  it('exit 0 when every critical app survives', async () => {
    const io = captureIo();
    expect(await survival({ ...base, apps: `${DIR}/apps-critical-survive.json` }, io)).toBe(0);
    expect(io.stdout).toContain('OK: every critical app survives the loss of madrid and of barcelona');
  });

  it('--strict makes every app critical: exit 5 on the same files', async () => {
    expect(await survival({ ...base, apps: `${DIR}/apps-critical-survive.json`, strict: true }, captureIo())).toBe(5);
  });

  it('--json: one JSON document; --assume-down takes the alias main', async () => {
    const io = captureIo();
    const code = await survival({ ...base, json: true, assumeDown: 'main', masterRegion: 'eu-south' }, io);
    const report = JSON.parse(io.stdout) as SurvivalReport;
    expect(code).toBe(5);
    expect(report.scenarios.map((s) => [s.lostDc, s.survivingDc])).toEqual([['madrid', 'barcelona']]);
    expect(report.masterRegion).toEqual({ kind: 'known', region: 'eu-south', source: '--master-region' });
    expect(report.hazard).toBe(true);
    expect(report.scenarios[0]!.apps.find((a) => a.id === '/reporting/batch')!.verdict).toEqual({ kind: 'lost' });
  });

  it('--assume-down secondary reports only the loss of barcelona', async () => {
    const io = captureIo();
    await survival({ ...base, assumeDown: 'secondary' }, io);
    expect(io.stdout).toContain('If barcelona is lost (madrid survives):');
    expect(io.stdout).not.toContain('If madrid is lost');
  });

  it('an unknown DC is a bad flag (exit 2)', async () => {
    const err = await failure(survival({ ...base, assumeDown: 'valencia' }, captureIo()));
    expect(err).toMatchObject({ code: 'bad-flag', exitCode: 2 });
  });

  it('no marathon block and no files: exit 2 saying what to add', async () => {
    const err = await failure(
      survival({ topology: `${DIR}/topology-no-marathon.yaml`, json: false, logLevel: 'info' }, captureIo()),
    );
    expect(err).toMatchObject({ code: 'survival-no-marathon', exitCode: 2 });
  });

  it('no marathon block, files given: the defaults (attribute datacenter, zone) apply', async () => {
    const io = captureIo();
    expect(await survival({ ...base, topology: `${DIR}/topology-no-marathon.yaml` }, io)).toBe(5);
    expect(io.stdout).toContain("DC of agents:  attribute 'datacenter', else fault-domain zone");
  });
});
