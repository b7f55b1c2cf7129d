/**
 * Text that reaches a terminal: control characters in it (from Marathon app ids, node answers,
 * file names) are shown as escapes, so that no input can move the cursor, erase a line, set the
 * window title or the clipboard (OSC 52), or reorder text (bidi controls). Line feeds and tabs
 * stay: the renderers lay out with them. `--json` output is not passed through here: it is exact.
 */
// eslint-disable-next-line no-control-regex
const UNSAFE = /[\u0000-\u0008\u000b-\u001f\u007f-\u009f\u202a-\u202e\u2066-\u2069]/g;

export function safeText(s: string): string {
  return s.replace(UNSAFE, (c) => {
    const n = c.codePointAt(0)!;
    return n <= 0xff ? `\\x${n.toString(16).padStart(2, '0')}` : `\\u{${n.toString(16)}}`;
  });
}
