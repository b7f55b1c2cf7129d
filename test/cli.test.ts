/** The built binary, as an operator runs it: exit statuses and output streams. */
import { execa } from 'execa';
import { existsSync, readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { needs } from './support/skips.js';

const BIN = 'dist/bin/dcfail.js';

describe.runIf(needs(existsSync(BIN), `cli: ${BIN} is not built (npm test builds it)`))(
  'the dcfail binary (built by npm test)',
  () => {
    it('--version prints the package version', async () => {
      const r = await execa('node', [BIN, '--version'], { reject: false });
      expect(r.exitCode).toBe(0);
      expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+$/);
    });

    it('an invalid topology: exit 2, one line per problem on stderr, no stack trace, nothing on stdout', async () => {
      const r = await execa('node', [BIN, 'validate', '-t', 'fixtures/topologies/invalid/dup-node-name.yaml'], {
        reject: false,
      });
      expect(r.exitCode).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toMatch(/^ {2}nodes\[1\]\.name: duplicate node name 'master-1'/m);
      expect(r.stderr).not.toMatch(/\n\s+at /);
    });

    it('--json errors are one JSON document on stdout', async () => {
      const r = await execa('node', [BIN, 'validate', '--json', '-t', 'fixtures/topologies/invalid/no-nodes.yaml'], {
        reject: false,
      });
      expect(r.exitCode).toBe(2);
      expect(JSON.parse(r.stdout)).toMatchObject({
        error: { code: 'topology-invalid', details: ['nodes: a topology needs at least one node'] },
      });
    });

    it('the README command prints the failover plan of the example, exit 0', async () => {
      const r = await execa(
        'node',
        [
          BIN,
          'plan',
          'failover',
          '--to',
          'secondary',
          '--offline',
          '--assume-down',
          'main',
          '-t',
          'fixtures/topologies/example.yaml',
        ],
        { reject: false },
      );
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(/^Failover of prod-dcos: madrid is lost, barcelona takes over/);
      expect(r.stdout).toMatch(/EXHIBITOR_STATICENSEMBLE=3:10\.20\.1\.11/);
    });

    it('DCFAIL_TOPOLOGY names the topology when -t is absent', async () => {
      const r = await execa('node', [BIN, 'validate'], {
        reject: false,
        env: { DCFAIL_TOPOLOGY: 'fixtures/topologies/five-masters.yaml' },
      });
      expect(r.exitCode).toBe(0);
      expect(r.stdout).toMatch(/five-dcos: 5 nodes/);
    });

    it('the bundled bin says exactly what the unbundled modules say, for every invalid topology fixture', async () => {
      const dir = 'fixtures/topologies/invalid';
      const files = readdirSync(dir);
      expect(files.length).toBeGreaterThan(20);
      for (const f of files) {
        const run = (bin: string) => execa('node', [bin, 'validate', '--json', '-t', `${dir}/${f}`], { reject: false });
        const [bundled, modules] = await Promise.all([run(BIN), run('dist/src/main.js')]);
        expect(bundled.exitCode, f).toBe(2);
        expect({ out: bundled.stdout, err: bundled.stderr }, f).toEqual({ out: modules.stdout, err: modules.stderr });
      }
      // 56 node processes, two at a time: seconds alone, longer beside two labs on 2 cores.
    }, 180_000);

    it('status --watch, --interval, --count, --format: bad combinations and values are exit 2, before any observation', async () => {
      const cases: [string[], RegExp][] = [
        [['--watch', '--interval', '5'], /--interval "5": expected a duration such as 90s/],
        [['--watch', '--interval', '0s'], /--interval "0s": expected a duration/],
        [['--watch', '--interval', '2h'], /--interval "2h": expected a duration/],
        [['--watch', '--interval', '1e3'], /--interval "1e3": expected a duration/],
        [['--interval', '5s'], /--interval needs --watch/],
        [['--count', '2'], /--count needs --watch/],
        [['--watch', '--count', '0'], /--count "0": expected a whole number from 1/],
        [['--watch', '--json'], /--watch does not take --json/],
        [['--watch', '--format', 'prometheus'], /--watch does not take --format prometheus/],
        [['--format', 'prometheus', '--json'], /--format prometheus and --json: choose one/],
        [['--format', 'openmetrics'], /argument 'openmetrics' is invalid/],
      ];
      for (const [flags, message] of cases) {
        const t0 = Date.now();
        // The topology names unreachable nodes: a run that observed would take seconds.
        const r = await execa('node', [BIN, 'status', '-t', 'fixtures/topologies/example.yaml', ...flags], {
          reject: false,
        });
        expect(r.exitCode, flags.join(' ')).toBe(2);
        expect(r.stderr, flags.join(' ')).toMatch(message);
        // With --json the error is the one JSON document on stdout (the contract); else stdout stays empty.
        if (flags.includes('--json')) expect(JSON.parse(r.stdout).error.code, flags.join(' ')).toBe('bad-flags');
        else expect(r.stdout, flags.join(' ')).toBe('');
        expect(Date.now() - t0, flags.join(' ')).toBeLessThan(3000);
      }
    });

    it.runIf(needs(existsSync('/usr/bin/script'), 'cli: util-linux script (a pseudo-terminal) is missing'))(
      "status --watch on a terminal redraws in place (cursor home, erase), no star gutter; the exit code is the last frame's",
      async () => {
        // `script` runs the binary on a pseudo-terminal, as an operator's shell would.
        const cmd = `node ${BIN} status -t fixtures/topologies/example.yaml --watch --interval 1s --count 2`;
        const r = await execa('/usr/bin/script', ['-qfec', cmd, '/dev/null'], {
          reject: false,
          stripFinalNewline: false,
        });
        const out = String(r.stdout);
        expect(out.split('\x1b[H\x1b[2J').length - 1).toBe(2);
        expect(out).toMatch(/-- observation 2 at /);
        expect(out).not.toMatch(/^\* /m);
        const last = [...out.matchAll(/exit code (\d+)/g)].at(-1)?.[1];
        expect(r.exitCode).toBe(Number(last));
      },
    );
  },
);
