import { rm } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeConfigDir } from '../helpers/gateway.js';
import { runCli } from '../helpers/process.js';

// `meshgate validate` in CI: machine-readable output, warnings that fail the build on request,
// and a bad object that does not hide the warnings of the others.

const INVALID = path.join('test/fixtures/config/invalid');
const WARNINGS = path.join('test/fixtures/config/warnings');

describe('meshgate validate for CI', () => {
  it('--output json: one object per problem with level, code, file, line, column, object, field and message', async () => {
    const r = await runCli(['validate', '-o', 'json', '-c', INVALID]);
    expect(r.code).toBe(1);
    const list = JSON.parse(r.stdout) as Record<string, unknown>[];
    expect(list.length).toBeGreaterThan(0);
    const typo = list.find((p) => p.field === 'spec.http[0].match[0].uri.prefx')!;
    expect(typo).toMatchObject({ level: 'error', file: `${INVALID}/shop.yaml`, line: 22, column: 9, object: 'VirtualService shop/shop' });
    expect(typo.message).toMatch(/unknown field \(did you mean "prefix"\?\)/);
    for (const p of list) expect(Object.keys(p).sort()).toEqual(['code', 'column', 'documentation', 'field', 'file', 'level', 'line', 'message', 'object']);
  });

  it('gives the same answers where Node may not compile code from strings (--disallow-code-generation-from-strings)', async () => {
    // The checks' compiled pass and the YAML reader's map makers are made with new Function;
    // without it they step aside, and the interpreters answer alone.
    for (const dir of [INVALID, WARNINGS, 'gateways']) {
      const plain = await runCli(['validate', '-o', 'json', '-c', dir]);
      const hardened = await runCli(['validate', '-o', 'json', '-c', dir], { nodeArgs: ['--disallow-code-generation-from-strings'] });
      expect(hardened.stderr).toBe('');
      expect(hardened.code).toBe(plain.code);
      expect(JSON.parse(hardened.stdout)).toEqual(JSON.parse(plain.stdout));
    }
  });

  it("--output json gives istioctl analyze's code and its documentation page", async () => {
    const r = await runCli(['validate', '-o', 'json', '-c', WARNINGS]);
    expect(r.code).toBe(0);
    const list = JSON.parse(r.stdout) as Record<string, unknown>[];
    const gw = list.find((p) => p.field === 'spec.gateways[1]' && p.code === 'IST0101')!;
    expect(gw).toMatchObject({ level: 'warning', object: 'VirtualService shop/shop', documentation: 'https://istio.io/latest/docs/reference/config/analysis/ist0101/' });
    expect(list.some((p) => p.code === 'IST0132')).toBe(true);
  });

  it('--output json on a valid config prints [] and exits 0', async () => {
    const r = await runCli(['validate', '-q', '-o', 'json', '-c', 'gateways']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([]);
  });

  it('--fail-on warning: warnings alone fail (exit 1), and say why', async () => {
    const plain = await runCli(['validate', '-c', WARNINGS]);
    expect(plain.code).toBe(0);
    const strict = await runCli(['validate', '--fail-on', 'warning', '-c', WARNINGS]);
    expect(strict.code).toBe(1);
    expect(strict.stdout.trim().split('\n').at(-1)).toMatch(/^invalid: 0 error\(s\), \d+ warning\(s\) in 1 file\(s\) \(--fail-on warning\)$/);
  });

  it('bad values for --output and --fail-on are usage errors (exit 2)', async () => {
    for (const args of [['-o', 'yaml'], ['--fail-on', 'info']]) {
      const r = await runCli(['validate', ...args, '-c', 'gateways']);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr).toMatch(/must be/);
    }
  });

  it('an unquoted wildcard host is a YAML error at its line that says to quote it, not a crash; the other files still count', async () => {
    const dir = await writeConfigDir({
      'a.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: wild, namespace: default}
spec:
  hosts: [*.example.com]
  http: [{route: [{destination: {host: app}}]}]
`,
      'b.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: fine, namespace: default}
spec:
  hosts: [app.example.com]
  gateways: [missing-gateway]
  http: [{route: [{destination: {host: app.example.com}}]}]
`,
    });
    try {
      const r = await runCli(['validate', '-c', dir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('');
      expect(r.stdout).toContain(`${path.join(dir, 'a.yaml')}:5:11: error: YAML syntax: *.example.com is read as an alias, and no &.example.com anchor is defined before it; a value that starts with * must be quoted: "*.example.com"`);
      expect(r.stdout).toMatch(/warning: VirtualService default\/fine: spec\.gateways\[0\]: .*missing-gateway/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a quoted text left open ends at its document\'s end, as kubectl reads: the documents after it are still read and checked', async () => {
    const dir = await writeConfigDir({
      'all.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: open-quote, namespace: default}
spec:
  hosts: ["app.example.com]
  http: [{route: [{destination: {host: app}}]}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: after, namespace: default}
spec:
  hosts: [after.example.com]
  http: [{route: [{destination: {host: app}}], timeout: 10 seconds}]
`,
    });
    try {
      const r = await runCli(['validate', '-c', dir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('');
      const file = path.join(dir, 'all.yaml');
      // At the end of its document (the yaml package alone would name the end of the file).
      expect(r.stdout).toContain(`${file}:7:1: error: YAML syntax: Missing closing "quote`);
      expect(r.stdout).toMatch(new RegExp(`${file}:13:\\d+: error: VirtualService default/after: spec\\.http\\[0\\]\\.timeout: `));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a typo in one object of a large List (kubectl get -o yaml) is named at its line and column', async () => {
    const item = (i: number) => `- apiVersion: networking.istio.io/v1
  kind: VirtualService
  metadata:
    name: vs-${i}
    namespace: default
  spec:
    hosts:
    - h-${i}.example.com
    http:
    - match:
      - uri:
          ${i === 1234 ? 'prefx' : 'prefix'}: /app-${i}/
      route:
      - destination:
          host: app.example.com
`;
    const text = `apiVersion: v1\nkind: List\nitems:\n${Array.from({ length: 1500 }, (_, i) => item(i)).join('')}`;
    expect(text.length).toBeGreaterThan(256 * 1024);
    const dir = await writeConfigDir({ 'list.yaml': text });
    try {
      const r = await runCli(['validate', '-c', dir]);
      expect(r.code).toBe(1);
      const line = text.split('\n').indexOf('          prefx: /app-1234/') + 1;
      expect(r.stdout).toContain(`${path.join(dir, 'list.yaml')}:${line}:11: error: VirtualService default/vs-1234: spec.http[0].match[0].uri.prefx: unknown field`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('a file with one refused object still gets the cross-object warnings of the others', async () => {
    const dir = await writeConfigDir({
      'all.yaml': `apiVersion: networking.istio.io/v1
kind: ServiceEntry
metadata: {name: bad, namespace: default}
spec:
  hosts: ["*"]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: vs, namespace: default}
spec:
  hosts: [app.example.com]
  gateways: [missing-gateway]
  http: [{route: [{destination: {host: nowhere.example.com}}]}]
`,
    });
    try {
      const r = await runCli(['validate', '-c', dir]);
      expect(r.code).toBe(1);
      expect(r.stdout).toMatch(/error: ServiceEntry default\/bad: spec\.hosts\[0\]: hostname cannot be wildcard/);
      expect(r.stdout).toMatch(/warning: VirtualService default\/vs: spec\.gateways\[0\]: .*missing-gateway.* \[IST0101\]/);
      expect(r.stdout).toMatch(/warning: VirtualService default\/vs: spec\.http\[0\]\.route\[0\]\.destination\.host: .*nowhere\.example\.com/);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

// A dump of VirtualServices without the services they name (`kubectl get vs -A -o yaml`): a
// warning for every route, each placed at its field. Positions are found when a message needs
// them; with a warning on every object, every document is placed.
describe('meshgate validate with a warning on every object', () => {
  const N = 400;
  // As kubectl writes it: the last-applied-configuration annotation a literal block scalar.
  const vsBlock = (i: number) => `- apiVersion: networking.istio.io/v1
  kind: VirtualService
  metadata:
    annotations:
      kubectl.kubernetes.io/last-applied-configuration: |
        {"apiVersion":"networking.istio.io/v1","kind":"VirtualService","metadata":{"annotations":{},"name":"vs-${i}","namespace":"default"},"spec":{"hosts":["app-${i}.example.com"],"http":[{"route":[{"destination":{"host":"missing-${i}.svc"}}]}]}}
    name: vs-${i}
    namespace: default
  spec:
    hosts:
      - app-${i}.example.com
    http:
      - match:
          - uri:
              prefix: /a
        route:
          - destination:
              host: missing-${i}.svc
      - route: [{destination: {host: "missing-${i}.svc", port: {number: 80}}}]
`;
  const vsFlow = (i: number) => `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: flow-${i}, namespace: default}
spec:
  hosts: [flow-${i}.example.com]
  http:
  - route: [{destination: {host: missing-flow-${i}.svc}}]
  - {route: [{destination: {'host': missing-flow-${i}.svc}}], name: "r1"}
`;
  /** file:line:col of every `host` key written in the files, as validate names them. */
  function hostKeys(files: Record<string, string>, dir: string): string[] {
    const out: string[] = [];
    for (const [name, text] of Object.entries(files)) {
      text.split('\n').forEach((line, i) => {
        for (const m of line.matchAll(/['"]?host['"]?: ['"]?missing/g)) out.push(`${path.join(dir, name)}:${i + 1}:${m.index! + 1}`);
      });
    }
    return out.sort();
  }

  it('places each at its field, in a large List and in many documents, as the full YAML reader would', async () => {
    const files = {
      'list.yaml': `apiVersion: v1\nkind: List\nitems:\n${Array.from({ length: N }, (_, i) => vsBlock(i)).join('')}`,
      'docs.yaml': Array.from({ length: N }, (_, i) => vsFlow(i)).join('---\n'),
    };
    const dir = await writeConfigDir(files);
    try {
      const r = await runCli(['validate', '-c', dir]);
      expect(r.code).toBe(0);
      const placed = r.stdout
        .split('\n')
        .filter((l) => l.endsWith('[IST0101]'))
        .map((l) => /^(.*?:\d+:\d+): warning: /.exec(l)![1]!)
        .sort();
      expect(placed).toHaveLength(4 * N);
      expect(placed).toEqual(hostKeys(files, dir));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
