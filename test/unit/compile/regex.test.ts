import { describe, expect, it } from 'vitest';
import { compileRe2 } from '../../../src/compile/regex.js';

/** Compiles an RE2 pattern (failing the test if it is refused) and full-matches `s`. */
function full(pattern: string, s: string, caseInsensitive = false): boolean {
  const r = compileRe2(pattern, caseInsensitive);
  if (!r.ok) throw new Error(`${JSON.stringify(pattern)} was refused: ${r.error}`);
  return r.re.test(s);
}

function refused(pattern: string): string {
  const r = compileRe2(pattern);
  if (r.ok) throw new Error(`${JSON.stringify(pattern)} was accepted as /${r.re.source}/${r.re.flags}`);
  return r.error;
}

describe('compileRe2: the whole string must match (Envoy safe_regex, RE2 FullMatch)', () => {
  it('`/a.c` matches `/abc` and `/a-c`', () => {
    expect(full('/a.c', '/abc')).toBe(true);
    expect(full('/a.c', '/a-c')).toBe(true);
  });

  it('`/a.c` does not match `/abcd`, `x/abc` or `/ac`', () => {
    expect(full('/a.c', '/abcd')).toBe(false);
    expect(full('/a.c', 'x/abc')).toBe(false);
    expect(full('/a.c', '/ac')).toBe(false);
  });

  it('anchors an alternation as a whole: `a|b` matches `a` or `b`, not `ab`', () => {
    expect(full('a|b', 'a')).toBe(true);
    expect(full('a|b', 'b')).toBe(true);
    expect(full('a|b', 'ab')).toBe(false);
    expect(full('/v1|/v2', '/v1/x')).toBe(false);
  });

  it('a prefix pattern has to say `.*` to match longer strings', () => {
    expect(full('/api/.*', '/api/users/1')).toBe(true);
    expect(full('/api/', '/api/users/1')).toBe(false);
  });

  it('`.` does not match a newline unless (?s) is given', () => {
    expect(full('a.b', 'a\nb')).toBe(false);
    expect(full('(?s)a.b', 'a\nb')).toBe(true);
  });

  it('(?m) changes ^ and $ inside the pattern but the match is still of the whole string', () => {
    // RE2::FullMatch anchors at both ends of the text whatever the flags.
    expect(full('(?m)a', 'a')).toBe(true);
    expect(full('(?m)a', 'a\nb')).toBe(false);
    expect(full('(?m)a', 'b\na')).toBe(false);
  });
});

describe('compileRe2: RE2 spellings', () => {
  it('(?P<name>...) named groups compile and capture', () => {
    const r = compileRe2('/users/(?P<id>[0-9]+)/(?P<tab>[a-z]+)');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    const m = r.re.exec('/users/42/posts');
    expect(m?.groups).toEqual({ id: '42', tab: 'posts' });
    expect(r.re.test('/users/x/posts')).toBe(false);
  });

  it('a leading (?i) makes the match case-insensitive; without it case matters', () => {
    expect(full('(?i)/Admin/.*', '/ADMIN/x')).toBe(true);
    expect(full('(?i)/Admin/.*', '/admin/x')).toBe(true);
    expect(full('/Admin/.*', '/ADMIN/x')).toBe(false);
  });

  it('several leading flags combine: (?is)', () => {
    expect(full('(?is)a.B', 'A\nb')).toBe(true);
    expect(full('(?i)a.B', 'A\nb')).toBe(false);
  });

  it('the caseInsensitive argument (ignoreUriCase) applies to the whole pattern', () => {
    expect(full('/caseless/[a-z]+', '/CASELESS/ABC', true)).toBe(true);
    expect(full('/caseless/[a-z]+', '/CASELESS/ABC', false)).toBe(false);
  });

  it('(?i:...) scoped to a group, as RE2 accepts it', () => {
    expect(full('(?i:chrome)/[0-9]+', 'CHROME/120')).toBe(true);
    expect(full('(?i:chrome)/[0-9]+', 'chrome/120')).toBe(true);
    expect(full('x(?i:a)X', 'xAx')).toBe(false);
  });

  it('\\A and \\z anchor at the start and end of the text', () => {
    expect(full('\\A/api\\z', '/api')).toBe(true);
    expect(full('\\A/api\\z', '/api/x')).toBe(false);
    expect(full('\\A/api', '/api')).toBe(true);
    expect(full('/api\\z', '/api')).toBe(true);
  });

  it('an escaped backslash followed by A or z stays literal (`\\\\Apps` is `\\` then `Apps`)', () => {
    expect(full('C:\\\\Apps', 'C:\\Apps')).toBe(true);
    expect(full('C:\\\\Apps', 'C:^pps')).toBe(false);
    expect(full('x\\\\z', 'x\\z')).toBe(true);
  });

  it('\\Q...\\E quotes its contents literally', () => {
    expect(full('\\Qa.b+c\\E', 'a.b+c')).toBe(true);
    expect(full('\\Qa.b+c\\E', 'axbbc')).toBe(false);
    expect(full('/v\\Q1.0\\E/.*', '/v1.0/x')).toBe(true);
    expect(full('/v\\Q1.0\\E/.*', '/v1x0/x')).toBe(false);
  });

  it('\\p{L} Unicode classes', () => {
    expect(full('\\p{L}+', 'héllo')).toBe(true);
    expect(full('\\p{L}+', 'h3llo')).toBe(false);
  });

  it('\\pL (one-letter class without braces) and \\p{Greek} (a script name) as RE2 writes them', () => {
    expect(full('\\pL+', 'héllo')).toBe(true);
    expect(full('\\pL+', 'h3llo')).toBe(false);
    expect(full('\\PN+', 'abc')).toBe(true);
    expect(full('\\p{Greek}+', 'αβγ')).toBe(true);
    expect(full('\\p{Greek}+', 'abc')).toBe(false);
  });

  it('escaped punctuation still works when the pattern also uses \\p{...}', () => {
    expect(full('\\p{L}+\\-[0-9]+', 'é-12')).toBe(true);
    expect(full('\\p{L}+\\-[0-9]+', 'é_12')).toBe(false);
  });

  it('\\x{41} is a hex code point', () => {
    expect(full('\\x{41}', 'A')).toBe(true);
    expect(full('\\x41', 'A')).toBe(true);
    expect(full('\\x{41}', 'B')).toBe(false);
  });
});

describe('compileRe2: POSIX classes', () => {
  it('[[:digit:]] [[:alpha:]] [[:upper:]] [[:lower:]]', () => {
    expect(full('/items/[[:digit:]]+', '/items/123')).toBe(true);
    expect(full('/items/[[:digit:]]+', '/items/12a')).toBe(false);
    expect(full('[[:alpha:]]+', 'abcXYZ')).toBe(true);
    expect(full('[[:alpha:]]+', 'abc1')).toBe(false);
    expect(full('[[:upper:]][[:lower:]]+', 'Hello')).toBe(true);
    expect(full('[[:upper:]][[:lower:]]+', 'hello')).toBe(false);
  });

  it('[[:alnum:]] [[:word:]] [[:xdigit:]] [[:space:]] [[:punct:]]', () => {
    expect(full('[[:alnum:]]+', 'a1B2')).toBe(true);
    expect(full('[[:alnum:]]+', 'a_1')).toBe(false);
    expect(full('[[:word:]]+', 'a_1')).toBe(true);
    expect(full('[[:word:]]+', 'a-1')).toBe(false);
    expect(full('[[:xdigit:]]+', 'dEaDbeef09')).toBe(true);
    expect(full('[[:xdigit:]]+', 'beefg')).toBe(false);
    expect(full('a[[:space:]]b', 'a\tb')).toBe(true);
    expect(full('a[[:space:]]b', 'a_b')).toBe(false);
    expect(full('[[:punct:]]+', '!-/:@[`{~')).toBe(true);
    expect(full('[[:punct:]]+', 'a')).toBe(false);
  });

  it('several classes in one bracket, and classes next to other items', () => {
    expect(full('[[:alpha:][:digit:]]+', 'ab12')).toBe(true);
    expect(full('[[:alpha:][:digit:]]+', 'ab-12')).toBe(false);
    expect(full('[[:digit:]_-]+', '1_2-3')).toBe(true);
    expect(full('[[:digit:]_-]+', '1.2')).toBe(false);
  });

  it('a negated class alone in its bracket: [[:^digit:]] and [^[:space:]]', () => {
    expect(full('[[:^digit:]]+', 'abc')).toBe(true);
    expect(full('[[:^digit:]]+', 'a1')).toBe(false);
    expect(full('[^[:space:]]+', 'ab')).toBe(true);
    expect(full('[^[:space:]]+', 'a b')).toBe(false);
  });

  it('a negated class next to other items is a union: [[:^digit:]5] accepts 5 and letters, not other digits', () => {
    expect(full('[[:^digit:]5]', 'a')).toBe(true);
    expect(full('[[:^digit:]5]', '5')).toBe(true);
    expect(full('[[:^digit:]5]', '3')).toBe(false);
  });

  it('an unknown class name is refused, as RE2 refuses it', () => {
    expect(refused('[[:foo:]]')).toMatch(/./);
  });
});

describe('compileRe2: what RE2 (and so Istio) refuses', () => {
  it('lookahead and lookbehind', () => {
    expect(refused('(?=a)a')).toMatch(/lookahead|lookbehind/);
    expect(refused('/api(?!/internal).*')).toMatch(/lookahead|lookbehind/);
    expect(refused('(?<=a)b')).toMatch(/lookahead|lookbehind/);
    expect(refused('(?<!a)b')).toMatch(/lookahead|lookbehind/);
  });

  it('backreferences', () => {
    expect(refused('(a)\\1')).toMatch(/backreference/);
    expect(refused('(?P<x>a)b\\2')).toMatch(/backreference/);
  });

  it('but an escaped backslash followed by a digit is a literal, not a backreference', () => {
    expect(full('\\\\1', '\\1')).toBe(true);
    expect(full('a\\\\\\\\2', 'a\\\\2')).toBe(true);
  });

  it('a syntax error is refused with the reason', () => {
    expect(refused('(')).toMatch(/not a valid regular expression/);
    expect(refused('[a-')).toMatch(/not a valid regular expression/);
    expect(refused('a**b')).toMatch(/not a valid regular expression/);
  });

  it('valid patterns are not refused', () => {
    for (const p of ['.*', '/api/v[0-9]+/.*', '(GET|POST)', 'a{2,3}', '[a-z]+(\\.[a-z]+)*', '(?i).*chrome.*', '(?:x|y)+']) {
      expect(compileRe2(p).ok, p).toBe(true);
    }
  });
});
