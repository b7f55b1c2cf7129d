/**
 * dcfail installed as any CLI is: `npm pack` (its prepack builds), then `npm install -g` of the
 * tarball into a fresh prefix, runtime dependencies from the registry, the native ZooKeeper
 * client built by its install script. The installed `dcfail` must run from anywhere.
 */
import { execa } from 'execa';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '..');
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  version: string;
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

/** Bare module names a bundled file imports or requires (its own chunks excluded). */
function bareImports(code: string): string[] {
  const names = new Set<string>();
  for (const m of code.matchAll(/(?:\bfrom\s*|\bimport\s*\(\s*|\brequire2?\s*\(\s*)["']([^"'./][^"']*)["']/g)) {
    const spec = m[1]!;
    names.add(spec.startsWith('@') ? spec.split('/').slice(0, 2).join('/') : spec.split('/')[0]!);
  }
  return [...names];
}

describe('the packed dcfail, installed globally into a fresh prefix', () => {
  const work = mkdtempSync(join(tmpdir(), 'dcfail-install-'));
  const prefix = join(work, 'prefix');
  const bin = join(prefix, 'bin', 'dcfail');
  let packed: { files: { path: string }[]; filename: string };

  beforeAll(async () => {
    // Not --ignore-scripts: prepack must build dist/ itself.
    const r = await execa('npm', ['pack', '--json', '--pack-destination', work], { cwd: ROOT });
    packed = (JSON.parse(r.stdout) as (typeof packed)[])[0]!;
    await execa(
      'npm',
      [
        'install',
        '-g',
        '--prefix',
        prefix,
        '--no-audit',
        '--no-fund',
        '--prefer-offline',
        '--allow-scripts=zookeeper,ssh2,cpu-features,protobufjs',
        join(work, packed.filename),
      ],
      { cwd: work },
    );
  }, 600_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it('the tarball ships the bundled bin and nothing of the sources, tests or labs', () => {
    const paths = packed.files.map((f) => f.path);
    expect(paths).toContain('dist/bin/dcfail.js');
    expect(paths).toContain('package.json');
    expect(paths.filter((p) => !p.startsWith('dist/bin/') && p !== 'package.json' && p !== 'README.md')).toEqual([]);
    expect(paths.filter((p) => p.endsWith('.map'))).toEqual([]);
  });

  it('what the bin imports at run time is a node built-in or a runtime dependency, never a dev dependency', () => {
    const dir = join(prefix, 'lib', 'node_modules', 'dcfail', 'dist', 'bin');
    const imported = new Set(readdirSync(dir).flatMap((f) => bareImports(readFileSync(join(dir, f), 'utf8'))));
    expect(imported.size).toBeGreaterThan(3);
    const builtins = new Set(builtinModules.flatMap((m) => [m, `node:${m}`]));
    const outside = [...imported].filter((m) => !builtins.has(m) && !(m in pkg.dependencies));
    expect(outside).toEqual([]);
    const modules = join(prefix, 'lib', 'node_modules', 'dcfail', 'node_modules');
    const installed = readdirSync(modules).flatMap((m) =>
      m.startsWith('@') ? readdirSync(join(modules, m)).map((n) => `${m}/${n}`) : [m],
    );
    expect(installed).toContain('zookeeper');
    // Type packages may come with runtime ones (protobufjs, under etcd3's gRPC, depends on @types/node);
    // no build or test tool may.
    expect(installed.filter((m) => m in pkg.devDependencies && !m.startsWith('@types/'))).toEqual([]);
  });

  it('dcfail --version prints the package version', async () => {
    const r = await execa(bin, ['--version'], { cwd: work, reject: false });
    expect(r.exitCode).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it('the offline failover plan of the example runs from the installed bin', async () => {
    const r = await execa(
      bin,
      [
        'plan',
        'failover',
        '--to',
        'secondary',
        '--offline',
        '--assume-down',
        'main',
        '-t',
        join(ROOT, 'fixtures/topologies/example.yaml'),
      ],
      { cwd: work, reject: false },
    );
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toMatch(/^Failover of prod-dcos: madrid is lost, barcelona takes over/);
    expect(r.stdout).toMatch(/ETCD_FORCE_NEW_CLUSTER=true/);
  });

  it('the native ZooKeeper client was built on install and loads', async () => {
    const zk = join(prefix, 'lib', 'node_modules', 'dcfail', 'node_modules', 'zookeeper');
    const r = await execa('node', ['-e', `console.log(typeof require(${JSON.stringify(zk)}))`], { cwd: work });
    expect(r.stdout.trim()).toBe('function');
  });
});
