/**
 * `npm run docs`: rewrites the README's "What dcfail does, step by step" section from the plans
 * of the example topology. `--check` exits 1 when the README is out of date (the test runs it).
 */
import { readFile, writeFile } from 'node:fs/promises';
import { offlineFailbackPlan, offlineFailoverPlan } from '../src/commands/plan.js';
import { stepsSection, withStepsSection } from '../src/views/plan-markdown.js';
import { loadTopology } from '../src/topology/load.js';

export async function expectedReadme(
  readmePath = 'README.md',
  topology = 'fixtures/topologies/example.yaml',
): Promise<{ current: string; expected: string }> {
  const t = await loadTopology(topology);
  const current = await readFile(readmePath, 'utf8');
  return {
    current,
    expected: withStepsSection(
      current,
      stepsSection(offlineFailoverPlan(t, 'secondary', 'main'), offlineFailbackPlan(t)),
    ),
  };
}

async function main(): Promise<number> {
  const { current, expected } = await expectedReadme();
  if (process.argv.includes('--check')) {
    if (current !== expected) {
      process.stderr.write('README.md: the generated steps section is out of date: run npm run docs\n');
      return 1;
    }
    return 0;
  }
  if (current !== expected) await writeFile('README.md', expected);
  process.stdout.write(current === expected ? 'README.md is up to date\n' : 'README.md: steps section rewritten\n');
  return 0;
}

if (process.argv[1]?.endsWith('readme-steps.js')) {
  main().then((c) => process.exit(c));
}
