// `npm run check`, part: no module of src/ imports itself back through others (runtime imports;
// `import type` is erased), and the horizontal folders (core, plan, observe, apply, views, ...)
// do not import each other in a circle. A component folder (src/components/<name>/) is a vertical
// slice: its pure files sit below plan/ and observe/, its I/O files above them, so it is left out
// of the folder rule; its files are held by the first rule.
import process from 'node:process';
import { readFileSync, readdirSync, statSync } from 'node:fs';
import { dirname, join, normalize, relative } from 'node:path';

const root = 'src';
const files = [];
(function walk(dir) {
  for (const e of readdirSync(dir)) {
    const p = join(dir, e);
    if (statSync(p).isDirectory()) walk(p);
    else if (p.endsWith('.ts')) files.push(p);
  }
})(root);

const IMPORT = /^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?['"](\.[^'"]+)['"]/gm;
const edges = new Map(files.map((f) => [f, []]));
for (const f of files) {
  for (const m of readFileSync(f, 'utf8').matchAll(IMPORT)) {
    const target = normalize(join(dirname(f), m[1].replace(/\.js$/, '.ts')));
    if (edges.has(target)) edges.get(f).push(target);
  }
}

function findCycle(graph) {
  const state = new Map();
  const stack = [];
  const visit = (n) => {
    state.set(n, 'open');
    stack.push(n);
    for (const m of graph.get(n) ?? []) {
      if (state.get(m) === 'open') return [...stack.slice(stack.indexOf(m)), m];
      if (!state.has(m)) {
        const c = visit(m);
        if (c) return c;
      }
    }
    stack.pop();
    state.set(n, 'done');
    return null;
  };
  for (const n of graph.keys())
    if (!state.has(n)) {
      const c = visit(n);
      if (c) return c;
    }
  return null;
}

const folderOf = (f) => {
  const parts = relative(root, f).split('/');
  return parts.length === 1 ? null : parts[0] === 'components' ? null : parts[0];
};
const folders = new Map();
for (const [f, ts] of edges) {
  const a = folderOf(f);
  if (a === null) continue;
  for (const t of ts) {
    const b = folderOf(t);
    if (b !== null && b !== a) folders.set(a, [...new Set([...(folders.get(a) ?? []), b])]);
  }
}

let failed = false;
const fileCycle = findCycle(edges);
if (fileCycle) {
  process.stderr.write(`import cycle between modules: ${fileCycle.join(' -> ')}\n`);
  failed = true;
}
const folderCycle = findCycle(folders);
if (folderCycle) {
  process.stderr.write(`import cycle between folders of src/: ${folderCycle.join(' -> ')}\n`);
  failed = true;
}
process.exit(failed ? 1 : 0);
