import v8 from 'node:v8';

// Istio hands regexes to Envoy's RE2 engine, which matches the whole string in linear time.
// JavaScript's engine spells a few things differently, so patterns are translated token by
// token, and what RE2 itself refuses (lookaround, backreferences, unknown classes) is refused
// here too, rather than accepting a config Istio would reject.
//
// JavaScript's engine backtracks: a pattern written for RE2 such as `/api/([a-z0-9]+-?)+/v1`
// would take minutes on a short hostile path and block every request. V8 can switch such a run
// to its linear-time engine; that engine takes neither the `i` flag nor lookaround, so the
// translation spells case-insensitivity as [aA] classes and anchors as ^ and $. Only patterns
// with \p{...} classes (the `u` flag) or (?m) keep the backtracking engine.
v8.setFlagsFromString('--enable-experimental-regexp-engine-on-excessive-backtracks');

type Range = [number, number];

const POSIX: Record<string, Range[]> = {
  alnum: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]],
  alpha: [[0x41, 0x5a], [0x61, 0x7a]],
  ascii: [[0x00, 0x7f]],
  blank: [[0x09, 0x09], [0x20, 0x20]],
  cntrl: [[0x00, 0x1f], [0x7f, 0x7f]],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  space: [[0x09, 0x0d], [0x20, 0x20]],
  upper: [[0x41, 0x5a]],
  word: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]],
  xdigit: [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]],
};

// RE2's one-letter Unicode classes and the general categories JavaScript knows by the same name.
const CATEGORIES = new Set(['L', 'Lu', 'Ll', 'Lt', 'Lm', 'Lo', 'M', 'Mn', 'Mc', 'Me', 'N', 'Nd', 'Nl', 'No', 'P', 'Pc', 'Pd', 'Ps', 'Pe', 'Pi', 'Pf', 'Po', 'S', 'Sm', 'Sc', 'Sk', 'So', 'Z', 'Zs', 'Zl', 'Zp', 'C', 'Cc', 'Cf', 'Cs', 'Co', 'Cn', 'Any']);

export type RegexResult = { ok: true; re: RegExp } | { ok: false; error: string };

class Refused extends Error {}

interface Flags {
  i: boolean;
  s: boolean;
  m: boolean;
}

const hex = (cp: number) => (cp <= 0xff ? `\\x${cp.toString(16).padStart(2, '0')}` : cp <= 0xffff ? `\\u${cp.toString(16).padStart(4, '0')}` : `\\u{${cp.toString(16)}}`);

function renderRanges(ranges: Range[]): string {
  return ranges.map(([a, b]) => (a === b ? hex(a) : `${hex(a)}-${hex(b)}`)).join('');
}

function complement(ranges: Range[], max: number): Range[] {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0]);
  const out: Range[] = [];
  let next = 0;
  for (const [a, b] of sorted) {
    if (a > next) out.push([next, a - 1]);
    next = Math.max(next, b + 1);
  }
  if (next <= max) out.push([next, max]);
  return out;
}

/** Translates RE2 syntax to an equivalent JavaScript pattern, or throws Refused. */
class Translator {
  private pos = 0;
  unicode = false;
  private groups = 0;
  private readonly stack: Flags[] = [];

  constructor(
    private readonly src: string,
    private flags: Flags,
  ) {}

  run(): string {
    let out = '';
    while (this.pos < this.src.length) out += this.token();
    if (this.stack.length > 0) throw new Refused('not a valid regular expression: ' + 'missing closing )');
    return out;
  }

  private peek(n = 0): string {
    return this.src[this.pos + n] ?? '';
  }

  private token(): string {
    const c = this.src[this.pos++]!;
    switch (c) {
      case '\\':
        return this.escape(false);
      case '[':
        return this.charClass();
      case '(':
        return this.group();
      case ')':
        if (this.stack.length === 0) throw new Refused('not a valid regular expression: ' + 'unexpected )');
        this.flags = this.stack.pop()!;
        return ')';
      case '.':
        return this.flags.s ? '[\\s\\S]' : '.';
      case '^':
        return this.flags.m ? '(?<![^\\n])' : '^';
      case '$':
        return this.flags.m ? '(?![^\\n])' : '$';
      case '{': {
        const m = /^\{(\d+)(,(\d*))?\}/.exec(this.src.slice(this.pos - 1));
        if (!m) return '\\x7b';
        if (Number(m[1]) > 1000 || (m[3] !== undefined && m[3] !== '' && Number(m[3]) > 1000)) throw new Refused('RE2 allows at most 1000 repetitions');
        this.pos += m[0].length - 1;
        return m[0];
      }
      case '}':
        return '\\x7d';
      case ']':
        return '\\x5d';
      default:
        return this.literal(c);
    }
  }

  private literal(c: string): string {
    if (this.flags.i && c.toLowerCase() !== c.toUpperCase()) return `[${c.toLowerCase()}${c.toUpperCase()}]`;
    return c;
  }

  private group(): string {
    this.stack.push({ ...this.flags });
    if (this.peek() !== '?') {
      this.groups++;
      return '(';
    }
    const rest = this.src.slice(this.pos);
    if (/^\?(=|!|<=|<!)/.test(rest)) throw new Refused('RE2 (the engine Istio uses) does not support lookahead or lookbehind');
    const named = /^\?P?<([A-Za-z_][A-Za-z0-9_]*)>/.exec(rest);
    if (named) {
      this.groups++;
      this.pos += named[0].length;
      return `(?<${named[1]}>`;
    }
    const flags = /^\?([imsU]*)(?:-([imsU]*))?(:|\))/.exec(rest);
    if (!flags) throw new Refused(`unknown group syntax (${rest.slice(0, 4)}`);
    this.pos += flags[0].length;
    const next = { ...this.flags };
    for (const [set, on] of [[flags[1] ?? '', true], [flags[2] ?? '', false]] as const) {
      for (const f of set) {
        if (f === 'U') throw new Refused('the U flag (ungreedy) is not supported; use lazy quantifiers such as .*? instead');
        next[f as keyof Flags] = on;
      }
    }
    if (flags[3] === ')') {
      // `(?i)` sets flags until the end of the enclosing group.
      this.stack.pop();
      this.flags = next;
      return '';
    }
    this.flags = next;
    return '(?:';
  }

  private escape(inClass: boolean): string {
    const c = this.src[this.pos++];
    if (c === undefined) throw new Refused('not a valid regular expression: ' + 'trailing backslash');
    if (/[1-9]/.test(c)) throw new Refused('RE2 (the engine Istio uses) does not support backreferences');
    if (!inClass) {
      if (c === 'A') return '^';
      if (c === 'z') return '$';
      if (c === 'Z') throw new Refused('\\Z is not supported by RE2; use \\z');
      if (c === 'b' || c === 'B') return `\\${c}`;
      if (c === 'Q') {
        const end = this.src.indexOf('\\E', this.pos);
        const lit = this.src.slice(this.pos, end < 0 ? undefined : end);
        this.pos = end < 0 ? this.src.length : end + 2;
        return [...lit].map((ch) => (/[A-Za-z0-9]/.test(ch) ? this.literal(ch) : hex(ch.codePointAt(0)!))).join('');
      }
    }
    if (c === 'C') throw new Refused('\\C (any byte) is not supported');
    if (c === 'p' || c === 'P') return this.unicodeClass(c === 'P');
    if (c === 'x') {
      if (this.peek() === '{') {
        const end = this.src.indexOf('}', this.pos);
        const cp = parseInt(this.src.slice(this.pos + 1, end), 16);
        if (end < 0 || !Number.isFinite(cp) || cp > 0x10ffff) throw new Refused('not a valid regular expression: ' + 'invalid \\x{...} escape');
        this.pos = end + 1;
        if (cp > 0xffff) this.unicode = true;
        return hex(cp);
      }
      const h = this.src.slice(this.pos, this.pos + 2);
      if (!/^[0-9a-fA-F]{2}$/.test(h)) throw new Refused('not a valid regular expression: ' + 'invalid \\x escape');
      this.pos += 2;
      return `\\x${h}`;
    }
    if ('dDwWsSntrfv0'.includes(c)) return `\\${c}`;
    if (/[A-Za-z]/.test(c)) throw new Refused(`not a valid regular expression: unknown escape \\${c}`);
    // Escaped punctuation: a hex escape means the same in every JavaScript mode.
    return hex(c.codePointAt(0)!);
  }

  private unicodeClass(negated: boolean): string {
    let name: string;
    if (this.peek() === '{') {
      const end = this.src.indexOf('}', this.pos);
      if (end < 0) throw new Refused('not a valid regular expression: ' + 'missing } in \\p{...}');
      name = this.src.slice(this.pos + 1, end);
      this.pos = end + 1;
    } else {
      name = this.src[this.pos++] ?? '';
    }
    if (name.startsWith('^')) {
      negated = !negated;
      name = name.slice(1);
    }
    this.unicode = true;
    const prop = CATEGORIES.has(name) ? (name === 'Any' ? 'Any' : `General_Category=${name}`) : `Script=${name}`;
    try {
      new RegExp(`\\p{${prop}}`, 'u');
    } catch {
      throw new Refused(`unknown Unicode class ${name}`);
    }
    return `\\${negated ? 'P' : 'p'}{${prop}}`;
  }

  private charClass(): string {
    let negated = false;
    if (this.peek() === '^') {
      negated = true;
      this.pos++;
    }
    const items: string[] = [];
    const ranges: Range[] = [];
    const negatedPosix: Range[][] = [];
    let first = true;
    for (;;) {
      const c = this.src[this.pos];
      if (c === undefined) throw new Refused('not a valid regular expression: ' + 'missing ] in character class');
      if (c === ']' && !first) {
        this.pos++;
        break;
      }
      first = false;
      const posix = /^\[:(\^?)([a-z]+):\]/.exec(this.src.slice(this.pos));
      if (posix) {
        const set = POSIX[posix[2]!];
        if (!set) throw new Refused(`invalid character class range [:${posix[2]}:]`);
        if (posix[1]) negatedPosix.push(set);
        else ranges.push(...set);
        this.pos += posix[0].length;
        continue;
      }
      this.pos++;
      const last = this.src[this.pos] === ']';
      if (c === '-' && (items.length === 0 || last)) items.push('\\x2d');
      else if (c === '\\') items.push(this.escape(true));
      else if (c === '[' || c === ']' || c === '/' || c === '{' || c === '}' || c === '|') items.push(hex(c.charCodeAt(0)));
      else items.push(c);
    }
    let body = renderRanges(ranges) + items.join('');
    if (this.flags.i) body += caseFold(items.join(''));
    if (negatedPosix.length > 0) {
      const max = this.unicode ? 0x10ffff : 0xffff;
      if (negatedPosix.length === 1 && body === '') {
        return negated ? `[${renderRanges(negatedPosix[0]!)}]` : `[^${renderRanges(negatedPosix[0]!)}]`;
      }
      for (const set of negatedPosix) body += renderRanges(complement(set, max));
    }
    return `[${negated ? '^' : ''}${body}]`;
  }
}

/** The other-case twins of the letters and letter ranges of a class body, for a local (?i). */
function caseFold(body: string): string {
  const tokens = body.match(/\\x[0-9a-fA-F]{2}|\\u\{[0-9a-fA-F]+\}|\\u[0-9a-fA-F]{4}|\\[pP]\{[^}]*\}|\\.|[\s\S]/g) ?? [];
  let out = '';
  for (let i = 0; i < tokens.length; i++) {
    const a = tokens[i]!;
    if (a.length > 1) continue;
    if (tokens[i + 1] === '-' && tokens[i + 2] !== undefined && tokens[i + 2]!.length === 1) {
      const b = tokens[i + 2]!;
      if (/[a-z]/.test(a) && /[a-z]/.test(b)) out += `${a.toUpperCase()}-${b.toUpperCase()}`;
      else if (/[A-Z]/.test(a) && /[A-Z]/.test(b)) out += `${a.toLowerCase()}-${b.toLowerCase()}`;
      i += 2;
      continue;
    }
    if (a.toLowerCase() !== a.toUpperCase()) out += a === a.toLowerCase() ? a.toUpperCase() : a.toLowerCase();
  }
  return out;
}

// A route's pattern is compiled by the CRD check, by Istio's webhook rules and by compile (what
// could fail in building a route runs there): three times each at start, about a second of a
// `validate` of 90,000 regex matches. Results are kept until the end of the next compile
// (forgetCompiledPatterns), so the checks' results serve compile, and those of routes built on
// their first request (which hold the same RegExp) go with the compile after them. Sharing a
// RegExp is safe: none made here has the `g` or `y` flag, so none keeps a lastIndex.
const compiledPatterns = new Map<string, RegexResult>();
const compiledPatternsCi = new Map<string, RegexResult>();
/** A load whose compile never comes (a config refused again and again) keeps no more than this. */
const MAX_COMPILED_PATTERNS = 200_000;

/** Compile an RE2 pattern for a full-string match (RE2::FullMatch, as Envoy's safe_regex). */
export function compileRe2(pattern: string, caseInsensitive = false): RegexResult {
  const kept = caseInsensitive ? compiledPatternsCi : compiledPatterns;
  let r = kept.get(pattern);
  if (r === undefined) {
    r = compileRe2Afresh(pattern, caseInsensitive);
    if (kept.size >= MAX_COMPILED_PATTERNS) kept.clear();
    kept.set(pattern, r);
  }
  return r;
}

/** Lets go of the patterns compiled since the last call: at the end of each compile. */
export function forgetCompiledPatterns(): void {
  compiledPatterns.clear();
  compiledPatternsCi.clear();
}

function compileRe2Afresh(pattern: string, caseInsensitive: boolean): RegexResult {
  let src = pattern;
  const flags: Flags = { i: caseInsensitive, s: false, m: false };
  const lead = /^\(\?([ims]+)\)/.exec(src);
  if (lead) {
    for (const f of lead[1]!) flags[f as keyof Flags] = true;
    src = src.slice(lead[0].length);
  }
  let body: string;
  let unicode: boolean;
  try {
    const t = new Translator(src, flags);
    body = t.run();
    unicode = t.unicode;
  } catch (e) {
    if (e instanceof Refused) return { ok: false, error: e.message };
    throw e;
  }
  try {
    return { ok: true, re: new RegExp(`^(?:${body})$`, unicode ? 'u' : '') };
  } catch (e) {
    return { ok: false, error: `not a valid regular expression: ${(e as Error).message.replace(/^Invalid regular expression: /, '')}` };
  }
}

/** Compile an RE2 pattern for searching (all matches, not anchored), as uriRegexRewrite uses it. */
export function compileRe2Search(pattern: string): RegexResult {
  const anchored = compileRe2(pattern);
  if (!anchored.ok) return anchored;
  const src = anchored.re.source.slice(4, -2); // strip the ^(?: … )$ added for full matches
  return { ok: true, re: new RegExp(src, anchored.re.flags + 'g') };
}
