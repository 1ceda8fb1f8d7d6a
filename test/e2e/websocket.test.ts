import { createHash } from 'node:crypto';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, staticService, type TestGateway, GATEWAY_ANY_HOST } from '../helpers/gateway.js';
import { startUpstream, type Upstream } from '../helpers/upstream.js';

// Istio's gateways upgrade WebSocket connections by default; meshgate routes the Upgrade
// request like any other and then joins the two connections.

const KEY = 'dGhlIHNhbXBsZSBub25jZQ==';
const ACCEPT = createHash('sha1').update(KEY + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');

let echo: Upstream;
let refuser: Upstream;
let gw: TestGateway;

beforeAll(async () => {
  echo = await startUpstream({ name: 'ws-echo' });
  // A minimal WebSocket peer: answers 101 and then echoes raw bytes back, prefixed by its name.
  echo.server.on('upgrade', (req, socket) => {
    socket.write(
      `HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\nsec-websocket-accept: ${createHash('sha1').update(String(req.headers['sec-websocket-key']) + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64')}\r\nx-seen-host: ${req.headers.host}\r\nx-seen-path: ${req.url}\r\n\r\n`,
    );
    socket.on('data', (d: Buffer) => socket.write(Buffer.concat([Buffer.from('echo:'), d])));
    socket.on('end', () => socket.end());
    socket.on('error', () => socket.destroy());
  });
  refuser = await startUpstream({ name: 'ws-refuser' });
  gw = await startGateway({
    'config.yaml': `${GATEWAY_ANY_HOST}---
${staticService('echo.test', [echo.port])}---
${staticService('refuser.test', [refuser.port])}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: ws, namespace: default}
spec:
  hosts: [ws.example.com]
  gateways: [gw]
  http:
  - match: [{uri: {prefix: /refused}}]
    route: [{destination: {host: refuser.test}}]
  - match: [{uri: {prefix: /ws}}]
    rewrite: {uri: /socket}
    route: [{destination: {host: echo.test}}]
`,
  });
});

afterAll(async () => {
  await gw?.stop();
  await echo?.close();
  await refuser?.close();
});

/** Opens a raw connection, sends an Upgrade request, returns the socket and the response head. */
function upgrade(path: string, host = 'ws.example.com'): Promise<{ sock: net.Socket; head: string; rest: Buffer }> {
  return new Promise((resolve, reject) => {
    const sock = net.connect(gw.port(), '127.0.0.1');
    let buf = Buffer.alloc(0);
    sock.on('data', function onData(d: Buffer) {
      buf = Buffer.concat([buf, d]);
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) return;
      sock.off('data', onData);
      resolve({ sock, head: buf.subarray(0, end).toString('latin1'), rest: buf.subarray(end + 4) });
    });
    sock.on('error', reject);
    sock.write(`GET ${path} HTTP/1.1\r\nHost: ${host}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${KEY}\r\n\r\n`);
  });
}

function next(sock: net.Socket): Promise<string> {
  return new Promise((resolve) => sock.once('data', (d: Buffer) => resolve(d.toString())));
}

describe('WebSocket upgrades', () => {
  it('switches protocols through the route (rewrite applied) and carries bytes both ways', async () => {
    const { sock, head } = await upgrade('/ws/chat');
    try {
      expect(head).toMatch(/^HTTP\/1\.1 101 /);
      expect(head.toLowerCase()).toContain('upgrade: websocket');
      expect(head).toContain(`sec-websocket-accept: ${ACCEPT}`);
      expect(head).toContain('x-seen-host: ws.example.com');
      expect(head).toContain('x-seen-path: /socket/chat');
      expect(head.toLowerCase()).toContain('server: istio-envoy');
      sock.write('hello');
      expect(await next(sock)).toBe('echo:hello');
      sock.write('again');
      expect(await next(sock)).toBe('echo:again');
    } finally {
      sock.destroy();
    }
  });

  it('relays an upstream that declines the upgrade as a normal answer', async () => {
    const { sock, head } = await upgrade('/refused');
    sock.destroy();
    expect(head).toMatch(/^HTTP\/1\.1 200 /);
    expect(head).toContain('x-upstream: ws-refuser');
  });

  it('answers 404 for an upgrade no route takes', async () => {
    const { sock, head } = await upgrade('/nowhere');
    sock.destroy();
    expect(head).toMatch(/^HTTP\/1\.1 404 /);
    expect(head.toLowerCase()).toContain('server: istio-envoy');
  });
});

describe('WebSocket connections at shutdown', () => {
  it('are cut when the drain deadline passes, so the gateway does stop', async () => {
    const up = await startUpstream({ name: 'ws-late' });
    up.server.on('upgrade', (_req, socket) => {
      socket.write('HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\nconnection: Upgrade\r\n\r\n');
      socket.on('end', () => socket.end());
      socket.on('error', () => socket.destroy());
    });
    const g = await startGateway({
      'config.yaml': `${GATEWAY_ANY_HOST}---
${staticService('late.test', [up.port])}---
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata: {name: late, namespace: default}
spec:
  hosts: ["*"]
  gateways: [gw]
  http: [{route: [{destination: {host: late.test}}]}]
`,
    });
    const sock = net.connect(g.port(), '127.0.0.1');
    const closed = new Promise<void>((r) => sock.on('close', () => r()));
    sock.on('error', () => undefined);
    sock.write(`GET / HTTP/1.1\r\nHost: a.example.com\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n`);
    await new Promise((r) => sock.once('data', r));
    await g.gateway.stop(300);
    await closed;
    await up.close();
  });
});
