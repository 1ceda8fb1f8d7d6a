import http from 'node:http';
import type { Snapshot } from '../compile/snapshot.js';
import type { Logger } from '../telemetry/log.js';

// Stand-in upstreams for demos and `npm start`: one small web server per loopback endpoint the
// config declares, answering like the nginx of Istio's examples, and naming itself so that load
// balancing is visible from curl.

const LOOPBACK = /^(127\.\d+\.\d+\.\d+|::1|localhost)$/;

export interface StandIn {
  name: string;
  address: string;
  port: number;
  server: http.Server;
}

function page(name: string): string {
  return `<!DOCTYPE html>
<html>
<head><title>Welcome to nginx!</title></head>
<body>
<h1>Welcome to nginx!</h1>
<p>This is <b>${name}</b>, a meshgate stand-in replica answering in place of the
example's nginx pod. Each replica names itself in the <code>x-stand-in</code> header.</p>
</body>
</html>
`;
}

export async function startStandIns(snapshot: Snapshot, log: Logger): Promise<StandIn[]> {
  const seen = new Map<string, { name: string; address: string; port: number }>();
  for (const c of snapshot.clusters.values()) {
    for (const e of c.endpoints) {
      if (e.resolve || !LOOPBACK.test(e.address)) continue;
      const key = `${e.address}:${e.port}`;
      if (!seen.has(key)) seen.set(key, { name: e.name ?? `${c.host.split('.')[0]}-${e.port}`, address: e.address, port: e.port });
    }
  }
  const started: StandIn[] = [];
  const lastModified = new Date().toUTCString();
  for (const s of seen.values()) {
    const body = page(s.name);
    const etag = `"${Buffer.from(s.name).toString('hex').slice(0, 8)}-${Buffer.byteLength(body).toString(16)}"`;
    const server = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, {
        'content-type': 'text/html',
        'content-length': Buffer.byteLength(body),
        'last-modified': lastModified,
        etag,
        'accept-ranges': 'bytes',
        'x-stand-in': s.name,
      });
      res.end(req.method === 'HEAD' ? undefined : body);
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(s.port, s.address, () => resolve());
      });
      started.push({ ...s, server });
      log.info(`stand-in ${s.name} answering on ${s.address}:${s.port}`);
    } catch (e) {
      log.warn(`stand-in ${s.name} could not listen on ${s.address}:${s.port}: ${(e as Error).message}`);
    }
  }
  return started;
}
