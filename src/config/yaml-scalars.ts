// YAML 1.1 scalars as Go's reader (and so kubectl) takes them, mirroring the `yaml` package's
// yaml-1.1 schema without its base-60 and timestamp types; the test suite checks both agree.
// Each tag's forms are tried in the `yaml` package's order.

/** A way a plain scalar can be written, and the value it then has. */
export type ScalarForm = readonly [RegExp, (s: string) => unknown];

function intOf(s: string, offset: number, radix: number): number {
  const sign = s[0];
  const start = sign === '-' || sign === '+' ? offset + 1 : offset;
  const n = parseInt(s.substring(start).replace(/_/g, ''), radix);
  return sign === '-' ? -n : n;
}

export const isNullScalar = (s: string): boolean => s === '' || s === '~' || s === 'null' || s === 'Null' || s === 'NULL';

/** The typed scalars: tag, the characters their forms can start with, and the forms. */
export const TYPED_SCALARS: ReadonlyArray<{ tag: string; firstChars: string; forms: readonly ScalarForm[] }> = [
  {
    tag: 'bool',
    firstChars: 'YyNnTtFfOo',
    forms: [
      [/^(?:Y|y|[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/, () => true],
      [/^(?:N|n|[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/, () => false],
    ],
  },
  {
    tag: 'int',
    firstChars: '+-0123456789',
    forms: [
      [/^[-+]?0b[0-1_]+$/, (s) => intOf(s, 2, 2)],
      [/^[-+]?0[0-7_]+$/, (s) => intOf(s, 1, 8)],
      [/^[-+]?[0-9][0-9_]*$/, (s) => intOf(s, 0, 10)],
      [/^[-+]?0x[0-9a-fA-F_]+$/, (s) => intOf(s, 2, 16)],
    ],
  },
  {
    tag: 'float',
    firstChars: '+-.0123456789',
    forms: [
      [/^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/, (s) => (s.slice(-3).toLowerCase() === 'nan' ? NaN : s[0] === '-' ? -Infinity : Infinity)],
      [/^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$/, (s) => parseFloat(s.replace(/_/g, ''))],
      [/^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*$/, (s) => parseFloat(s.replace(/_/g, ''))],
    ],
  },
];

// By first character: 1 may start a number, 2 a boolean or null (`no`, `null`), 0 neither.
const FIRST = new Uint8Array(128);
for (const t of TYPED_SCALARS) for (const c of t.firstChars) FIRST[c.charCodeAt(0)] = t.tag === 'bool' ? 2 : 1;
FIRST['~'.charCodeAt(0)] = 2;
/** The longest boolean or null form: `false`. */
const LONGEST_WORD = 5;

/** A plain (unquoted) scalar's value: null, a boolean, a number, or the text itself. */
export function plainScalar(s: string): unknown {
  // Most scalars are names and hosts: the first character and the length rule them out
  // without a pattern.
  if (s.length === 0) return null;
  const c = s.charCodeAt(0);
  const first = c < 128 ? FIRST[c] : 0;
  if (first === 0 || (first === 2 && s.length > LONGEST_WORD)) return s;
  // Port numbers, counts, weights: digits alone, not led by 0 (octal), read without a pattern.
  if ((c >= 0x31 && c <= 0x39) || (c === 0x30 && s.length === 1)) {
    const n = decimalDigits(s);
    if (n !== undefined) return n;
  }
  if (isNullScalar(s)) return null;
  for (const t of TYPED_SCALARS) {
    if (!t.firstChars.includes(s[0]!)) continue;
    for (const [re, value] of t.forms) if (re.test(s)) return value(s);
  }
  return s;
}

/** The value of a text of up to 15 decimal digits (exact in a double), or undefined for any other. */
function decimalDigits(s: string): number | undefined {
  if (s.length > 15) return undefined;
  let n = 0;
  for (let i = 0; i < s.length; i++) {
    const d = s.charCodeAt(i) - 0x30;
    if (d < 0 || d > 9) return undefined;
    n = n * 10 + d;
  }
  return n;
}
