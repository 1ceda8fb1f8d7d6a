// The hand-written reference proxy of ../shared/bench/anchors.sh (from the repo root): node:http in front of an
// undici Pool, Pool.request + body.pipe(res). Usage: node undici-request.mjs UPSTREAM_PORT
// Prints `ready PORT` on stdout once listening (port chosen by the OS).
import http from 'node:http';
import { Pool } from 'undici';

const pool = new Pool(`http://127.0.0.1:${process.argv[2]}`, { connections: 64 });
const server = http.createServer((req, res) => {
  pool.request({ path: req.url, method: req.method, headers: req.headers, body: req.method === 'GET' || req.method === 'HEAD' ? null : req })
    .then(({ statusCode, headers, body }) => { res.writeHead(statusCode, headers); body.pipe(res); })
    .catch(() => { res.statusCode = 502; res.end(); });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`ready ${server.address().port}\n`));
