import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GATEWAY_ANY_HOST, startGateway, staticService, virtualServiceYaml, type TestGateway } from '../helpers/gateway.js';
import { runCli } from '../helpers/process.js';

// `meshgate explain` on the config files, and admin /explain on the live config.

describe('meshgate explain', () => {
  it('on the shipped example: routed (exit 0), and a host it does not serve (exit 1, with the hosts it does)', async () => {
    const ok = await runCli(['explain', 'http://mynginx.example.com/index.html']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('route     VirtualService my-namespace/my-nginx-virtualservice http[0], match prefix /: taken');
    expect(ok.stdout).toContain('goes to   my-http-ingress-service.my-namespace.svc.cluster.local:80 (3 endpoints)');
    const miss = await runCli(['explain', 'http://www.example.com/']);
    expect(miss.code).toBe(1);
    expect(miss.stdout).toContain('(hosts here: mynginx.example.com)');
    expect(miss.stdout.trimEnd().split('\n').at(-1)).toBe('not routed: 404 (NR route_not_found)');
  });

  it('usage: one URL, name=value headers', async () => {
    const none = await runCli(['explain']);
    expect(none.code).toBe(2);
    expect(none.stderr).toMatch(/give one URL/);
    const bad = await runCli(['explain', 'http://a/', '--header', 'novalue']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--header: "novalue" is not name=value/);
  });
});

describe('admin /explain', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startGateway({ 'gw.yaml': GATEWAY_ANY_HOST, 'svc.yaml': staticService('svc.test', [9]), 'vs.yaml': virtualServiceYaml('app', ['app.example.com'], [{ match: [{ headers: { 'x-user': { exact: 'jason' } } }], route: [{ destination: { host: 'svc.test' } }] }]) });
  });
  afterAll(async () => {
    await gw?.stop();
  });

  it('answers on the live config, headers included', async () => {
    const base = `http://127.0.0.1:${gw.gateway.adminAddress!.port}/explain`;
    const routed = await (await fetch(`${base}?url=${encodeURIComponent('http://app.example.com/x')}&header=x-user=jason`)).text();
    expect(routed).toContain('match header x-user exact jason: taken');
    const not = await (await fetch(`${base}?url=${encodeURIComponent('http://app.example.com/x')}`)).text();
    expect(not).toContain('header x-user (absent) is not exact "jason"');
    expect((await fetch(base)).status).toBe(400);
  });
});
