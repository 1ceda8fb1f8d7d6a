import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSource, parseSourceFully, type FieldPath } from '../../../src/config/source.js';
import { readSubset, readSubsetPositions } from '../../../src/config/yaml-subset.js';
import { seeded } from '../../helpers/seeded.js';
import { filesUnder } from '../../helpers/config-files.js';

// The subset reader either gives the value the full reader (the `yaml` package, kubectl's
// reading) gives, or declines and leaves the document to js-yaml. It must never give another
// value, and it must take the YAML config is usually written in.

const ROOT = path.resolve(import.meta.dirname, '../../..');
const SHARED = path.resolve(ROOT, '../shared');

const yamlFiles = (dir: string) => filesUnder(dir, /\.ya?ml$/);

/** A file's documents as readFast cuts them: at each `---` line. */
function documents(text: string): string[] {
  const starts = [0];
  for (const m of text.matchAll(/^---(?=\s|$)/gm)) if (m.index! > 0) starts.push(m.index!);
  return starts.map((s, i) => text.slice(s, starts[i + 1] ?? text.length));
}

/** The full reader's value of one document text, or 'refused' when it fails or finds several. */
function fullValue(doc: string): unknown {
  const r = parseSourceFully('x.yaml', doc);
  if (r.failures.length > 0 || r.docs.length > 1) return 'refused';
  return r.docs.length === 0 ? null : r.docs[0]!.value;
}

function expectSameOrDeclined(doc: string): boolean {
  const mine = readSubset(doc);
  if (mine === undefined) return false;
  expect({ doc, value: mine.value }).toEqual({ doc, value: fullValue(doc) });
  return true;
}

const corpus = [
  ...['gateways', 'deploy', 'test/fixtures'].flatMap((d) => yamlFiles(path.join(ROOT, d))),
  ...['istio-samples', 'seed'].flatMap((d) => yamlFiles(path.join(SHARED, d))),
].flatMap((file) => documents(readFileSync(file, 'utf8')).map((doc, i) => ({ name: `${path.relative(ROOT, file)} #${i}`, doc })));

/**
 * `count` documents of the corpus, each edited in 1 to 3 places (a piece of `pieces` put in, up to
 * 2 characters cut). Deterministic: a fixed-seed generator picks documents, places and edits.
 */
function mutations(seed: number, count: number, pieces: readonly string[]): string[] {
  const rand = seeded(seed);
  const small = corpus.filter(({ doc }) => doc.length < 3000);
  const out: string[] = [];
  for (let n = 0; n < count; n++) {
    let text = small[rand(small.length)]!.doc;
    for (let e = 1 + rand(3); e > 0; e--) {
      const at = rand(text.length + 1);
      const cut = rand(3);
      text = text.slice(0, at) + (rand(4) === 0 ? '' : pieces[rand(pieces.length)]) + text.slice(at + cut);
    }
    out.push(text);
  }
  return out;
}

/**
 * Documents of maps and lists holding literal block scalars: blank lines, deeper lines, comments
 * inside and after, stripped or clipped, at every depth. Deterministic (a fixed seed).
 */
function literalDocs(seed: number, count: number): string[] {
  const rand = seeded(seed);
  const pick = <T,>(xs: readonly T[]): T => xs[rand(xs.length)]!;
  const scalar = (ind: number): string => {
    const extra = 1 + rand(3);
    const lines = Array.from({ length: 1 + rand(4) }, () => pick(['x', 'y z', '  deeper', '# hash', '{"j": [1, 2]}', '', '', 'a: b', '- item', '\ttab', 'é']));
    if (lines[0] === '' || lines[0]!.startsWith(' ')) lines[0] = 'first';
    const body = lines.map((l) => (l === '' ? pick(['', ' '.repeat(rand(ind + extra + 1))]) : ' '.repeat(ind + extra) + l)).join('\n');
    return `${pick(['|', '|-', '| # c', '|-  '])}\n${body}\n${pick(['', '\n', '\n\n', '# after\n'])}`;
  };
  const node = (ind: number, depth: number): string => {
    const pad = ' '.repeat(ind);
    const kind = depth > 2 ? 0 : rand(3);
    if (kind === 0) return ` ${scalar(ind)}`;
    if (kind === 1) return `\n${Array.from({ length: 1 + rand(3) }, (_, i) => `${pad}k${i}:${node(ind + 2, depth + 1)}`).join('').replace(/\n+$/, '\n')}`;
    return `\n${Array.from({ length: 1 + rand(3) }, () => `${pad}-${node(ind + 2, depth + 1)}`).join('').replace(/\n+$/, '\n')}`;
  };
  return Array.from({ length: count }, () => `a:${node(2, 0)}b: 1\n`);
}

describe('the subset reader gives the full reader\'s value or declines', () => {
  it('reads most documents in the repository and the shared samples itself', () => {
    const taken = corpus.filter(({ doc }) => expectSameOrDeclined(doc)).length;
    expect(corpus.length).toBeGreaterThan(200);
    expect(taken / corpus.length).toBeGreaterThan(0.9);
  });

  it.each([
    ['block maps and lists, indentless lists', 'a:\n  b: 1\n  c:\n  - x\n  - k: 2\n    z: [3, {w: v}]\nd: e'],
    ['lists of lists', 'a:\n- - 1\n  - 2\n- []'],
    ['flow collections over lines', 'a: {b: 1,\n  c: [x,\n    y]}\nd: 2'],
    ['quoted scalars and escapes', 'a: "x\\ty\\u00e9\\"\\\\"\nb: \'it\'\'s\'\n"c d": 1\n\'e\': [\'f\', "g"]'],
    ['comments everywhere', '# top\na: 1 # one\n# between\nb: # empty\n  - x # two\n  # inside\n  - y\n'],
    ['scalars as kubectl reads them', 'a: [yes, Off, 0777, 0x1F, 1_000, -1.5e3, .inf, ~, null, 2001-01-01, -x, a#b, y]\nb: 1:30'],
    ['colons inside plain scalars', 'a: http://x/y\nb: 10.0.0.1:80\nc:d: 1'],
    ['empty values', 'a:\nb:\n  c:\nd: {}'],
    ['a document marker with a comment', '--- # first\na: 1\n'],
    ['keys with spaces', 'a b : 1\n"c": 2'],
    ['non-ASCII text', 'a: héllo wörld 🎉\n'],
    ['literal block scalars, kept and stripped', 'a: |\n  x\n\n    y # z\n  # w\n\n\nb: |- # c\n   {"j": [1]}\nc:\n- |\n  t\n- k: |\n    u\n  l: 1\n'],
    ['the annotation kubectl writes in every object', 'metadata:\n  annotations:\n    kubectl.kubernetes.io/last-applied-configuration: |\n      {"apiVersion":"v1","kind":"Service","metadata":{"annotations":{},"name":"x"}}\n  name: x\n'],
  ])('%s', (_what, doc) => {
    expect(expectSameOrDeclined(doc)).toBe(true);
  });

  it.each([
    ['a folded block scalar', 'a: >\n  x\n'],
    ['a literal block scalar that keeps its trailing lines', 'a: |+\n  x\n\n'],
    ['a literal block scalar with an indentation given', 'a: |2\n  x\n'],
    ['a literal block scalar with blank lines first', 'a: |\n\n  x\n'],
    ['a literal block scalar with no line feed at the end', 'a: |\n  x'],
    ['a literal block scalar with a line of spaces past its indentation', 'a: |\n  x\n     \n  y\n'],
    ['a tab right after a literal block scalar, before its indentation', 'a: |\n  x\n \t\nb: 1\n'],
    ['a multi-line plain scalar', 'a: b\n  c'],
    ['a key that is not text', 'on: 1'],
    ['a duplicate key', 'a: 1\na: 2'],
    ['an anchor and an alias', 'a: &x 1\nb: *x'],
    ['a tag', 'a: !!str 1'],
    ['a complex key', '? a\n: 1'],
    ['a map after a value', 'a: b: c'],
    ['a tab in indentation', 'a:\n\tb: 1'],
    ['a carriage return', 'a: 1\r\nb: 2\r\n'],
    ['a control character', 'a: x\u0001y'],
    ['a colon in a flow scalar', 'a: [001:db8::]'],
    ['a flow map key without a value', 'a: {b, c: 1}'],
    ['a trailing comma', 'a: [1, ]'],
    ['a lone surrogate', 'a: x\ud800y'],
    ['a bad indentation', 'a:\n    b: 1\n  c: 2'],
    ['a marker inside', 'a: 1\n...\n'],
    ['a quoted scalar over lines', 'a: "x\n  y"'],
    ['an unclosed flow list', 'a: [1, 2'],
    ['__proto__', '__proto__: 1'],
  ])('declines %s', (_what, doc) => {
    expect(readSubset(doc)).toBeUndefined();
  });

  it('reads numbers written as digits as the full reader does: leading zeros (octal), long runs, signs, underscores', () => {
    const values = ['0', '7', '08', '010', '0777', '12345', '123456789012345', '1234567890123456', '99999999999999999999', '+80', '-80', '1_000', '80.', '0x1F', '0b101', '8e3'];
    const doc = `a:\n${values.map((v, i) => `  k${i}: ${v}`).join('\n')}\nb: [${values.join(', ')}]\nc: {${values.map((v, i) => `k${i}: ${v}`).join(', ')}}\n`;
    expect(expectSameOrDeclined(doc)).toBe(true);
  });

  it('declines or agrees on 2,000 generated documents with literal block scalars', () => {
    const taken = literalDocs(2468, 2000).filter((doc) => expectSameOrDeclined(doc)).length;
    expect(taken).toBeGreaterThan(1000);
  });

  it('declines or agrees on thousands of small mutations of the corpus', () => {
    const pieces = [':', ': ', ' ', '  ', '\n', '\n  ', '- ', '#', ' #', '"', "'", '[', ']', '{', '}', ',', '\t', '---\n', '&a ', '*a', '|', '\\', 'x', '0', '\u0085', ' |\n', ' |-\n   ', '|\n  x\n'];
    const taken = mutations(12345, 3000, pieces).filter((text) => expectSameOrDeclined(text)).length;
    expect(taken).toBeGreaterThan(300);
  });
});

// Positions for messages: the subset reader keeps where each key and item was written when asked
// (a document with messages), and must place every field where the `yaml` package does.
describe('positions kept by the subset reader are the yaml package\'s', () => {
  /** Paths to every node of a value, and just past each (a key or item not there, a field of a scalar). */
  function pathsOf(v: unknown, p: (string | number)[] = [], out: FieldPath[] = []): FieldPath[] {
    out.push(p);
    if (Array.isArray(v)) {
      v.forEach((item, i) => pathsOf(item, [...p, i], out));
      out.push([...p, v.length], [...p, 'x']);
    } else if (v !== null && typeof v === 'object') {
      for (const [k, item] of Object.entries(v)) pathsOf(item, [...p, k], out);
      out.push([...p, 'no-such-key'], [...p, 0]);
    } else out.push([...p, 'x'], [...p, 0]);
    return out;
  }

  /** Whether the subset reader kept positions for the document, after checking them all against the full reader's. */
  function expectSamePositions(doc: string): boolean {
    const kept = readSubsetPositions(doc);
    // A document that is not a map or list is refused as an object: no message is placed in it.
    if (kept === undefined || kept.value === null || typeof kept.value !== 'object') return false;
    expect({ doc, value: kept.value }).toEqual({ doc, value: readSubset(doc)!.value });
    const full = parseSourceFully('x.yaml', doc);
    const fast = parseSource('x.yaml', doc);
    if (full.failures.length > 0 || full.docs.length !== 1 || fast.docs.length !== 1) return false;
    for (const p of pathsOf(kept.value)) expect({ doc, p, at: fast.docs[0]!.locate(p) }).toEqual({ doc, p, at: full.docs[0]!.locate(p) });
    return true;
  }

  it('on every document of the repository and the shared samples', () => {
    const placed = corpus.filter(({ doc }) => expectSamePositions(doc)).length;
    expect(placed / corpus.length).toBeGreaterThan(0.9);
  });

  it.each([
    ['block maps and lists, indentless lists', 'a:\n  b: 1\n  c:\n  - x\n  - k: 2\n    z: [3, {w: v}]\nd: e'],
    ['lists of lists, an item on the next line', 'a:\n- - 1\n  - 2\n- []\n-\n  b: 1\n- - - x'],
    ['flow collections over lines, with comments', 'a: {b: 1,\n  c: [x, # c\n    y], "q": \'r\'}\nd: [ {} , [ ] ]'],
    ['quoted keys and items', '"a b": ["x", \'y\']\n\'c\': {"d": 1}'],
    ['a marker and comments before the content', '--- # first\n# more\n\n  a: 1\n  b: [1]\n'],
    ['a list at the root', '- a: 1\n  b: 2\n- [x]\n- y'],
    ['a flow map at the root', '{a: [1, 2], b: {c: d}}'],
    ['literal block scalars', 'a: |\n  x\n\n  y\nb:\n- |-\n  z\n- c: |\n    w\n  d: [1]\ne: 1\n'],
    ['empty values', 'a:\nb:\n  c:\nd: {}'],
  ])('%s', (_what, doc) => {
    expect(expectSamePositions(doc)).toBe(true);
  });

  it('declines an empty list item, which it would place otherwise than the yaml package', () => {
    expect(readSubsetPositions('a:\n-\n- x')).toBeUndefined();
    expect(readSubset('a:\n-\n- x')).toBeDefined();
  });

  it('on 2,000 generated documents with literal block scalars', () => {
    const placed = literalDocs(1357, 2000).filter((doc) => expectSamePositions(doc)).length;
    expect(placed).toBeGreaterThan(1000);
  });

  it('on thousands of small mutations of the corpus', () => {
    const pieces = [':', ': ', ' ', '  ', '\n', '\n  ', '- ', '#', ' #', '"', "'", '[', ']', '{', '}', ',', 'x', '0', '\n- ', '\n-\n', ' |\n', ' |-\n   ', '|\n  x\n'];
    const placed = mutations(54321, 2000, pieces).filter((text) => expectSamePositions(text)).length;
    expect(placed).toBeGreaterThan(300);
  });
});
