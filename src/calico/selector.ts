/**
 * Calico's label selectors (BGPPeer `nodeSelector` / `peerSelector`), parsed and evaluated over
 * a node's labels. The grammar follows libcalico-go/lib/selector (projectcalico/calico):
 * `all()`, `global()`, `has(k)`, `k == "v"`, `k != "v"`, `k in {"a", "b"}`, `k not in {...}`,
 * `k contains "s"`, `k starts with "s"`, `k ends with "s"`, `!`, `&&`, `||`, parentheses; strings
 * in single or double quotes. Pure. Selectors come from etcd (untrusted): at most 1024
 * characters (Calico's own limit) and 64 levels of nesting, parsed in one linear pass; anything
 * else is an error that says where.
 */

export type Selector =
  | { kind: 'all' }
  | { kind: 'has'; key: string }
  | { kind: 'cmp'; key: string; op: '==' | '!=' | 'contains' | 'starts' | 'ends'; value: string }
  | { kind: 'in'; key: string; values: string[]; negated: boolean }
  | { kind: 'not'; of: Selector }
  | { kind: 'and' | 'or'; of: [Selector, Selector] };

const MAX_SELECTOR_LENGTH = 1024;
const MAX_DEPTH = 64;

type Token =
  | { t: 'ident'; v: string; at: number }
  | { t: 'str'; v: string; at: number }
  | { t: 'op'; v: string; at: number }
  | { t: 'end'; at: number };

function tokenize(s: string): Token[] {
  const out: Token[] = [];
  let i = 0;
  while (i < s.length) {
    const c = s[i]!;
    if (c === ' ' || c === '\t') {
      i++;
      continue;
    }
    const two = s.slice(i, i + 2);
    if (['==', '!=', '&&', '||'].includes(two)) {
      out.push({ t: 'op', v: two, at: i });
      i += 2;
      continue;
    }
    if ('!(){},'.includes(c)) {
      out.push({ t: 'op', v: c, at: i });
      i++;
      continue;
    }
    if (c === '"' || c === "'") {
      const end = s.indexOf(c, i + 1);
      if (end < 0) throw new Error(`unterminated string at ${i + 1}`);
      out.push({ t: 'str', v: s.slice(i + 1, end), at: i });
      i = end + 1;
      continue;
    }
    const m = /^[A-Za-z0-9_./-]+/.exec(s.slice(i, i + 254));
    if (!m) throw new Error(`unexpected '${c}' at ${i + 1}`);
    out.push({ t: 'ident', v: m[0], at: i });
    i += m[0].length;
  }
  out.push({ t: 'end', at: s.length });
  return out;
}

/** Parses a selector; throws an Error saying what is wrong and where (1-based column). */
export function parseSelector(text: string): Selector {
  if (text.length > MAX_SELECTOR_LENGTH) throw new Error(`longer than ${MAX_SELECTOR_LENGTH} characters`);
  if (text.trim() === '') return { kind: 'all' }; // Calico: an empty selector selects everything
  const toks = tokenize(text);
  let p = 0;
  const peek = () => toks[p]!;
  const next = () => toks[p++]!;
  const where = (tk: Token) => `at ${tk.at + 1}`;
  const expectOp = (v: string) => {
    const tk = next();
    if (tk.t !== 'op' || tk.v !== v) throw new Error(`expected '${v}' ${where(tk)}`);
  };
  const isOp = (v: string) => peek().t === 'op' && (peek() as { v: string }).v === v;
  const isWord = (v: string) => peek().t === 'ident' && (peek() as { v: string }).v === v;
  const str = (): string => {
    const tk = next();
    if (tk.t !== 'str') throw new Error(`expected a quoted string ${where(tk)}`);
    return tk.v;
  };

  const or = (depth: number): Selector => {
    let left = and(depth);
    while (isOp('||')) {
      next();
      left = { kind: 'or', of: [left, and(depth)] };
    }
    return left;
  };
  const and = (depth: number): Selector => {
    let left = unary(depth);
    while (isOp('&&')) {
      next();
      left = { kind: 'and', of: [left, unary(depth)] };
    }
    return left;
  };
  const unary = (depth: number): Selector => {
    if (depth > MAX_DEPTH) throw new Error(`nested deeper than ${MAX_DEPTH} levels`);
    if (isOp('!')) {
      next();
      return { kind: 'not', of: unary(depth + 1) };
    }
    if (isOp('(')) {
      next();
      const inner = or(depth + 1);
      expectOp(')');
      return inner;
    }
    const tk = next();
    if (tk.t !== 'ident') throw new Error(`expected a label or a function ${where(tk)}`);
    if ((tk.v === 'all' || tk.v === 'global') && isOp('(')) {
      next();
      expectOp(')');
      return { kind: 'all' };
    }
    if (tk.v === 'has' && isOp('(')) {
      next();
      const key = next();
      if (key.t !== 'ident') throw new Error(`expected a label in has() ${where(key)}`);
      expectOp(')');
      return { kind: 'has', key: key.v };
    }
    const key = tk.v;
    if (isOp('==') || isOp('!=')) {
      const op = (next() as { v: '==' | '!=' }).v;
      return { kind: 'cmp', key, op, value: str() };
    }
    let negated = false;
    if (isWord('not')) {
      next();
      negated = true;
      if (!isWord('in')) throw new Error(`expected 'in' after 'not' ${where(peek())}`);
    }
    if (isWord('in')) {
      next();
      expectOp('{');
      const values: string[] = [];
      if (!isOp('}')) {
        values.push(str());
        while (isOp(',')) {
          next();
          values.push(str());
        }
      }
      expectOp('}');
      return { kind: 'in', key, values, negated };
    }
    if (isWord('contains')) {
      next();
      return { kind: 'cmp', key, op: 'contains', value: str() };
    }
    if (isWord('starts') || isWord('ends')) {
      const which = (next() as { v: 'starts' | 'ends' }).v;
      if (!isWord('with')) throw new Error(`expected 'with' after '${which}' ${where(peek())}`);
      next();
      return { kind: 'cmp', key, op: which, value: str() };
    }
    throw new Error(`expected an operator after '${key}' ${where(peek())}`);
  };

  const sel = or(0);
  if (peek().t !== 'end') throw new Error(`unexpected text ${where(peek())}`);
  return sel;
}

/** Whether a node with these labels is selected. */
export function matchesSelector(s: Selector, labels: Readonly<Record<string, string>>): boolean {
  const has = (k: string) => Object.prototype.hasOwnProperty.call(labels, k);
  switch (s.kind) {
    case 'all':
      return true;
    case 'has':
      return has(s.key);
    case 'cmp': {
      // Calico: != also matches a node without the label; the others need it.
      if (!has(s.key)) return s.op === '!=';
      const v = labels[s.key]!;
      switch (s.op) {
        case '==':
          return v === s.value;
        case '!=':
          return v !== s.value;
        case 'contains':
          return v.includes(s.value);
        case 'starts':
          return v.startsWith(s.value);
        case 'ends':
          return v.endsWith(s.value);
        default: {
          const never: never = s.op;
          return never;
        }
      }
    }
    case 'in':
      return has(s.key) ? s.values.includes(labels[s.key]!) !== s.negated : s.negated;
    case 'not':
      return !matchesSelector(s.of, labels);
    case 'and':
      return matchesSelector(s.of[0], labels) && matchesSelector(s.of[1], labels);
    case 'or':
      return matchesSelector(s.of[0], labels) || matchesSelector(s.of[1], labels);
    default: {
      const never: never = s;
      return never;
    }
  }
}
