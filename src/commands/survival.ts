/**
 * `dcfail survival`: which Marathon apps survive the loss of each DC. Thin: load the topology,
 * read the observations (live or files), build the report, render it. Exit 0 when every
 * critical app survives, 5 (hazard) otherwise.
 */
import { EXIT, type ExitCode } from '../errors.js';
import { loadTopology } from '../topology/load.js';
import { otherDc, resolveDc } from '../topology/model.js';
import { renderSurvivalReport } from '../survival/render.js';
import { buildSurvivalReport } from '../survival/report.js';
import { loadSurvivalInputs } from '../survival/sources.js';
import type { GlobalOptions } from './options.js';
import type { Io } from '../views/io.js';

export interface SurvivalOptions {
  /** Report only the loss of this DC (a name, or main/secondary). Default: both DCs, one after the other. */
  assumeDown?: string | undefined;
  /** Saved Marathon `/v2/apps?embed=apps.tasks` JSON (offline, with `agents`). */
  apps?: string | undefined;
  /** Saved Mesos `/master/slaves` JSON (offline, with `apps`). */
  agents?: string | undefined;
  /** Every app counts as critical, not only those labelled DCFAIL_CRITICAL=true. */
  strict?: boolean | undefined;
  /** The masters' fault-domain region (offline: the only source; live: overrides /master/state). */
  masterRegion?: string | undefined;
}

export async function survival(opts: GlobalOptions & SurvivalOptions, io: Io): Promise<ExitCode> {
  const topology = await loadTopology(opts.topology);
  const lostDc = opts.assumeDown !== undefined ? resolveDc(topology, opts.assumeDown, '--assume-down') : undefined;
  const inputs = await loadSurvivalInputs(topology, {
    apps: opts.apps,
    agents: opts.agents,
    masterRegion: opts.masterRegion,
    preferDc: lostDc !== undefined ? otherDc(topology, lostDc) : undefined,
  });
  const report = buildSurvivalReport(topology, inputs, {
    ...(lostDc !== undefined ? { lostDcs: [lostDc] } : {}),
    strict: opts.strict ?? false,
  });
  io.out(opts.json ? JSON.stringify(report, null, 2) : renderSurvivalReport(report));
  return report.hazard ? EXIT.hazard : EXIT.ok;
}
