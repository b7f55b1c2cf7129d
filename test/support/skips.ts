/**
 * A test that cannot run here says so, never silently: it prints why on stderr, and in CI
 * (CI=true), where everything must run, it fails instead of skipping.
 */
export function needs(condition: boolean, why: string): boolean {
  if (condition) return true;
  const line = `SKIPPED: ${why}`;
  if (process.env['CI']) throw new Error(`${line} (CI must run it)`);
  process.stderr.write(`${line}\n`);
  return false;
}
