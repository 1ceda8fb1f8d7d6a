import { describe, expect, it } from 'vitest';
import { compile } from '../../../src/compile/compile.js';
import { compileRe2, forgetCompiledPatterns } from '../../../src/compile/regex.js';
import { parseConfigTexts } from '../../../src/config/load.js';

// compileRe2 keeps its results from the checks to the end of the compile after them
// (src/compile/regex.ts): a pattern is translated once at start, not once per check.

const CONFIG = `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: default}
spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: up, namespace: default}
spec:
  hosts: [up.example.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 127.0.0.1}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: [a.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {regex: "/kept/[a-z]+/[0-9]+"}}]
    route: [{destination: {host: up.example.internal}}]
`;

describe('compiled patterns kept between the checks and compile', () => {
  it('gives the same result for a pattern until forgotten, then a new one that matches the same', () => {
    forgetCompiledPatterns();
    const first = compileRe2('/kept/[a-z]+');
    expect(compileRe2('/kept/[a-z]+')).toBe(first);
    forgetCompiledPatterns();
    const again = compileRe2('/kept/[a-z]+');
    expect(again).not.toBe(first);
    expect(again.ok && first.ok && again.re.source === first.re.source).toBe(true);
  });

  it('keeps case-insensitive patterns apart', () => {
    const plain = compileRe2('/Kept');
    const ci = compileRe2('/Kept', true);
    expect(ci).not.toBe(plain);
    expect(plain.ok && plain.re.test('/kept')).toBe(false);
    expect(ci.ok && ci.re.test('/kept')).toBe(true);
  });

  it('shares a RegExp that keeps no state from one test to the next', () => {
    const r = compileRe2('/s/[0-9]+');
    if (!r.ok) throw new Error(r.error);
    expect(r.re.global || r.re.sticky).toBe(false);
    for (let i = 0; i < 3; i++) {
      expect(r.re.test('/s/12')).toBe(true);
      expect(r.re.test('/s/x')).toBe(false);
    }
    expect(compileRe2('/s/[0-9]+')).toBe(r);
  });

  it('lets go of them at the end of a compile, so they do not outlive it', () => {
    forgetCompiledPatterns();
    const loaded = parseConfigTexts([{ file: 'kept.yaml', text: CONFIG, mtimeMs: 1_700_000_000_000 }], { defaultNamespace: 'default' });
    expect(loaded.problems.filter((p) => p.severity === 'error')).toEqual([]);
    const before = compileRe2('/kept/[a-z]+/[0-9]+');
    compile(loaded.objects);
    expect(compileRe2('/kept/[a-z]+/[0-9]+')).not.toBe(before);
  });
});
