/**
 * Quoting and command templates. Each quoted value is also handed to real shells (dash as
 * /bin/sh, and bash): the word must come out exactly, and nothing in it may run.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { InternalError } from '../../src/errors.js';
import { buildExecLine, quote, quoteArgs, renderCommand, wrapSudo } from '../../src/remote/shell.js';

const sandbox = mkdtempSync(join(tmpdir(), 'dcfail-shell-'));
// A file for globs to match, so that an unquoted `*` would show.
writeFileSync(join(sandbox, 'glob-target'), '');
afterAll(() => rmSync(sandbox, { recursive: true, force: true }));

const NASTY = [
  '',
  ' ',
  'plain',
  'two words',
  "it's",
  "'",
  "''",
  "'\\''",
  '"',
  '\\',
  "\\'",
  '$HOME',
  '${HOME}',
  '$(touch pwned)',
  '`touch pwned`',
  '; touch pwned',
  '&& touch pwned',
  '| touch pwned',
  "'; touch pwned; '",
  '"; touch pwned; "',
  "$(touch pwned)'$(touch pwned)'",
  'a\nb',
  'line\n; touch pwned\n',
  '\t tab',
  '*',
  '?',
  '[a-z]*',
  '~',
  '~root',
  '-n',
  '--',
  '!',
  '!!',
  '#comment',
  'a=b',
  '>pwned',
  '<input',
  '2>&1',
  '{a,b}',
  'ünïcödé ✓',
  '%s %d',
  '\u00a0nbsp',
  'x'.repeat(5000),
];

function echoThrough(shell: string, word: string): string {
  return execFileSync(shell, ['-c', `printf '%s' ${word}`], { cwd: sandbox, encoding: 'utf8' });
}

describe('quote', () => {
  for (const shell of ['/bin/sh', '/bin/bash']) {
    it(`every value comes out of ${shell} exactly, and nothing runs`, () => {
      for (const value of NASTY) expect(echoThrough(shell, quote(value)), JSON.stringify(value)).toBe(value);
      expect(readdirSync(sandbox)).toEqual(['glob-target']);
      expect(existsSync(join(sandbox, 'pwned'))).toBe(false);
    });
  }

  it('leaves plain words bare and single-quotes the rest', () => {
    expect(quote('dcos-mesos-master')).toBe('dcos-mesos-master');
    expect(quote('/opt/mesosphere/etc/master_count')).toBe('/opt/mesosphere/etc/master_count');
    expect(quote('etcd@member-1.service')).toBe('etcd@member-1.service');
    expect(quote('')).toBe("''");
    expect(quote('a b')).toBe("'a b'");
    expect(quote("it's")).toBe("'it'\\''s'");
    expect(quote('a=b')).toBe("'a=b'");
    expect(quote('~')).toBe("'~'");
  });

  it('refuses a NUL byte (no shell can carry it)', () => {
    expect(() => quote('a\0b')).toThrow(InternalError);
  });

  it('quoteArgs keeps each argument one word', () => {
    const args = ['printf', '%s|', 'a b', "c'd", '$(x)'];
    expect(execFileSync('/bin/sh', ['-c', quoteArgs(args)], { encoding: 'utf8' })).toBe("a b|c'd|$(x)|");
  });
});

describe('renderCommand', () => {
  it('fills {unit} and {node} with quoted values', () => {
    expect(renderCommand('systemctl stop {unit}', { unit: 'dcos-exhibitor', node: 'master-1' })).toBe(
      'systemctl stop dcos-exhibitor',
    );
    expect(renderCommand('/usr/local/bin/restart {unit} --on {node} {unit}', { unit: 'etcd', node: 'm 1' })).toBe(
      "/usr/local/bin/restart etcd --on 'm 1' etcd",
    );
    expect(renderCommand('true', { unit: 'u', node: 'n' })).toBe('true');
  });

  it('makes injection attempts in values inert', () => {
    for (const evil of NASTY) {
      const line = renderCommand('printf %s/ {unit} {node}', { unit: evil, node: `${evil}!` });
      expect(execFileSync('/bin/sh', ['-c', line], { cwd: sandbox, encoding: 'utf8' }), JSON.stringify(evil)).toBe(
        `${evil}/${evil}!/`,
      );
    }
    expect(readdirSync(sandbox)).toEqual(['glob-target']);
  });

  it('refuses unknown placeholders and stray braces (the schema lets neither through)', () => {
    expect(() => renderCommand('systemctl stop {service}', { unit: 'u', node: 'n' })).toThrow(InternalError);
    expect(() => renderCommand('systemctl stop {}', { unit: 'u', node: 'n' })).toThrow(InternalError);
    expect(() => renderCommand('systemctl stop {unit', { unit: 'u', node: 'n' })).toThrow(InternalError);
    expect(() => renderCommand('systemctl stop unit}', { unit: 'u', node: 'n' })).toThrow(InternalError);
    expect(() => renderCommand('systemctl stop {{unit}}', { unit: 'u', node: 'n' })).toThrow(InternalError);
  });
});

describe('buildExecLine and wrapSudo', () => {
  it('always runs the command through sh -c, inside sudo and timeout when asked', () => {
    expect(buildExecLine('echo hi', { sudo: false })).toBe("sh -c 'echo hi'");
    expect(buildExecLine('echo hi', { sudo: true })).toBe("sudo -n sh -c 'echo hi'");
    expect(buildExecLine('echo hi', { sudo: false, timeoutMs: 1500 })).toBe("timeout -k 2 2.500s sh -c 'echo hi'");
    expect(buildExecLine('echo hi', { sudo: true, timeoutMs: 250 })).toBe(
      "sudo -n timeout -k 2 1.250s sh -c 'echo hi'",
    );
    expect(wrapSudo("echo 'x'")).toBe("sudo -n sh -c 'echo '\\''x'\\'''");
    expect(() => buildExecLine('true', { sudo: false, timeoutMs: 0 })).toThrow(InternalError);
  });

  it('keeps a command with quotes and substitutions whole (run here, as root, through sudo)', () => {
    const command = `printf '%s\\n' "$(echo "it's")" '$(not run)' | tr a-z A-Z`;
    for (const sudo of [false, true]) {
      const line = buildExecLine(command, { sudo, timeoutMs: 5000 });
      expect(execFileSync('/bin/bash', ['-c', line], { encoding: 'utf8' })).toBe("IT'S\n$(NOT RUN)\n");
    }
  });
});
