/**
 * Splits a hook's command line into words the way a POSIX shell splits a simple command, but
 * without being one: single quotes are literal, double quotes keep `\"`, `\\`, `\$` and `` \` ``
 * as escapes, a backslash outside quotes escapes the next character. `$`, backticks and
 * `|;&<>()` are ordinary characters: nothing is expanded, substituted or chained.
 */
export type Words = { ok: true; words: string[] } | { ok: false; error: string };

export function splitWords(line: string): Words {
  const words: string[] = [];
  let cur = '';
  let inWord = false;
  let i = 0;
  while (i < line.length) {
    const c = line[i]!;
    if (c === ' ' || c === '\t') {
      if (inWord) words.push(cur);
      cur = '';
      inWord = false;
      i++;
    } else if (c === "'") {
      const end = line.indexOf("'", i + 1);
      if (end < 0) return { ok: false, error: 'an unterminated single quote' };
      cur += line.slice(i + 1, end);
      inWord = true;
      i = end + 1;
    } else if (c === '"') {
      i++;
      inWord = true;
      for (;;) {
        if (i >= line.length) return { ok: false, error: 'an unterminated double quote' };
        const d = line[i]!;
        if (d === '"') break;
        if (d === '\\' && i + 1 < line.length && '"\\$`'.includes(line[i + 1]!)) {
          cur += line[i + 1]!;
          i += 2;
        } else {
          cur += d;
          i++;
        }
      }
      i++;
    } else if (c === '\\') {
      if (i + 1 >= line.length) return { ok: false, error: 'a trailing backslash' };
      cur += line[i + 1]!;
      inWord = true;
      i += 2;
    } else {
      cur += c;
      inWord = true;
      i++;
    }
  }
  if (inWord) words.push(cur);
  if (words.length === 0) return { ok: false, error: 'no command' };
  return { ok: true, words };
}
