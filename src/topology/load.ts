/**
 * The boundary: a file on disk becomes a validated, resolved Topology or a UserError listing
 * every problem at its key path (`nodes[2].dc: ...`). Nothing past this module re-validates.
 */
import { readFile } from 'node:fs/promises';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { UserError } from '../errors.js';
import { resolveTopology, type Topology } from './model.js';
import { TopologySchema } from './schema.js';

/** `nodes[2].ssh.port` from zod's path array. */
function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const key of path) {
    if (typeof key === 'number') out += `[${key}]`;
    else out += out === '' ? String(key) : `.${String(key)}`;
  }
  return out === '' ? '(top level)' : out;
}

/** One line per problem; an unknown key is reported at its own path. */
function describeExpected(expected: string): string {
  return (
    (
      {
        number: 'a number',
        string: 'a string',
        boolean: 'true or false',
        array: 'a list',
        object: 'a mapping (key: value)',
        int: 'a whole number',
      } as Record<string, string>
    )[expected] ?? expected
  );
}

function describeInput(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  switch (typeof input) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'true/false';
    case 'object':
      return 'a mapping';
    default:
      return typeof input;
  }
}

export function formatIssues(issues: readonly z.core.$ZodIssue[]): string[] {
  const lines: string[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) lines.push(`${formatPath([...issue.path, key])}: unknown key (a typo?)`);
    } else if (issue.code === 'invalid_type') {
      // The value itself is not printed: a topology may be pasted into a ticket, and what was
      // typed there is the reader's to see in the file.
      lines.push(
        `${formatPath(issue.path)}: ${issue.input === undefined ? 'required' : `expected ${describeExpected(issue.expected)}, got ${describeInput(issue.input)}`}`,
      );
    } else {
      lines.push(`${formatPath(issue.path)}: ${issue.message}`);
    }
  }
  return lines;
}

/** Validates an already-parsed document (YAML or JSON value). */
export function parseTopology(value: unknown, source = 'topology'): Topology {
  if (value === null || value === undefined) {
    throw new UserError('topology-empty', `${source}: the topology file is empty`);
  }
  const result = TopologySchema.safeParse(value, { reportInput: true });
  if (!result.success) {
    const lines = formatIssues(result.error.issues);
    throw new UserError(
      'topology-invalid',
      `${source}: invalid topology (${lines.length} problem${lines.length === 1 ? '' : 's'})`,
      lines,
    );
  }
  return resolveTopology(result.data);
}

/** Parses YAML (JSON is YAML too) and reports syntax errors with their line and column. */
export function parseTopologyText(text: string, source = 'topology'): Topology {
  if (text.trim() === '') throw new UserError('topology-empty', `${source}: the topology file is empty`);
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const lines = doc.errors.map((e) => {
      const pos = e.linePos?.[0];
      const where = pos ? `line ${pos.line}, column ${pos.col}` : 'unknown position';
      return `${where}: ${e.message.split('\n')[0]!.replace(/ at line \d+, column \d+:?$/, '')}`;
    });
    throw new UserError('topology-syntax', `${source}: not valid YAML or JSON`, lines);
  }
  let value: unknown;
  try {
    value = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    // yaml throws a ReferenceError past maxAliasCount: an input problem, not a bug of ours.
    if (err instanceof Error && /alias/i.test(err.message))
      throw new UserError('topology-syntax', `${source}: too many YAML aliases (an alias bomb?)`, [
        'a topology needs few anchors and aliases, if any',
      ]);
    throw new UserError('topology-syntax', `${source}: not valid YAML or JSON`, [
      err instanceof Error ? err.message.split('\n')[0]! : String(err),
    ]);
  }
  return parseTopology(value, source);
}

export async function loadTopology(file: string): Promise<Topology> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EACCES'
          ? 'permission denied'
          : code === 'EISDIR'
            ? 'is a directory'
            : String(code ?? err);
    throw new UserError('topology-unreadable', `${file}: cannot read the topology file: ${why}`, [], { cause: err });
  }
  return parseTopologyText(text, file);
}
