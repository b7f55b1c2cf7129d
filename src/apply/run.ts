/**
 * A failover or failback run, from the lock to the report: lock (local and on the nodes),
 * observe, refuse a stale saved plan, the runbook's gates (apply/gates/), then the plan shown,
 * confirmed, executed exactly (guarded by the lost-DC watch), reported, and the session
 * finished whatever happened. It prints nothing: the host renders its events.
 */
import { seconds } from '../views/progress.js';
import {
  DcfailError,
  EXIT,
  type ExitCode,
  InterruptedError,
  OperationError,
  RefusedError,
  UserError,
} from '../errors.js';
import { DEFAULT_VERIFY_TIMEOUT_MS, verifyBudgetOf, type EffectContext } from './effect-kit.js';
import type { MesosRegistryRecord } from '../components/mesos/judge.js';
import { LostDcWatch } from './lost-dc-watch.js';
import type { Plan, Step } from '../plan/plan.js';
import { envHolds, parseEnvFile, parseValueFile } from '../core/env-file.js';
import { MASTER_COUNT_KEY } from '../components/zookeeper/settings.js';
import type { RunHost, RunNote } from './host.js';
import type { RunbookOptions } from '../commands/options.js';
import type { SavedPlan } from '../plan/saved-plan.js';
import { type Session, finish, openSession } from './session.js';
import { describeDrift, fingerprintBasis, fingerprintOf } from '../observe/fingerprint.js';
import { type RunOutcome, executePlan } from './executor.js';
import { factsFromObservation, judge } from '../observe/judge.js';
import { readMarker } from './marker.js';
import { loadTopology } from '../topology/load.js';
import { nodeEffects, topologyDirOf } from './effects.js';
import { observeCluster } from '../observe/observe.js';
import { otherDc, resolveDc } from '../topology/model.js';
import { planFailover } from '../plan/failover.js';
import { prepareFailback } from './gates/failback.js';
import { prepareFailover } from './gates/failover.js';
import { renderPlanText } from '../views/plan-text.js';
import { writeFileAtomic } from './local-files.js';
/** Asks the host; --yes and a run without a terminal are answers too (the DC's name, or none). */
async function confirm(host: RunHost, dc: string, what: Plan['runbook']): Promise<void> {
  const answer = await host.request({ kind: 'confirm', what, dc });
  if (answer === null)
    throw new UserError('no-tty', `${what} changes the cluster: confirm on a terminal, or pass --yes`);
  if (answer.trim() !== dc)
    throw new UserError('not-confirmed', `not confirmed (typed ${JSON.stringify(answer.trim())}): nothing was changed`);
}

function asDcfail(err: unknown): DcfailError {
  return err instanceof DcfailError ? err : new OperationError('aborted', String(err));
}

function report(host: RunHost, s: Session, body: Record<string, unknown>, text: string[]): void {
  host.notify({ kind: 'report', body: { runId: s.runId, journal: `${s.journal.dir}/journal.json`, ...body }, text });
}

/** Gates passed and plan shown: confirm, run, report. Shared by failover and failback. */
async function execute(
  opts: RunbookOptions,
  host: RunHost,
  s: Session,
  plan: Plan,
  confirmDc: string,
  extra: {
    guardLostDc?: string;
    watch?: LostDcWatch | null;
    mesosRegistryBefore?: MesosRegistryRecord;
    beforeRun?: () => Promise<void>;
    onStepDone?: (id: string) => Promise<void>;
    signal?: AbortSignal;
    /** Aborted by a second Ctrl-C: the verification under way is abandoned. */
    abandon?: AbortSignal;
    /** The command that continues the run, for the stop report. */
    again?: string;
  },
): Promise<{ ok: boolean; code: ExitCode; ms: number }> {
  await s.journal.savePlan(plan);
  host.notify({ kind: 'plan-ready', plan });
  if (plan.steps.length === 0) {
    s.journal.data.outcome = 'done';
    s.journal.data.finishedAt = new Date().toISOString();
    await s.journal.save();
    report(host, s, { outcome: 'done', plan, steps: [] }, [
      'Nothing to do: the cluster is already in the target state.',
    ]);
    return { ok: true, code: EXIT.ok, ms: 0 };
  }
  if (extra.signal?.aborted) throw asDcfail(extra.signal.reason);
  await confirm(host, confirmDc, plan.runbook);
  const confirmedAt = Date.now();
  s.journal.data.confirmedAt = new Date(confirmedAt).toISOString();
  await s.journal.save();
  await extra.beforeRun?.();
  const ctx: EffectContext = {
    topology: s.t,
    topologyDir: topologyDirOf(opts.topology),
    pool: s.pool,
    runId: s.runId,
    backupRootOf: (node) => `${s.t.nodes.find((n) => n.name === node)!.services.dcfail.stateDir}/backups/${s.runId}`,
    commandTimeoutMs: 30_000,
    ...(opts.verifyTimeoutMs !== undefined ? { verifyTimeoutMs: opts.verifyTimeoutMs } : {}),
    hookEnv: s.hookEnv,
    note: (k, v) => {
      s.journal.data.notes[k] = v;
    },
    ...(extra.mesosRegistryBefore !== undefined ? { mesosRegistryBefore: extra.mesosRegistryBefore } : {}),
    ...(extra.abandon ? { abandon: extra.abandon } : {}),
  };
  // Started by the caller before the loss certificate, so its first probe is done by now.
  const watch = extra.guardLostDc ? (extra.watch ?? new LostDcWatch(s.t, extra.guardLostDc)) : null;
  const pendingDone: Promise<void>[] = [];
  const outcome: RunOutcome = await executePlan(plan, nodeEffects(ctx), {
    runId: s.runId,
    verifyTimeoutMs: opts.verifyTimeoutMs ?? DEFAULT_VERIFY_TIMEOUT_MS,
    ...(opts.verifyTimeoutMs === undefined ? { budgetOf: (step: Step) => verifyBudgetOf(s.t, step) } : {}),
    emit: (e) => {
      s.emit(e);
      host.notify(e);
      if (e.kind === 'step-finished') pendingDone.push(extra.onStepDone?.(e.step.id) ?? Promise.resolve());
    },
    ...(watch ? { guard: () => watch.guard(), finalGuard: () => watch.check() } : {}),
    ...(extra.signal ? { signal: extra.signal } : {}),
  });
  // A step that failed while the lost DC answers as a member again failed because of it (its
  // leader taken for ours, a quorum of its own): that is the split brain, a refusal (exit 3).
  if (watch && outcome.kind === 'failed' && outcome.error.exitCode !== EXIT.refused) {
    const seen = outcome.error;
    await watch.check().catch((err: unknown) => {
      const e = asDcfail(err);
      outcome.error = new RefusedError(e.code, e.message, [`the step failed with: ${seen.message}`, ...e.details]);
    });
  }
  watch?.stop();
  await Promise.all(pendingDone);
  const ms = Date.now() - confirmedAt;
  s.journal.data.finishedAt = new Date().toISOString();
  if (outcome.kind === 'done') {
    s.journal.data.outcome = 'done';
    s.journal.data.timeToRecoveryMs = ms;
    await s.journal.save();
    report(host, s, { outcome: 'done', timeToRecoveryMs: ms, plan, steps: s.journal.data.steps }, [
      `${plan.runbook} done: ${plan.steps.length} steps, time to recovery ${seconds(ms)} (from confirmation). Journal: ${s.journal.dir}/journal.json`,
    ]);
    return { ok: true, code: EXIT.ok, ms };
  }
  const e = outcome.error;
  const interrupted = e instanceof InterruptedError;
  const allDone = outcome.done.length === plan.steps.length;
  s.journal.data.outcome = interrupted ? 'interrupted' : 'failed';
  s.journal.data.error = { code: e.code, message: e.message, details: e.details };
  await s.journal.save();
  const doneIds = new Set(outcome.done.map((d) => d.id));
  const where = `${outcome.failed.id}${outcome.failed.node ? ` on ${outcome.failed.node}` : ''}: ${outcome.failed.summary}`;
  const headline = interrupted
    ? `${plan.runbook} INTERRUPTED before step ${where}`
    : allDone
      ? `${plan.runbook} STOPPED after its last step (${where})`
      : e.exitCode === EXIT.refused
        ? `${plan.runbook} REFUSED mid-run after ${outcome.done.length} of ${plan.steps.length} steps (listed below), at step ${where}: nothing more was changed`
        : `${plan.runbook} STOPPED at step ${where}`;
  report(
    host,
    s,
    {
      outcome: 'failed',
      failedStep: outcome.failed,
      error: { code: e.code, message: e.message },
      done: outcome.done.map((d) => d.id),
      plan,
      steps: s.journal.data.steps,
    },
    [
      '',
      headline,
      `  seen: ${e.message}`,
      `  already done: ${outcome.done.length} of ${plan.steps.length} steps${outcome.done.length > 0 ? ` (last: ${outcome.done.at(-1)!.summary})` : ''}`,
      ...(e.exitCode === EXIT.refused && !allDone ? outcome.done.map((d) => `    done: ${d.id}`) : []),
      `  not done: ${plan.steps.filter((x) => !doneIds.has(x.id)).length} steps`,
      interrupted
        ? `  Run \`${extra.again ?? `dcfail ${plan.runbook}`}\` again to continue: it plans from what the nodes hold now and continues from there.`
        : `  Fix the cause and run the same command again (\`${extra.again ?? `dcfail ${plan.runbook}`}\`): it plans from what the nodes hold now and continues from there.`,
      `  Journal: ${s.journal.dir}/journal.json`,
    ],
  );
  const code: ExitCode = interrupted ? EXIT.interrupted : e.exitCode === EXIT.refused ? EXIT.refused : EXIT.failed;
  return { ok: false, code, ms };
}

/** A step as compared between a saved plan and a re-plan: every field but the display-only summary, keys sorted. */
function canonicalStep(step: unknown): string {
  const sort = (v: unknown): unknown =>
    Array.isArray(v)
      ? v.map(sort)
      : v !== null && typeof v === 'object'
        ? Object.fromEntries(
            Object.keys(v)
              .filter((k) => k !== 'summary')
              .sort()
              .map((k) => [k, sort((v as Record<string, unknown>)[k])]),
          )
        : v;
  return JSON.stringify(sort(step));
}

/**
 * The refusal naming the first step where the saved plan and dcfail's plan now part, or null when
 * they agree. On a resumed apply, a saved step may be missing from the re-plan when its effect
 * landed before the interrupted run could record it: accepted only when `held` confirms it on the
 * node (a verify, or an edit of one of the node's declared files that the file already holds).
 * The re-plan's checks may then carry other ids than the saved ones (a node's checks are numbered
 * in order: once one of two edits landed, the check of the other takes the first id): on a resumed
 * apply a verification of the re-plan that matches no saved step is accepted, and runs (it changes
 * nothing).
 */
export async function firstDifference(
  saved: readonly { id: string }[],
  fresh: readonly Step[],
  held: ((step: unknown) => Promise<boolean>) | null,
): Promise<RefusedError | null> {
  let j = 0;
  for (let i = 0; i < saved.length; i++) {
    const a = saved[i]!;
    const b = fresh[j];
    if (b !== undefined && canonicalStep(a) === canonicalStep(b)) {
      j++;
      continue;
    }
    if (held && (await held(a))) continue;
    if (held && b?.action === 'verify') {
      j++;
      i--;
      continue;
    }
    return planDiffers(a.id, a, b);
  }
  while (held && fresh[j]?.action === 'verify') j++;
  if (j < fresh.length) return planDiffers(fresh[j]!.id, undefined, fresh[j]);
  return null;
}

function planDiffers(at: string, a: unknown, b: unknown): RefusedError {
  return new RefusedError(
    'plan-differs',
    `the saved plan differs from what dcfail plans now at step ${at}: nothing was changed. Make a new plan.`,
    [
      `saved:   ${a === undefined ? '(no step)' : canonicalStep(a)}`,
      `planned: ${b === undefined ? '(no step)' : canonicalStep(b)}`,
    ],
  );
}

/** Whether a saved step (unvalidated: the file's) is one of dcfail's whose effect the node already holds. */
async function alreadyHeld(s: Session, raw: unknown): Promise<boolean> {
  const step = raw as Partial<Record<string, unknown>>;
  if (step['action'] === 'verify') return true; // a check changes nothing
  if (step['action'] !== 'edit-file' || typeof step['node'] !== 'string' || typeof step['file'] !== 'string')
    return false;
  const node = s.t.nodes.find((n) => n.name === step['node']);
  if (!node) return false;
  const declared = [
    node.services.mesos.masterCountFile,
    node.services.mesos.envFile,
    node.services.exhibitor.envFile,
    node.services.etcd.envFile,
  ];
  const changes = step['changes'];
  if (!declared.includes(step['file']) || changes === null || typeof changes !== 'object') return false;
  const entries = Object.entries(changes);
  if (!entries.every(([, v]) => v === null || typeof v === 'string')) return false;
  const text = await (await s.pool.get(node)).readFile(step['file']).catch(() => null);
  if (text === null) return false;
  const c = Object.fromEntries(entries) as Record<string, string | null>;
  return step['format'] === 'value'
    ? MASTER_COUNT_KEY in c && parseValueFile(text) === c[MASTER_COUNT_KEY]
    : step['format'] === 'env' && envHolds(parseEnvFile(text), c);
}

export interface ApplyState {
  saved: SavedPlan;
  progressFile: string;
  done: string[];
}

export async function runRunbook(
  kind: Plan['runbook'],
  opts: RunbookOptions & { to?: string },
  host: RunHost,
  apply?: ApplyState,
): Promise<ExitCode> {
  const t0 = await loadTopology(opts.topology);
  const { main, secondary } = t0.datacenters;
  const to = kind === 'failover' ? resolveDc(t0, opts.to!, '--to') : main;
  const lostDc = otherDc(t0, to);
  const s = await openSession(opts, kind, kind === 'failover' ? lostDc : secondary, to);
  const { t } = s;
  const notify = (e: RunNote) => {
    s.emit(e);
    host.notify(e);
  };
  let code: ExitCode = EXIT.failed;
  let ok = false;
  // The lost-DC watch starts now: its first probe (bounded by timeouts against a dead DC) runs
  // while the lock, observation and loss certificate do, not after the confirmation.
  const watch = kind === 'failover' && lostDc !== secondary ? new LostDcWatch(t, lostDc) : null;
  // Ctrl-C / SIGTERM: the run stops before its next step, reports, journals and releases its locks.
  // A second one abandons a verification under way (a change under way always finishes: a command
  // cut in the middle leaves a state nobody knows); the stop report then says it is unverified.
  const abort = new AbortController();
  const abandon = new AbortController();
  const onSignal = (sig: NodeJS.Signals) => {
    if (!abort.signal.aborted) {
      abort.abort(new InterruptedError(sig));
      notify({
        kind: 'notice',
        message: `${sig}: stopping before the next step (the step under way finishes; Ctrl-C again abandons a verification under way)`,
      });
    } else if (!abandon.signal.aborted) {
      abandon.abort(
        new InterruptedError(
          sig,
          `interrupted (${sig}, twice): the verification under way was abandoned, whether it holds is not known; a change under way was finished`,
        ),
      );
      notify({ kind: 'notice', message: `${sig} again: abandoning the verification under way` });
    }
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  const again = kind === 'failover' ? `dcfail failover --to ${opts.to}` : 'dcfail failback';
  try {
    if (kind === 'failover' && lostDc === secondary) {
      // Only a cluster in mode normal gets the zero-step answer: after a failover the way back is failback.
      const seen = await observeCluster(t, { pool: s.pool });
      const marker = readMarker(seen, t);
      const mode = judge(t, seen).mode;
      // (Nothing readable at all is no evidence either way: the plan then is the topology's.)
      const anyRead = seen.nodes.some((n) => n.config !== null);
      if ((marker && marker.failbackRunId === undefined) || (anyRead && mode !== 'normal')) {
        throw new RefusedError(
          'failed-over',
          marker
            ? `the cluster runs failed over to ${secondary} since ${marker.at} (run ${marker.runId}); the way back is \`dcfail failback\``
            : `the cluster is not in mode normal (mode ${mode}): it runs failed over to ${secondary}, or a run stopped halfway; the way back is \`dcfail failback\``,
        );
      }
      const plan = planFailover(
        factsFromObservation(t, { cluster: t.cluster, observedAt: new Date().toISOString(), nodes: [] }),
        { lostDc },
      );
      report(host, s, { outcome: 'done', plan }, [renderPlanText(plan)]);
      ok = true;
      code = EXIT.ok;
      return code;
    }
    const lockNodes =
      kind === 'failover' ? t.nodes.filter((n) => n.dc !== lostDc) : t.nodes.filter((n) => n.roles.length > 0);
    s.journal.data.notes['lockNotes'] = await s.lock.acquire(lockNodes, Boolean(opts.breakLock), kind);
    await s.journal.save();
    const observation = await observeCluster(t, {
      pool: s.pool,
      companions: kind === 'failover',
      forFailback: kind === 'failback',
    });
    if (apply && apply.done.length === 0) {
      const now = fingerprintOf(observation);
      if (now !== apply.saved.fingerprint) {
        throw new RefusedError(
          'stale-plan',
          `the saved plan is stale: the cluster no longer looks as it did when the plan was made (${apply.saved.createdAt}). Make a new plan.`,
          describeDrift(apply.saved.basis, fingerprintBasis(observation)),
        );
      }
    }
    const prepared =
      kind === 'failover'
        ? await prepareFailover(s, opts, notify, lostDc, to, observation)
        : await prepareFailback(s, opts, notify, to, observation);
    if (prepared.early && !apply) {
      await prepared.afterSuccess?.();
      report(host, s, { outcome: 'done', plan: prepared.plan }, [prepared.early]);
      ok = true;
      code = EXIT.ok;
      return code;
    }
    let plan = prepared.plan;
    if (apply) {
      // The saved plan is not trusted to name what runs: dcfail re-plans from what it observed
      // now (the same builder as `plan`), and runs its own steps, after checking that they are
      // the saved ones not yet done, one for one. A step the file adds, drops or alters refuses.
      const done = new Set(apply.done);
      const fresh = prepared.plan.steps.filter((x) => !done.has(x.id));
      const saved = apply.saved.plan.steps.filter((x) => !done.has(x.id));
      const differs = await firstDifference(saved, fresh, apply.done.length > 0 ? (x) => alreadyHeld(s, x) : null);
      if (differs !== null) throw differs;
      plan = { ...prepared.plan, steps: fresh };
      if (apply.done.length > 0)
        notify({
          kind: 'notice',
          message: `resuming the saved plan: ${apply.done.length} of ${apply.saved.plan.steps.length} steps were done before`,
        });
    }
    let progress = Promise.resolve();
    const onDone = apply
      ? (id: string) => {
          apply.done.push(id);
          progress = progress.then(() => writeFileAtomic(apply.progressFile, JSON.stringify({ done: apply.done })));
          return progress;
        }
      : undefined;
    const r = await execute(opts, host, s, plan, prepared.confirmDc, {
      ...prepared.extra,
      watch,
      signal: abort.signal,
      abandon: abandon.signal,
      again: apply ? 'dcfail apply <plan-file>' : again,
      ...(onDone ? { onStepDone: onDone } : {}),
    });
    ok = r.ok;
    code = r.code;
    if (ok) await prepared.afterSuccess?.();
    return code;
  } catch (err) {
    if (err instanceof DcfailError) {
      s.journal.data.outcome =
        err instanceof InterruptedError
          ? 'interrupted'
          : err.exitCode === EXIT.refused || err.exitCode === EXIT.locked
            ? 'refused'
            : 'failed';
      s.journal.data.error = { code: err.code, message: err.message, details: err.details };
    }
    throw err;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
    watch?.stop();
    const hooks =
      kind === 'failover'
        ? { ok: t.hooks.postFailover, failed: t.hooks.onFailure }
        : { ok: t.hooks.postFailback, failed: t.hooks.onFailure };
    code = await finish(s, code, hooks, topologyDirOf(opts.topology), ok);
  }
}
