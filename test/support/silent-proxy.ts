import { createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { Socket } from 'node:net';

/**
 * An HTTP proxy on loopback (TCP) or a unix socket in front of a real server (the local
 * Kubernetes API server, a real dockerd). Requests that `silent` picks are accepted and never
 * answered, like a server whose connection is open but which hangs; the rest are forwarded.
 */
export interface SilentProxy {
  /** http://127.0.0.1:PORT, or the socket path. */
  address: string;
  /** Which requests hang; change it at any time. */
  silent: (req: IncomingMessage) => boolean;
  /** Requests that were left hanging, as "METHOD path". */
  swallowed: string[];
  close(): Promise<void>;
}

export async function startSilentProxy(
  upstream: { port: number } | { socketPath: string },
  listenOn: { socketPath?: string } = {},
): Promise<SilentProxy> {
  const sockets = new Set<Socket>();
  const proxy: SilentProxy = { address: '', silent: () => false, swallowed: [], close: async () => undefined };
  const server: Server = createServer((req, res) => {
    if (proxy.silent(req)) {
      proxy.swallowed.push(`${req.method} ${req.url}`);
      req.resume();
      return;
    }
    const target =
      'port' in upstream ? { host: '127.0.0.1', port: upstream.port } : { socketPath: upstream.socketPath };
    const forward = request({ ...target, method: req.method, path: req.url, headers: req.headers }, (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    });
    forward.on('error', () => {
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.pipe(forward);
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  });
  if (listenOn.socketPath) {
    await new Promise<void>((resolve) => server.listen(listenOn.socketPath, resolve));
    proxy.address = listenOn.socketPath;
  } else {
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    proxy.address = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  }
  proxy.close = async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  return proxy;
}
