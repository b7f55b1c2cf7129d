/**
 * Wires commander to the commands. Each command module is imported lazily, so `--version` and
 * `--help` load nothing but commander. Commands return an exit code or throw a DcfailError; only
 * src/main.ts turns that into the process's exit status.
 */
import { Command, CommanderError, Option } from 'commander';
import { existsSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, resolve } from 'node:path';
import { UserError, type ExitCode } from './errors.js';
import { type GlobalOptions, parseCount, parseDuration } from './commands/options.js';
import type { Io } from './views/io.js';

const require = createRequire(import.meta.url);

function packageVersion(): string {
  for (const p of ['../package.json', '../../package.json']) {
    try {
      return (require(p) as { version: string }).version;
    } catch {
      // try the next layout (running from src/ or from dist/src/)
    }
  }
  return '0.0.0';
}

/**
 * Two or three real examples closing each command's --help (commands are keyed by their path,
 * `plan failover`). test/cli-help.test.ts checks every command has them, that their flags are the
 * command's own, and runs those that need no cluster.
 */
const EXAMPLES: Record<string, string[]> = {
  '': [
    'dcfail plan failover --to secondary --offline --assume-down main -t fixtures/topologies/example.yaml',
    'dcfail status -t /etc/dcfail/prod.yaml',
    'dcfail history',
  ],
  validate: ['dcfail validate -t fixtures/topologies/example.yaml', 'dcfail validate --json -t /etc/dcfail/prod.yaml'],
  schema: ['dcfail schema', 'dcfail schema > dcfail.schema.json'],
  plan: [
    'dcfail plan failover --to secondary --offline --assume-down main -t fixtures/topologies/example.yaml',
    'dcfail plan failback --offline -t fixtures/topologies/example.yaml',
  ],
  'plan failover': [
    'dcfail plan failover --to secondary --offline --assume-down main -t fixtures/topologies/example.yaml',
    'dcfail plan failover --to barcelona --out failover-plan.json',
    'dcfail plan failover --to secondary --json -t /etc/dcfail/prod.yaml',
  ],
  'plan failback': [
    'dcfail plan failback --offline -t fixtures/topologies/example.yaml',
    'dcfail plan failback --out failback-plan.json',
  ],
  failover: [
    'dcfail failover --to secondary',
    'dcfail failover --to barcelona --attest-fenced "madrid PDUs switched off by the DC team" --log-file failover.log',
    'dcfail failover --to secondary --yes --verify-timeout 2m --json',
  ],
  failback: ['dcfail failback', 'dcfail failback --discard-divergent --verify-timeout 90s'],
  apply: ['dcfail apply failover-plan.json', 'dcfail apply failover-plan.json --yes --log-file apply.log'],
  status: ['dcfail status', 'dcfail status --json -t /etc/dcfail/prod.yaml'],
  preflight: ['dcfail preflight', 'dcfail preflight --json -t /etc/dcfail/prod.yaml'],
  survival: [
    'dcfail survival --assume-down main',
    'dcfail survival -t fixtures/topologies/example.yaml --assume-down main --apps fixtures/survival/apps.json --agents fixtures/survival/agents.json --master-region eu-south',
  ],
  guard: ['dcfail guard install -t /etc/dcfail/prod.yaml', 'dcfail guard status', 'dcfail guard hold madrid --stop'],
  'guard install': ['dcfail guard install', 'dcfail guard install --yes -t /etc/dcfail/prod.yaml'],
  'guard status': ['dcfail guard status', 'dcfail guard status --json -t /etc/dcfail/prod.yaml'],
  'guard hold': ['dcfail guard hold main', 'dcfail guard hold madrid --stop --yes'],
  'guard lift': ['dcfail guard lift main', 'dcfail guard lift madrid --yes'],
  history: ['dcfail history', 'dcfail history --json'],
  show: ['dcfail show latest', 'dcfail show 20261201-030506-44m7h9 --json'],
  report: [
    'dcfail report latest --html incident.html',
    'dcfail report 20261201-030506-44m7h9 --html failover-report.html',
  ],
};

/** Closes every command's --help with its examples. */
function addExamples(cmd: Command, path: string): void {
  const examples = EXAMPLES[path];
  if (examples) cmd.addHelpText('after', `\nExamples:\n${examples.map((e) => `  $ ${e}`).join('\n')}`);
  for (const sub of cmd.commands) addExamples(sub, path ? `${path} ${sub.name()}` : sub.name());
}

function withGlobals(cmd: Command): Command {
  return cmd
    .option('-t, --topology <file>', 'topology file (YAML or JSON)', process.env['DCFAIL_TOPOLOGY'] ?? './dcfail.yaml')
    .option('--json', 'one JSON document on stdout, nothing else there', false)
    .option('--log-file <file>', 'write pino JSON lines to this file')
    .addOption(
      new Option('--log-level <level>', 'log level')
        .choices(['trace', 'debug', 'info', 'warn', 'error'])
        .default('info'),
    );
}

/**
 * `--log-file` is checked before any command runs: its nearest existing ancestor must be a
 * directory (pino creates the rest), and the file itself must not be a directory. Bad input, exit 2.
 */
function checkLogFile(file: string | undefined): void {
  if (file === undefined) return;
  const bad = (why: string) => new UserError('bad-log-file', `--log-file ${file}: ${why}`);
  const path = resolve(file);
  if (existsSync(path) && statSync(path).isDirectory()) throw bad('is a directory');
  for (let dir = dirname(path); ; dir = dirname(dir)) {
    let st;
    try {
      st = statSync(dir);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' && dirname(dir) !== dir) continue;
      throw bad(`${dir} cannot be read (${(err as NodeJS.ErrnoException).code ?? String(err)})`);
    }
    if (!st.isDirectory()) throw bad(`${dir} is not a directory`);
    return;
  }
}

function globals(o: Record<string, unknown>): GlobalOptions {
  checkLogFile(o['logFile'] as string | undefined);
  return {
    topology: String(o['topology']),
    json: Boolean(o['json']),
    logFile: o['logFile'] as string | undefined,
    logLevel: String(o['logLevel']),
  };
}

/** Parses argv and runs the command; resolves to its exit code. Throws DcfailError on bad input. */
export async function runCli(argv: readonly string[], io: Io): Promise<ExitCode> {
  let result: Promise<ExitCode> | undefined;
  const program = new Command('dcfail')
    .description('Fail a two-datacenter Mesos / DC/OS cluster over to its secondary DC, and back, safely.')
    .version(packageVersion(), '-V, --version')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s.replace(/\n$/, '')), writeErr: (s) => io.err(s.replace(/\n$/, '')) })
    .showHelpAfterError('(run with --help for usage)');

  withGlobals(
    program.command('validate').description('check the topology file: schema and quorum rules (no network)'),
  ).action((o) => {
    result = import('./commands/validate.js').then((m) => m.validate(globals(o), io));
  });

  withGlobals(program.command('schema').description('print the JSON Schema of the topology file')).action(() => {
    result = import('./commands/schema.js').then((m) => m.schema(io));
  });

  const plan = program
    .command('plan')
    .description('print the steps a failover or failback would run, and whether it is safe');
  for (const runbook of ['failover', 'failback'] as const) {
    const cmd = plan
      .command(runbook)
      .description(runbook === 'failover' ? 'plan a failover to <dc>' : 'plan the return to the main DC');
    if (runbook === 'failover') cmd.requiredOption('--to <dc>', 'the DC that takes over (name, or main/secondary)');
    else cmd.option('--to <dc>', 'the DC that returns (the main DC)');
    withGlobals(cmd)
      .option('--offline', 'plan from the topology alone, observing nothing (for CI)', false)
      .option('--assume-down <dc>', 'with --offline: the DC taken as lost (default: the other one)')
      .option('--out <file>', 'save the (online) plan to a file for `dcfail apply`');
    if (runbook === 'failover') {
      cmd
        .option(
          '--apps <file>',
          'with --agents: add the survival summary of saved Marathon apps (informs, never changes the verdict)',
        )
        .option('--agents <file>', 'saved Mesos /master/slaves JSON, with --apps');
    }
    cmd.action((o) => {
      result = import('./commands/plan.js').then((m) =>
        m.plan(
          {
            ...globals(o),
            runbook,
            to: o.to,
            assumeDown: o.assumeDown,
            offline: Boolean(o.offline),
            out: o.out,
            apps: o.apps,
            agents: o.agents,
          },
          io,
        ),
      );
    });
  }

  const runbookFlags = (cmd: Command) =>
    cmd
      .option('--yes', 'do not ask for confirmation (automation)', false)
      .option(
        '--override-loss-check <reason>',
        'proceed on inconclusive loss evidence (recorded); never overrides a lost-DC node that answers as a member',
      )
      .option('--attest-fenced <how>', 'the lost DC is kept down by other means than the fence hook (recorded)')
      .option('--break-lock', 'take the run lock from another run whose process is gone', false)
      .addOption(
        new Option(
          '--verify-timeout <duration>',
          'how long each verification may take to hold: 90s, 2m, or milliseconds (1s to 1h); default: per service (services.<name>.verifyTimeoutMs: exhibitor 2m, mesos 3m, etcd 1m; 1m for the rest)',
        ).argParser((v) => parseDuration('--verify-timeout', v, { minMs: 1000, maxMs: 3_600_000 })),
      );
  const runbookOpts = (o: Record<string, unknown>) => ({
    ...globals(o),
    yes: Boolean(o['yes']),
    overrideLossCheck: o['overrideLossCheck'] as string | undefined,
    attestFenced: o['attestFenced'] as string | undefined,
    breakLock: Boolean(o['breakLock']),
    discardDivergent: Boolean(o['discardDivergent']),
    verifyTimeoutMs: o['verifyTimeout'] as number | undefined,
  });
  runbookFlags(
    withGlobals(
      program
        .command('failover')
        .description('fail over to <dc>: loss certificate, fencing, confirmation, steps verified one by one'),
    ),
  )
    .requiredOption('--to <dc>', 'the DC that takes over (name, or main/secondary)')
    .action((o) => {
      result = import('./commands/failover.js').then((m) => m.failover({ ...runbookOpts(o), to: o.to }, io));
    });
  runbookFlags(
    withGlobals(
      program
        .command('failback')
        .description('return to the main DC: quarantine it, then grow each cluster one member at a time'),
    ),
  )
    .option(
      '--discard-divergent',
      'drop, after archiving, writes that the returning DC took while split from the cluster',
      false,
    )
    .action((o) => {
      result = import('./commands/failback.js').then((m) => m.failback(runbookOpts(o), io));
    });

  runbookFlags(
    withGlobals(
      program
        .command('apply')
        .description('execute a saved online plan after checking it is not stale; resumes where it stopped'),
    ),
  )
    .argument('<plan-file>', 'a plan saved by dcfail plan ... --out')
    .option(
      '--discard-divergent',
      'drop, after archiving, writes that the returning DC took while split from the cluster',
      false,
    )
    .action((file: string, o) => {
      result = import('./commands/apply.js').then((m) => m.applyPlan({ ...runbookOpts(o), file }, io));
    });

  withGlobals(
    program
      .command('status')
      .description("live view: reachability, each cluster's members, quorum and leader, and the mode"),
  )
    .addOption(
      new Option('--format <format>', 'text, or prometheus (text exposition format, for a textfile collector)')
        .choices(['text', 'prometheus'])
        .default('text'),
    )
    .option('--watch', 'observe again every --interval and redraw, marking what changed, until Ctrl-C', false)
    .addOption(
      new Option(
        '--interval <duration>',
        'with --watch: time between observations: 5s, 1m, or milliseconds (1s to 1h)',
      ).argParser((v) => parseDuration('--interval', v, { minMs: 1000, maxMs: 3_600_000 })),
    )
    .addOption(
      new Option('--count <n>', 'with --watch: stop after n observations (1 to 1000000)').argParser((v) =>
        parseCount('--count', v, 1_000_000),
      ),
    )
    .action((o) => {
      result = import('./commands/status.js').then((m) =>
        m.status(
          {
            ...globals(o),
            format: o.format as 'text' | 'prometheus',
            watch: Boolean(o.watch),
            intervalMs: o.interval as number | undefined,
            count: o.count as number | undefined,
          },
          io,
        ),
      );
    });

  const guard = program
    .command('guard')
    .description(
      'the return guard on every master: a lost DC that powers on stays down while the cluster runs failed over',
    );
  withGlobals(guard.command('install').description('install or upgrade the guard on every master (idempotent)'))
    .option('--yes', 'do not ask for confirmation (automation)', false)
    .action((o) => {
      result = import('./commands/guard.js').then((m) =>
        m.guardInstallCommand({ ...globals(o), yes: Boolean(o.yes) }, io),
      );
    });
  withGlobals(
    guard
      .command('status')
      .description("each master's guard: installed, version, holds, state, and what it would decide now"),
  ).action((o) => {
    result = import('./commands/guard.js').then((m) => m.guardStatusCommand(globals(o), io));
  });
  for (const op of ['hold', 'lift'] as const) {
    const cmd = withGlobals(
      guard
        .command(op)
        .description(
          op === 'hold'
            ? "keep every quorum unit of <dc>'s masters down at its next start (boot, restart, systemctl start)"
            : 'lift the hold of `dcfail guard hold` on <dc> (a failback lifts its own quarantine)',
        ),
    )
      .argument('<dc>', 'a datacenter name, or main/secondary')
      .option('--yes', 'do not ask for confirmation (automation)', false);
    if (op === 'hold') cmd.option('--stop', 'stop the units now as well', false);
    cmd.action((dc: string, o) => {
      result = import('./commands/guard.js').then((m) =>
        m.guardHoldCommand(op, dc, { ...globals(o), yes: Boolean(o.yes), stop: Boolean(o.stop) }, io),
      );
    });
  }

  withGlobals(
    program.command('preflight').description('peacetime readiness: SSH and host keys, sudo, files, units, hooks, keys'),
  ).action((o) => {
    result = import('./commands/preflight.js').then((m) => m.preflight(globals(o), io));
  });

  withGlobals(program.command('survival').description('which Marathon apps survive the loss of each DC'))
    .option('--assume-down <dc>', 'report only the loss of this DC (a name, or main/secondary)')
    .option('--apps <file>', 'saved Marathon /v2/apps?embed=apps.tasks JSON (offline, with --agents)')
    .option('--agents <file>', 'saved Mesos /master/slaves JSON (offline, with --apps)')
    .option('--master-region <region>', "the masters' fault-domain region (offline; overrides /master/state when live)")
    .option('--strict', 'every app is critical, not only those labelled DCFAIL_CRITICAL=true', false)
    .action((o) => {
      result = import('./commands/survival.js').then((m) =>
        m.survival(
          {
            ...globals(o),
            assumeDown: o.assumeDown,
            apps: o.apps,
            agents: o.agents,
            masterRegion: o.masterRegion,
            strict: Boolean(o.strict),
          },
          io,
        ),
      );
    });

  withGlobals(program.command('history').description('every run journaled on this machine, newest first')).action(
    (o) => {
      result = import('./commands/history.js').then((m) => m.history(globals(o), io));
    },
  );

  withGlobals(
    program
      .command('show')
      .description('one run for people: evidence, flags and reasons, every step, the failover point, backups'),
  )
    .argument('<run>', 'a run id (or a unique prefix of one), latest, or a path to a journal.json')
    .action((run: string, o) => {
      result = import('./commands/show.js').then((m) => m.show({ ...globals(o), run }, io));
    });

  withGlobals(
    program
      .command('report')
      .description('the incident report of a run: one self-contained HTML file with its timeline'),
  )
    .argument('<run>', 'a run id (or a unique prefix of one), latest, or a path to a journal.json')
    .requiredOption('--html <file>', 'where to write the report')
    .action((run: string, o) => {
      result = import('./commands/report.js').then((m) => m.report({ ...globals(o), run, html: String(o.html) }, io));
    });

  addExamples(program, '');

  try {
    await program.parseAsync(argv as string[], { from: 'user' });
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.exitCode === 0) return 0; // --help, --version
      throw new UserError('bad-flags', err.message.replace(/^error: /, ''));
    }
    throw err;
  }
  if (!result) {
    program.outputHelp();
    return 2;
  }
  return result;
}
