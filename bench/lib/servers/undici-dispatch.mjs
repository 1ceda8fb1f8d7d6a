// The second reference, after ../shared/bench/node-ceiling/dispatch.mjs (from the repo root): node:http in front of
// an undici Pool, Pool.dispatch with a handler writing straight to res (no stream in between).
// One change from that file: it honours backpressure and client disconnects (resume on 'drain',
// abort on an early 'close'). Without it, a response arriving for a client that has gone (every
// load run ends with requests in flight) leaves its upstream connection paused for good, and
// after 64 of those the proxy stops answering; it did, in this harness, under CPU contention.
// Usage: node undici-dispatch.mjs UPSTREAM_PORT. Prints `ready PORT` on stdout once listening.
import http from 'node:http';
import { Pool } from 'undici';

const pool = new Pool(`http://127.0.0.1:${process.argv[2]}`, { connections: 64 });
const server = http.createServer((req, res) => {
  let abort = null;
  let resume = null;
  let done = false;
  res.on('close', () => { if (!done && abort) abort(new Error('client gone')); });
  pool.dispatch({ path: req.url, method: req.method, headers: req.headers, body: null }, {
    onConnect(a) { abort = a; }, onError(e) { done = true; if (res.headersSent) res.destroy(); else { res.statusCode = 502; res.end(); } },
    onHeaders(status, raw, r) { resume = r; const h = []; for (let i = 0; i < raw.length; i += 2) { const k = raw[i].toString(); if (k.toLowerCase() !== 'connection' && k.toLowerCase() !== 'keep-alive') h.push(k, raw[i+1].toString()); } res.writeHead(status, h); return true; },
    onData(c) { if (res.write(c)) return true; res.once('drain', resume); return false; }, onComplete() { done = true; res.end(); },
  });
});
server.listen(0, '127.0.0.1', () => process.stdout.write(`ready ${server.address().port}\n`));
