import { createServer, request } from 'node:http';

/**
 * One process of the demo topology: `backend`, `proxy` or `edge`, on a loopback port.
 * The proxy and the edge forward to their upstream; a control path lets the demo break them.
 */
const [role, portText, upstreamText] = process.argv.slice(2);
const port = Number(portText);
const upstream = upstreamText ? Number(upstreamText) : undefined;
let broken = false;

const server = createServer((req, res) => {
  if (req.url === '/__demo/break' && req.method === 'POST') {
    broken = true;
    res.end('broken\n');
    return;
  }
  if (req.url === '/__demo/fix' && req.method === 'POST') {
    broken = false;
    res.end('fixed\n');
    return;
  }
  if (role === 'backend') {
    res
      .writeHead(200, { 'content-type': 'text/plain' })
      .end(req.url === '/ready' ? 'ready\n' : 'hello from the backend\n');
    return;
  }
  if (req.url === '/healthz') {
    res.writeHead(200).end('ok\n');
    return;
  }
  if (broken || upstream === undefined) {
    const why = role === 'edge' ? 'no ingress rule for api.demo.local' : 'bad gateway';
    res.writeHead(502, { 'content-type': 'text/plain' }).end(`${why}\n`);
    return;
  }
  const forward = request(
    { host: '127.0.0.1', port: upstream, path: req.url, method: req.method, headers: req.headers },
    (upstreamRes) => {
      res.writeHead(upstreamRes.statusCode ?? 502, upstreamRes.headers);
      upstreamRes.pipe(res);
    },
  );
  forward.on('error', () => res.writeHead(502).end('bad gateway: upstream unreachable\n'));
  req.pipe(forward);
});

server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
