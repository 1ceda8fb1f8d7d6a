import { LineCounter, parseAllDocuments, isMap, isSeq, isPair, isScalar, type Document, type Node } from 'yaml';

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

// The `yaml` package keeps a source range on every node, so an error deep inside a document
// can name its own line; js-yaml only reports positions of syntax errors.
export function parseSource(file: string, text: string): { docs: SourceDoc[]; failures: ParseFailure[] } {
  const lineCounter = new LineCounter();
  const parsed = parseAllDocuments(text, { lineCounter, uniqueKeys: true, prettyErrors: false });
  const docs: SourceDoc[] = [];
  const failures: ParseFailure[] = [];
  const list = Array.isArray(parsed) ? parsed : [];
  const toPos = (offset: number): Position => {
    const p = lineCounter.linePos(offset);
    return { line: p.line, col: p.col };
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
    const value = doc.toJS({ maxAliasCount: 100 });
    docs.push({ file, index: i, value, locate: (path) => locateIn(doc, path, toPos) });
  }
  return { docs, failures };
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
    if (isMap(node)) {
      const pair = node.items.find((p) => isPair(p) && isScalar(p.key) && String(p.key.value) === String(seg));
      if (!pair) return best;
      best = rangePos(pair.key, toPos) ?? best;
      node = pair.value;
    } else if (isSeq(node) && typeof seg === 'number') {
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

function rangePos(node: unknown, toPos: (o: number) => Position): Position | undefined {
  const range = (node as Node | null)?.range;
  return range ? toPos(range[0]) : undefined;
}
