import net from 'node:net';
import { describe, expect, it } from 'vitest';
import { runCli, startServe } from '../helpers/process.js';

// The README's egress example, as shipped in deploy/egress/: valid as it is, and the mesh
// listener refuses what it does not declare, saying so. (This machine has no route to the
// declared hosts, so only the refusal is exercised here; test/e2e/egress.test.ts covers the
// allowed ways in against local "external" services.)

function connectAnswer(port: number, target: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const c = net.connect(port, '127.0.0.1', () => c.write(`CONNECT ${target} HTTP/1.1\r\nHost: ${target}\r\n\r\n`));
    let got = '';
    c.setEncoding('utf8');
    c.on('data', (d) => (got += d));
    c.on('end', () => resolve(got));
    c.on('error', reject);
    c.setTimeout(5000, () => c.destroy(new Error(`no answer in 5 s: ${got}`)));
  });
}

describe('deploy/egress: the README egress example', () => {
  it('validates without a problem beside gateways/', async () => {
    const r = await runCli(['validate', '-q', '-c', 'gateways', '-c', 'deploy/egress']);
    expect(r.stdout).toBe('valid: 6 object(s) in 6 file(s)\n');
    expect(r.code).toBe(0);
  });

  it('refuses a CONNECT to a host it does not declare: 403, and a log line naming host and port', async () => {
    const gw = await startServe(['-c', 'gateways', '-c', 'deploy/egress', '--mesh-listen', '127.0.0.1:0', '--listen', '80=127.0.0.1:0', '--status-port', '0', '--admin-port', '0']);
    try {
      const mesh = Number(/listening: mesh on \S+:(\d+)/.exec(gw.log())![1]);
      const answer = await connectAnswer(mesh, 'example.org:443');
      expect(answer).toMatch(/^HTTP\/1\.1 403 Forbidden\r\n/);
      // A declared host on a port its ServiceEntry does not list is refused the same way.
      expect(await connectAnswer(mesh, 'api.github.com:80')).toMatch(/^HTTP\/1\.1 403 /);
      expect(gw.log()).toMatch(/egress refused: example\.org:443 from 127\.0\.0\.1: no ServiceEntry declares example\.org port 443 \(outbound policy REGISTRY_ONLY/);
      // The admin port counts every refusal (the log says at most one line a second).
      const egress = (await (await fetch(`http://127.0.0.1:${gw.adminPort}/egress`)).json()) as { mode: string; hosts: { host: string; ports: number[] }[]; refused: Record<string, number> };
      expect(egress.mode).toBe('REGISTRY_ONLY');
      expect(egress.hosts.map((h) => `${h.host} ${h.ports.join(',')}`).sort()).toContain('httpbin.org 80,443');
      expect(egress.refused).toEqual({ 'example.org:443': 1, 'api.github.com:80': 1 });
    } finally {
      expect(await gw.stop()).toBe(0);
    }
  });
});
