// @ts-check
/**
 * Lint: typescript-eslint's recommended rules, and one rule that keeps the pure code pure: the
 * safety core, the plan builders and the components' pure files import no I/O (node:*, ssh2,
 * execa, pino, the probe clients) and nothing from the applier. lab/ is left out while it is
 * rewritten on another branch.
 */
import js from '@eslint/js';
import tseslint from 'typescript-eslint';

// Packages by exact name (a pattern 'zookeeper' would also match the folder components/zookeeper).
const IO_PACKAGES = ['ssh2', 'execa', 'pino', 'etcd3', 'zookeeper', 'cockatiel'];
const PURE = 'pure code: no I/O here (time and observations come in as arguments)';

export default tseslint.config(
  { ignores: ['dist/**', 'node_modules/**', 'lab/**', '.lab/**', 'coverage/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    rules: {
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests read JSON documents back (journals, --json output) and assert on their fields.
    files: ['test/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off' },
  },
  {
    files: [
      'src/core/**/*.ts',
      'src/plan/**/*.ts',
      'src/runs/digest.ts',
      'src/components/*/{settings,steps,plan,judge,replicas,preflight}.ts',
    ],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: IO_PACKAGES.map((name) => ({ name, message: PURE })),
          patterns: [
            { group: ['node:*'], message: PURE },
            {
              group: [
                '**/apply/**',
                '**/remote/**',
                '**/views/**',
                '**/commands/**',
                '**/observe/observe.js',
                '**/effects.js',
                '**/probe.js',
                '**/preflight.js',
              ],
              message: 'pure code imports no effects',
            },
          ],
        },
      ],
    },
  },
);
