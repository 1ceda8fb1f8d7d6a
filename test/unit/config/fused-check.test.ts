import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
// @ts-expect-error: the bench's config writer is plain JavaScript, shared so the test reads the config the scale bench does
import { writeScaleConfig } from '../../../bench/lib/config.mjs';
import { validateCrd } from '../../../src/config/crd.js';
import { fusedCheckFor } from '../../../src/config/fused-check.js';
import { kindInfo, type KindInfo } from '../../../src/config/kinds.js';
import { isPlainObject, validate } from '../../../src/config/schema.js';
import { parseSource } from '../../../src/config/source.js';
import { filesUnder } from '../../helpers/config-files.js';
import { seeded } from '../../helpers/seeded.js';

// The compiled pass (fused-check.ts) may say "nothing to find" only where the CRD check and
// meshgate's own checks both find nothing; where it says "look", they run and word what they
// find. Held to that on every object of the repository's and the shared samples' config, of a
// generated config with every route feature, and of thousands of mutated copies of them.

const ROOT = path.resolve(import.meta.dirname, '../../..');
const scaleDir = mkdtempSync(path.join(tmpdir(), 'meshgate-fused-'));
afterAll(() => rmSync(scaleDir, { recursive: true, force: true }));

interface Body {
  where: string;
  info: KindInfo & { crd: NonNullable<KindInfo['crd']> };
  body: Record<string, unknown>;
}

function bodies(): Body[] {
  writeScaleConfig(scaleDir, 18080, { vs: 8, perFile: 4, features: true });
  const files = [...['gateways', 'deploy', 'test/fixtures', '../shared/istio-samples', '../shared/seed'].map((d) => path.join(ROOT, d)), scaleDir].flatMap((d) => filesUnder(d, /\.ya?ml$/));
  const out: Body[] = [];
  for (const file of files) {
    for (const doc of parseSource(file, readFileSync(file, 'utf8')).docs) {
      const v = doc.value;
      if (!isPlainObject(v) || typeof v.apiVersion !== 'string' || typeof v.kind !== 'string') continue;
      const info = kindInfo(v.apiVersion, v.kind);
      if (info?.crd === undefined || info.body !== 'spec') continue;
      out.push({ where: `${path.relative(ROOT, file)} ${v.kind}`, info: info as Body['info'], body: (isPlainObject(v.spec) ? v.spec : {}) as Record<string, unknown> });
    }
  }
  return out;
}

/** What the two checks report, as load.ts runs them. */
function findings(b: Body, body: unknown): string[] {
  const found: string[] = [];
  validate(body, b.info.schema, [], (p, m) => found.push(`${p.join('.')}: ${m}`), { overlay: true });
  validateCrd(body, b.info.crd, [], (p, m) => found.push(`${p.join('.')}: ${m}`));
  return found;
}

/** Every path to a value of `v`, with the value. */
function paths(v: unknown, at: (string | number)[] = [], out: { at: (string | number)[]; value: unknown }[] = []) {
  out.push({ at, value: v });
  if (Array.isArray(v)) v.forEach((x, i) => paths(x, [...at, i], out));
  else if (isPlainObject(v)) for (const [k, x] of Object.entries(v)) paths(x, [...at, k], out);
  return out;
}

const REPLACEMENTS: unknown[] = [
  null, '', 'x', 'Bad Host!', '*', 'a/b', '10 seconds', '0s', '1ms', '5xx,reset', 'GET', 'x'.repeat(300), '^(a+$',
  -1, 0, 1, 1.5, 65536, 70000, true, false, [], [null], ['x'], {}, { unknown: 1 }, { exact: 'a', prefix: 'b' }, { number: 80 },
];
const NEW_KEYS = ['unknown', 'redirect', 'directResponse', 'delegate', 'exact', 'prefix', 'regex', 'host', 'number', 'name', 'subset', 'weight', 'timeout', 'mirror', 'tls', 'credentialName', 'mode'];

function get(v: unknown, at: readonly (string | number)[]): unknown {
  for (const step of at) v = (v as Record<string | number, unknown>)[step];
  return v;
}

function mutate(body: unknown, rand: (n: number) => number): unknown {
  const copy = structuredClone(body);
  for (let n = 1 + rand(2); n > 0; n--) {
    const all = paths(copy);
    const { at, value: target } = all[rand(all.length)]!;
    const parent = at.length === 0 ? undefined : get(copy, at.slice(0, -1));
    const key = at.at(-1)!;
    const replacement = () => structuredClone(REPLACEMENTS[rand(REPLACEMENTS.length)]);
    switch (rand(4)) {
      case 0:
        if (Array.isArray(parent) || isPlainObject(parent)) (parent as Record<string | number, unknown>)[key] = replacement();
        break;
      case 1:
        if (Array.isArray(parent)) parent.splice(key as number, 1);
        else if (isPlainObject(parent)) delete parent[key as string];
        break;
      case 2:
        if (isPlainObject(target)) target[NEW_KEYS[rand(NEW_KEYS.length)]!] = replacement();
        break;
      default:
        if (Array.isArray(target) && target.length > 0) target.push(structuredClone(target[rand(target.length)]));
        else if (Array.isArray(parent)) parent.push(structuredClone(target));
    }
  }
  return copy;
}

describe('the compiled pass says "nothing to find" only where both checks find nothing', () => {
  const all = bodies();

  it('finds the config objects', () => {
    expect(all.length).toBeGreaterThan(150);
    expect([...new Set(all.map((b) => b.info.kind))].sort()).toEqual(['DestinationRule', 'Gateway', 'ServiceEntry', 'Sidecar', 'VirtualService']);
  });

  it('on every object as written, and passes every object the checks pass', () => {
    let passed = 0;
    for (const b of all) {
      const found = findings(b, b.body);
      const fused = fusedCheckFor(b.info.crd, b.info.schema)(b.body);
      if (fused) expect(found, b.where).toEqual([]);
      // Where the checks find nothing the pass must not send the object to them, or it would save nothing.
      if (found.length === 0) {
        expect(fused, `${b.where}: ${JSON.stringify(b.body).slice(0, 300)}`).toBe(true);
        passed++;
      }
    }
    expect(passed).toBeGreaterThan(150);
  });

  it('on 12,000 mutated copies', () => {
    const rand = seeded(2026);
    const seen = { bothClean: 0, bothFault: 0, fusedCautious: 0 };
    for (let i = 0; i < 12_000; i++) {
      const b = all[rand(all.length)]!;
      const body = mutate(b.body, rand);
      const found = findings(b, body);
      const fused = fusedCheckFor(b.info.crd, b.info.schema)(body);
      if (fused && found.length > 0) expect({ where: b.where, body, found }).toEqual({ where: b.where, body, found: [] });
      if (fused) seen.bothClean++;
      else if (found.length > 0) seen.bothFault++;
      else seen.fusedCautious++;
    }
    // Both outcomes are met often, and caution (a no where the checks find nothing) is rare.
    expect(seen.bothClean).toBeGreaterThan(1500);
    expect(seen.bothFault).toBeGreaterThan(5000);
    expect(seen.fusedCautious).toBeLessThan(seen.bothClean / 10);
  });
});
