// A reader for the YAML that config is written in almost always: block maps and lists, flow maps
// and lists, one-line plain or quoted scalars, and literal block scalars (`|`, `|-`). It reads a
// document in one pass over its characters, about 3x faster than js-yaml and with less garbage,
// which at 30,000 objects is most of startup. Anything else (folded or kept block scalars,
// multi-line scalars, complex keys, keys that are not text, rare escapes, suspect characters,
// anything that may be an error) is declined, and the caller reads that document with js-yaml:
// this reader either gives the value js-yaml gives or none. The test suite holds it to that on every YAML file in the repository.
import { plainScalar } from './yaml-scalars.js';
import { addEntry, clearMaps, hasKey, mapStart, takeMap } from './map-builder.js';

const TAB = 9;
const LF = 10;
const CR = 13;
const SPACE = 32;
const DQUOTE = 34;
const HASH = 35;
const SQUOTE = 39;
const COMMA = 44;
const DASH = 45;
const DOT = 46;
const COLON = 58;
const LBRACKET = 91;
const BACKSLASH = 92;
const RBRACKET = 93;
const LBRACE = 123;
const RBRACE = 125;
const PIPE = 124;

/** Thrown (one shared instance: no stack) when the text is outside what this reader takes. */
class Declined {}
const DECLINED = new Declined();

// Characters a plain scalar or plain key may not start with (YAML's indicators).
const INDICATOR = new Uint8Array(128);
for (const c of '?:,[]{}#&*!|>\'"%@`') INDICATOR[c.charCodeAt(0)] = 1;

const ESCAPES: Record<string, string> = { '0': '\0', a: '\x07', b: '\b', t: '\t', '\t': '\t', n: '\n', v: '\v', f: '\f', r: '\r', e: '\x1b', ' ': ' ', '"': '"', '/': '/', '\\': '\\' };
const HEX_DIGITS: Record<string, number> = { x: 2, u: 4, U: 8 };

const isBlank = (c: number) => c === SPACE || c === TAB;

// Keys and text values repeat endlessly (host, port, name, apiVersion, kind, a destination
// host: 120,000 times each in a large config). The last one read in each slot (by length and
// first characters) is kept, and a plain scalar whose text is that one's is that same string: no
// slice, no check, no string-table lookup for a key, and one string held by many objects.
class Slots {
  private readonly strings: (string | undefined)[];
  /**
   * Whether a slot's string was copied out of its text. V8 cuts a string of 13 or more
   * characters as a view of the whole text it came from: handed to objects of other files, it
   * would keep this file's text alive after the file changed (200 such 1 MB texts: 201 MiB
   * kept, 2 MiB as copies). A string is copied when first found again, as most are not.
   */
  private readonly copied: Uint8Array;

  constructor(readonly size: number) {
    this.strings = new Array<string | undefined>(size).fill(undefined);
    this.copied = new Uint8Array(size);
  }

  /** The string kept in `slot` when the text at from..to is the same, else undefined. */
  recall(slot: number, t: string, from: number, to: number): string | undefined {
    const seen = this.strings[slot];
    if (seen === undefined || seen.length !== to - from || !t.startsWith(seen, from)) return undefined;
    if (this.copied[slot] === 1) return seen;
    this.copied[slot] = 1;
    return (this.strings[slot] = seen.length < 13 ? seen : (seen + ' ').slice(0, -1));
  }

  keep(slot: number, s: string): string {
    this.copied[slot] = 0;
    return (this.strings[slot] = s);
  }
}

const lastKeys = new Slots(1024);
const lastValues = new Slots(4096);

/**
 * The items of the lists being read, innermost last. A list grown by push has room for 17 items
 * where config lists mostly hold one, and a copy at its size was a second list: a list cut from
 * this stack is made once, at its size (30 MB less garbage at 30,000 VirtualServices).
 */
const items: unknown[] = [];

/** The number of items on the stack (its length is left alone: setting it is a runtime call). */
let itemsTop = 0;

function pushItem(item: unknown): void {
  items[itemsTop++] = item;
}

/** The items pushed since `base`, as a list of their own. */
function takeItems(base: number): unknown[] {
  const list = items.slice(base, itemsTop);
  itemsTop = base;
  return list;
}

/**
 * The value of one YAML document (with or without its `---` line), or `undefined` when it is
 * written in a way this reader leaves to js-yaml. An empty document is null. The document is
 * `text` from `start` to `end`: read in place in its file's text, a flat string, rather than a
 * slice of it, whose characters V8 reaches through the slice on every read.
 */
export function readSubset(text: string, start = 0, end = text.length): { value: unknown } | undefined {
  return readWith(() => ({ value: new SubsetReader(text, start, end, null).document() }));
}

/** What `read` gives, or undefined when the reader declines; the shared stacks emptied either way. */
function readWith<T>(read: () => T): T | undefined {
  try {
    return read();
  } catch (e) {
    if (e === DECLINED) return undefined;
    throw e;
  } finally {
    items.length = 0;
    itemsTop = 0;
    clearMaps();
    posKeys.length = 0;
    posTop = 0;
  }
}

/**
 * Where a document's maps and lists were written, node by node: each node's entries (a map's keys
 * or a list's items) one after the other, with the offset in the text where each was written (a
 * quoted one at its quote) and the node of its value when that is a map or list (else -1). A few
 * flat lists for the whole document: a node of its own per map was 8 KB per VirtualService.
 */
export class PositionTable {
  /** Per entry: a map entry's key, null for a list item. */
  readonly keys: (string | null)[] = [];
  readonly at: number[] = [];
  readonly kids: number[] = [];
  /** Per node: where its entries start, how many there are, and whether it is a map. */
  readonly starts: number[] = [];
  readonly counts: number[] = [];
  readonly maps: boolean[] = [];

  /** The entry of node `node` for `seg` (a key, or an item's index), or -1. */
  entry(node: number, seg: string | number): number {
    const start = this.starts[node]!;
    const count = this.counts[node]!;
    if (this.maps[node]) {
      const key = String(seg);
      for (let e = start; e < start + count; e++) if (this.keys[e] === key) return e;
      return -1;
    }
    return typeof seg === 'number' && Number.isInteger(seg) && seg >= 0 && seg < count ? start + seg : -1;
  }

  /** Makes a node of the entries on the stack since `base`, taking them off it. */
  take(base: number, isMap: boolean): number {
    this.starts.push(this.at.length);
    this.counts.push(posTop - base);
    this.maps.push(isMap);
    for (let i = base; i < posTop; i++) {
      this.keys.push(posKeys[i]!);
      this.at.push(posAt[i]!);
      this.kids.push(posKids[i]!);
    }
    posTop = base;
    return this.starts.length - 1;
  }
}

// The entries of the nodes being read (when tracking), innermost last, as items and maps wait.
const posKeys: (string | null)[] = [];
const posAt: number[] = [];
const posKids: number[] = [];
let posTop = 0;

function pushPos(key: string | null, at: number, kid: number): void {
  posKeys[posTop] = key;
  posAt[posTop] = at;
  posKids[posTop] = kid;
  posTop++;
}

/** A document's value and where its nodes were written, for messages about it. */
export interface PositionedDocument {
  value: unknown;
  /** Where the document's content starts. */
  rootAt: number;
  /** The root's node in `table`; -1 when the content is a scalar. */
  root: number;
  table: PositionTable;
}

/**
 * readSubset, also keeping where each key and item was written: the positions of a document
 * with messages, found in one pass where the `yaml` package reads about 1 MB/s (120,000
 * warnings over 30,000 VirtualServices: 30 s to place them with it). Undefined when the reader
 * declines the document, and for an empty list item, whose place the two could see differently.
 */
export function readSubsetPositions(text: string, start = 0, end = text.length): PositionedDocument | undefined {
  const table = new PositionTable();
  return readWith(() => {
    const reader = new SubsetReader(text, start, end, table);
    const value = reader.document();
    return { value, rootAt: reader.rootAt, root: reader.lastNode, table };
  });
}

class SubsetReader {
  private pos: number;
  private lineStart: number;
  /** Column of the content character `pos` is at after skipLines; -1 at the end of the text. */
  private col = -1;
  /** Where the document's content starts. */
  rootAt = 0;
  /**
   * When tracking: the node of the map or list read last, -1 after a scalar. A collection sets it
   * as it returns; the caller clears it before reading a value.
   */
  lastNode = -1;

  constructor(
    private readonly text: string,
    start: number,
    private readonly end: number,
    /** Where positions are kept, when they are. */
    private readonly table: PositionTable | null,
  ) {
    this.pos = this.lineStart = start;
  }

  document(): unknown {
    const t = this.text;
    const start = this.pos;
    if (t.startsWith('---', start) && start + 3 <= this.end && (this.end === start + 3 || isBlank(this.code(start + 3)) || this.code(start + 3) === LF)) {
      this.pos = start + 3;
      this.endLine();
    }
    this.skipLines();
    if (this.col < 0) return null;
    this.rootAt = this.pos;
    this.lastNode = -1;
    const value = this.block(this.col);
    if (this.col >= 0) throw DECLINED;
    return value;
  }

  private code(i: number): number {
    return i < this.end ? this.text.charCodeAt(i) : -1;
  }

  private fail(): never {
    throw DECLINED;
  }

  /** A character js-yaml refuses (non-printable, a lone surrogate, CR) or one this reader does not take. */
  private checkOdd(i: number, c: number): void {
    if (c < SPACE) {
      if (c !== TAB) this.fail();
      return;
    }
    if (c < 0x7f) return;
    if (c <= 0x9f && c !== 0x85) this.fail();
    if (c >= 0xd800 && c <= 0xdbff) {
      const next = this.code(i + 1);
      if (next < 0xdc00 || next > 0xdfff) this.fail();
    } else if ((c >= 0xdc00 && c <= 0xdfff) || c === 0xfeff || c === 0xfffe || c === 0xffff || c === 0x85) {
      // Low surrogates are checked with their high one; these others are left to js-yaml.
      const prev = this.code(i - 1);
      if (c >= 0xdc00 && c <= 0xdfff && prev >= 0xd800 && prev <= 0xdbff) return;
      this.fail();
    }
  }

  /** From the start of a line: past blank and comment-only lines to the next content (sets col). */
  private skipLines(): void {
    const t = this.text;
    for (;;) {
      let i = this.pos;
      while (i < this.end && t.charCodeAt(i) === SPACE) i++;
      if (i >= this.end) {
        this.pos = i;
        this.col = -1;
        return;
      }
      const c = t.charCodeAt(i);
      if (c === LF) {
        this.pos = this.lineStart = i + 1;
        continue;
      }
      if (c === HASH) {
        this.pos = i;
        this.skipComment();
        continue;
      }
      if (c === TAB) {
        // Tabs may stand in a blank line, never in indentation. On the last line, with no line
        // feed after them, the `yaml` package refuses them in a document without content.
        while (i < this.end && isBlank(t.charCodeAt(i))) i++;
        const d = this.code(i);
        if (d !== LF && d !== HASH) this.fail();
        this.pos = i;
        continue;
      }
      // `---` or `...` at the start of a line inside a document: left to js-yaml.
      if (i === this.lineStart && (c === DASH || c === DOT) && this.code(i + 1) === c && this.code(i + 2) === c) {
        const d = this.code(i + 3);
        if (d === -1 || d === LF || isBlank(d)) this.fail();
      }
      this.pos = i;
      this.col = i - this.lineStart;
      return;
    }
  }

  /** At `#`: to the start of the next line. */
  private skipComment(): void {
    const t = this.text;
    let i = this.pos;
    while (i < this.end) {
      const c = t.charCodeAt(i);
      if (c === LF) {
        this.pos = this.lineStart = i + 1;
        return;
      }
      if (c < SPACE || c >= 0x7f) this.checkOdd(i, c);
      i++;
    }
    this.pos = i;
  }

  /** After a value on a line: blanks, maybe a comment, then the line's end. */
  private endLine(): void {
    const t = this.text;
    let i = this.pos;
    while (i < this.end && isBlank(t.charCodeAt(i))) i++;
    if (i >= this.end) {
      this.pos = i;
      return;
    }
    const c = t.charCodeAt(i);
    if (c === LF) {
      this.pos = this.lineStart = i + 1;
      return;
    }
    if (c === HASH && isBlank(t.charCodeAt(i - 1))) {
      this.pos = i;
      this.skipComment();
      return;
    }
    this.fail();
  }

  private isSeqEntry(i: number): boolean {
    if (this.text.charCodeAt(i) !== DASH) return false;
    const d = this.code(i + 1);
    return d === -1 || d === LF || isBlank(d);
  }

  /** A node that starts on its own line at column `ind` (pos is at its first character). */
  private block(ind: number): unknown {
    if (this.isSeqEntry(this.pos)) return this.seq(ind);
    const c = this.text.charCodeAt(this.pos);
    if (c === LBRACE || c === LBRACKET) {
      const v = this.flowNode(ind - 1);
      this.afterInline(ind - 1);
      return v;
    }
    return this.map(ind);
  }

  private map(ind: number): Record<string, unknown> {
    const base = mapStart();
    const table = this.table;
    const posBase = posTop;
    for (;;) {
      const keyAt = this.pos;
      const key = this.key();
      if (key === '__proto__' || key === '<<' || hasKey(base, key)) this.fail();
      this.lastNode = -1;
      addEntry(key, this.value(ind, true));
      if (table !== null) pushPos(key, keyAt, this.lastNode);
      if (this.col < ind) {
        if (table !== null) this.lastNode = table.take(posBase, true);
        return takeMap(base);
      }
      if (this.col > ind || this.isSeqEntry(this.pos)) this.fail();
    }
  }

  private seq(ind: number): unknown[] {
    const base = itemsTop;
    const t = this.text;
    const table = this.table;
    const posBase = posTop;
    for (;;) {
      let i = this.pos + 1;
      while (i < this.end && t.charCodeAt(i) === SPACE) i++;
      this.pos = i;
      const c = this.code(i);
      this.lastNode = -1;
      let itemAt = i;
      if (c === -1 || c === LF || c === HASH || c === TAB) {
        this.endLine();
        this.skipLines();
        itemAt = this.pos;
        if (this.col > ind) pushItem(this.block(this.col));
        else if (table !== null) this.fail();
        else pushItem(null);
      } else {
        const itemCol = i - this.lineStart;
        if (this.isSeqEntry(i)) pushItem(this.seq(itemCol));
        else if (c !== LBRACE && c !== LBRACKET && this.isKeyLine(i)) pushItem(this.map(itemCol));
        else pushItem(this.inline(ind));
      }
      if (table !== null) pushPos(null, itemAt, this.lastNode);
      if (this.col < ind || (this.col === ind && !this.isSeqEntry(this.pos))) {
        if (table !== null) this.lastNode = table.take(posBase, false);
        return takeItems(base);
      }
      if (this.col > ind) this.fail();
    }
  }

  /** Whether the line from `i` is `key: ...` (a plain or quoted key). */
  private isKeyLine(i: number): boolean {
    const t = this.text;
    const c = t.charCodeAt(i);
    if (c === DQUOTE || c === SQUOTE) {
      const save = this.pos;
      this.pos = i;
      if (c === DQUOTE) this.doubleQuoted();
      else this.singleQuoted();
      let j = this.pos;
      this.pos = save;
      while (j < this.end && isBlank(t.charCodeAt(j))) j++;
      return this.isColonThenSpace(j);
    }
    return this.plainKeyEnd(i) >= 0;
  }

  private isColonThenSpace(j: number): boolean {
    if (this.code(j) !== COLON) return false;
    const d = this.code(j + 1);
    return d === -1 || d === LF || isBlank(d);
  }

  /** Where the `:` after a plain key starting at `i` is, or -1 when the line holds no key. */
  private plainKeyEnd(i: number): number {
    const t = this.text;
    for (let j = i; j < this.end; j++) {
      const c = t.charCodeAt(j);
      if (c === COLON) {
        const d = this.code(j + 1);
        if (d === -1 || d === LF || isBlank(d)) return j;
      } else if (c === LF) {
        return -1;
      } else if (c === HASH) {
        if (isBlank(t.charCodeAt(j - 1))) return -1;
      }
    }
    return -1;
  }

  /** A map key up to and past its `:`. */
  private key(): string {
    const t = this.text;
    const c = t.charCodeAt(this.pos);
    let key: string;
    if (c === DQUOTE || c === SQUOTE) {
      key = c === DQUOTE ? this.doubleQuoted() : this.singleQuoted();
      while (this.pos < this.end && isBlank(t.charCodeAt(this.pos))) this.pos++;
      if (!this.isColonThenSpace(this.pos)) this.fail();
      this.pos++;
      return key;
    }
    const colon = this.plainKeyEnd(this.pos);
    if (colon < 0) this.fail();
    let last = colon;
    while (last > this.pos && isBlank(t.charCodeAt(last - 1))) last--;
    key = this.plainKey(this.pos, last);
    this.pos = colon + 1;
    return key;
  }

  /** A plain scalar's value; a text value is kept in its slot (by length, first and last character). */
  private plainValue(from: number, to: number): unknown {
    const t = this.text;
    const slot = (((to - from) * 31 + t.charCodeAt(from)) * 31 + t.charCodeAt(to - 1)) & (lastValues.size - 1);
    const seen = lastValues.recall(slot, t, from, to);
    if (seen !== undefined) return seen;
    const text = this.plainText(from, to);
    const v = plainScalar(text);
    return v === text ? lastValues.keep(slot, text) : v;
  }

  /** A plain key's text. A key read as something other than text (`on:`, `1:`) is js-yaml's to name. */
  private plainKey(from: number, to: number): string {
    const t = this.text;
    // By length, first, last and middle character: keys of one length and first letter are
    // common (retries, rewrite, request; response, retryOn) and would take turns in one slot.
    const slot = ((((to - from) * 31 + t.charCodeAt(from)) * 31 + t.charCodeAt(to - 1)) * 31 + t.charCodeAt((from + to) >> 1)) & (lastKeys.size - 1);
    const seen = lastKeys.recall(slot, t, from, to);
    if (seen !== undefined) return seen;
    const key = this.plainText(from, to);
    if (plainScalar(key) !== key) this.fail();
    return lastKeys.keep(slot, key);
  }

  /** Checks a plain scalar's characters and returns it. */
  private plainText(from: number, to: number): string {
    const t = this.text;
    if (to <= from) this.fail();
    const first = t.charCodeAt(from);
    if (first < 128 && INDICATOR[first] === 1) this.fail();
    if (first === DASH && (to === from + 1 || isBlank(t.charCodeAt(from + 1)))) this.fail();
    for (let j = from; j < to; j++) {
      const c = t.charCodeAt(j);
      if (c < SPACE || c >= 0x7f) this.checkOdd(j, c);
    }
    return t.slice(from, to);
  }

  /** What follows `key:` (or `- ` when `inMap` is false) of a node at column `ind`. */
  private value(ind: number, inMap: boolean): unknown {
    const t = this.text;
    let i = this.pos;
    while (i < this.end && isBlank(t.charCodeAt(i))) i++;
    this.pos = i;
    const c = this.code(i);
    if (c === -1 || c === LF || c === HASH) {
      this.endLine();
      this.skipLines();
      if (this.col > ind) return this.block(this.col);
      // A list may stand at its key's own column.
      if (inMap && this.col === ind && this.isSeqEntry(this.pos)) return this.seq(ind);
      return null;
    }
    return this.inline(ind);
  }

  /** A value that starts on the current line: a flow collection or a scalar, then the line's end. */
  private inline(ind: number): unknown {
    const t = this.text;
    const c = t.charCodeAt(this.pos);
    if (c === PIPE) return this.literal(ind);
    let v: unknown;
    if (c === LBRACE || c === LBRACKET) v = this.flowNode(ind);
    else if (c === DQUOTE) v = this.doubleQuoted();
    else if (c === SQUOTE) v = this.singleQuoted();
    else {
      let j = this.pos;
      let last = j;
      for (; j < this.end; j++) {
        const d = t.charCodeAt(j);
        if (d === LF) break;
        if (d === HASH && isBlank(t.charCodeAt(j - 1))) break;
        if (d === COLON) {
          const e = this.code(j + 1);
          if (e === -1 || e === LF || isBlank(e)) this.fail();
        }
        if (!isBlank(d)) last = j + 1;
      }
      v = this.plainValue(this.pos, last);
      this.pos = last;
    }
    this.afterInline(ind);
    return v;
  }

  /**
   * A literal block scalar (`|` or `|-`) of a node at column `ind`, up to the next content. kubectl
   * writes one in every object it dumps (the last-applied-configuration annotation), and a List
   * of 30,000 VirtualServices went to js-yaml whole for it. The lines are the content's from its
   * first line's indentation on, joined by line feeds; `|` keeps the last line's feed, `|-` not.
   * Declined: `|+`, an indentation given, folded `>`, leading blank lines, a line of spaces past
   * the indentation, a last line without its line feed; what the two readers could see otherwise.
   */
  private literal(ind: number): string {
    const t = this.text;
    let i = this.pos + 1;
    const strip = this.code(i) === DASH;
    if (strip) i++;
    const h = this.code(i);
    if (h !== LF && !isBlank(h)) this.fail();
    this.pos = i;
    this.endLine();
    let at = this.pos;
    let n = 0;
    while (at + n < this.end && t.charCodeAt(at + n) === SPACE) n++;
    const first = this.code(at + n);
    if (n <= ind || first === LF || first === -1 || first === TAB || first === CR) this.fail();
    const lines: string[] = [];
    let blanks = 0;
    for (;;) {
      let k = 0;
      while (k < n && at + k < this.end && t.charCodeAt(at + k) === SPACE) k++;
      const c = this.code(at + k);
      if (c === LF) {
        // A blank line: kept between content lines, dropped after the last.
        blanks++;
        at += k + 1;
        continue;
      }
      // A tab before the content's indentation, inside the scalar or on the line right after it:
      // the `yaml` package refuses the line.
      if (k < n && c === TAB) this.fail();
      if (k < n || c === -1) break;
      const nl = t.indexOf('\n', at + n);
      if (nl < 0 || nl >= this.end) this.fail();
      let spacesOnly = true;
      for (let j = at + n; j < nl; j++) {
        const d = t.charCodeAt(j);
        if (d !== SPACE) spacesOnly = false;
        if ((d < SPACE && d !== TAB) || d >= 0x7f) this.checkOdd(j, d);
      }
      if (spacesOnly) this.fail();
      for (; blanks > 0; blanks--) lines.push('');
      lines.push(t.slice(at + n, nl));
      at = nl + 1;
    }
    this.pos = this.lineStart = at;
    this.skipLines();
    if (this.col > ind) this.fail();
    const text = lines.join('\n');
    return strip ? text : text + '\n';
  }

  /** The line's end, then the next content, which must not be deeper than `ind` (a continuation). */
  private afterInline(ind: number): void {
    this.endLine();
    this.skipLines();
    if (this.col > ind) this.fail();
  }

  /** Blanks, line ends and comments inside a flow collection; its lines must be deeper than `ind`. */
  private flowSpace(ind: number): void {
    const t = this.text;
    for (;;) {
      const c = this.code(this.pos);
      if (c === SPACE || c === TAB) this.pos++;
      else if (c === LF) {
        this.pos = this.lineStart = this.pos + 1;
        this.skipLines();
        if (this.col <= ind) this.fail();
      } else if (c === HASH) {
        if (!isBlank(t.charCodeAt(this.pos - 1))) this.fail();
        this.skipComment();
        this.skipLines();
        if (this.col <= ind) this.fail();
      } else return;
    }
  }

  private flowNode(ind: number): unknown {
    const c = this.code(this.pos);
    if (c === LBRACE) return this.flowMap(ind);
    if (c === LBRACKET) return this.flowSeq(ind);
    if (c === DQUOTE) return this.doubleQuoted();
    if (c === SQUOTE) return this.singleQuoted();
    return this.flowPlain();
  }

  /** A plain scalar inside a flow collection: up to `,`, a bracket or brace; no `:` at all. */
  private flowPlain(): unknown {
    const t = this.text;
    let j = this.pos;
    let last = j;
    for (; j < this.end; j++) {
      const d = t.charCodeAt(j);
      if (d === COMMA || d === RBRACKET || d === RBRACE || d === LBRACKET || d === LBRACE || d === LF) break;
      if (d === COLON) this.fail();
      if (d === HASH && isBlank(t.charCodeAt(j - 1))) break;
      if (!isBlank(d)) last = j + 1;
    }
    const v = this.plainValue(this.pos, last);
    this.pos = last;
    return v;
  }

  private flowSeq(ind: number): unknown[] {
    this.pos++;
    this.flowSpace(ind);
    const table = this.table;
    const posBase = posTop;
    if (this.code(this.pos) === RBRACKET) {
      this.pos++;
      if (table !== null) this.lastNode = table.take(posBase, false);
      return [];
    }
    const base = itemsTop;
    for (;;) {
      const itemAt = this.pos;
      this.lastNode = -1;
      pushItem(this.flowNode(ind));
      if (table !== null) pushPos(null, itemAt, this.lastNode);
      this.flowSpace(ind);
      const c = this.code(this.pos);
      this.pos++;
      if (c === RBRACKET) {
        if (table !== null) this.lastNode = table.take(posBase, false);
        return takeItems(base);
      }
      if (c !== COMMA) this.fail();
      this.flowSpace(ind);
    }
  }

  private flowMap(ind: number): Record<string, unknown> {
    const base = mapStart();
    const t = this.text;
    this.pos++;
    this.flowSpace(ind);
    const table = this.table;
    const posBase = posTop;
    if (this.code(this.pos) === RBRACE) {
      this.pos++;
      if (table !== null) this.lastNode = table.take(posBase, true);
      return {};
    }
    for (;;) {
      const keyAt = this.pos;
      const c = this.code(this.pos);
      let key: string;
      if (c === DQUOTE || c === SQUOTE) {
        key = c === DQUOTE ? this.doubleQuoted() : this.singleQuoted();
        this.flowSpace(ind);
      } else {
        let j = this.pos;
        let last = j;
        for (; j < this.end; j++) {
          const d = t.charCodeAt(j);
          if (d === COLON) break;
          if (d === COMMA || d === RBRACKET || d === RBRACE || d === LBRACKET || d === LBRACE || d === LF || d === HASH) this.fail();
          if (!isBlank(d)) last = j + 1;
        }
        key = this.plainKey(this.pos, last);
        this.pos = j;
      }
      if (!this.isColonThenSpace(this.pos)) this.fail();
      this.pos++;
      if (key === '__proto__' || key === '<<' || hasKey(base, key)) this.fail();
      this.flowSpace(ind);
      const v = this.code(this.pos);
      if (v === COMMA || v === RBRACE) this.fail();
      this.lastNode = -1;
      addEntry(key, this.flowNode(ind));
      if (table !== null) pushPos(key, keyAt, this.lastNode);
      this.flowSpace(ind);
      const e = this.code(this.pos);
      this.pos++;
      if (e === RBRACE) {
        if (table !== null) this.lastNode = table.take(posBase, true);
        return takeMap(base);
      }
      if (e !== COMMA) this.fail();
      this.flowSpace(ind);
    }
  }

  /** A one-line double-quoted scalar with the common escapes. */
  private doubleQuoted(): string {
    const t = this.text;
    let out = '';
    let from = this.pos + 1;
    for (let j = from; j < this.end; j++) {
      const c = t.charCodeAt(j);
      if (c === DQUOTE) {
        this.pos = j + 1;
        return out + t.slice(from, j);
      }
      if (c === BACKSLASH) {
        out += t.slice(from, j);
        const e = j + 1 < this.end ? t[j + 1]! : '';
        const simple = ESCAPES[e];
        if (simple !== undefined) {
          out += simple;
          j++;
        } else if (HEX_DIGITS[e] !== undefined) {
          const n = HEX_DIGITS[e]!;
          const hex = t.slice(j + 2, Math.min(j + 2 + n, this.end));
          if (hex.length !== n || !/^[0-9a-fA-F]+$/.test(hex)) this.fail();
          const cp = parseInt(hex, 16);
          if (cp > 0x10ffff) this.fail();
          out += String.fromCodePoint(cp);
          j += 1 + n;
        } else this.fail();
        from = j + 1;
        continue;
      }
      if (c === LF || c === CR) this.fail();
      if (c < SPACE || c >= 0x7f) this.checkOdd(j, c);
    }
    return this.fail();
  }

  /** A one-line single-quoted scalar (`''` is a quote). */
  private singleQuoted(): string {
    const t = this.text;
    let out = '';
    let from = this.pos + 1;
    for (let j = from; j < this.end; j++) {
      const c = t.charCodeAt(j);
      if (c === SQUOTE) {
        out += t.slice(from, j);
        if (this.code(j + 1) === SQUOTE) {
          out += "'";
          from = ++j + 1;
          continue;
        }
        this.pos = j + 1;
        return out;
      }
      if (c === LF || c === CR) this.fail();
      if (c < SPACE || c >= 0x7f) this.checkOdd(j, c);
    }
    return this.fail();
  }
}
