/** Hook command lines are split as a shell splits a simple command, without being one. */
import { describe, expect, it } from 'vitest';
import { splitWords } from '../../src/core/words.js';

describe('splitWords', () => {
  it('keeps quoted words whole and escapes as a shell does', () => {
    expect(splitWords(`/h "madrid dc" 'power off' "it's" plain a\\ b "q\\"x\\$y"`)).toEqual({
      ok: true,
      words: ['/h', 'madrid dc', 'power off', "it's", 'plain', 'a b', 'q"x$y'],
    });
    expect(splitWords(`x '' ""`)).toEqual({ ok: true, words: ['x', '', ''] });
  });

  it('leaves shell syntax as literal characters', () => {
    expect(splitWords('h $(touch p) `id` ; | & > <')).toEqual({
      ok: true,
      words: ['h', '$(touch', 'p)', '`id`', ';', '|', '&', '>', '<'],
    });
  });

  it('refuses unterminated quotes, a trailing backslash and an empty line', () => {
    expect(splitWords(`h 'x`)).toMatchObject({ ok: false, error: 'an unterminated single quote' });
    expect(splitWords(`h "x`)).toMatchObject({ ok: false, error: 'an unterminated double quote' });
    expect(splitWords(`h x\\`)).toMatchObject({ ok: false, error: 'a trailing backslash' });
    expect(splitWords('   ')).toMatchObject({ ok: false });
  });
});
