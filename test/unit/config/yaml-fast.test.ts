import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseSource, parseSourceFully } from '../../../src/config/source.js';
import { readFast } from '../../../src/config/yaml-fast.js';
import { filesUnder } from '../../helpers/config-files.js';

// Config YAML is read by the subset reader or js-yaml when it can be (fast) and by the `yaml`
// package otherwise (positions, every syntax error). All must give the same values: the kubectl
// reading.

const ROOT = path.resolve(import.meta.dirname, '../../..');

const yamlFiles = (dir: string) => filesUnder(dir, /\.(ya?ml|json)$/);

const both = (text: string) => ({
  fast: parseSource('x.yaml', text).docs.map((d) => d.value),
  full: parseSourceFully('x.yaml', text).docs.map((d) => d.value),
});

describe('the fast reader gives what the full reader gives', () => {
  const files = ['gateways', 'deploy', 'test/fixtures'].flatMap((d) => yamlFiles(path.join(ROOT, d)));

  it('finds the repository\'s config files', () => {
    expect(files.length).toBeGreaterThan(20);
  });

  for (const file of files) {
    it(path.relative(ROOT, file), () => {
      const text = readFileSync(file, 'utf8');
      const full = parseSourceFully(file, text);
      if (full.failures.length > 0) {
        expect(parseSource(file, text).failures).toEqual(full.failures);
        return;
      }
      expect(parseSource(file, text).docs.map((d) => d.value)).toEqual(full.docs.map((d) => d.value));
    });
  }

  it.each([
    ['booleans as Go reads YAML 1.1', 'a: [yes, no, on, off, y, n, Y, N, True, FALSE, ON, Off, "yes", \'on\']'],
    ['integers: octal, binary, hex, underscores, signs', 'a: [0777, 0b101, 0x1F, 1_000, -12, +7, 08, 0]'],
    ['floats: exponents, infinities, not-a-number', 'a: [1.5, 1.5e3, -.inf, .Inf, 1_0.5, 6.]'],
    ['nulls', 'a: ~\nb: null\nc:\nd: NULL'],
    ['no base 60 and no timestamps: text', 'a: 1:30\nb: 2001-01-01\nc: 2001-12-14t21:59:43.10-05:00'],
    ['keys read as scalars too', 'on: 1\n0777: 2\n1.5: 3'],
    ['block scalars and quoting', 'a: |\n  line one\n  --- not a marker\nb: >-\n  folded\n  text\nc: "q\\tx"\nd: \'it\'\'s\''],
    ['documents: leading comment, empty document, List', '# c\n---\n---\na: 1\n---\nkind: List\nitems: [{a: 1}]\n'],
    ['JSON', '{"apiVersion": "v1", "kind": "Service", "spec": {"ports": [{"port": 80}]}}'],
    // What sends a text to the full reader, written where it is only text: in quotes and comments.
    ['anchors, tags, merge keys and `:]` in quotes and comments', 'a: "x &y *z !w <<: u:]" # &anchor *alias !tag <<: x:]\nb: \'null: 1\'\n# ~: 2\n'],
  ])('%s', (_what, text) => {
    expect(readFast(text)).toBeDefined();
    const { fast, full } = both(text);
    expect(fast).toEqual(full);
  });

  it.each([
    ['directives', '%YAML 1.1\n---\na: 1'],
    ['document end markers', 'a: 1\n...\n---\nb: 2'],
  ])('%s: the whole text left to the full reader, same values or the same failures', (_what, text) => {
    expect(readFast(text)).toBeUndefined();
    const fast = parseSource('x.yaml', text);
    const full = parseSourceFully('x.yaml', text);
    expect(fast.failures).toEqual(full.failures);
    expect(fast.docs.map((d) => d.value)).toEqual(full.docs.map((d) => d.value));
  });

  it.each([
    ['anchors and aliases', 'a: &x 1\nb: *x'],
    ['merge keys', 'a: {x: 1}\nb:\n  <<: {y: 2}'],
    ['tags', 'a: !!str 1'],
    ['a colon right before ] in a flow list (001:db8::)', 'a: [1.2.3.4, 001:db8::]'],
    ['a null key', 'null: 1\n~: 2'],
    ['a null key in a flow map', 'a: {null: 1}\nb: [{x: 1, ~: 2}]'],
    ['an alias to no anchor', 'a: [*.example.com]'],
  ])('%s: the document left to the full reader, same values or the same failures', (_what, text) => {
    for (const t of [text, `x: 1\n---\n${text}\n---\ny: [2]\n`]) {
      expect(readFast(t)!.map((d) => d.needsYaml)).toEqual(t === text ? [true] : [false, true, false]);
      const fast = parseSource('x.yaml', t);
      const full = parseSourceFully('x.yaml', t);
      expect(fast.failures).toEqual(full.failures);
      expect(fast.docs.map((d) => [d.index, d.value])).toEqual(full.docs.map((d) => [d.index, d.value]));
    }
  });
});

describe('a document js-yaml refuses is read alone by the full reader', () => {
  it.each([
    ['a syntax error', 'a: [1, 2'],
    ['a duplicate key', 'a: 1\na: 2'],
    ['a syntax error in the second of three documents', 'a: 1\n---\nb: {x: 1\n---\nc: 3\n'],
    ['a duplicate key in the last document', '# head\n---\na: 1\n---\nb: 1\nb: 2\n'],
    ['a tab for indentation in the first document', 'a:\n\t- x\n---\nb: [1, 2]\n'],
  ])('%s: only that document, with the failures and values the whole text gives', (_what, text) => {
    const cut = readFast(text)!;
    expect(cut.filter((d) => d.needsYaml)).toHaveLength(1);
    const fast = parseSource('x.yaml', text);
    const full = parseSourceFully('x.yaml', text);
    expect(fast.failures.length).toBeGreaterThan(0);
    expect(fast.failures).toEqual(full.failures);
    expect(fast.docs.map((d) => [d.index, d.value])).toEqual(full.docs.map((d) => [d.index, d.value]));
  });

  it('keeps positions of a document read alone in the file\'s lines', () => {
    const text = 'a: 1\n---\nb: 1\nb: 2\n---\nc:\n  d: &x 2\n  e: *x\n';
    const fast = parseSource('x.yaml', text);
    expect(fast.failures).toEqual([{ file: 'x.yaml', line: 4, col: 1, message: 'Map keys must be unique' }]);
    expect(fast.docs.map((d) => [d.index, d.value])).toEqual([[0, { a: 1 }], [2, { c: { d: 2, e: 2 } }]]);
    expect(fast.docs[1]!.locate(['c', 'e'])).toEqual({ line: 8, col: 3 });
  });

  // A quoted text left open: the yaml package reads on over `---` lines to the end of the file
  // (the documents after it are lost in it, and the error is at the file's end); kubectl, which
  // cuts a file at its `---` lines, reads the documents after it. So does meshgate now.
  it.each([
    ['double', 'a: 1\n---\nb: "open\n---\nc: 3\n---\nd: 4\n'],
    ['single', "a: 1\n---\nb: 'open\n  more\n---\nc: 3\n---\nd: 4\n"],
  ])('a %s-quoted text left open ends at its document\'s end, and the documents after it are read', (_what, text) => {
    const fast = parseSource('x.yaml', text);
    const full = parseSourceFully('x.yaml', text);
    expect(full.failures).toHaveLength(1);
    expect(fast.failures).toEqual([{ ...full.failures[0]!, line: text.split('\n').indexOf('c: 3') }]);
    expect(fast.docs.map((d) => [d.index, d.value])).toEqual([[0, { a: 1 }], [2, { c: 3 }], [3, { d: 4 }]]);
  });

  // Every config file of the repository and the shared samples with a broken line put in at
  // random places: the failures and values agree with the whole text's reading, but for the two
  // ways the yaml package reads past a document's end (a quote left open; a stray `]` or `}`
  // first in a document, which it counts to the document before).
  it('agrees with the whole text\'s reading on broken copies of every multi-document config file', () => {
    const files = ['gateways', 'deploy', 'test/fixtures', '../shared/istio-samples', '../shared/seed'].flatMap((d) => yamlFiles(path.join(ROOT, d)));
    const breaks = ['  bad: [unclosed', 'z: {a: 1', '\tt: 1', '- : :', 'k: v: w', 'kind: Dup', '  - orphan', 'q: `x', '? complex', 'a: |\n bad\n  indent', 'w: @at', '"k": 1 2', 'x: "open', "y: 'open", ']', 'al: *nowhere', 'an: &a 1', 'tg: !!str 5', '  <<: {m: 1}', 'v6: [001:db8::]'];
    let seed = 7;
    const next = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    let compared = 0;
    let refused = 0;
    for (const file of files) {
      const text = readFileSync(file, 'utf8');
      if (!/\n---/.test(text)) continue;
      const lines = text.split('\n');
      for (let m = 0; m < 10; m++) {
        const at = next(lines.length);
        const broken = breaks[next(breaks.length)]!;
        const t = [...lines.slice(0, at), broken, ...lines.slice(at)].join('\n');
        const docs = readFast(t);
        if (docs === undefined) continue;
        refused += docs.filter((d) => d.needsYaml).length;
        const fast = parseSource(file, t);
        const full = parseSourceFully(file, t);
        compared++;
        const where = `${path.relative(ROOT, file)} with ${JSON.stringify(broken)} at line ${at + 1}`;
        // A quote left open, read by the yaml package on past `---` lines (its message may quote
        // the rest of the file): the same failures, each ending at its document's end.
        if (full.failures.some((f) => /^Missing closing .quote/.test(f.message) || f.message.includes('\\n---'))) {
          // js-yaml (before this change too) closes such a quote at a quote on a later line of
          // the same document, where the yaml package wants its lines indented: left as it was.
          if (!docs.some((d) => d.needsYaml)) continue;
          const kind = (f: { message: string }) => f.message.replace(/: ".*"$/s, '');
          expect(fast.failures.map(kind), where).toEqual(full.failures.map(kind));
          continue;
        }
        expect(fast.failures, where).toEqual(full.failures);
        const fullByIndex = new Map(full.docs.map((d) => [d.index, d.value]));
        const strayCloser = broken === ']' || broken.startsWith('}');
        // An empty document (null, which loading skips) after a broken one may be read into it.
        for (const d of fast.docs) {
          if (fullByIndex.has(d.index)) expect(d.value, where).toEqual(fullByIndex.get(d.index));
          else expect(strayCloser || d.value === null, `${where}: document ${d.index} only read by the fast reader`).toBe(true);
        }
        const nonEmpty = (docs: { value: unknown }[]) => docs.filter((d) => d.value !== null).length;
        if (!strayCloser) expect(nonEmpty(fast.docs), where).toBe(nonEmpty(full.docs));
      }
    }
    expect(compared).toBeGreaterThan(300);
    expect(refused).toBeGreaterThan(100);
  });
});

describe('positions, found when asked for', () => {
  it('name the line and column in the file, for documents after the first', () => {
    const text = '# head\napiVersion: v1\nkind: A\n--- # next\n\n# about B\napiVersion: v1\nkind: B\nspec:\n  ports:\n  - port: 80\n    name: http\n';
    const fast = parseSource('x.yaml', text).docs;
    const full = parseSourceFully('x.yaml', text).docs;
    expect(fast).toHaveLength(2);
    for (const p of [['spec', 'ports', 0, 'name'], ['kind'], ['spec', 'ports', 0], ['spec', 'missing'], []] as const) {
      expect(fast[0]!.locate(p)).toEqual(full[0]!.locate(p));
      expect(fast[1]!.locate(p)).toEqual(full[1]!.locate(p));
    }
    expect(fast[1]!.locate(['spec', 'ports', 0, 'name'])).toEqual({ line: 12, col: 5 });
    expect(fast[0]!.locate(['kind'])).toEqual({ line: 3, col: 1 });
    expect(fast[1]!.locate([])).toEqual({ line: 7, col: 1 });
  });
});

describe('documents cut where the yaml package cuts them', () => {
  // Each document is read alone where the fast readers leave it to the `yaml` package: the cuts
  // must be the whole text's, or messages and values would differ from its reading.
  const whole = (t: string) => parseSourceFully('x.yaml', t);
  const each = (t: string) => parseSource('x.yaml', t);
  // Failures exactly; documents that are maps or lists (what can be an object) with their index,
  // value and position. (Scalar documents are refused as objects either way.)
  const seen = (r: ReturnType<typeof whole>) => ({
    failures: r.failures,
    docs: r.docs.filter((d) => d.value !== null && typeof d.value === 'object').map((d) => [d.index, d.value, d.locate([])]),
  });

  it('on 20,000 random texts of markers, line breaks, white space, anchors, tags and errors', () => {
    const parts = ['---', '--- ', '--- a: 1', '--- {a: 1}', '---\u00a0', '--- # c', '\n', '\r\n', '\r', '\u2028', 'a: 1', 'b: x', '# c', '  c: 2', '- i', 'k: [1', 'd: &x 1', 'e: *x', '...', '"q', 'z: !!str 3'];
    let seed = 5;
    const next = (n: number) => (seed = (seed * 1103515245 + 12345) % 2147483648) % n;
    let compared = 0;
    for (let i = 0; i < 20_000; i++) {
      let t = '';
      for (let j = 1 + next(9); j > 0; j--) t += parts[next(parts.length)]! + (next(2) ? '\n' : '');
      // js-yaml reads a text that starts with four dashes (`---- i`) as a marker and a list; the
      // yaml package as one scalar: as before this reading, left alone.
      if (t.startsWith('----')) continue;
      compared++;
      const w = whole(t);
      // A quote left open: the yaml package reads on past `---` lines to the end of the text
      // (see above); read alone, its document ends at the next, and the documents after it are
      // read too. The same failures, elsewhere, and maybe those of the documents after it.
      if (w.failures.some((f) => /^Missing closing .quote/.test(f.message))) {
        expect(each(t).failures.map((f) => f.message), JSON.stringify(t)).toEqual(expect.arrayContaining(w.failures.map((f) => f.message)));
        continue;
      }
      expect(seen(each(t)), JSON.stringify(t)).toEqual(seen(w));
    }
    expect(compared).toBeGreaterThan(18_000);
  });

  it.each([
    ['no-break space after a marker', 'a: 1\n---\u00a0x\nb: [1\n'],
    ['lone CR line ends', 'a: &x 1\rb: *x\r---\rc: 2\r'],
    ['U+2028 before a marker', 'a: &x 1\u2028---\nb: 2\n'],
    ['a byte-order mark, a comment, then a document', '\uFEFF# c\n---\na: 1\nb: 2\n'],
    ['a byte-order mark before the first marker', '\uFEFF---\na: 1\n---\nb: 2\n'],
    ['content on marker lines', 'x: 1\n--- {a: 1}\n--- [c]\n'],
    ['a block map on a marker line', 'x: 1\n--- a: 1\n'],
  ])('%s', (_what, t) => {
    expect(seen(each(t))).toEqual(seen(whole(t)));
  });
});

describe('positions in a large List, found from the item alone', () => {
  // kubectl get ... -o yaml writes one List: a message about one item reads that item's lines,
  // not the whole document (28 s at 30,000 VirtualServices).
  const item = (i: number) =>
    [
      '- apiVersion: networking.istio.io/v1',
      '  kind: VirtualService',
      '  metadata:',
      `    name: vs-${i}`,
      '    namespace: default',
      '  spec:',
      `    hosts: [h-${i}.example.com]`,
      '    http:',
      '    - match:',
      '      - uri:',
      `          prefix: /app-${i}/`,
      '      route:',
      '      - destination: {host: svc.example.com, port: {number: 80}}',
      i % 7 === 0 ? '    # a comment at the items\' depth\n- # and one after a dash' : '',
    ]
      .filter(Boolean)
      .join('\n');
  const list = (n: number, indent = '') => `# head\napiVersion: v1\nkind: List\nitems:\n${Array.from({ length: n }, (_, i) => item(i)).join('\n').replace(/^/gm, indent)}\nmetadata: {resourceVersion: ""}\n`;

  /** Every path to a value of `v`. */
  const pathsOf = (v: unknown, at: (string | number)[] = [], out: (string | number)[][] = []) => {
    out.push(at);
    if (Array.isArray(v)) v.forEach((x, i) => pathsOf(x, [...at, i], out));
    else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) pathsOf(x, [...at, k], out);
    return out;
  };

  it.each([
    ['items at column 0', ''],
    ['items indented', '  '],
  ])('%s: the same positions as the whole document read by the yaml package', (_what, indent) => {
    const text = list(1200, indent);
    expect(text.length).toBeGreaterThan(256 * 1024);
    const fast = parseSource('x.yaml', text).docs;
    const full = parseSourceFully('x.yaml', text).docs;
    expect(fast).toHaveLength(1);
    const items = (fast[0]!.value as { items: unknown[] }).items;
    // Every seventh item is followed by an empty one (`- # ...`): 1,372 in all.
    expect(items).toHaveLength(1372);
    for (const i of [0, 1, 6, 7, 8, 9, 599, 1371]) {
      for (const p of [...pathsOf(items[i]).map((q) => ['items', i, ...q]), ['items', i, 'spec', 'missing'], ['items', i, 'spec', 'http', 5]]) {
        expect(fast[0]!.locate(p), p.join('.')).toEqual(full[0]!.locate(p));
      }
    }
    // Found from the items alone: the whole document was never read for positions.
    expect((fast[0] as unknown as { locator: unknown }).locator).toBeUndefined();
    // Messages about many items: past 64 items read alone, the whole document is read once.
    for (let i = 100; i < 300; i++) {
      const p = ['items', i, 'metadata', 'name'];
      expect(fast[0]!.locate(p), p.join('.')).toEqual(full[0]!.locate(p));
    }
    expect((fast[0] as unknown as { locator: unknown }).locator).toBeDefined();
  });

  it('falls back to the whole document where the items are a flow list', () => {
    const flow = `apiVersion: v1\nkind: List\nitems: [${Array.from({ length: 3000 }, (_, i) => `{apiVersion: v1, kind: Service, metadata: {name: s-${i}}, spec: {ports: [{port: 80}]}}`).join(',\n  ')}]\n`;
    expect(flow.length).toBeGreaterThan(256 * 1024);
    const fast = parseSource('x.yaml', flow).docs[0]!;
    const full = parseSourceFully('x.yaml', flow).docs[0]!;
    for (const p of [['items', 4, 'metadata', 'name'], ['items', 6, 'spec'], ['items', 2999, 'spec', 'ports', 0]]) {
      expect(fast.locate(p), p.join('.')).toEqual(full.locate(p));
    }
  });
});
