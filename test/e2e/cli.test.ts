import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { humanDuration } from '../../src/cli/get.js';
import { ROOT, runCli, startServe } from '../helpers/process.js';

// The built CLI (dist/cli.js), run as a user runs it. `npm run build` first.

const FIXTURES = path.join(ROOT, 'test/fixtures/config');
const INVALID = path.join('test/fixtures/config/invalid');
const WARNINGS = path.join('test/fixtures/config/warnings');

const outLines = (s: string) => s.split('\n').filter((l) => l !== '');

describe('meshgate validate', () => {
  it('exits 0 on the shipped example, saying what it skipped', async () => {
    const r = await runCli(['validate', '-c', 'gateways']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      'gateways/my-nginx.yml:1:1: info: Deployment my-namespace/my-nginx: skipped: meshgate does not read apps/v1 Deployment; meshgate runs no workloads: declare where its pods answer with an Endpoints object or WorkloadEntry\n' +
        'valid: 4 object(s) in 5 file(s)\n',
    );
    expect(r.stderr).toBe('');
  });

  it('reads ./gateways when no -c is given', async () => {
    const r = await runCli(['validate']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('valid: 4 object(s) in 5 file(s)');
  });

  it('-q leaves out the info lines', async () => {
    const r = await runCli(['validate', '-q', '-c', 'gateways']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('valid: 4 object(s) in 5 file(s)\n');
  });

  it('exits 1 on invalid config with one line per problem: file:line:col, object, field path, reason', async () => {
    const r = await runCli(['validate', '-c', INVALID]);
    expect(r.code).toBe(1);
    expect(outLines(r.stdout)).toEqual([
      `${INVALID}/shop.yaml:22:9: error: VirtualService shop/shop: spec.http[0].match[0].uri.prefx: unknown field (did you mean "prefix"?); known fields here: exact, prefix, regex`,
      `${INVALID}/shop.yaml:25:5: error: VirtualService shop/shop: spec.http[0].timeout: "10 seconds" is not a duration: write a number with a unit (h, m, s, ms), e.g. "1.5s" or "250ms"`,
      'invalid: 2 error(s), 0 warning(s) in 1 file(s)',
    ]);
  });

  it('exits 1 on a YAML syntax error, naming file, line and column', async () => {
    const dir = await tempDir({ 'broken.yaml': 'apiVersion: v1\nkind: Service\nmetadata:\n  name: a\n  name: b\n' });
    try {
      const r = await runCli(['validate', '-c', dir]);
      expect(r.code).toBe(1);
      expect(outLines(r.stdout)).toEqual([
        `${path.join(dir, 'broken.yaml')}:5:3: error: YAML syntax: Map keys must be unique`,
        'invalid: 1 error(s), 0 warning(s) in 1 file(s)',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('exits 1 on a config file that cannot be read (a broken symlink), naming it, with the readable files still checked', async () => {
    const dir = await tempDir({ 'ok.yaml': 'apiVersion: v1\nkind: Service\nmetadata:\n  name: a\nspec:\n  ports: [{port: 80}]\n' });
    try {
      await symlink(path.join(dir, 'gone.yaml'), path.join(dir, 'link.yaml'));
      const r = await runCli(['validate', '-c', dir]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe('');
      expect(outLines(r.stdout)).toEqual([
        `${path.join(dir, 'link.yaml')}:1:1: error: cannot be read: it is not there (a broken symlink, or removed while the config was read)`,
        'invalid: 1 error(s), 0 warning(s) in 2 file(s)',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('warnings print but keep exit 0: unknown gateway, weights not adding to 100, host not in the registry', async () => {
    const r = await runCli(['validate', '-c', WARNINGS]);
    expect(r.code).toBe(0);
    expect(outLines(r.stdout)).toEqual([
      `${WARNINGS}/shop.yaml:39:5: warning: VirtualService shop/shop: spec.gateways[1]: gateway shop/missing-gateway does not exist, so these routes are not served on it [IST0101]`,
      `${WARNINGS}/shop.yaml:39:5: warning: VirtualService shop/shop: spec.gateways[1]: one or more host [shop.example.com] defined in VirtualService shop/shop not found in Gateway shop/missing-gateway. [IST0132]`,
      `${WARNINGS}/shop.yaml:43:5: warning: VirtualService shop/shop: spec.http[0].route: weights add up to 90, not 100; traffic is split in proportion to them`,
      `${WARNINGS}/shop.yaml:50:9: warning: VirtualService shop/shop: spec.http[1].route[0].destination.host: catalog.shop.svc.cluster.local is not in the service registry (no Service or ServiceEntry declares it); requests get 503 [IST0101]`,
      'valid: 4 object(s) in 1 file(s), 4 warning(s)',
    ]);
  });

  it('a subset no DestinationRule defines is a warning too', async () => {
    const dir = await tempDir({
      'vs.yaml': `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: gw, namespace: shop}
spec:
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: v1
kind: Service
metadata: {name: cart, namespace: shop}
spec: {ports: [{name: http, port: 80}]}
---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: cart, namespace: shop}
spec:
  hosts: [cart.example.com]
  gateways: [gw]
  http:
  - route:
    - destination: {host: cart, subset: v9}
`,
    });
    try {
      const r = await runCli(['validate', '-c', dir]);
      expect(r.code).toBe(0);
      expect(outLines(r.stdout)).toEqual([
        `${path.join(dir, 'vs.yaml')}:20:33: warning: VirtualService shop/cart: spec.http[0].route[0].destination.subset: subset v9 is not defined by any DestinationRule for cart.shop.svc.cluster.local; requests get 503 [IST0101]`,
        'valid: 3 object(s) in 1 file(s), 1 warning(s)',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('checks the destinations of a VirtualService bound only to the mesh as well', async () => {
    // No `gateways:` means the mesh gateway (served with --mesh-listen): its routes are live
    // config, so a destination nobody declares deserves the same warning.
    const dir = await tempDir({
      'vs.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: cart, namespace: shop}
spec:
  hosts: [cart]
  http:
  - route:
    - destination: {host: cart}
`,
    });
    try {
      const r = await runCli(['validate', '-c', dir]);
      expect(r.code).toBe(0);
      expect(outLines(r.stdout)).toEqual([
        `${path.join(dir, 'vs.yaml')}:8:21: warning: VirtualService shop/cart: spec.http[0].route[0].destination.host: cart.shop.svc.cluster.local is not in the service registry (no Service or ServiceEntry declares it); requests get 503 [IST0101]`,
        'valid: 1 object(s) in 1 file(s), 1 warning(s)',
      ]);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads several -c paths together', async () => {
    const r = await runCli(['validate', '-q', '-c', 'gateways', '-c', WARNINGS]);
    expect(r.code).toBe(0);
    expect(outLines(r.stdout).at(-1)).toBe('valid: 8 object(s) in 6 file(s), 4 warning(s)');
  });
});

describe('meshgate routes', () => {
  it('prints the route table of the shipped example', async () => {
    const r = await runCli(['routes', '-c', 'gateways']);
    expect(r.code).toBe(0);
    const [header, ...rows] = outLines(r.stdout);
    expect(header!.split(/\s{2,}/)).toEqual(['LISTENER', 'HOST', 'MATCH', 'DESTINATION', 'TIMEOUT', 'POLICY', 'FROM']);
    expect(rows).toHaveLength(1);
    expect(rows[0]!.split(/\s{3,}/)).toEqual([
      'gateway:80',
      'mynginx.example.com',
      'prefix /',
      'my-http-ingress-service.my-namespace.svc.cluster.local:80 (3 endpoints)',
      '15s',
      '-',
      'VirtualService my-namespace/my-nginx-virtualservice http[0]',
    ]);
  });

  it('shows weights, DNS destinations and destinations missing from the registry, in route order', async () => {
    const r = await runCli(['routes', '-c', WARNINGS]);
    expect(r.code).toBe(0);
    const rows = outLines(r.stdout).slice(1).map((l) => l.split(/\s{3,}/));
    expect(rows).toEqual([
      ['gateway:80', 'shop.example.com', 'prefix /cart', 'cart.shop.svc.cluster.local:80 60% (DNS), cart-canary.shop.svc.cluster.local:80 30% (DNS)', '15s', '-', 'VirtualService shop/shop http[0]'],
      ['gateway:80', 'shop.example.com', 'any', 'catalog.shop.svc.cluster.local:80 (not in registry)', '15s', '-', 'VirtualService shop/shop http[1]'],
    ]);
  });

  it('aligns the columns', async () => {
    const r = await runCli(['routes', '-c', WARNINGS]);
    const ls = outLines(r.stdout);
    for (const col of ['HOST', 'MATCH', 'DESTINATION', 'TIMEOUT', 'POLICY', 'FROM']) {
      const at = ls[0]!.indexOf(col);
      for (const l of ls.slice(1)) {
        expect(l[at - 1], `${col} in ${l}`).toBe(' ');
        expect(l[at], `${col} in ${l}`).not.toBe(' ');
      }
    }
  });

  it('exits 1 on invalid config, problems on stderr', async () => {
    const r = await runCli(['routes', '-c', INVALID]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(outLines(r.stderr)).toHaveLength(2);
    expect(r.stderr).toContain(`${INVALID}/shop.yaml:22:9: error: VirtualService shop/shop: spec.http[0].match[0].uri.prefx: unknown field`);
  });
});

async function tempDir(files: Record<string, string>): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'meshgate-cli-'));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(dir, name), text);
  return dir;
}

describe('meshgate get', () => {
  let dir: string;
  const ago = (ms: number) => new Date(Date.now() - ms).toISOString();
  const H = 3_600_000;
  const D = 24 * H;

  beforeAll(async () => {
    const meta = (name: string, ns: string | null, age: number) =>
      `metadata: {name: ${name}${ns ? `, namespace: ${ns}` : ''}, creationTimestamp: "${ago(age)}"}`;
    dir = await tempDir({
      'gateways.yaml': `apiVersion: networking.istio.io/v1
kind: Gateway
${meta('public', null, 2 * D + 3 * H + 60_000)}
spec:
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1beta1
kind: Gateway
${meta('internal', 'default', 3 * H + 5 * 60_000 + 20_000)}
spec:
  servers: [{port: {number: 8080, name: http, protocol: HTTP}, hosts: ["*"]}]
---
apiVersion: networking.istio.io/v1alpha3
kind: Gateway
${meta('egress', 'istio-system', 400 * D)}
spec:
  selector: {istio: egressgateway}
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
`,
      'shop.yaml': `apiVersion: networking.istio.io/v1
kind: VirtualService
${meta('storefront', 'shop', 10 * D)}
spec:
  hosts: [shop.example.com, www.shop.example.com]
  gateways: [default/public, mesh]
  http:
  - route: [{destination: {host: web}}]
---
apiVersion: networking.istio.io/v1
kind: VirtualService
${meta('cart', 'shop', 3 * 365 * D + 10 * D)}
spec:
  hosts: [cart]
  http:
  - route: [{destination: {host: cart}}]
---
apiVersion: networking.istio.io/v1
kind: DestinationRule
${meta('cart', 'shop', 45 * 60_000)}
spec:
  host: cart.shop.svc.cluster.local
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
${meta('payments-api', 'shop', 2 * H + 30_000)}
spec:
  hosts: [api.payments.example.org, api2.payments.example.org]
  location: MESH_EXTERNAL
  resolution: DNS
  ports: [{number: 443, name: https, protocol: TLS}]
---
apiVersion: networking.istio.io/v1
kind: ServiceEntry
${meta('legacy', 'shop', 8 * D + 5 * H)}
spec:
  hosts: [legacy.shop.internal]
  location: MESH_INTERNAL
  resolution: STATIC
  ports: [{number: 80, name: http, protocol: HTTP}]
  endpoints: [{address: 10.0.0.1}]
`,
    });
  });
  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const get = (...args: string[]) => runCli(['get', ...args, '-c', dir]);

  it('gateways: NAME AGE in the default namespace, sorted by name', async () => {
    const r = await get('gateways');
    expect(r.code).toBe(0);
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('NAME       AGE\ninternal   3h5m\npublic     2d3h\n');
  });

  it('accepts the singular, the short name, KIND.networking.istio.io and any case', async () => {
    const want = (await get('gateways')).stdout;
    for (const kind of ['gateway', 'gw', 'gateways.networking.istio.io', 'Gateway', 'GW']) {
      const r = await get(kind);
      expect(r.code, kind).toBe(0);
      expect(r.stdout, kind).toBe(want);
    }
  });

  it('virtualservices: NAME GATEWAYS HOSTS AGE', async () => {
    const r = await get('virtualservices', '-n', 'shop');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'NAME         GATEWAYS                HOSTS                                     AGE',
        'cart         []                      [cart]                                    3y10d',
        'storefront   [default/public mesh]   [shop.example.com www.shop.example.com]   10d',
        '',
      ].join('\n'),
    );
  });

  it('destinationrules: NAME HOST AGE', async () => {
    const r = await get('dr', '--namespace', 'shop');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('NAME   HOST                          AGE\ncart   cart.shop.svc.cluster.local   45m\n');
  });

  it('serviceentries: NAME HOSTS LOCATION RESOLUTION AGE', async () => {
    const r = await get('se', '-n', 'shop');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(
      [
        'NAME           HOSTS                                                  LOCATION        RESOLUTION   AGE',
        'legacy         [legacy.shop.internal]                                 MESH_INTERNAL   STATIC       8d',
        'payments-api   [api.payments.example.org api2.payments.example.org]   MESH_EXTERNAL   DNS          120m',
        '',
      ].join('\n'),
    );
  });

  it('-A adds a NAMESPACE column first and lists every namespace', async () => {
    for (const flag of ['-A', '--all-namespaces']) {
      const r = await get('gw', flag);
      expect(r.code).toBe(0);
      expect(r.stdout).toBe(
        ['NAMESPACE      NAME       AGE', 'default        internal   3h5m', 'default        public     2d3h', 'istio-system   egress     400d', ''].join('\n'),
      );
    }
  });

  it('prints "No resources found in NS namespace." on stderr when there is nothing', async () => {
    const r = await get('vs', '-n', 'nowhere');
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('No resources found in nowhere namespace.\n');
    const d = await get('dr');
    expect(d.stderr).toBe('No resources found in default namespace.\n');
  });

  it('prints "No resources found" with -A when no namespace has any', async () => {
    const r = await runCli(['get', 'dr', '-A', '-c', 'gateways']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe('No resources found\n');
  });

  it('--default-namespace is the namespace of objects without one and the namespace listed by default', async () => {
    const r = await get('gw', '--default-namespace', 'edge');
    expect(r.stdout).toBe('NAME     AGE\npublic   2d3h\n');
    const all = await get('gw', '-A', '--default-namespace', 'edge');
    expect(outLines(all.stdout).map((l) => l.split(/\s+/).slice(0, 2).join(' '))).toEqual(['NAMESPACE NAME', 'default internal', 'edge public', 'istio-system egress']);
  });

  it('works on the shipped example', async () => {
    const r = await runCli(['get', 'virtualservices', '-n', 'my-namespace', '-c', 'gateways']);
    expect(r.code).toBe(0);
    expect(outLines(r.stdout)[0]).toMatch(/^NAME\s{3,}GATEWAYS\s{3,}HOSTS\s{3,}AGE$/);
    expect(outLines(r.stdout)[1]).toMatch(/^my-nginx-virtualservice {3}\[my-nginx-gateway\] {3}\[mynginx\.example\.com\] {3}\S+$/);
  });

  it('shows <invalid> as the age of an object created in the future, as kubectl does', async () => {
    const future = await tempDir({
      'gw.yaml': `apiVersion: networking.istio.io/v1
kind: Gateway
metadata: {name: tomorrow, creationTimestamp: "${new Date(Date.now() + D).toISOString()}"}
spec:
  servers: [{port: {number: 80, name: http, protocol: HTTP}, hosts: ["*"]}]
`,
    });
    try {
      const r = await runCli(['get', 'gw', '-c', future]);
      expect(r.stdout).toBe('NAME       AGE\ntomorrow   <invalid>\n');
    } finally {
      await rm(future, { recursive: true, force: true });
    }
  });

  it('exits 1 on invalid config, naming the problem on stderr', async () => {
    const r = await runCli(['get', 'vs', '-A', '-c', INVALID]);
    expect(r.code).toBe(1);
    expect(r.stdout).toBe('');
    expect(r.stderr).toContain(`${INVALID}/shop.yaml:22:9: error: VirtualService shop/shop: spec.http[0].match[0].uri.prefx`);
  });

  it('a missing, unknown or doubly scoped KIND is a one-line usage error, exit 2', async () => {
    for (const args of [[], ['frobs'], ['gw', '-n', 'shop', '-A'], ['gw', 'vs']]) {
      const r = await get(...args);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stdout).toBe('');
      expect(outLines(r.stderr), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toMatch(/^meshgate get: /);
    }
  });
});

describe('humanDuration is kubectl\'s HumanDuration (k8s.io/apimachinery/pkg/util/duration)', () => {
  const s = 1000;
  const m = 60 * s;
  const h = 60 * m;
  const d = 24 * h;
  const y = 365 * d;
  it.each([
    [s, '1s'],
    [70 * s, '70s'],
    [190 * s, '3m10s'],
    [70 * m, '70m'],
    [47 * h, '47h'],
    [49 * h, '2d1h'],
    [(8 * 24 + 2) * h, '8d'],
    [367 * d, '367d'],
    [2 * y + 25 * h, '2y1d'],
    [8 * y + 2 * h, '8y'],
    [0, '0s'],
    [s - 1, '0s'],
    [2 * m - 1, '119s'],
    [2 * m, '2m'],
    [2 * m + s, '2m1s'],
    [10 * m - 1, '9m59s'],
    [10 * m, '10m'],
    [10 * m + s, '10m'],
    [3 * h - 1, '179m'],
    [3 * h, '3h'],
    [3 * h + m, '3h1m'],
    [8 * h - 1, '7h59m'],
    [8 * h, '8h'],
    [8 * h + 59 * m, '8h'],
    [2 * d - 1, '47h'],
    [2 * d, '2d'],
    [2 * d + h, '2d1h'],
    [8 * d - 1, '7d23h'],
    [8 * d, '8d'],
    [8 * d + 23 * h, '8d'],
    [2 * y - 1, '729d'],
    [2 * y, '2y'],
    [2 * y + 23 * h + 59 * m, '2y'],
    [2 * y + d - 1, '2y'],
    [2 * y + d, '2y1d'],
    [3 * y, '3y'],
    [7 * y, '7y'],
    [8 * y - 1, '7y364d'],
    [8 * y, '8y'],
    [8 * y + 364 * d, '8y'],
    [9 * y, '9y'],
  ])('%d ms is %s', (ms, want) => {
    expect(humanDuration(ms)).toBe(want);
  });

  it('tolerates clocks up to 2 s apart, then says <invalid>', () => {
    expect(humanDuration(-1)).toBe('0s');
    expect(humanDuration(-1999)).toBe('0s');
    expect(humanDuration(-2000)).toBe('<invalid>');
    expect(humanDuration(-d)).toBe('<invalid>');
  });
});

describe('usage errors: one line, exit 2', () => {
  const commands: string[][] = [['serve'], ['validate'], ['routes'], ['get', 'gw']];

  it.each(commands)('%s: an unknown flag', async (...cmd) => {
    const r = await runCli([...cmd, '--bogus-flag', '-c', 'gateways']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`meshgate ${cmd[0]}: unknown option --bogus-flag (see meshgate ${cmd[0]} --help)\n`);
  });

  it.each(commands)('%s: a config path that does not exist', async (...cmd) => {
    const missing = path.join(FIXTURES, 'does-not-exist');
    const r = await runCli([...cmd, '-c', missing, ...(cmd[0] === 'serve' ? ['--listen', '80=127.0.0.1:0', '--status-port', '0', '--admin-port', '0'] : [])]);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr).toBe(`meshgate: config path ${missing} does not exist\n`);
  });

  it.each(commands)('%s: -c without a value', async (...cmd) => {
    const r = await runCli([...cmd, '-c']);
    expect(r.code).toBe(2);
    expect(outLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toContain('-c');
  });

  it.each(commands)('%s: -c followed by another flag', async (...cmd) => {
    const r = await runCli([...cmd, '-c', '--help']);
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(outLines(r.stderr)).toHaveLength(1);
    expect(r.stderr).toMatch(new RegExp(`^meshgate ${cmd[0]}: .*-c`));
  });

  it('serve: bad option values', async () => {
    for (const args of [['--workers', '0'], ['--listen', '80'], ['--listen', '80=host:99999'], ['--log-format', 'xml'], ['--status-port', 'abc'], ['--labels', '=x'], ['--drain-seconds', '-1'], ['--drain-seconds', '2.5s'], ['--drain-delay', 'soon']]) {
      const r = await runCli(['serve', '-c', 'gateways', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(outLines(r.stderr), args.join(' ')).toHaveLength(1);
      expect(r.stderr).toContain(args[0]);
    }
  });

  it('a stray argument, an unknown command, and no command at all', async () => {
    const stray = await runCli(['routes', 'extra']);
    expect(stray.code).toBe(2);
    expect(stray.stderr).toBe('meshgate routes: unexpected argument extra (see meshgate routes --help)\n');
    const unknown = await runCli(['frobnicate']);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toBe('meshgate: unknown command "frobnicate" (commands: serve, validate, routes, explain, get, certs; see meshgate --help)\n');
    const none = await runCli([]);
    expect(none.code).toBe(2);
    expect(none.stdout).toMatch(/^meshgate: /);
  });
});

describe('--help', () => {
  it.each([['serve'], ['validate'], ['routes'], ['get']])('%s --help and -h exit 0 with its usage', async (cmd) => {
    for (const flag of ['--help', '-h']) {
      const r = await runCli([cmd, flag]);
      expect(r.code).toBe(0);
      expect(r.stderr).toBe('');
      expect(r.stdout.startsWith(`Usage: meshgate ${cmd}`)).toBe(true);
      expect(r.stdout).toContain('-c, --config PATH');
    }
  });

  it('meshgate --help lists the commands', async () => {
    const r = await runCli(['--help']);
    expect(r.code).toBe(0);
    for (const c of ['serve', 'validate', 'routes', 'get']) expect(r.stdout).toMatch(new RegExp(`^  ${c} `, 'm'));
  });
});

describe('meshgate serve with invalid config', () => {
  it('exits 1 naming each problem, without serving', async () => {
    const r = await runCli(['serve', '-c', INVALID, '--listen', '80=127.0.0.1:0', '--status-port', '0', '--admin-port', '0'], { timeoutMs: 15_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`${INVALID}/shop.yaml:22:9: error: VirtualService shop/shop: spec.http[0].match[0].uri.prefx: unknown field (did you mean "prefix"?)`);
    expect(r.stderr).toContain(`${INVALID}/shop.yaml:25:5: error: VirtualService shop/shop: spec.http[0].timeout:`);
    expect(r.stderr).toMatch(/not started: the config has 2 error\(s\)/);
    expect(r.stderr).not.toMatch(/listening:|\bready\b/);
  });

  it('exits 1 on a YAML syntax error too', async () => {
    const dir = await tempDir({ 'gw.yaml': 'apiVersion: networking.istio.io/v1\nkind: Gateway\nmetadata: {name: g\n' });
    try {
      const r = await runCli(['serve', '-c', dir, '--listen', '80=127.0.0.1:0', '--status-port', '0', '--admin-port', '0'], { timeoutMs: 15_000 });
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`${path.join(dir, 'gw.yaml')}:`);
      expect(r.stderr).toContain('error: YAML syntax:');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('meshgate serve --log-format json', () => {
  it('writes each log line as one JSON object with time, level and msg', async () => {
    const gw = await startServe(['-c', 'gateways', '--log-format', 'json', '--listen', '80=127.0.0.1:0', '--status-port', '0', '--admin-port', '0']);
    try {
      const lines = gw.log().trim().split('\n');
      expect(lines.length).toBeGreaterThan(3);
      for (const l of lines) {
        const o = JSON.parse(l);
        expect(Object.keys(o)).toEqual(['time', 'level', 'msg']);
        expect(['info', 'warn', 'error']).toContain(o.level);
      }
      expect(lines.map((l: string) => JSON.parse(l).msg)).toContain('ready');
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  });
});
