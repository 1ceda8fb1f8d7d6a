// The fast way to read config YAML, one document at a time and without per-node source ranges:
// the subset reader (yaml-subset.ts) for the usual shapes, else js-yaml, both several times
// faster than the `yaml` package. Positions are found only when a message needs one (source.ts
// reads that one document again, keeping positions). Documents that use what the readers could take
// differently (anchors, tags, merge keys, `key:]` in flow collections) are left to the `yaml`
// package, as are documents js-yaml refuses (a syntax error, a duplicate key), so that syntax
// errors are reported one way. Only such a document is read by it, unless directives or
// document end markers make the whole text its: the `yaml` package reads about 1 MB/s where it
// finds an error, and a typo in a 20 MB file took 27 s (a reload blocking the event loop as
// long) when the whole file went to it.
import jsyaml from 'js-yaml';
import { readSubset } from './yaml-subset.js';
import { isNullScalar, TYPED_SCALARS, type ScalarForm } from './yaml-scalars.js';

const { Type, FAILSAFE_SCHEMA } = jsyaml;

// The kubectl reading of scalars (yaml-scalars.ts) as a js-yaml schema. js-yaml keeps one
// implicit type per tag, so each tag's forms are tried in order within its type.
function scalarType(tag: string, firstChars: string, forms: readonly ScalarForm[]): InstanceType<typeof Type> {
  const formOf = (s: string) => (s.length > 0 && firstChars.includes(s[0]!) ? forms.find(([re]) => re.test(s)) : undefined);
  return new Type(`tag:yaml.org,2002:${tag}`, {
    kind: 'scalar',
    resolve: (s: string | null) => s !== null && formOf(s) !== undefined,
    construct: (s: string | null) => formOf(s ?? '')![1](s ?? ''),
  });
}

const KUBECTL_SCHEMA = FAILSAFE_SCHEMA.extend({
  implicit: [
    new Type('tag:yaml.org,2002:null', { kind: 'scalar', resolve: (s: string | null) => s === null || isNullScalar(s), construct: () => null }),
    ...TYPED_SCALARS.map((t) => scalarType(t.tag, t.firstChars, t.forms)),
  ],
});

// Anchors, aliases, tags and merge keys at the start of a token; a colon right before `,`, `]` or
// `}` (YAML 1.1 and 1.2 disagree there); content on the `---` line itself (`--- a: 1`); line
// breaks js-yaml takes and the `yaml` package does not (a CR alone, U+2028, U+2029). Each
// pattern is tried on its own and none spans lines: with V8's linear-time fallback engine on
// (compile/regex.ts), a pattern that backtracks often over a long text switches engines and
// takes seconds.
const NEEDS_FULL_READER = [/(?:^|[ \t[{,])[&*!][^\s,\]}]/m, /<<[ \t]*:/, /:[,\]}]/, /^\uFEFF?---[ \t]+[^ \t\r\n#]/, /\r(?!\n)|[\u2028\u2029]/];
// Directives and document end markers: they change where documents start or how they read, so
// a text holding one is read whole by the full reader.
const DOCUMENT_MARKS = [/^%/m, /^\.\.\.(?:[ \t]|$)/m];
// A key `null` or `~` (js-yaml names it "null", the `yaml` package ""), found from its literal:
// at the start of a line or list item, or after `{`, `[` or `,` in a flow collection.
const NULL_KEY = /(?:~|[Nn]ull|NULL)[ \t]*:/g;
const COMMENTS_ONLY = /^\uFEFF?(?:[ \t]*(?:#[^\n]*)?\r?\n)*[ \t]*(?:#[^\n]*)?$/;

/** Whether a document uses what js-yaml could read differently from the `yaml` package. */
function needsFullReader(text: string): boolean {
  if (NEEDS_FULL_READER.some((re) => re.test(text))) return true;
  for (const m of text.matchAll(NULL_KEY)) {
    let i = m.index! - 1;
    while (i >= 0 && (text[i] === ' ' || text[i] === '\t' || text[i] === '-')) i--;
    if (i < 0 || text[i] === '\n' || text[i] === '{' || text[i] === '[' || text[i] === ',') return true;
  }
  return false;
}

/**
 * Where documents start, as the `yaml` package cuts a text: a `---` at the start of the text
 * (after a byte-order mark) or right after a line feed, followed by a space, tab, line break or
 * the end. (Not after a lone CR or U+2028, nor before other white space, which JavaScript's
 * multiline `^` and `\s` would take: the documents cut here are read alone, and must be the
 * ones the whole text's reading has.) By indexOf, which skips through a 20 MB text several times
 * faster than a pattern.
 */
export function documentStarts(text: string): number[] {
  const starts: number[] = [];
  const first = text.charCodeAt(0) === BOM ? 1 : 0;
  for (let i = text.indexOf('---'); i !== -1; i = text.indexOf('---', i + 1)) {
    if (i !== first && text.charCodeAt(i - 1) !== LF) continue;
    const after = i + 3 < text.length ? text.charCodeAt(i + 3) : LF;
    if (after !== SPACE && after !== TAB && after !== LF && after !== CR) continue;
    // The first document keeps the mark before it, so that its columns are the file's.
    starts.push(i === first ? 0 : i);
  }
  return starts;
}

const BOM = 0xfeff;
const TAB = 9;
const LF = 10;
const CR = 13;
const SPACE = 32;

/** One document of a text: its value and where its text starts. */
export interface FastDoc {
  /** undefined when `needsYaml`. */
  value: unknown;
  /**
   * The document is for the `yaml` package to read (and report): js-yaml refused it, or it uses
   * what js-yaml reads differently. Where a text has no directives and no document end markers,
   * its documents are cut at `---` lines as `yaml` cuts them, and each reads alone as it reads
   * in the whole text (anchors do not reach across documents).
   */
  needsYaml: boolean;
  /** The document's own text (from its `---` line, when it has one). */
  text: string;
  /** 0-based line of the text's first character in the file. */
  firstLine: number;
}

/** The documents of a text, or undefined when it needs the `yaml` package's reading. */
export function readFast(text: string): FastDoc[] | undefined {
  const starts = documentStarts(text);
  // Text before the first `---` is a document only if it holds more than comments and blanks.
  if (starts[0] !== 0) starts.unshift(0);
  const docs: FastDoc[] = [];
  // The subset reader declines everything needsFullReader and DOCUMENT_MARKS look for (an anchor,
  // alias, tag, merge key, directive, document end, `null:` key, `key:]`, content on a `---` line,
  // a lone CR; it reads U+2028 as any other character, as the `yaml` package does), so the text is
  // searched for those only when a document is left to js-yaml: at 30,000 VirtualServices the
  // searches took 60-80 ms.
  let searched = false;
  let line = 0;
  let lineCountedTo = 0;
  for (let i = 0; i < starts.length; i++) {
    const start = starts[i]!;
    const end = i + 1 < starts.length ? starts[i + 1]! : text.length;
    line += countLines(text, lineCountedTo, start);
    lineCountedTo = start;
    const part = text.slice(start, end);
    let value: unknown;
    let needsYaml = false;
    const subset = readSubset(text, start, end);
    if (subset !== undefined) value = subset.value;
    else {
      if (!searched) {
        if (DOCUMENT_MARKS.some((re) => re.test(text))) return undefined;
        searched = true;
      }
      if (needsFullReader(part)) needsYaml = true;
      else {
        try {
          value = jsyaml.load(part, { schema: KUBECTL_SCHEMA });
        } catch {
          needsYaml = true;
        }
      }
    }
    if (i === 0 && starts.length > 1 && !part.startsWith('---') && COMMENTS_ONLY.test(part)) continue;
    docs.push({ value: value === undefined && !needsYaml ? null : value, needsYaml, text: part, firstLine: line });
  }
  return docs;
}

/** The line feeds of `text` from `from` up to `to`. */
export function countLines(text: string, from: number, to: number): number {
  let n = 0;
  for (let i = text.indexOf('\n', from); i !== -1 && i < to; i = text.indexOf('\n', i + 1)) n++;
  return n;
}
