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
    ['anchors and aliases', 'a: &x 1\nb: *x'],
    ['merge keys', 'a: {x: 1}\nb:\n  <<: {y: 2}'],
    ['tags', 'a: !!str 1'],
    ['a colon right before ] in a flow list (001:db8::)', 'a: [1.2.3.4, 001:db8::]'],
    ['directives', '%YAML 1.1\n---\na: 1'],
    ['a null key', 'null: 1\n~: 2'],
    ['a null key in a flow map', 'a: {null: 1}\nb: [{x: 1, ~: 2}]'],
    ['document end markers', 'a: 1\n...\n---\nb: 2'],
    ['a syntax error', 'a: [1, 2'],
    ['a duplicate key', 'a: 1\na: 2'],
  ])('%s: left to the full reader, same values or the same failures', (_what, text) => {
    expect(readFast(text)).toBeUndefined();
    const fast = parseSource('x.yaml', text);
    const full = parseSourceFully('x.yaml', text);
    expect(fast.failures).toEqual(full.failures);
    expect(fast.docs.map((d) => d.value)).toEqual(full.docs.map((d) => d.value));
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
