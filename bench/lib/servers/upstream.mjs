// Fallback upstream when nginx is not installed: node:http answering a 612-byte body
// (the size of nginx's stock index.html), keep-alive, on 127.0.0.1 and a free port.
// Prints `ready PORT` on stdout once listening.
import http from 'node:http';

const body = Buffer.alloc(612, 'x');
const server = http.createServer({ keepAliveTimeout: 60_000 }, (req, res) => {
  res.writeHead(200, ['content-type', 'text/html', 'content-length', String(body.length)]);
  res.end(body);
});
server.listen(Number(process.argv[2] ?? 0), '127.0.0.1', () => {
  process.stdout.write(`ready ${server.address().port}\n`);
});
