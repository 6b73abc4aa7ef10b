import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';

/**
 * Outer layers for scenario tests, as real HTTP servers on 127.0.0.1: an edge or proxy that
 * forwards to its upstream (502 when the upstream fails, or always once broken), and a
 * readiness endpoint that depends on a TCP dependency.
 */
export interface Layer {
  port: number;
  url: string;
  mode: 'forward' | 'broken';
  close(): Promise<void>;
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as { port: number }).port;
}

export async function forwardingLayer(upstream: () => string): Promise<Layer> {
  const layer = { mode: 'forward' } as Layer;
  const server = createServer((req, res) => {
    if (layer.mode === 'broken') return void res.writeHead(502).end('no ingress rule for this host\n');
    const target = new URL(req.url ?? '/', upstream());
    const forward = request(target, { method: 'GET', agent: false, timeout: 3000 }, (up) => {
      const status = up.statusCode ?? 502;
      res.writeHead(status >= 500 ? 502 : status);
      up.pipe(res);
    });
    forward.on('timeout', () => forward.destroy(new Error('upstream timeout')));
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end('bad gateway\n');
    });
    forward.end();
  });
  const port = await listen(server);
  return Object.assign(layer, {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  });
}

/** `/ready` answers 200 while `dependencyPort` accepts connections, else 503. */
export async function dependentReadiness(
  dependencyPort: () => number,
): Promise<{ port: number; url: string; close(): Promise<void> }> {
  const server = createServer((_req, res) => {
    const socket = connect({ host: '127.0.0.1', port: dependencyPort() });
    socket.once('connect', () => (socket.destroy(), res.writeHead(200).end('ready\n')));
    socket.once('error', () => res.writeHead(503).end('database unreachable\n'));
  });
  const port = await listen(server);
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    close: () => new Promise<void>((resolve) => (server.closeAllConnections(), server.close(() => resolve()))),
  };
}

/**
 * A busybox shell script for a container that serves `/cgi-bin/ready` on 127.0.0.1:PORT: in
 * `firstMode` on its first start (`slow` hangs, `error` answers 500, `missing` answers 404),
 * healthy (200) after any restart. It logs a line with a secret, to check redaction.
 */
export function flakyServer(port: number, firstMode: 'slow' | 'error' | 'missing' | 'ok'): string[] {
  const script = `
if [ -f /tmp/started ]; then MODE=ok; else MODE=${firstMode}; fi
echo started > /tmp/started
/bin/busybox mkdir -p /tmp/www/cgi-bin
case $MODE in
  ok) printf '#!/bin/sh\\nprintf "Content-Type: text/plain\\\\r\\\\n\\\\r\\\\nok\\\\n"\\n' > /tmp/www/cgi-bin/ready ;;
  slow) printf '#!/bin/sh\\n/bin/busybox sleep 30\\n' > /tmp/www/cgi-bin/ready ;;
  error) printf '#!/bin/sh\\nprintf "Status: 500 Internal Server Error\\\\r\\\\nContent-Type: text/plain\\\\r\\\\n\\\\r\\\\nerror\\\\n"\\n' > /tmp/www/cgi-bin/ready ;;
  missing) : ;;
esac
[ -f /tmp/www/cgi-bin/ready ] && /bin/busybox chmod 755 /tmp/www/cgi-bin/ready
echo "serving in $MODE mode; db password=hunter2"
exec /bin/busybox httpd -f -p 127.0.0.1:${port} -h /tmp/www
`;
  return ['/bin/busybox', 'sh', '-c', script];
}
