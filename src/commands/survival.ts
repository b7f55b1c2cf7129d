/**
 * `dcfail survival`: which Marathon apps survive the loss of each DC. Thin: load the topology,
 * read the observations (live or files), build the report, render it. Exit 0 when every
 * critical app survives, 5 (hazard) otherwise.
 */
import type { CalicoFinding, CalicoReport } from '../calico/judge.js';
import { renderCalico } from '../calico/render.js';
import { readCalico } from '../calico/source.js';
import { EXIT, type ExitCode } from '../errors.js';
import { loadTopology } from '../topology/load.js';
import { otherDc, resolveDc, type Topology } from '../topology/model.js';
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

/**
 * Calico's findings that matter when `lostDcs` are lost: those about a surviving DC (its
 * reflectors, its nodes' peerings), and those about no DC in particular (the mesh, unplaced nodes).
 */
function calicoForLoss(t: Topology, r: CalicoReport, lostDcs: readonly string[]): CalicoFinding[] {
  const surviving = lostDcs.map((dc) => otherDc(t, dc));
  return r.findings.filter((f) => f.dc === undefined || surviving.includes(f.dc));
}

export async function survival(opts: GlobalOptions & SurvivalOptions, io: Io): Promise<ExitCode> {
  const topology = await loadTopology(opts.topology);
  const lostDc = opts.assumeDown !== undefined ? resolveDc(topology, opts.assumeDown, '--assume-down') : undefined;
  const lostDcs = lostDc !== undefined ? [lostDc] : [topology.datacenters.main, topology.datacenters.secondary];
  // Calico's configuration lives in etcd, not in Marathon: read it whenever the topology says where it is.
  const calico = topology.calico ? await readCalico(topology) : undefined;
  const calicoFindings = calico ? calicoForLoss(topology, calico, lostDcs) : [];
  const calicoHazard = calicoFindings.some((f) => f.severity === 'hazard');
  // The losses Calico's routing would not survive: a hazard about the DC left standing.
  const fatalLosses = lostDcs.filter((dc) =>
    calicoFindings.some((f) => f.severity === 'hazard' && f.dc === otherDc(topology, dc)),
  );
  const calicoVerdict = `HAZARD: Calico's routing would not survive the loss of ${fatalLosses.join(' or of ')}`;
  if (calico && !topology.marathon && opts.apps === undefined && opts.agents === undefined) {
    // Calico only: no Marathon to ask about apps.
    const report = {
      cluster: topology.cluster,
      lostDcs,
      calico: { ...calico, findings: calicoFindings },
      hazard: calicoHazard,
    };
    io.out(
      opts.json
        ? JSON.stringify(report, null, 2)
        : [
            `Survival report for ${topology.cluster} (network only: no marathon block, no --apps/--agents)`,
            '',
            ...renderCalico(calico, calicoFindings),
            '',
            calicoHazard ? calicoVerdict : `OK: Calico's routing has a route reflector in each surviving DC`,
          ].join('\n'),
    );
    return calicoHazard ? EXIT.hazard : EXIT.ok;
  }
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
  const full = calico
    ? { ...report, calico: { ...calico, findings: calicoFindings }, hazard: report.hazard || calicoHazard }
    : report;
  io.out(
    opts.json
      ? JSON.stringify(full, null, 2)
      : calico
        ? [
            renderSurvivalReport(report),
            '',
            ...renderCalico(calico, calicoFindings),
            ...(calicoHazard ? ['', calicoVerdict] : []),
          ].join('\n')
        : renderSurvivalReport(report),
  );
  return full.hazard ? EXIT.hazard : EXIT.ok;
}
