import { createHmac } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

/** One Web API call (or response_url post) as the local Slack server received it. */
export interface RecordedCall {
  method: string;
  body: Record<string, unknown>;
  /** The raw request body, for "no secret ever reached Slack" checks. */
  raw: string;
  token?: string;
  /** The request path, e.g. `/api/chat.postMessage` or `/response/cmd-1`. */
  url: string;
  at: number;
  status: number;
  /** What the server answered (e.g. the `ts` of a posted message). */
  response?: Record<string, unknown>;
}

export interface SocketAck {
  envelope_id: string;
  payload?: unknown;
}

/**
 * A local stand-in for slack.com/api on 127.0.0.1: records every call, answers the methods
 * healbot uses, can rate-limit a method for its next N calls, serves `response_url`s, and runs
 * a Socket Mode websocket endpoint that `apps.connections.open` points to.
 */
export class SlackApiServer {
  readonly calls: RecordedCall[] = [];
  readonly acks: SocketAck[] = [];
  readonly sockets = new Set<WebSocket>();
  botUserId = 'UHEALBOT';
  botId = 'BHEALBOT';
  /** Members of user groups, for usergroups.users.list. */
  groups: Record<string, string[]> = {};
  /** When set, auth.test fails with this Slack error code (e.g. `invalid_auth`). */
  authError?: string;
  #server?: Server;
  #wss?: WebSocketServer;
  #tsCounter = 0;
  #rateLimits = new Map<string, { remaining: number; retryAfter: number }>();
  #ackWaiters = new Map<string, (ack: SocketAck) => void>();
  #envelopeCounter = 0;
  #connectionWaiters: ((socket: WebSocket) => void)[] = [];

  get port(): number {
    return (this.#server?.address() as AddressInfo).port;
  }

  /** The base URL for `slack.apiUrl`. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api/`;
  }

  responseUrl(id: string): string {
    return `http://127.0.0.1:${this.port}/response/${id}`;
  }

  async start(): Promise<this> {
    this.#server = createServer((req, res) => {
      void this.#handle(req).then(({ status, body, headers }) => {
        res.writeHead(status, { 'content-type': 'application/json', ...headers });
        res.end(JSON.stringify(body));
      });
    });
    this.#wss = new WebSocketServer({ noServer: true });
    this.#server.on('upgrade', (req, socket, head) => {
      if (!req.url?.startsWith('/socket')) {
        socket.destroy();
        return;
      }
      this.#wss!.handleUpgrade(req, socket, head, (ws) => this.#onSocket(ws));
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    for (const socket of this.sockets) socket.terminate();
    this.#wss?.close();
    await new Promise<void>((resolve) => {
      this.#server?.closeAllConnections();
      this.#server?.close(() => resolve());
    });
  }

  /** The next `count` calls of `method` answer 429 with `Retry-After: retryAfterSeconds`. */
  rateLimit(method: string, count: number, retryAfterSeconds: number): void {
    this.#rateLimits.set(method, { remaining: count, retryAfter: retryAfterSeconds });
  }

  callsOf(method: string): RecordedCall[] {
    return this.calls.filter((c) => c.method === method && c.status === 200);
  }

  /**
   * Everything healbot sent to "Slack", decoded, as one string: every field of every call except
   * the `token` credential that authenticates the call itself.
   */
  everythingSent(): string {
    return this.calls.map((c) => JSON.stringify({ ...c.body, token: undefined })).join('\n');
  }

  /** Resolves when a Socket Mode client is connected (after `hello`). */
  connected(): Promise<WebSocket> {
    const open = [...this.sockets].find((s) => s.readyState === s.OPEN);
    if (open) return Promise.resolve(open);
    return new Promise((resolve) => this.#connectionWaiters.push(resolve));
  }

  /**
   * Sends a Socket Mode envelope (`slash_commands`, `interactive`, `events_api`) and resolves
   * with the client's ack. Pass `envelopeId` to redeliver the same envelope.
   */
  async sendEnvelope(
    type: 'slash_commands' | 'interactive' | 'events_api',
    payload: unknown,
    options: { envelopeId?: string; retryAttempt?: number } = {},
  ): Promise<SocketAck> {
    const socket = await this.connected();
    this.#envelopeCounter += 1;
    const envelopeId = options.envelopeId ?? `env-${this.#envelopeCounter}-${Date.now()}`;
    const acked = new Promise<SocketAck>((resolve) => this.#ackWaiters.set(envelopeId, resolve));
    socket.send(
      JSON.stringify({
        envelope_id: envelopeId,
        type,
        payload,
        accepts_response_payload: type !== 'events_api',
        ...(type === 'events_api'
          ? { retry_attempt: options.retryAttempt ?? 0, retry_reason: options.retryAttempt ? 'timeout' : '' }
          : {}),
      }),
    );
    return acked;
  }

  #onSocket(ws: WebSocket): void {
    this.sockets.add(ws);
    ws.on('close', () => this.sockets.delete(ws));
    ws.on('message', (data) => {
      const ack = JSON.parse(data.toString()) as SocketAck;
      if (!ack.envelope_id) return;
      this.acks.push(ack);
      this.#ackWaiters.get(ack.envelope_id)?.(ack);
      this.#ackWaiters.delete(ack.envelope_id);
    });
    ws.send(
      JSON.stringify({
        type: 'hello',
        num_connections: 1,
        debug_info: { host: 'local' },
        connection_info: { app_id: 'AHEALBOT' },
      }),
    );
    const waiters = this.#connectionWaiters;
    this.#connectionWaiters = [];
    // Give the client a moment to process hello before anything else arrives.
    setTimeout(() => waiters.forEach((resolve) => resolve(ws)), 20);
  }

  async #handle(req: IncomingMessage): Promise<{ status: number; body: unknown; headers?: Record<string, string> }> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const body = parseBody(raw, req.headers['content-type'] ?? '');
    const auth = req.headers.authorization;
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : typeof body.token === 'string' ? body.token : undefined;
    const call: RecordedCall = { method: '', body, raw, token, url: url.pathname, at: Date.now(), status: 200 };
    const record = (method: string, status: number) => {
      call.method = method;
      call.status = status;
      this.calls.push(call);
    };
    const answer = (response: Record<string, unknown>) => {
      call.response = response;
      return { status: 200, body: response };
    };

    if (url.pathname.startsWith('/response/')) {
      record('response_url', 200);
      return { status: 200, body: { ok: true } };
    }
    const method = url.pathname.replace(/^\/api\//, '');
    const limit = this.#rateLimits.get(method);
    if (limit && limit.remaining > 0) {
      limit.remaining -= 1;
      record(method, 429);
      return {
        status: 429,
        body: { ok: false, error: 'ratelimited' },
        headers: { 'retry-after': String(limit.retryAfter) },
      };
    }
    record(method, 200);
    switch (method) {
      case 'auth.test':
        if (this.authError) return answer({ ok: false, error: this.authError });
        return answer({
          ok: true,
          url: 'https://healbot-test.slack.com/',
          team: 'healbot-test',
          user: 'healbot',
          team_id: 'T0HEALBOT',
          user_id: this.botUserId,
          bot_id: this.botId,
        });
      case 'apps.connections.open':
        return answer({ ok: true, url: `ws://127.0.0.1:${this.port}/socket/${Date.now()}` });
      case 'chat.postMessage': {
        const ts = this.#nextTs();
        return answer({
          ok: true,
          channel: body.channel,
          ts,
          message: { type: 'message', text: body.text, user: this.botUserId, bot_id: this.botId, ts },
        });
      }
      case 'chat.update':
        return answer({ ok: true, channel: body.channel, ts: body.ts, text: body.text });
      case 'chat.postEphemeral':
        return answer({ ok: true, message_ts: this.#nextTs() });
      case 'chat.getPermalink': {
        // Slack's permalink: the workspace URL, /archives/<channel>/p<ts without the dot>.
        const ts = String(body.message_ts ?? '');
        if (!/^\d+\.\d+$/.test(ts)) return answer({ ok: false, error: 'message_not_found' });
        return answer({
          ok: true,
          channel: body.channel,
          permalink: `https://healbot-test.slack.com/archives/${String(body.channel)}/p${ts.replace('.', '')}`,
        });
      }
      case 'usergroups.users.list':
        return answer({ ok: true, users: this.groups[String(body.usergroup)] ?? [] });
      default:
        return { status: 200, body: { ok: false, error: 'unknown_method' } };
    }
  }

  #nextTs(): string {
    this.#tsCounter += 1;
    return `1700000000.${String(this.#tsCounter).padStart(6, '0')}`;
  }
}

function parseBody(raw: string, contentType: string): Record<string, unknown> {
  if (!raw) return {};
  if (contentType.includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  const out: Record<string, unknown> = {};
  for (const [key, value] of new URLSearchParams(raw)) {
    out[key] = /^[[{]/.test(value) ? safeJson(value) : value;
  }
  return out;
}

function safeJson(value: string): unknown {
  try {
    return JSON.parse(value);
  } catch {
    return value;
  }
}

/** Slack's request signature: `v0=` + HMAC-SHA256 of `v0:{timestamp}:{body}` with the signing secret. */
export function signSlackRequest(
  body: string,
  signingSecret: string,
  timestamp = Math.floor(Date.now() / 1000),
): Record<string, string> {
  const signature = `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`;
  return { 'x-slack-request-timestamp': String(timestamp), 'x-slack-signature': signature };
}

/** Polls `check` until it returns a truthy value; fails with `what` after `timeoutMs`. */
export async function waitFor<T>(
  check: () => T | undefined | false | null | Promise<T | undefined | false | null>,
  what: string,
  timeoutMs = 10_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}
