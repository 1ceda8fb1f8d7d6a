import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { serveOptionsFrom } from '../../src/cli/serve.js';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { writeTlsDir } from '../helpers/certs.js';
import { ROOT, runCli } from '../helpers/process.js';
import { startReplicas, type Upstream } from '../helpers/upstream.js';

// No Docker engine runs here, so docker-compose.yml and the Dockerfile are checked rather than
// run: every file they name exists, the gateway's arguments are ones `meshgate serve` accepts,
// the config they mount is valid, and FQDN EndpointSlices (how compose finds the replicas by
// name) balance over every name they list.

const compose = parse(readFileSync(path.join(ROOT, 'docker-compose.yml'), 'utf8'));
const dockerfile = readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8');

describe('docker-compose.yml', () => {
  const gw = compose.services.meshgate;

  it('runs meshgate serve with arguments it accepts, on the ports it publishes', () => {
    expect(gw.command[0]).toBe('serve');
    const opts = serveOptionsFrom(gw.command.slice(1));
    if (opts === 'help') throw new Error('unexpected --help');
    const local = opts.listen.get(80)!;
    expect(gw.ports).toContain(`32681:${local.port}`);
    expect(gw.ports).toContain(`${opts.statusPort}:${opts.statusPort}`);
    expect(gw.healthcheck.test.join(' ')).toContain(`:${opts.statusPort}/healthz/ready`);
  });

  it('mounts config that exists and validates without a warning, with the credential `npm run certs` makes', async () => {
    const mounts = gw.volumes.map((v: string) => v.split(':'));
    for (const [s] of mounts) expect(existsSync(path.join(ROOT, s)), s).toBe(true);
    const opts = serveOptionsFrom(gw.command.slice(1));
    if (opts === 'help') throw new Error('unexpected --help');
    const tlsMount = mounts.find(([, target]: string[]) => target === opts.tlsDir);
    expect(tlsMount?.[0], 'a volume mounted at --tls-dir').toBe('./tls');
    const sources = mounts.filter(([, target]: string[]) => opts.configPaths.includes(target)).map(([s]: string[]) => s);
    expect(sources).toHaveLength(opts.configPaths.length);
    // ./tls holds only its README on a clean checkout; validate against what `npm run certs` writes there.
    const tlsDir = await writeTlsDir({ 'my-nginx-credential': { hosts: ['mynginx.example.com'] } });
    const r = await runCli(['validate', '-q', '--tls-dir', tlsDir, ...sources.flatMap((s: string) => ['-c', s])]);
    expect(r.stderr + r.stdout).toMatch(/^valid: 7 object\(s\) in 7 file\(s\)\n$/);
    expect(r.code).toBe(0);
  });

  it('publishes the https NodePort of the source document on the gateway port 443', () => {
    const opts = serveOptionsFrom(gw.command.slice(1));
    if (opts === 'help') throw new Error('unexpected --help');
    expect(gw.ports).toContain(`31941:${opts.listen.get(443)!.port}`);
  });

  it('npm run certs makes the credential the shipped HTTPS Gateway names, where serve looks by default', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts.certs).toContain('--out tls');
    expect(pkg.scripts.certs).toContain('--name my-nginx-credential');
    expect(readFileSync(path.join(ROOT, 'deploy/https/my-nginx-https.yml'), 'utf8')).toContain('credentialName: my-nginx-credential');
    expect(pkg.scripts.prestart).toBe('npm run --silent certs');
  });

  it('starts the three nginx replicas the EndpointSlice names', () => {
    const slice = parse(readFileSync(path.join(ROOT, 'deploy/compose/my-nginx-endpoints.yml'), 'utf8'));
    const names = slice.endpoints.flatMap((e: { addresses: string[] }) => e.addresses);
    expect(names).toEqual(['nginx-0', 'nginx-1', 'nginx-2']);
    for (const n of names) expect(compose.services[n], n).toBeDefined();
    expect(gw.depends_on).toEqual(names);
  });
});

describe('Dockerfile', () => {
  it('copies files that exist and starts meshgate serve on the shipped example', () => {
    for (const m of dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const f of m[1]!.split(' ')) expect(existsSync(path.join(ROOT, f)), f).toBe(true);
    }
    const cmd = JSON.parse(/^CMD (.+)$/m.exec(dockerfile)![1]!);
    expect(cmd[0]).toBe('serve');
    expect(serveOptionsFrom(cmd.slice(1))).not.toBe('help');
  });

  it('copies the scripts `npm run build` runs (npm ci builds dist/ in the image)', () => {
    const pkg = JSON.parse(readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    const scripts = [...(pkg.scripts.build as string).matchAll(/\bnode (\S+)/g)].map((m) => m[1]!);
    expect(scripts).toContain('scripts/bundle.mjs');
    const copied = [...dockerfile.matchAll(/^COPY (?!--from)(.+) (\S+)$/gm)].map((m) => ({ from: m[1]!.split(' '), to: m[2]! }));
    for (const script of scripts) {
      const ok = copied.some((c) => c.from.some((f) => script === f || script.startsWith(f.replace(/\/?$/, '/'))));
      expect(ok, `${script} is not copied into the build stage`).toBe(true);
    }
  });
});

describe('FQDN EndpointSlices, as compose uses them', () => {
  let replicas: Upstream[];
  let gateway: TestGateway;

  beforeAll(async () => {
    replicas = await startReplicas(3, 'by-name');
    const files: Record<string, string> = {};
    for (const f of ['my-nginx-service.yml', 'my-nginx-gateway.yml', 'my-nginx-virtualservice.yml']) files[f] = readFileSync(path.join(ROOT, 'gateways', f), 'utf8');
    // One slice per replica: each listens on its own port behind the same name, localhost.
    files['slices.yml'] = replicas
      .map(
        (r, i) => `apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: by-name-${i}
  namespace: my-namespace
  labels: {kubernetes.io/service-name: my-http-ingress-service}
addressType: FQDN
endpoints:
- addresses: [localhost]
ports:
- {name: http, port: ${r.port}}
`,
      )
      .join('---\n');
    gateway = await startGateway(files);
  });

  afterAll(async () => {
    await gateway?.stop();
    await Promise.all(replicas.map((r) => r.close()));
  });

  it('resolves the names and balances round robin over them', async () => {
    const counts: Record<string, number> = {};
    for (let i = 0; i < 30; i++) {
      const a = await gateway.get('mynginx.example.com', '/');
      expect(a.status).toBe(200);
      const who = a.headers['x-upstream'] as string;
      counts[who] = (counts[who] ?? 0) + 1;
    }
    expect(counts).toEqual({ 'by-name-0': 10, 'by-name-1': 10, 'by-name-2': 10 });
  });
});
