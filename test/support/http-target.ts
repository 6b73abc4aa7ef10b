import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';

/** How `/ready` answers: 200, an error status, never (hangs), or by closing the socket. */
export type TargetMode = 'ok' | 'error' | 'hang' | 'close';

/**
 * A controllable backend on 127.0.0.1 for probe and engine tests. `/ready` answers according
 * to `mode`; `/control?mode=ok|error|hang|close[&status=503]` changes it from another process
 * (a restart command), so a real `command` runtime can "fix" the service.
 */
export class HttpTarget {
  mode: TargetMode;
  /** Status `/ready` answers in `error` mode. */
  errorStatus = 500;
  /** Body `/ready` answers in `ok` mode. */
  body = 'ready\n';
  /** Requests to `/ready`, in order. */
  readonly readyHits: number[] = [];
  /** Mode changes made through `/control`, in order. */
  readonly controlCalls: string[] = [];
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  port = 0;

  constructor(mode: TargetMode = 'ok') {
    this.mode = mode;
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  get readyUrl(): string {
    return `${this.url}/ready`;
  }

  /** `host:port` for TCP probes. */
  get hostPort(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** The URL that switches `/ready` to `mode`. */
  controlUrl(mode: TargetMode, status?: number): string {
    return `${this.url}/control?mode=${mode}${status !== undefined ? `&status=${status}` : ''}`;
  }

  async start(): Promise<this> {
    const server = createServer((req, res) => this.handle(req, res));
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.server = server;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    this.port = (server.address() as { port: number }).port;
    return this;
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const url = new URL(req.url ?? '/', this.url);
    if (url.pathname === '/control') {
      const mode = url.searchParams.get('mode') as TargetMode | null;
      if (mode !== 'ok' && mode !== 'error' && mode !== 'hang' && mode !== 'close')
        return void res.writeHead(400).end('bad mode\n');
      this.mode = mode;
      const status = url.searchParams.get('status');
      if (status) this.errorStatus = Number(status);
      this.controlCalls.push(mode);
      return void res.writeHead(200).end('ok\n');
    }
    if (url.pathname !== '/ready') return void res.writeHead(404).end('not found\n');
    this.readyHits.push(Date.now());
    switch (this.mode) {
      case 'ok':
        return void res.writeHead(200, { 'content-type': 'text/plain' }).end(this.body);
      case 'error':
        return void res.writeHead(this.errorStatus, { 'content-type': 'text/plain' }).end('not ready\n');
      case 'hang':
        return; // never answers; stop() closes the socket
      case 'close':
        return void req.socket.destroy();
    }
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.destroy();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }
}

/** Starts a target in `mode`. */
export const startHttpTarget = (mode: TargetMode = 'ok') => new HttpTarget(mode).start();
