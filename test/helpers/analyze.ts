import { expect } from 'vitest';
import { analyze, type AnalyzerMessage } from '../../src/analyze/index.js';
import { parseConfigTexts } from '../../src/config/load.js';
import type { ConfigObject } from '../../src/config/types.js';

/** Objects from YAML text; fails the test if the loader found anything wrong with the input. */
export function loadObjects(text: string): ConfigObject[] {
  const { objects, problems } = parseConfigTexts([{ file: 'x.yaml', text, mtimeMs: 0 }], { defaultNamespace: 'default' });
  expect(problems.filter((p) => p.severity !== 'info')).toEqual([]);
  return objects;
}

/** The analyzers' messages on YAML text. */
export function analyzeYaml(text: string): AnalyzerMessage[] {
  return analyze(loadObjects(text), { defaultNamespace: 'default' });
}

/** Messages with one code, in a compact form to compare. */
export function withCode(msgs: readonly AnalyzerMessage[], code: string) {
  return msgs
    .filter((m) => m.code === code)
    .map((m) => ({ code: m.code, name: m.name, level: m.level, ref: m.object.ref, path: m.path, message: m.message }));
}
