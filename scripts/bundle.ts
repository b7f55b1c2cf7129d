/**
 * `npm run build`, second half: bundles the compiled CLI (`<dist>/src/main.js`) and its pure
 * dependencies (commander, zod, yaml) into `<dist>/bin/`, the `dcfail` bin. One file per lazily
 * imported command instead of a few hundred modules: Node 20 resolves, stats and reads every
 * module it loads, and that was a third of an offline plan's run time (bench/PERFORMANCE.md).
 * Packages with native parts, worker threads or files read at run time stay external and load
 * from node_modules as before.
 *
 *   node dist/scripts/bundle.js [<dist dir>]
 */
import { build, type Plugin } from 'esbuild';
import { rm } from 'node:fs/promises';
import { resolve } from 'node:path';

const EXTERNAL = ['ssh2', 'zookeeper', 'etcd3', 'pino', 'execa', 'cockatiel'];

/**
 * zod re-exports its error messages in every language as `z.locales`; dcfail only ever speaks
 * English (zod's default, which it configures itself from `locales/en.js`). Leaving the other
 * fifty out halves what Node compiles at start-up.
 */
const englishOnlyZod: Plugin = {
  name: 'zod-english-only',
  setup(b) {
    b.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](classic|core)$/.test(args.resolveDir)
        ? { path: resolve(args.resolveDir, '../locales/en.js'), namespace: 'zod-en' }
        : undefined,
    );
    b.onLoad({ filter: /.*/, namespace: 'zod-en' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(args.path)};`,
      resolveDir: args.path.replace(/[\\/][^\\/]+$/, ''),
    }));
  },
};

export async function bundle(distDir: string): Promise<void> {
  const outdir = resolve(distDir, 'bin');
  await rm(outdir, { recursive: true, force: true });
  await build({
    entryPoints: { dcfail: resolve(distDir, 'src/main.js') },
    outdir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20',
    external: EXTERNAL,
    plugins: [englishOnlyZod],
    sourcemap: 'linked',
    minifyWhitespace: true,
    minifySyntax: true,
    logLevel: 'warning',
    // commander is CommonJS and requires node:events: give the ESM bundle a require.
    banner: {
      js: "import { createRequire as __dcfailCreateRequire } from 'node:module';\nconst require = __dcfailCreateRequire(import.meta.url);",
    },
  });
}

if (import.meta.url === `file://${process.argv[1]}`) {
  await bundle(process.argv[2] ?? resolve(import.meta.dirname, '..'));
}
