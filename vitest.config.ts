import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // `*.long.test.ts` (matrices and variants that double the suite's time) run under `npm run test:long` only.
    exclude:
      process.env['DCFAIL_LONG'] === '1' ? ['**/node_modules/**'] : ['**/node_modules/**', 'test/**/*.long.test.ts'],
    // Lab-backed suites start real servers once per file; keep files apart so two labs never
    // fight for the same loopback ports.
    fileParallelism: false,
    testTimeout: 30_000,
    hookTimeout: 180_000,
  },
});
