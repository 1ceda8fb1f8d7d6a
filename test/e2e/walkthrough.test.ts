import { readFile } from 'node:fs/promises';
import { request as httpsRequest } from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testCa, writeTlsDir } from '../helpers/certs.js';
import { writeConfigDir } from '../helpers/gateway.js';
import { request } from '../helpers/http.js';
import { ROOT, runCli, startServe, type ServeProcess } from '../helpers/process.js';
import { startReplicas, type Upstream } from '../helpers/upstream.js';

// The source document's ingress walkthrough, through the real `meshgate serve` process: its four
// YAML files as shipped in gateways/, and three real replicas standing in for the nginx pods.
const EXAMPLE = ['my-nginx.yml', 'my-nginx-service.yml', 'my-nginx-gateway.yml', 'my-nginx-virtualservice.yml'];

describe('seed walkthrough: curl -I -H Host:mynginx.example.com', () => {
  let replicas: Upstream[];
  let gw: ServeProcess;
  let dir: string;

  beforeAll(async () => {
    replicas = await startReplicas(3, 'my-nginx');
    const files: Record<string, string> = {};
    for (const f of EXAMPLE) files[f] = await readFile(path.join(ROOT, 'gateways', f), 'utf8');
    files['endpoints.yml'] = `apiVersion: v1
kind: Endpoints
metadata: {name: my-http-ingress-service, namespace: my-namespace}
subsets:
${replicas.map((r) => `- addresses: [{ip: 127.0.0.1, targetRef: {kind: Pod, name: ${r.name}}}]\n  ports: [{name: http, port: ${r.port}}]`).join('\n')}
`;
    dir = await writeConfigDir(files);
    // One worker: round robin in strict turn, as the walkthrough shows it (each of several workers
    // would balance on its own, as Envoy's worker threads do).
    gw = await startServe(['-c', dir, '--workers', '1', '--listen', '80=127.0.0.1:0', '--status-port', '0', '--admin-port', '0']);
  });

  afterAll(async () => {
    await gw?.stop();
    await Promise.all(replicas.map((r) => r.close()));
  });

  it('answers HEAD with 200 and the headers an Istio gateway adds', async () => {
    const a = await request({ port: gw.ports.get(80)!, method: 'HEAD', headers: { host: 'mynginx.example.com' } });
    expect(a.status).toBe(200);
    expect(a.headers.server).toBe('istio-envoy');
    expect(a.headers['x-envoy-upstream-service-time']).toMatch(/^\d+$/);
    expect(a.body).toBe('');
  });

  it('spreads 30 requests 10/10/10 over the three replicas (round robin)', async () => {
    const counts = new Map<string, number>();
    for (let i = 0; i < 30; i++) {
      const a = await request({ port: gw.ports.get(80)!, headers: { host: 'mynginx.example.com' } });
      expect(a.status).toBe(200);
      const who = a.headers['x-upstream'] as string;
      counts.set(who, (counts.get(who) ?? 0) + 1);
    }
    expect(Object.fromEntries(counts)).toEqual({ 'my-nginx-0': 10, 'my-nginx-1': 10, 'my-nginx-2': 10 });
  });

  it('matches the Host header case-insensitively and ignores its port', async () => {
    const a = await request({ port: gw.ports.get(80)!, headers: { host: 'MyNginx.Example.COM:80' } });
    expect(a.status).toBe(200);
  });

  it('answers 404 with an empty body for a host no Gateway serves', async () => {
    const a = await request({ port: gw.ports.get(80)!, headers: { host: 'other.example.com' } });
    expect(a.status).toBe(404);
    expect(a.body).toBe('');
    expect(a.headers.server).toBe('istio-envoy');
  });

  it('is ready on the status port', async () => {
    const a = await request({ port: gw.statusPort, path: '/healthz/ready' });
    expect(a.status).toBe(200);
  });

  it('shows the route table on the admin port', async () => {
    const a = await request({ port: gw.adminPort, path: '/routes' });
    expect(a.body).toContain('mynginx.example.com');
    expect(a.body).toContain('my-http-ingress-service.my-namespace.svc.cluster.local:80 (3 endpoints)');
  });

  it('answers the seed check steps with kubectl get columns', async () => {
    const gws = await runCli(['get', 'gateways.networking.istio.io', '--namespace', 'my-namespace', '-c', dir]);
    expect(gws.code).toBe(0);
    expect(gws.stdout.split('\n')[0]).toMatch(/^NAME\s+AGE$/);
    expect(gws.stdout).toMatch(/^my-nginx-gateway\s+\d+s$/m);
    const vss = await runCli(['get', 'virtualservices.networking.istio.io', '--namespace', 'my-namespace', '-c', dir]);
    expect(vss.stdout.split('\n')[0]).toMatch(/^NAME\s+GATEWAYS\s+HOSTS\s+AGE$/);
    expect(vss.stdout).toMatch(/^my-nginx-virtualservice\s+\[my-nginx-gateway\]\s+\[mynginx\.example\.com\]\s+\d+s$/m);
  });

  it('drains and exits 0 on SIGTERM', async () => {
    const code = await gw.stop();
    expect(code).toBe(0);
  });
});

describe('npm start: the shipped example with stand-in replicas', () => {
  it('serves gateways/ and deploy/https/ and rotates over the three stand-ins, over HTTP and HTTPS', async () => {
    // The credential `npm run certs` (prestart) makes in ./tls, made here in a temporary --tls-dir.
    const tlsDir = await writeTlsDir({ 'my-nginx-credential': { hosts: ['mynginx.example.com'] } });
    // npm start's arguments (one worker: the walkthrough's strict rotation), with free ports.
    const gw = await startServe(['-c', 'gateways', '-c', 'deploy/https', '--stand-ins', '--workers', '1', '--tls-dir', tlsDir, '--listen', '80=127.0.0.1:0', '--listen', '443=127.0.0.1:0', '--status-port', '0', '--admin-port', '0']);
    try {
      const names: string[] = [];
      for (let i = 0; i < 6; i++) {
        const a = await request({ port: gw.ports.get(80)!, method: 'HEAD', headers: { host: 'mynginx.example.com' } });
        expect(a.status).toBe(200);
        expect(a.headers['content-type']).toBe('text/html');
        names.push(a.headers['x-stand-in'] as string);
      }
      expect(names).toEqual(['my-nginx-0', 'my-nginx-1', 'my-nginx-2', 'my-nginx-0', 'my-nginx-1', 'my-nginx-2']);
      const https = await new Promise<{ status: number; cn: string; standIn: string }>((resolve, reject) => {
        const req = httpsRequest({ host: '127.0.0.1', port: gw.ports.get(443)!, servername: 'mynginx.example.com', ca: testCa().cert, headers: { host: 'mynginx.example.com' }, method: 'HEAD', agent: false }, (res) => {
          const cert = (res.socket as TLSSocket).getPeerCertificate();
          res.resume();
          resolve({ status: res.statusCode!, cn: String(cert.subject.CN), standIn: String(res.headers['x-stand-in']) });
        });
        req.on('error', reject);
        req.end();
      });
      expect(https).toEqual({ status: 200, cn: 'mynginx.example.com', standIn: 'my-nginx-0' });
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  });

  it('package.json start script runs exactly this, after making the credential', async () => {
    const pkg = JSON.parse(await readFile(path.join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts.start).toContain('serve -c gateways -c deploy/https --stand-ins');
    expect(pkg.scripts.start).toContain('--workers 1');
    expect(pkg.scripts.prestart).toBe('npm run --silent certs');
    expect(pkg.scripts.certs).toBe('node dist/cli.js certs --out tls --hosts mynginx.example.com --name my-nginx-credential');
  });
});
