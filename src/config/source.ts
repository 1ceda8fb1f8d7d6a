import { countLines, readFast, type FastDoc } from './yaml-fast.js';
import { readSubsetPositions, type PositionedDocument } from './yaml-subset.js';
import { createRequire } from 'node:module';
import { isDeepStrictEqual } from 'node:util';
import type * as YamlPackage from 'yaml';
import type { Document, Node, Tags } from 'yaml';

let yamlPackage: typeof YamlPackage | undefined;

/**
 * The `yaml` package, loaded when first needed (a message's position, a file the fast readers
 * leave to it): most configs are read without it, and loading it takes 50 to 70 ms.
 */
function yaml(): typeof YamlPackage {
  return (yamlPackage ??= createRequire(import.meta.url)('yaml') as typeof YamlPackage);
}

export type FieldPath = ReadonlyArray<string | number>;

export interface Position {
  line: number;
  col: number;
}

/** One YAML/JSON document of a file, able to say where any of its fields was written. */
export interface SourceDoc {
  file: string;
  /** 0-based index of the document inside its file. */
  index: number;
  value: unknown;
  /** Position of the field at `path` (of its key when it is a map entry), or of the nearest parent that exists. */
  locate(path: FieldPath): Position;
}

export interface ParseFailure {
  file: string;
  line: number;
  col: number;
  message: string;
}

const YAML_OPTIONS = { uniqueKeys: true, prettyErrors: false, version: '1.1', customTags: asKubectlReads } as const;

/**
 * The documents of a config file. Values come from the subset reader or js-yaml where they read
 * the text as the `yaml` package would (yaml-fast.ts); positions, needed only for messages, are
 * found when first asked for by reading that one document again: with the subset reader keeping
 * positions, or with `yaml`, which keeps a source range on every node.
 */
export function parseSource(file: string, text: string): { docs: SourceDoc[]; failures: ParseFailure[] } {
  const fast = readFast(text);
  if (fast === undefined) return parseSourceFully(file, text);
  const docs: SourceDoc[] = [];
  const failures: ParseFailure[] = [];
  for (let index = 0; index < fast.length; index++) {
    const d = fast[index]!;
    // Only this document is for the `yaml` package, read as it reads it within the whole text.
    if (d.needsYaml) readWithYaml(file, d.text, d.firstLine, index, docs, failures);
    else docs.push(new FastSourceDoc(file, index, d));
  }
  return { docs, failures };
}

/** A document the fast readers read: one object (a config holds 30,000 of them), positions found when asked. */
class FastSourceDoc implements SourceDoc {
  readonly value: unknown;
  private readonly text: string;
  private readonly firstLine: number;
  private start: Position | undefined = undefined;
  private locator: ((path: FieldPath) => Position) | undefined = undefined;

  constructor(
    readonly file: string,
    readonly index: number,
    d: FastDoc,
  ) {
    this.value = d.value;
    this.text = d.text;
    this.firstLine = d.firstLine;
  }

  locate(path: FieldPath): Position {
    // The document's own line is asked for every object on every compile (where it came
    // from): found once, without a parse.
    if (path.length === 0) return { ...(this.start ??= documentStart(this.text, this.firstLine)) };
    if (path[0] === 'items' && typeof path[1] === 'number' && this.text.length >= LARGE_LIST) {
      const found = this.locateInItem(path[1], path.slice(2));
      if (found !== undefined) return found;
    }
    if (this.locator !== undefined) return this.locator(path);
    let locator = recentLocators.get(this);
    if (locator === undefined) {
      const read = readSubsetPositions(this.text);
      // The `yaml` package's reading is kept with the document: it takes 1 s per MB to make.
      if (read === undefined) return (this.locator = yamlLocator(this.text, this.firstLine))(path);
      locator = subsetLocator(read, this.text, this.firstLine);
      if (recentLocators.size >= RECENT_LOCATORS) recentLocators.delete(recentLocators.keys().next().value!);
      recentLocators.set(this, locator);
    }
    return locator(path);
  }

  private itemStarts: ItemStarts | null | undefined = undefined;
  /** Made on the first message in a large List: a config holds 30,000 documents, nearly all without. */
  private itemLocators: Map<number, ((path: FieldPath) => Position) | null> | undefined = undefined;

  /**
   * A position inside one item of a large List (`kubectl get ... -o yaml` writes 30,000 objects
   * as one): found by reading that item's lines alone, not the whole document, which the `yaml`
   * package reads at about 1 MB/s (28 s for 30,000 VirtualServices, for one message). Undefined
   * when the item's lines cannot be told apart or do not read as the item: the whole is read then.
   */
  private locateInItem(index: number, rest: FieldPath): Position | undefined {
    const items = (this.value as { items?: unknown } | null)?.items;
    if (!Array.isArray(items) || index >= items.length) return undefined;
    if (this.itemStarts === undefined) this.itemStarts = findItemStarts(this.text);
    const starts = this.itemStarts;
    if (starts === null || starts.offsets.length !== items.length) return undefined;
    const locators = (this.itemLocators ??= new Map());
    let locator = locators.get(index);
    // Messages about many items: one read of the whole document costs less than one per item.
    if (locator === undefined && locators.size >= MAX_ITEM_READS) return undefined;
    if (locator === undefined) {
      const from = starts.offsets[index]!;
      const to = index + 1 < starts.offsets.length ? starts.offsets[index + 1]! : starts.end;
      const firstLine = this.firstLine + starts.lines[index]!;
      locator = itemLocator(this.text.slice(from, to), firstLine, items[index]);
      locators.set(index, locator);
    }
    return locator === null ? undefined : locator([0, ...rest]);
  }
}

/**
 * The positions of the documents messages were asked for last, a few: those of every document
 * kept at once were 8 KB for each VirtualService, 240 MB with a message about each of 30,000
 * (collected over and over as they grew). Messages come object after object, most about the one
 * before's document; one asked for again later is read again, in about 50 µs.
 */
const recentLocators = new Map<FastSourceDoc, (path: FieldPath) => Position>();
const RECENT_LOCATORS = 16;

/** Lets go of the positions kept (and the documents' texts): a new load reports on its own documents. */
export function forgetRecentPositions(): void {
  recentLocators.clear();
}

/** A List document's text at least this long has its items' lines found for a message. */
const LARGE_LIST = 256 * 1024;
/** Items read alone before the whole document is read instead. */
const MAX_ITEM_READS = 64;

interface ItemStarts {
  /** Where each item's `- ` line starts. */
  offsets: number[];
  /** The 0-based line (in the document's text) of each. */
  lines: number[];
  /** Where the items end. */
  end: number;
}

const ITEMS_KEY = /^items:[ \t]*(?:#[^\n]*)?\r?$/m;

/**
 * The lines that start the items of a document's top-level `items:` block list: those at its
 * first item's indentation that start with `- `. Null when `items:` is not followed by a block
 * list. A line of a multi-line scalar could look like one: the item read from the lines is
 * compared with the one the document gave before it is used (itemLocator).
 */
function findItemStarts(text: string): ItemStarts | null {
  const key = ITEMS_KEY.exec(text);
  if (key === null) return null;
  let at = text.indexOf('\n', key.index);
  if (at < 0) return null;
  at++;
  let line = countLines(text, 0, at);
  let indent = -1;
  const offsets: number[] = [];
  const lines: number[] = [];
  let end = text.length;
  for (; at < text.length; line++) {
    const nl = text.indexOf('\n', at);
    const lineEnd = nl < 0 ? text.length : nl;
    let i = at;
    while (i < lineEnd && text.charCodeAt(i) === 32) i++;
    const c = text.charCodeAt(i);
    const blank = i >= lineEnd || c === 35 || (c === 13 && i + 1 === lineEnd);
    if (!blank) {
      const col = i - at;
      const isItem = c === 45 && (i + 1 >= lineEnd || text.charCodeAt(i + 1) === 32 || text.charCodeAt(i + 1) === 13);
      if (indent < 0) {
        if (!isItem) return null;
        indent = col;
      }
      if (col < indent || (col === indent && !isItem)) {
        end = at;
        break;
      }
      if (col === indent) {
        offsets.push(at);
        lines.push(line);
      }
    }
    if (nl < 0) break;
    at = nl + 1;
  }
  return offsets.length > 0 ? { offsets, lines, end } : null;
}

/** Positions in one List item's lines (a one-item list), or null when they do not read as `item`. */
function itemLocator(lines: string, firstLine: number, item: unknown): ((path: FieldPath) => Position) | null {
  const docs: SourceDoc[] = [];
  const failures: ParseFailure[] = [];
  readWithYaml('', lines, firstLine, 0, docs, failures);
  const read = docs.length === 1 && failures.length === 0 ? docs[0]!.value : undefined;
  if (!Array.isArray(read) || read.length !== 1 || !isDeepStrictEqual(read[0], item)) return null;
  return (path) => docs[0]!.locate(path);
}

// A line with no content: blank or a comment, after a document marker or not (and after the
// byte-order mark a file may start with). Else where its content starts, as group 1's length.
const BLANK_LINE = /^\uFEFF?(?:---(?=[ \t]|\r?$))?[ \t]*(?:#[^\n]*)?\r?$/;
const CONTENT_AT = /^(\uFEFF?(?:---[ \t]+)?[ \t]*)/;

/** Where a document's content starts: the first character that is not a marker, blank or comment. */
function documentStart(text: string, firstLine: number): Position {
  let line = firstLine;
  for (let from = 0; from < text.length; line++) {
    const nl = text.indexOf('\n', from);
    const end = nl === -1 ? text.length : nl;
    const content = text.slice(from, end);
    if (!BLANK_LINE.test(content)) return { line: line + 1, col: CONTENT_AT.exec(content)![1]!.length + 1 };
    if (nl === -1) break;
    from = nl + 1;
  }
  return { line: firstLine + 1, col: 1 };
}

/** Positions in one document's text as the subset reader kept them, shifted to the file's lines. */
function subsetLocator(read: PositionedDocument, text: string, firstLine: number): (path: FieldPath) => Position {
  const lines = new LineStarts(text);
  return (path) => locateRead(read, path, (offset) => lines.position(offset, firstLine));
}

/** Positions in one document's text as the `yaml` package reads it, shifted to the file's lines. */
function yamlLocator(text: string, firstLine: number): (path: FieldPath) => Position {
  const lineCounter = new (yaml().LineCounter)();
  const doc = yaml().parseAllDocuments(text, { ...YAML_OPTIONS, lineCounter });
  const first = Array.isArray(doc) ? doc.find((d) => d.contents !== null) ?? doc[0] : undefined;
  if (first === undefined) return () => ({ line: firstLine + 1, col: 1 });
  const toPos = (offset: number): Position => {
    const p = lineCounter.linePos(offset);
    return { line: p.line + firstLine, col: p.col };
  };
  return (path) => locateIn(first, path, toPos);
}

/** Values and positions with the `yaml` package, which also reports every syntax error. */
export function parseSourceFully(file: string, text: string): { docs: SourceDoc[]; failures: ParseFailure[] } {
  const docs: SourceDoc[] = [];
  const failures: ParseFailure[] = [];
  readWithYaml(file, text, 0, 0, docs, failures);
  return { docs, failures };
}

/**
 * The documents of `text` (the file's from line `firstLine`, 0-based, and from its document
 * `firstIndex`) as the `yaml` package reads them, added to `docs` and `failures`.
 */
function readWithYaml(file: string, text: string, firstLine: number, firstIndex: number, docs: SourceDoc[], failures: ParseFailure[]): void {
  const lineCounter = new (yaml().LineCounter)();
  const parsed = yaml().parseAllDocuments(text, { ...YAML_OPTIONS, lineCounter });
  const list = Array.isArray(parsed) ? parsed : [];
  const toPos = (offset: number): Position => {
    const p = lineCounter.linePos(offset);
    return { line: p.line + firstLine, col: p.col };
  };
  for (let i = 0; i < list.length; i++) {
    const doc = list[i]!;
    if (doc.errors.length > 0) {
      for (const e of doc.errors) {
        const pos = toPos(e.pos[0]);
        failures.push({ file, ...pos, message: cleanYamlMessage(e.message) });
      }
      continue;
    }
    flowColonsAsText(doc, text);
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 });
    } catch (e) {
      // The parser takes `*x` for an alias and finds out only now that no `&x` anchors it (or
      // that aliases multiply out of bounds): a problem with this document, not a crash.
      failures.push(aliasFailure(file, doc, e as Error, toPos));
      continue;
    }
    docs.push({ file, index: firstIndex + i, value, locate: (path) => locateIn(doc, path, toPos) });
  }
}

/**
 * Scalars as `kubectl apply` reads them (Go's YAML 1.1 reader): `yes`/`no`/`on`/`off`/`y`/`n`
 * are booleans, `0777` is octal, `1_000` a number; unlike the YAML 1.1 spec, `1:30` stays text
 * (no base-60 numbers) and dates stay text.
 */
function asKubectlReads(tags: Tags): Tags {
  return tags.filter((t) => {
    const tag = t as { tag?: string; format?: string };
    return tag.format !== 'TIME' && tag.tag !== 'tag:yaml.org,2002:timestamp';
  });
}

/**
 * In a flow list, YAML 1.2 takes `001:db8::` as a one-pair map (a colon before `]` or `,` ends a
 * key); YAML 1.1, which kubectl reads, needs a space after the colon, so it is the text
 * `001:db8::` (an IPv6 address in `addresses: [1.2.3.4, 001:db8::]`).
 */
function flowColonsAsText(doc: Document, text: string): void {
  yaml().visit(doc, {
    Seq(_key, seq) {
      if (!seq.flow) return;
      seq.items = seq.items.map((item) => {
        if (!yaml().isMap(item) || item.items.length !== 1 || item.range === undefined || item.range === null) return item;
        const pair = item.items[0]!;
        if (!yaml().isScalar(pair.key) || pair.key.type !== 'PLAIN') return item;
        const source = text.slice(item.range[0], item.range[1]);
        if (source.startsWith('{') || /\s/.test(source)) return item;
        const scalar = new (yaml().Scalar)(source);
        scalar.range = item.range;
        return scalar;
      });
    },
  });
}

/** Where and why a document's aliases could not be resolved. */
function aliasFailure(file: string, doc: Document, e: Error, toPos: (o: number) => Position): ParseFailure {
  let alias: { source: string; range?: [number, number, number] | null } | undefined;
  yaml().visit(doc, {
    Alias(_key, node) {
      if (node.resolve(doc) !== undefined) return undefined;
      alias = node;
      return yaml().visit.BREAK;
    },
  });
  const at = toPos(alias?.range?.[0] ?? doc.range?.[0] ?? 0);
  const message =
    alias !== undefined && /Unresolved alias/.test(e.message)
      ? `*${alias.source} is read as an alias, and no &${alias.source} anchor is defined before it; a value that starts with * must be quoted: "*${alias.source}"`
      : cleanYamlMessage(e.message);
  return { file, ...at, message };
}

function cleanYamlMessage(message: string): string {
  // The yaml package appends a code frame after the first line; the first line is the reason.
  const first = message.split('\n')[0] ?? message;
  return first.replace(/ at line \d+, column \d+:?$/, '');
}

function locateIn(doc: Document, path: FieldPath, toPos: (o: number) => Position): Position {
  let node: unknown = doc.contents;
  let best: Position = rangePos(node, toPos) ?? { line: 1, col: 1 };
  for (const seg of path) {
    if (yaml().isMap(node)) {
      const pair = node.items.find((p) => yaml().isPair(p) && yaml().isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return best;
      best = rangePos(pair.key, toPos) ?? best;
      node = pair.value;
    } else if (yaml().isSeq(node) && typeof seg === 'number') {
      const item = node.items[seg];
      if (item === undefined) return best;
      best = rangePos(item, toPos) ?? best;
      node = item;
    } else {
      return best;
    }
  }
  return best;
}

/** locateIn for a document the subset reader read: the same walk over the places it kept. */
function locateRead(read: PositionedDocument, path: FieldPath, toPos: (o: number) => Position): Position {
  const table = read.table;
  let node = read.root;
  let best = toPos(read.rootAt);
  for (const seg of path) {
    if (node < 0) return best;
    const e = table.entry(node, seg);
    if (e < 0) return best;
    best = toPos(table.at[e]!);
    node = table.kids[e]!;
  }
  return best;
}

/** Line and column of offsets in a text, as the `yaml` package's LineCounter gives them. */
class LineStarts {
  private readonly starts: number[] = [0];

  constructor(text: string) {
    for (let i = text.indexOf('\n'); i !== -1; i = text.indexOf('\n', i + 1)) this.starts.push(i + 1);
  }

  /** 1-based line (after `firstLine` lines) and column of `offset`. */
  position(offset: number, firstLine: number): Position {
    const s = this.starts;
    let lo = 0;
    let hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (s[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { line: lo + 1 + firstLine, col: offset - s[lo]! + 1 };
  }
}

function rangePos(node: unknown, toPos: (o: number) => Position): Position | undefined {
  const range = (node as Node | null)?.range;
  return range ? toPos(range[0]) : undefined;
}
