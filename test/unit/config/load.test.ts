import { mkdir, mkdtemp, rm, utimes, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ConfigFileCache, listConfigFiles, loadConfig, MissingConfigPath, parseConfigTexts } from '../../../src/config/load.js';
import { formatProblem, hasErrors, type Problem } from '../../../src/config/problems.js';

const OPTS = { defaultNamespace: 'default' };

const dirs: string[] = [];
afterEach(async () => {
  await Promise.all(dirs.splice(0).map((d) => rm(d, { recursive: true, force: true })));
});

async function tree(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshgate-load-'));
  dirs.push(dir);
  for (const [name, text] of Object.entries(files)) {
    const full = path.join(dir, name);
    await mkdir(path.dirname(full), { recursive: true });
    await writeFile(full, text);
  }
  return dir;
}

function parse(text: string, file = 'config.yaml', defaultNamespace = 'default') {
  return parseConfigTexts([{ file, text, mtimeMs: 0 }], { defaultNamespace });
}

const lines = (problems: readonly Problem[]) => problems.map(formatProblem);
const refs = (r: { objects: { ref: string }[] }) => r.objects.map((o) => o.ref);

function gateway(name: string, ns?: string, apiVersion = 'networking.istio.io/v1'): string {
  return `apiVersion: ${apiVersion}
kind: Gateway
metadata:
  name: ${name}
${ns ? `  namespace: ${ns}\n` : ''}spec:
  servers:
  - port: {number: 80, name: http, protocol: HTTP}
    hosts: ["*"]
`;
}

function service(name: string, ns = 'default'): string {
  return `apiVersion: v1
kind: Service
metadata:
  name: ${name}
  namespace: ${ns}
spec:
  ports:
  - {name: http, port: 80}
`;
}

describe('listConfigFiles / loadConfig: files and directories', () => {
  it('reads a directory recursively, in name order, taking only .yaml, .yml and .json files', async () => {
    const dir = await tree({
      'b-vs.yaml': service('b'),
      'a-gw.yml': service('a'),
      'c.json': JSON.stringify({ apiVersion: 'v1', kind: 'Service', metadata: { name: 'c' }, spec: { ports: [{ port: 80 }] } }),
      'nested/deeper/d.yaml': service('d'),
      'nested/0.yaml': service('zero'),
      'README.md': 'not config: apiVersion: v1',
      'notes.txt': 'kind: Service',
      'script.sh': 'echo hi',
      'backup.yaml.bak': service('backup'),
    });
    const files = await listConfigFiles([dir]);
    expect(files.map((f) => path.relative(dir, f))).toEqual([
      'a-gw.yml',
      'b-vs.yaml',
      'c.json',
      path.join('nested', '0.yaml'),
      path.join('nested', 'deeper', 'd.yaml'),
    ]);
    const r = await loadConfig([dir], OPTS);
    expect(r.problems).toEqual([]);
    expect(r.files).toEqual(files);
    expect(refs(r)).toEqual(['Service default/a', 'Service default/b', 'Service default/c', 'Service default/zero', 'Service default/d']);
  });

  it('sorts directory entries by name, directories interleaved with files', async () => {
    const dir = await tree({ 'b.yaml': service('b'), 'a/z.yaml': service('az'), 'c/a.yaml': service('ca'), 'B.yaml': service('upper-b') });
    const files = (await listConfigFiles([dir])).map((f) => path.relative(dir, f));
    expect(files).toEqual(['B.yaml', path.join('a', 'z.yaml'), 'b.yaml', path.join('c', 'a.yaml')]);
  });

  it('reads an explicitly named file whatever its extension', async () => {
    const dir = await tree({ 'objects.txt': service('from-txt'), 'noext': service('from-noext') });
    const r = await loadConfig([path.join(dir, 'objects.txt'), path.join(dir, 'noext')], OPTS);
    expect(r.problems).toEqual([]);
    expect(refs(r)).toEqual(['Service default/from-txt', 'Service default/from-noext']);
  });

  it('keeps the order of several paths and mixes files and directories', async () => {
    const dir = await tree({ 'one/a.yaml': service('one-a'), 'two.yaml': service('two'), 'three/b.yaml': service('three-b') });
    const r = await loadConfig([path.join(dir, 'two.yaml'), path.join(dir, 'three'), path.join(dir, 'one')], OPTS);
    expect(refs(r)).toEqual(['Service default/two', 'Service default/three-b', 'Service default/one-a']);
    expect(r.files.map((f) => path.relative(dir, f))).toEqual(['two.yaml', path.join('three', 'b.yaml'), path.join('one', 'a.yaml')]);
  });

  it('an empty directory loads nothing and is not an error', async () => {
    const dir = await tree({ 'ignored.txt': 'x' });
    const r = await loadConfig([dir], OPTS);
    expect(r).toEqual({ objects: [], problems: [], files: [] });
  });

  it('a config path that does not exist is a MissingConfigPath naming it', async () => {
    const dir = await tree({});
    const missing = path.join(dir, 'nope');
    await expect(loadConfig([missing], OPTS)).rejects.toBeInstanceOf(MissingConfigPath);
    await expect(loadConfig([missing], OPTS)).rejects.toThrow(`config path ${missing} does not exist`);
  });

  it('names problems by the path of the file they are in', async () => {
    const dir = await tree({ 'sub/bad.yaml': 'apiVersion: v1\nkind: Service\nmetadata: {name: x}\nspec: {ports: 80}\n' });
    const r = await loadConfig([dir], OPTS);
    expect(lines(r.problems)).toEqual([`${path.join(dir, 'sub', 'bad.yaml')}:4:8: error: Service default/x: spec.ports: expected a list, got number 80`]);
  });

  it('uses metadata.creationTimestamp as the creation time, else the file modification time', async () => {
    const dir = await tree({
      'a.yaml': `apiVersion: v1\nkind: Service\nmetadata: {name: stamped, creationTimestamp: "2024-03-01T10:00:00Z"}\nspec: {}\n`,
      'b.yaml': service('unstamped'),
    });
    const mtime = new Date('2023-05-06T07:08:09Z');
    await utimes(path.join(dir, 'b.yaml'), mtime, mtime);
    const r = await loadConfig([dir], OPTS);
    const by = Object.fromEntries(r.objects.map((o) => [o.name, o.createdMs]));
    expect(by.stamped).toBe(Date.parse('2024-03-01T10:00:00Z'));
    expect(by.unstamped).toBe(mtime.getTime());
  });
});

describe('documents', () => {
  it('reads every document of a multi-document YAML file, skipping empty and comment-only ones', () => {
    const r = parse(`---
# leading comment
${service('first')}---
---
# only a comment here
---
${service('second')}...
---
${gateway('gw')}---
`);
    expect(r.problems).toEqual([]);
    expect(refs(r)).toEqual(['Service default/first', 'Service default/second', 'Gateway default/gw']);
  });

  it('an empty file or a file of comments is valid and empty', () => {
    expect(parse('')).toEqual({ objects: [], problems: [] });
    expect(parse('# nothing yet\n\n')).toEqual({ objects: [], problems: [] });
    expect(parse('---\n---\n')).toEqual({ objects: [], problems: [] });
  });

  it('reads the items of a kind: List (kubectl get -o yaml), with field positions inside the list', () => {
    const r = parse(`apiVersion: v1
kind: List
metadata: {resourceVersion: ""}
items:
- apiVersion: networking.istio.io/v1beta1
  kind: DestinationRule
  metadata: {name: reviews, namespace: bookinfo}
  spec: {host: reviews}
- apiVersion: networking.istio.io/v1beta1
  kind: DestinationRule
  metadata: {name: ratings}
  spec:
    host: ratings
    trafficPolicy:
      loadBalancer: {simple: ROUND_ROBBIN}
- apiVersion: v1
  kind: Service
  metadata: {name: details}
  spec: {ports: [{port: 9080}]}
`);
    expect(refs(r)).toEqual(['DestinationRule bookinfo/reviews', 'Service default/details']);
    expect(lines(r.problems)).toEqual([
      'config.yaml:15:22: error: DestinationRule default/ratings: spec.trafficPolicy.loadBalancer.simple: "ROUND_ROBBIN" is not one of UNSPECIFIED, LEAST_CONN, RANDOM, PASSTHROUGH, ROUND_ROBIN, LEAST_REQUEST',
    ]);
    expect(r.objects[0]!.docPath).toEqual(['items', 0]);
  });

  it('reads an empty List as nothing', () => {
    expect(parse('apiVersion: v1\nkind: List\nitems: []\n')).toEqual({ objects: [], problems: [] });
  });

  it('reads JSON files: one object, a List, and JSON indented with tabs', () => {
    const one = JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'dr', namespace: 'x' }, spec: { host: 'a.example.com' } }, null, 2);
    const list = JSON.stringify({ apiVersion: 'v1', kind: 'List', items: [{ apiVersion: 'v1', kind: 'Service', metadata: { name: 's1' }, spec: { ports: [{ port: 80 }] } }] });
    const tabs = JSON.stringify({ apiVersion: 'networking.istio.io/v1alpha3', kind: 'Gateway', metadata: { name: 'tabbed' }, spec: { servers: [{ port: { number: 80, name: 'http', protocol: 'HTTP' }, hosts: ['*'] }] } }, null, '\t');
    const r = parseConfigTexts(
      [
        { file: 'one.json', text: one },
        { file: 'list.json', text: list },
        { file: 'tabs.json', text: tabs },
      ],
      OPTS,
    );
    expect(r.problems).toEqual([]);
    expect(refs(r)).toEqual(['DestinationRule x/dr', 'Service default/s1', 'Gateway default/tabbed']);
    expect(r.objects[0]!.spec).toEqual({ host: 'a.example.com' });
  });

  it('a JSON file with a field error names its line and column', () => {
    const text = JSON.stringify({ apiVersion: 'networking.istio.io/v1', kind: 'DestinationRule', metadata: { name: 'dr' }, spec: { host: 'a', subsets: [{ nam: 'v1' }] } }, null, 2);
    const r = parse(text, 'dr.json');
    expect(lines(r.problems)).toEqual([
      'dr.json:10:7: error: DestinationRule default/dr: spec.subsets[0].name: required field is missing',
      'dr.json:11:9: error: DestinationRule default/dr: spec.subsets[0].nam: unknown field (did you mean "name"?); known fields here: name, labels, trafficPolicy',
    ]);
  });

  it('a document that is not a map is an error at its start', () => {
    expect(lines(parse('\n- a\n- b\n').problems)).toEqual(['config.yaml:2:1: error: a document must be a Kubernetes object: a map with apiVersion, kind and metadata']);
    expect(lines(parse('just some text\n').problems)).toEqual(['config.yaml:1:1: error: a document must be a Kubernetes object: a map with apiVersion, kind and metadata']);
  });
});

describe('kinds and versions', () => {
  it.each(['networking.istio.io/v1alpha3', 'networking.istio.io/v1beta1', 'networking.istio.io/v1'])('reads every Istio kind at %s', (v) => {
    const r = parse(`apiVersion: ${v}
kind: Gateway
metadata: {name: gw, namespace: istio-system}
spec:
  selector: {istio: ingressgateway}
  servers:
  - port: {number: 443, name: https, protocol: HTTPS}
    hosts: ["bookinfo/*.example.com"]
    tls: {mode: SIMPLE, credentialName: example-cert}
---
apiVersion: ${v}
kind: VirtualService
metadata: {name: vs, namespace: bookinfo}
spec:
  hosts: [reviews.example.com]
  gateways: [istio-system/gw]
  http:
  - route: [{destination: {host: reviews, subset: v1}}]
---
apiVersion: ${v}
kind: DestinationRule
metadata: {name: dr, namespace: bookinfo}
spec:
  host: reviews
  subsets: [{name: v1, labels: {version: v1}}]
---
apiVersion: ${v}
kind: ServiceEntry
metadata: {name: se, namespace: bookinfo}
spec:
  hosts: [api.example.org]
  ports: [{number: 443, name: https, protocol: TLS}]
  resolution: DNS
---
apiVersion: ${v}
kind: WorkloadEntry
metadata: {name: vm1, namespace: bookinfo}
spec: {address: 10.0.0.1, labels: {app: reviews}}
---
apiVersion: ${v}
kind: Sidecar
metadata: {name: default, namespace: bookinfo}
spec:
  outboundTrafficPolicy: {mode: REGISTRY_ONLY}
`);
    expect(r.problems).toEqual([]);
    expect(r.objects.map((o) => [o.kind, o.apiVersion, o.namespace, o.name])).toEqual([
      ['Gateway', v, 'istio-system', 'gw'],
      ['VirtualService', v, 'bookinfo', 'vs'],
      ['DestinationRule', v, 'bookinfo', 'dr'],
      ['ServiceEntry', v, 'bookinfo', 'se'],
      ['WorkloadEntry', v, 'bookinfo', 'vm1'],
      ['Sidecar', v, 'bookinfo', 'default'],
    ]);
    expect(r.objects.every((o) => o.specPath.length === 1 && o.specPath[0] === 'spec')).toBe(true);
  });

  it('reads Kubernetes Service, Endpoints, EndpointSlice and Secret, with the fields kubectl leaves in a dump', () => {
    const r = parse(`apiVersion: v1
kind: Service
metadata: {name: reviews, namespace: bookinfo, uid: 1234, resourceVersion: "99"}
spec:
  clusterIP: 10.96.0.10
  clusterIPs: [10.96.0.10]
  sessionAffinity: None
  selector: {app: reviews}
  ports:
  - {name: http, port: 9080, targetPort: 9080, protocol: TCP}
status: {loadBalancer: {}}
---
apiVersion: v1
kind: Endpoints
metadata: {name: reviews, namespace: bookinfo}
subsets:
- addresses:
  - {ip: 10.1.0.5, nodeName: node-1, targetRef: {kind: Pod, name: reviews-v1-abc, namespace: bookinfo}}
  notReadyAddresses:
  - {ip: 10.1.0.6}
  ports:
  - {name: http, port: 9080, protocol: TCP}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: reviews-abc12
  namespace: bookinfo
  labels: {kubernetes.io/service-name: reviews}
addressType: IPv4
endpoints:
- addresses: [10.1.0.5]
  conditions: {ready: true, serving: true, terminating: false}
  nodeName: node-1
  zone: zone-a
ports:
- {name: http, port: 9080, protocol: TCP}
---
apiVersion: v1
kind: Secret
metadata: {name: example-cert, namespace: istio-system}
type: kubernetes.io/tls
data:
  tls.crt: Y2VydA==
  tls.key: a2V5
`);
    expect(r.problems).toEqual([]);
    expect(refs(r)).toEqual(['Service bookinfo/reviews', 'Endpoints bookinfo/reviews', 'EndpointSlice bookinfo/reviews-abc12', 'Secret istio-system/example-cert']);
    const slice = r.objects[2]!;
    expect(slice.labels).toEqual({ 'kubernetes.io/service-name': 'reviews' });
    expect(slice.specPath).toEqual([]);
    expect((slice.spec as { addressType: string }).addressType).toBe('IPv4');
    expect((r.objects[3]!.spec as { type: string }).type).toBe('kubernetes.io/tls');
  });

  it('skips kinds it does not read with exactly one info line each, never an error', () => {
    const r = parse(`apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec: {replicas: 3, selector: {matchLabels: {app: web}}, template: {spec: {containers: []}}}
---
apiVersion: v1
kind: Namespace
metadata: {name: shop}
---
apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: {name: k8s-gateway-api, namespace: shop}
spec: {gatewayClassName: istio, listeners: []}
---
apiVersion: security.istio.io/v1
kind: PeerAuthentication
metadata: {name: default, namespace: shop}
spec: {mtls: {mode: STRICT}}
---
apiVersion: networking.istio.io/v1alpha3
kind: EnvoyFilter
metadata: {name: ef, namespace: shop}
spec: {configPatches: []}
`);
    expect(hasErrors(r.problems)).toBe(false);
    expect(r.objects).toEqual([]);
    const got = lines(r.problems);
    expect(got).toHaveLength(5);
    expect(got[0]).toBe('config.yaml:1:1: info: Deployment shop/web: skipped: meshgate does not read apps/v1 Deployment; meshgate runs no workloads: declare where its pods answer with an Endpoints object or WorkloadEntry');
    // A Namespace is cluster-scoped: only its position, kind and reason are pinned here.
    expect(got[1]).toMatch(/^config\.yaml:6:1: info: Namespace \S*shop: skipped: meshgate does not read v1 Namespace$/);
    expect(got.slice(2)).toEqual([
      'config.yaml:10:1: info: Gateway shop/k8s-gateway-api: skipped: meshgate does not read gateway.networking.k8s.io/v1 Gateway',
      'config.yaml:15:1: info: PeerAuthentication shop/default: skipped: meshgate does not read security.istio.io/v1 PeerAuthentication',
      'config.yaml:20:1: info: EnvoyFilter shop/ef: skipped: meshgate does not read networking.istio.io/v1alpha3 EnvoyFilter',
    ]);
  });

  it('an Istio kind at a networking.istio.io version that does not exist is an error on apiVersion', () => {
    const r = parse(`apiVersion: v1
kind: Service
metadata: {name: ok}
spec: {}
---
kind: VirtualService
apiVersion: networking.istio.io/v1alpha2
metadata: {name: reviews, namespace: bookinfo}
spec: {hosts: [reviews]}
`);
    expect(refs(r)).toEqual(['Service default/ok']);
    expect(lines(r.problems)).toEqual([
      'config.yaml:7:1: error: VirtualService bookinfo/reviews: apiVersion: networking.istio.io/v1alpha2 is not a version of VirtualService we read: use networking.istio.io/v1alpha3, networking.istio.io/v1beta1, networking.istio.io/v1',
    ]);
  });

  it('an object without kind, apiVersion or metadata.name is an error naming the missing field', () => {
    expect(lines(parse('apiVersion: v1\nmetadata: {name: x}\n').problems)).toEqual(['config.yaml:1:1: error: kind: required field is missing: every object needs a kind']);
    expect(lines(parse('metadata: {name: x}\nkind: Service\n').problems)).toEqual(['config.yaml:1:1: error: apiVersion: required field is missing: Service needs an apiVersion']);
    expect(lines(parse('apiVersion: v1\nkind: Service\nmetadata:\n  namespace: shop\nspec: {}\n').problems)).toEqual([
      'config.yaml:3:1: error: Service shop/<unnamed>: metadata.name: required field is missing: every object needs a name',
    ]);
  });
});

describe('duplicates and namespaces', () => {
  it('a second definition of the same object is a warning naming the first; the later one wins', () => {
    const r = parseConfigTexts(
      [
        { file: 'a.yaml', text: `# first\n${gateway('gw', 'edge')}` },
        { file: 'b.yaml', text: `${service('unrelated')}---\n${gateway('gw', 'edge', 'networking.istio.io/v1alpha3').replace('hosts: ["*"]', 'hosts: ["b.example.com"]')}` },
      ],
      OPTS,
    );
    expect(lines(r.problems)).toEqual(['b.yaml:10:1: warning: Gateway edge/gw: defined again; this definition replaces the one at a.yaml:2']);
    const gws = r.objects.filter((o) => o.kind === 'Gateway');
    expect(gws).toHaveLength(1);
    expect(gws[0]!.source.file).toBe('b.yaml');
    expect((gws[0]!.spec as { servers: { hosts: string[] }[] }).servers[0]!.hosts).toEqual(['b.example.com']);
  });

  it('on reloads with one cache: a duplicate that an edit brings in is reported, and gone when the edit is undone', async () => {
    const dir = await tree({ 'a.yaml': gateway('gw', 'edge'), 'b.yaml': service('s1') });
    const cache = new ConfigFileCache();
    const load = () => loadConfig([dir], OPTS, cache);
    const first = await load();
    expect(first.problems).toEqual([]);
    expect(refs(first)).toEqual(['Gateway edge/gw', 'Service default/s1']);
    // b.yaml now also defines the Gateway a.yaml defines (a new size, so it is read again).
    await writeFile(path.join(dir, 'b.yaml'), `${service('s1')}---
${gateway('gw', 'edge')}`);
    const dup = await load();
    expect(lines(dup.problems).map((l) => l.replaceAll(dir + path.sep, ''))).toEqual(['b.yaml:10:1: warning: Gateway edge/gw: defined again; this definition replaces the one at a.yaml:1']);
    expect(refs(dup)).toEqual(['Service default/s1', 'Gateway edge/gw']);
    await writeFile(path.join(dir, 'b.yaml'), service('s2'));
    const fixed = await load();
    expect(fixed.problems).toEqual([]);
    expect(refs(fixed)).toEqual(['Gateway edge/gw', 'Service default/s2']);
    // A new file that repeats an object of an unchanged one is caught too.
    await writeFile(path.join(dir, 'c.yaml'), service('s2'));
    expect(lines((await load()).problems)).toHaveLength(1);
  });

  it('names the earlier line inside a List', () => {
    const r = parse(`apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Service
  metadata: {name: s}
- apiVersion: v1
  kind: Service
  metadata: {name: s}
`);
    expect(lines(r.problems)).toEqual(['config.yaml:7:3: warning: Service default/s: defined again; this definition replaces the one at config.yaml:4']);
    expect(r.objects).toHaveLength(1);
  });

  it('the same name in another namespace or of another kind is not a duplicate', () => {
    const r = parse(`${service('reviews', 'a')}---\n${service('reviews', 'b')}---
apiVersion: v1
kind: Endpoints
metadata: {name: reviews, namespace: a}
subsets: []
`);
    expect(r.problems).toEqual([]);
    expect(refs(r)).toEqual(['Service a/reviews', 'Service b/reviews', 'Endpoints a/reviews']);
  });

  it('gives objects without metadata.namespace (or an empty one) the default namespace', () => {
    const r = parse(`${gateway('no-ns')}---
apiVersion: v1
kind: Service
metadata: {name: empty-ns, namespace: ""}
spec: {}
---
${service('explicit', 'shop')}`, 'config.yaml', 'prod');
    expect(r.problems).toEqual([]);
    expect(r.objects.map((o) => `${o.namespace}/${o.name}`)).toEqual(['prod/no-ns', 'prod/empty-ns', 'shop/explicit']);
    expect(refs(r)).toEqual(['Gateway prod/no-ns', 'Service prod/empty-ns', 'Service shop/explicit']);
  });

  it('an unnamespaced object and the same object in the default namespace are one object', () => {
    const r = parse(`${service('dup', 'default')}---\n${service('dup').replace('  namespace: default\n', '')}`);
    expect(lines(r.problems)).toEqual(['config.yaml:10:1: warning: Service default/dup: defined again; this definition replaces the one at config.yaml:1']);
  });
});

describe('YAML syntax errors', () => {
  it('a duplicate key is an error at the second key, with the parser reason', () => {
    const r = parse('apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  name: b\nspec: {}\n', 'dup.yaml');
    expect(lines(r.problems)).toEqual(['dup.yaml:5:3: error: YAML syntax: Map keys must be unique']);
    expect(r.objects).toEqual([]);
  });

  it('an unquoted wildcard host is an alias to nothing: an error at it that says to quote it, not a crash', () => {
    const vsWith = (hosts: string) => `apiVersion: networking.istio.io/v1\nkind: VirtualService\nmetadata: {name: v}\nspec:\n${hosts}  http:\n  - route: [{destination: {host: a}}]\n`;
    const flow = parse(vsWith('  hosts: [*.example.com]\n'), 'flow.yaml');
    expect(lines(flow.problems)).toEqual(['flow.yaml:5:11: error: YAML syntax: *.example.com is read as an alias, and no &.example.com anchor is defined before it; a value that starts with * must be quoted: "*.example.com"']);
    const block = parse(`${service('fine')}---\n${vsWith('  hosts:\n  - *.example.com\n')}`, 'block.yaml');
    expect(lines(block.problems)).toEqual(['block.yaml:15:5: error: YAML syntax: *.example.com is read as an alias, and no &.example.com anchor is defined before it; a value that starts with * must be quoted: "*.example.com"']);
    expect(refs(block)).toEqual(['Service default/fine']);
  });

  it('aliases that multiply out of bounds are an error, not a hang or a crash', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 8 }, (_, i) => `${String.fromCharCode(98 + i)}: &${String.fromCharCode(98 + i)} [${Array(10).fill(`*${String.fromCharCode(97 + i)}`).join(', ')}]`)].join('\n');
    const r = parse(`apiVersion: v1\nkind: ConfigMap\nmetadata: {name: m}\ndata:\n  ${bomb.replace(/\n/g, '\n  ')}\n`, 'bomb.yaml');
    expect(r.problems).toHaveLength(1);
    expect(lines(r.problems)[0]).toMatch(/^bomb\.yaml:1:1: error: YAML syntax: .*alias/i);
  });

  it('tab indentation is an error at its line', () => {
    expect(lines(parse('apiVersion: v1\nkind: Service\nmetadata:\n\tname: a\n').problems)).toEqual(['config.yaml:4:1: error: YAML syntax: Tabs are not allowed as indentation']);
  });

  it('an unclosed flow map names the line where the parser noticed, and only that document fails', () => {
    const r = parse(`${service('fine')}---
apiVersion: networking.istio.io/v1
kind: Gateway
metadata:
  name: g
spec:
  servers:
  - port: {number: 80, protocol: HTTP
    hosts: ["*"]
`);
    expect(lines(r.problems)).toEqual(['config.yaml:17:5: error: YAML syntax: Flow map in block collection must be sufficiently indented and end with a }']);
    expect(hasErrors(r.problems)).toBe(true);
    expect(refs(r)).toEqual(['Service default/fine']);
  });

  it('a JSON syntax error has the line and column of the bad token', () => {
    const r = parse('{\n  "apiVersion": "v1",\n  "kind": "Service",,\n  "metadata": {"name": "a"}\n}\n', 'bad.json');
    expect(lines(r.problems)).toEqual(['bad.json:3:21: error: YAML syntax: Unexpected , in flow map']);
  });

  it('every syntax problem is one line (no code frame)', () => {
    const r = parse('a: [1, 2\nb: "unterminated\n');
    expect(r.problems.length).toBeGreaterThan(0);
    for (const l of lines(r.problems)) {
      expect(l).not.toContain('\n');
      expect(l).toMatch(/^config\.yaml:\d+:\d+: error: YAML syntax: \S/);
    }
  });
});
