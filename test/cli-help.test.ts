/**
 * Every command's --help closes with two or three examples, and they are real: each names the
 * command it illustrates with flags that command has, and those that need no cluster run, exit 0.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.js';
import { captureIo } from '../src/views/io.js';

async function help(path: string[]): Promise<string> {
  const io = captureIo();
  expect(await runCli([...path, '--help'], io)).toBe(0);
  return io.stdout;
}

/** Command names listed under "Commands:" in a help text. */
function subcommands(text: string): string[] {
  const section = text.split(/^Commands:$/m)[1] ?? '';
  return [...section.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]!).filter((c) => c !== 'help');
}

/** Splits an example as a shell would (double quotes), up to a pipe or redirection. */
function words(example: string): string[] {
  const out: string[] = [];
  for (const m of example.matchAll(/"([^"]*)"|(\S+)/g)) {
    if (m[2] === '|' || m[2] === '>' || m[2] === '&&') break;
    out.push(m[1] ?? m[2]!);
  }
  return out;
}

const OFFLINE_ONLY: Record<string, (w: string[]) => boolean> = {
  validate: () => true,
  schema: () => true,
  plan: (w) => w.includes('--offline'),
  survival: (w) => w.includes('--apps'),
  history: () => true,
  show: () => true,
  report: () => true,
};

describe('examples in every --help', () => {
  const state = mkdtempSync(join(tmpdir(), 'dcfail-help-state-'));
  const out = mkdtempSync(join(tmpdir(), 'dcfail-help-out-'));
  const saved = process.env['DCFAIL_STATE_DIR'];
  beforeAll(() => {
    // The run the examples of show and report name: a journal of a real lab failover.
    mkdirSync(join(state, 'runs', '20261201-030506-44m7h9'), { recursive: true });
    copyFileSync(
      'fixtures/journals/failover-five-old.json',
      join(state, 'runs', '20261201-030506-44m7h9', 'journal.json'),
    );
    process.env['DCFAIL_STATE_DIR'] = state;
  });
  afterAll(() => {
    if (saved === undefined) delete process.env['DCFAIL_STATE_DIR'];
    else process.env['DCFAIL_STATE_DIR'] = saved;
  });

  it('each command and subcommand ends its help with 2 or 3 examples of itself, using its own flags; the offline ones run (exit 0; survival 0 or 5)', async () => {
    const top = await help([]);
    const paths: string[][] = [[]];
    for (const c of subcommands(top)) {
      paths.push([c]);
      for (const s of subcommands(await help([c]))) paths.push([c, s]);
    }
    expect(paths.map((p) => p.join(' '))).toEqual(
      expect.arrayContaining(['validate', 'plan failover', 'plan failback', 'failover', 'history', 'show', 'report']),
    );
    let ran = 0;
    for (const path of paths) {
      const text = await help(path);
      const m = /\nExamples:\n((?: {2}\$ dcfail .+\n?)+)$/.exec(text.trimEnd());
      expect(m, `dcfail ${path.join(' ')} --help ends with examples`).not.toBeNull();
      const examples = m![1]!
        .trimEnd()
        .split('\n')
        .map((l) => l.replace(/^ {2}\$ /, ''));
      expect(examples.length, path.join(' ')).toBeGreaterThanOrEqual(2);
      expect(examples.length, path.join(' ')).toBeLessThanOrEqual(3);
      for (const example of examples) {
        const w = words(example).slice(1);
        // dcfail's and `plan`'s examples illustrate their subcommands; the others, the command itself.
        const target =
          path.length === 0 || (path.length === 1 && path[0] === 'plan')
            ? w.slice(0, w[0] === 'plan' ? 2 : 1)
            : w.slice(0, path.length);
        expect(target.slice(0, path.length), example).toEqual(path);
        expect(target.length, example).toBeGreaterThan(0);
        const ownHelp = await help(target);
        for (const flag of w.filter((x) => x.startsWith('-')))
          expect(ownHelp, `${example}: ${flag}`).toMatch(new RegExp(`(^|[ ,])${flag}\\b`, 'm'));
        const files = w.filter((x, i) => ['-t', '--apps', '--agents'].includes(w[i - 1] ?? ''));
        if (!OFFLINE_ONLY[target[0]!]?.(w) || !files.every((f) => existsSync(f))) continue;
        const args = w.map((x, i) => (w[i - 1] === '--html' ? join(out, basename(x)) : x));
        const io = captureIo();
        // survival's exit 5 is its verdict (a critical app would be lost), not a failure of the example.
        expect(target[0] === 'survival' ? [0, 5] : [0], `${example}\n${io.stderr}`).toContain(await runCli(args, io));
        expect(io.stdout.length, example).toBeGreaterThan(0);
        ran++;
      }
    }
    expect(ran).toBeGreaterThanOrEqual(12);
  });
});
