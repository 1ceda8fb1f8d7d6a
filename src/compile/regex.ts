// Istio hands regexes to Envoy's RE2 engine, which matches the whole string. JavaScript's engine
// differs in a few spellings, so we translate those and refuse what RE2 itself would refuse
// (lookaround, backreferences), rather than accept a config Istio would reject.

const POSIX_CLASSES: Record<string, string> = {
  alnum: '0-9A-Za-z',
  alpha: 'A-Za-z',
  ascii: '\\x00-\\x7F',
  blank: '\\t ',
  cntrl: '\\x00-\\x1F\\x7F',
  digit: '0-9',
  graph: '!-~',
  lower: 'a-z',
  print: ' -~',
  punct: '!-\\/:-@\\[-`{-~',
  space: '\\t\\n\\v\\f\\r ',
  upper: 'A-Z',
  word: '0-9A-Za-z_',
  xdigit: '0-9A-Fa-f',
};

export type RegexResult = { ok: true; re: RegExp } | { ok: false; error: string };

/** Compile an RE2 pattern for a full-string match. */
export function compileRe2(pattern: string, caseInsensitive = false): RegexResult {
  let flags = caseInsensitive ? 'i' : '';
  let src = pattern;
  const lead = /^\(\?([imsU]+)\)/.exec(src);
  if (lead) {
    for (const f of lead[1]!) {
      if (f === 'i' && !flags.includes('i')) flags += 'i';
      else if (f === 's') flags += 's';
      else if (f === 'm') flags += 'm';
      else if (f === 'U') return { ok: false, error: 'the (?U) flag (ungreedy) is not supported; use lazy quantifiers such as .*? instead' };
    }
    src = src.slice(lead[0].length);
  }
  if (/\(\?(=|!|<=|<!)/.test(src)) return { ok: false, error: 'RE2 (the engine Istio uses) does not support lookahead or lookbehind' };
  if (/(^|[^\\])(\\\\)*\\[1-9]/.test(src)) return { ok: false, error: 'RE2 (the engine Istio uses) does not support backreferences' };
  if (/\(\?[a-zA-Z]+[:)]/.test(src)) return { ok: false, error: 'inline flags are only supported at the start of the pattern, e.g. (?i)' };
  src = src
    .replace(/\(\?P</g, '(?<')
    .replace(/\\Q([\s\S]*?)(\\E|$)/g, (_, lit: string) => lit.replace(/[.*+?^${}()|[\]\\/-]/g, '\\$&'))
    .replace(/\\A/g, '^')
    .replace(/\\z/g, '$')
    .replace(/\[:(\^?)([a-z]+):\]/g, (whole, neg: string, name: string) => {
      const cls = POSIX_CLASSES[name];
      if (!cls) return whole;
      return neg ? `^${cls}` : cls;
    });
  const unicode = /\\[pP]/.test(src);
  if (unicode) flags += 'u';
  try {
    return { ok: true, re: new RegExp(`^(?:${src})$`, flags) };
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
