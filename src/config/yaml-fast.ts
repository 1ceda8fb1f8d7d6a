// The fast way to read config YAML: js-yaml, about 4x faster than the `yaml` package and without
// its per-node source ranges, one document at a time. Positions are found only when a message
// needs one (source.ts parses that one document again with `yaml`). Texts that use what the two
// readers could take differently (anchors, tags, merge keys, directives, `key:]` in flow
// collections) are left to the `yaml` path, as are texts js-yaml refuses, so that syntax errors
// are reported the one way.
import jsyaml from 'js-yaml';

const { Type, FAILSAFE_SCHEMA } = jsyaml;

// YAML 1.1 scalars as Go's reader (and so kubectl) takes them, mirroring the `yaml` package's
// yaml-1.1 schema without its base-60 and timestamp types; the test suite checks both agree.
// js-yaml keeps one implicit type per tag, so each tag's forms are tried in the `yaml` order.
type Form = [RegExp, (s: string) => unknown];

function scalarType(tag: string, firstChars: string, forms: readonly Form[]): InstanceType<typeof Type> {
  // Most scalars are names and hosts: the first character rules them out without a pattern.
  const formOf = (s: string) => (s.length > 0 && firstChars.includes(s[0]!) ? forms.find(([re]) => re.test(s)) : undefined);
  return new Type(`tag:yaml.org,2002:${tag}`, {
    kind: 'scalar',
    resolve: (s: string | null) => s !== null && formOf(s) !== undefined,
    construct: (s: string | null) => formOf(s ?? '')![1](s ?? ''),
  });
}

function intOf(s: string, offset: number, radix: number): number {
  const sign = s[0];
  const start = sign === '-' || sign === '+' ? offset + 1 : offset;
  const n = parseInt(s.substring(start).replace(/_/g, ''), radix);
  return sign === '-' ? -n : n;
}

const KUBECTL_SCHEMA = FAILSAFE_SCHEMA.extend({
  implicit: [
    new Type('tag:yaml.org,2002:null', { kind: 'scalar', resolve: (s: string | null) => s === null || s === '' || s === '~' || s === 'null' || s === 'Null' || s === 'NULL', construct: () => null }),
    scalarType('bool', 'YyNnTtFfOo', [
      [/^(?:Y|y|[Yy]es|YES|[Tt]rue|TRUE|[Oo]n|ON)$/, () => true],
      [/^(?:N|n|[Nn]o|NO|[Ff]alse|FALSE|[Oo]ff|OFF)$/, () => false],
    ]),
    scalarType('int', '+-0123456789', [
      [/^[-+]?0b[0-1_]+$/, (s) => intOf(s, 2, 2)],
      [/^[-+]?0[0-7_]+$/, (s) => intOf(s, 1, 8)],
      [/^[-+]?[0-9][0-9_]*$/, (s) => intOf(s, 0, 10)],
      [/^[-+]?0x[0-9a-fA-F_]+$/, (s) => intOf(s, 2, 16)],
    ]),
    scalarType('float', '+-.0123456789', [
      [/^(?:[-+]?\.(?:inf|Inf|INF)|\.nan|\.NaN|\.NAN)$/, (s) => (s.slice(-3).toLowerCase() === 'nan' ? NaN : s[0] === '-' ? -Infinity : Infinity)],
      [/^[-+]?(?:[0-9][0-9_]*)?(?:\.[0-9_]*)?[eE][-+]?[0-9]+$/, (s) => parseFloat(s.replace(/_/g, ''))],
      [/^[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*$/, (s) => parseFloat(s.replace(/_/g, ''))],
    ]),
  ],
});

// Anchors, aliases, tags and merge keys at the start of a token; directives; document-end
// markers; a colon right before `,`, `]` or `}` (YAML 1.1 and 1.2 disagree there). Each pattern
// is tried on its own and none spans lines: with V8's linear-time fallback engine on
// (compile/regex.ts), a pattern that backtracks often over a long text switches engines and
// takes seconds.
const NEEDS_FULL_READER = [/(?:^|[ \t[{,])[&*!][^\s,\]}]/m, /<<[ \t]*:/, /^%/m, /^\.\.\.(?:[ \t]|$)/m, /:[,\]}]/];
// A key `null` or `~` (js-yaml names it "null", the `yaml` package ""), found from its literal.
const NULL_KEY = /(?:~|[Nn]ull|NULL)[ \t]*:/g;
const COMMENTS_ONLY = /^(?:[ \t]*(?:#[^\n]*)?\r?\n)*[ \t]*(?:#[^\n]*)?$/;

function needsFullReader(text: string): boolean {
  if (NEEDS_FULL_READER.some((re) => re.test(text))) return true;
  for (const m of text.matchAll(NULL_KEY)) {
    let i = m.index! - 1;
    while (i >= 0 && (text[i] === ' ' || text[i] === '\t' || text[i] === '-')) i--;
    if (i < 0 || text[i] === '\n') return true;
  }
  return false;
}

const DOCUMENT_START = /^---(?=\s|$)/gm;

/** One document of a text: its value and where its text starts. */
export interface FastDoc {
  value: unknown;
  /** The document's own text (from its `---` line, when it has one). */
  text: string;
  /** 0-based line of the text's first character in the file. */
  firstLine: number;
}

/** The documents of a text, or undefined when it needs the `yaml` package's reading. */
export function readFast(text: string): FastDoc[] | undefined {
  if (needsFullReader(text)) return undefined;
  const starts: number[] = [];
  for (const m of text.matchAll(DOCUMENT_START)) starts.push(m.index!);
  // Text before the first `---` is a document only if it holds more than comments and blanks.
  if (starts[0] !== 0) starts.unshift(0);
  const docs: FastDoc[] = [];
  let line = 0;
  let lineCountedTo = 0;
  for (let i = 0; i < starts.length; i++) {
    const start = starts[i]!;
    const end = i + 1 < starts.length ? starts[i + 1]! : text.length;
    line += countLines(text, lineCountedTo, start);
    lineCountedTo = start;
    const part = text.slice(start, end);
    let value: unknown;
    try {
      value = jsyaml.load(part, { schema: KUBECTL_SCHEMA });
    } catch {
      return undefined;
    }
    if (i === 0 && starts.length > 1 && !part.startsWith('---') && COMMENTS_ONLY.test(part)) continue;
    docs.push({ value: value === undefined ? null : value, text: part, firstLine: line });
  }
  return docs;
}

function countLines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i !== -1 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
