/** The README's step-by-step section is generated from the plans: it must match them. */
import { describe, expect, it } from 'vitest';
import { expectedReadme } from '../scripts/readme-steps.js';

describe('README: What dcfail does, step by step', () => {
  it('is what the plan builders produce for the example topology (run npm run docs to refresh)', async () => {
    const { current, expected } = await expectedReadme();
    expect(current).toBe(expected);
    expect(current).toMatch(/EXHIBITOR_STATICENSEMBLE=3:10\.20\.1\.11/);
  });
});
