/**
 * A local stand-in for Discord: a REST server and a gateway websocket on 127.0.0.1, enough
 * for the real discord.js Client to log in, receive dispatches and answer interactions.
 * Every REST call is recorded (method, route, body) so tests can assert on exactly what
 * healbot sent. Payload shapes come from Discord's documented examples in test/fixtures/discord/.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer, type WebSocket } from 'ws';

const FIXTURES = new URL('../../fixtures/discord/', import.meta.url);

/** Reads a fixture, a fresh copy each time so tests can change it. */
export function fixture(name: string): any {
  return JSON.parse(readFileSync(new URL(name, FIXTURES), 'utf8'));
}

export interface RecordedCall {
  method: string;
  /** The path after `/api/v10`, e.g. `/channels/1/messages`. */
  route: string;
  query: string;
  body: any;
  rawBody: string;
  headers: IncomingMessage['headers'];
  at: number;
  /** The status the server answered with. */
  status: number;
}

interface StoredMessage extends Record<string, any> {
  id: string;
  channel_id: string;
}

/** Gateway opcodes (https://discord.com/developers/docs/topics/opcodes-and-status-codes). */
const Op = { Dispatch: 0, Heartbeat: 1, Identify: 2, Resume: 6, Hello: 10, HeartbeatAck: 11 } as const;

export class DiscordTestServer {
  readonly calls: RecordedCall[] = [];
  readonly identifies: any[] = [];
  /** The URLs clients connected with (`?v=10&encoding=json`; this gateway speaks uncompressed JSON only). */
  readonly connectUrls: string[] = [];
  heartbeats = 0;
  readonly messages = new Map<string, StoredMessage>();
  readonly threads = new Map<string, any>();
  readonly guild = fixture('guild-create.json');
  readonly ready = fixture('ready.json');

  private readonly http: Server;
  private readonly wss: WebSocketServer;
  private readonly sockets = new Set<WebSocket>();
  private sequence = 0;
  private nextId = 1_200_000_000_000_000_000n;
  private readonly acknowledged = new Set<string>();
  /** Interaction token → the message `@original` refers to. */
  private readonly originals = new Map<string, StoredMessage>();
  private readonly rateLimits: { method: string; route: RegExp; retryAfter: number; global: boolean }[] = [];
  private readonly waiters: { predicate: (call: RecordedCall) => boolean; resolve: (call: RecordedCall) => void }[] =
    [];

  private constructor(readonly heartbeatInterval: number) {
    this.http = createServer((req, res) => void this.handle(req, res));
    this.wss = new WebSocketServer({ server: this.http, path: '/gateway' });
    this.wss.on('connection', (socket, req) => {
      this.connectUrls.push(req.url ?? '');
      this.onConnection(socket);
    });
  }

  /** Starts both servers on an ephemeral loopback port. */
  static async start(options: { heartbeatInterval?: number } = {}): Promise<DiscordTestServer> {
    const server = new DiscordTestServer(options.heartbeatInterval ?? 41_250);
    await new Promise<void>((resolve) => server.http.listen(0, '127.0.0.1', resolve));
    return server;
  }

  get port(): number {
    return (this.http.address() as AddressInfo).port;
  }

  /** The base to give discord.js as `rest.api` (it appends `/v10/...`). */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}/api`;
  }

  get gatewayUrl(): string {
    return `ws://127.0.0.1:${this.port}/gateway`;
  }

  get applicationId(): string {
    return this.ready.application.id as string;
  }

  get guildId(): string {
    return this.guild.id as string;
  }

  get botUserId(): string {
    return this.ready.user.id as string;
  }

  /** A new snowflake, increasing like Discord's. */
  snowflake(): string {
    this.nextId += 1n;
    return this.nextId.toString();
  }

  /** The next matching request is answered 429 with `retry_after` and the X-RateLimit-* headers. */
  rateLimitNext(method: string, route: RegExp, retryAfterSeconds: number, global = false): void {
    this.rateLimits.push({ method, route, retryAfter: retryAfterSeconds, global });
  }

  /** Sends a dispatch (op 0) with the next sequence number to every connected client. */
  dispatch(event: string, data: unknown): void {
    this.sequence += 1;
    const payload = JSON.stringify({ op: Op.Dispatch, t: event, s: this.sequence, d: data });
    for (const socket of this.sockets) socket.send(payload);
  }

  /** Resolves with the first recorded call (past or future) that matches. */
  waitForCall(predicate: (call: RecordedCall) => boolean, timeoutMs = 15_000): Promise<RecordedCall> {
    const found = this.calls.find(predicate);
    if (found) return Promise.resolve(found);
    return new Promise((resolve, reject) => {
      const waiter = { predicate, resolve: (call: RecordedCall) => (clearTimeout(timer), resolve(call)) };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(waiter), 1);
        reject(new Error(`no matching Discord call within ${timeoutMs} ms; calls so far:\n${this.describeCalls()}`));
      }, timeoutMs);
      this.waiters.push(waiter);
    });
  }

  describeCalls(): string {
    return this.calls.map((c) => `${c.method} ${c.route}${c.query} → ${c.status}`).join('\n');
  }

  /** Builds a `/heal <subcommand> [options]` interaction from the documented example. */
  slashCommand(
    subcommand: string,
    options: Record<string, string> = {},
    user: { id: string; roles: string[] } = { id: '1100000000000000700', roles: ['1100000000000000300'] },
  ): any {
    const payload = fixture('interaction-chat-input.json');
    payload.id = this.snowflake();
    payload.token = `interaction-token-${payload.id}`;
    payload.application_id = this.applicationId;
    payload.data.options = [
      {
        name: subcommand,
        type: 1,
        options: Object.entries(options).map(([name, value]) => ({ name, type: 3, value })),
      },
    ];
    payload.member.user.id = user.id;
    payload.member.user.username = `user${user.id.slice(-3)}`;
    payload.member.roles = user.roles;
    return payload;
  }

  /**
   * Builds a button click on a message the bot posted earlier. The message is looked up in
   * what the server stored, so `@original` edits land on it, as on Discord.
   */
  buttonClick(customId: string, messageId: string, user: { id: string; roles: string[] }): any {
    const payload = fixture('interaction-button.json');
    const message = this.messages.get(messageId);
    if (!message) throw new Error(`the test server never stored message ${messageId}`);
    payload.id = this.snowflake();
    payload.token = `interaction-token-${payload.id}`;
    payload.application_id = this.applicationId;
    payload.data.custom_id = customId;
    payload.channel_id = message.channel_id;
    payload.channel = this.threads.get(message.channel_id) ?? { ...payload.channel, id: message.channel_id };
    payload.message = JSON.parse(JSON.stringify(message));
    payload.member.user.id = user.id;
    payload.member.user.username = `user${user.id.slice(-3)}`;
    payload.member.roles = user.roles;
    this.originals.set(payload.token, message);
    return payload;
  }

  /** Stores a message as if someone had posted it (e.g. the approval message a button sits on). */
  storeMessage(message: StoredMessage): void {
    this.messages.set(message.id, message);
  }

  async close(): Promise<void> {
    for (const socket of this.sockets) socket.terminate();
    await new Promise<void>((resolve) => this.wss.close(() => resolve()));
    this.http.closeAllConnections();
    await new Promise<void>((resolve) => this.http.close(() => resolve()));
  }

  // ---- gateway ------------------------------------------------------------------------------

  private onConnection(socket: WebSocket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.send(JSON.stringify({ op: Op.Hello, d: { heartbeat_interval: this.heartbeatInterval }, s: null, t: null }));
    socket.on('message', (raw) => {
      const packet = JSON.parse(raw.toString()) as { op: number; d: any };
      if (packet.op === Op.Heartbeat) {
        this.heartbeats += 1;
        socket.send(JSON.stringify({ op: Op.HeartbeatAck, d: null, s: null, t: null }));
      } else if (packet.op === Op.Identify) {
        this.identifies.push(packet.d);
        this.dispatch('READY', { ...this.ready, resume_gateway_url: this.gatewayUrl });
        // Guilds arrive unavailable in READY, then one GUILD_CREATE each (lazy loading).
        setTimeout(() => this.dispatch('GUILD_CREATE', this.guild), 5);
      } else if (packet.op === Op.Resume) {
        this.dispatch('RESUMED', null);
      }
    });
  }

  // ---- REST ---------------------------------------------------------------------------------

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const rawBody = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const route = decodeURIComponent(url.pathname).replace(/^\/api\/v\d+/, '');
    let body: any = undefined;
    if (rawBody && (req.headers['content-type'] ?? '').includes('application/json')) body = JSON.parse(rawBody);
    else if (rawBody) body = rawBody;
    const call: RecordedCall = {
      method: req.method ?? 'GET',
      route,
      query: url.search,
      body,
      rawBody,
      headers: req.headers,
      at: Date.now(),
      status: 0,
    };
    this.calls.push(call);

    const send = (status: number, payload?: unknown, headers: Record<string, string> = {}) => {
      call.status = status;
      res.writeHead(status, payload === undefined ? headers : { 'content-type': 'application/json', ...headers });
      res.end(payload === undefined ? undefined : JSON.stringify(payload));
      for (const waiter of [...this.waiters]) {
        if (waiter.predicate(call)) {
          this.waiters.splice(this.waiters.indexOf(waiter), 1);
          waiter.resolve(call);
        }
      }
    };

    const limited = this.rateLimits.findIndex((r) => r.method === call.method && r.route.test(route));
    if (limited >= 0) {
      const [limit] = this.rateLimits.splice(limited, 1);
      const seconds = String(limit.retryAfter);
      send(
        429,
        { ...fixture('rate-limited-429.json'), retry_after: limit.retryAfter, global: limit.global },
        {
          'retry-after': seconds,
          'x-ratelimit-limit': '5',
          'x-ratelimit-remaining': '0',
          'x-ratelimit-reset': String(Date.now() / 1000 + limit.retryAfter),
          'x-ratelimit-reset-after': seconds,
          'x-ratelimit-bucket': 'healbot-test-bucket',
          'x-ratelimit-scope': limit.global ? 'global' : 'user',
          ...(limit.global ? { 'x-ratelimit-global': 'true' } : {}),
        },
      );
      return;
    }

    try {
      this.route(call, send);
    } catch (error) {
      send(500, { message: String(error), code: 0 });
    }
  }

  private route(
    call: RecordedCall,
    send: (status: number, payload?: unknown, headers?: Record<string, string>) => void,
  ): void {
    const { method, route, body } = call;
    let m: RegExpExecArray | null;

    if (method === 'GET' && route === '/gateway/bot') {
      return send(200, { ...fixture('gateway-bot.json'), url: this.gatewayUrl });
    }
    if (method === 'PUT' && (m = /^\/applications\/(\d+)(?:\/guilds\/(\d+))?\/commands$/.exec(route))) {
      const commands = (body as any[]).map((command) => ({
        id: this.snowflake(),
        application_id: m![1],
        ...(m![2] ? { guild_id: m![2] } : {}),
        version: this.snowflake(),
        default_member_permissions: null,
        type: 1,
        nsfw: false,
        ...command,
      }));
      return send(200, commands);
    }
    if (method === 'POST' && (m = /^\/interactions\/(\d+)\/([^/]+)\/callback$/.exec(route))) {
      const [, id, token] = m;
      // Discord answers a second acknowledgement of the same interaction with 40060.
      if (this.acknowledged.has(id))
        return send(400, { message: 'Interaction has already been acknowledged.', code: 40060 });
      this.acknowledged.add(id);
      if (body?.type === 4 || body?.type === 5) {
        this.originals.set(token, this.createMessage('0', { ...(body.data ?? {}), interaction_token: token }));
      }
      return send(204);
    }
    if ((m = /^\/webhooks\/(\d+)\/([^/]+)\/messages\/@original$/.exec(route))) {
      const [, , token] = m;
      const original = this.originals.get(token);
      if (method === 'DELETE') {
        if (original) this.messages.delete(original.id);
        return send(204);
      }
      if (method === 'PATCH') {
        if (!original) return send(404, { message: 'Unknown Message', code: 10008 });
        Object.assign(original, body, { edited_timestamp: new Date().toISOString() });
        return send(200, original);
      }
      if (method === 'GET')
        return original ? send(200, original) : send(404, { message: 'Unknown Message', code: 10008 });
    }
    if (method === 'POST' && (m = /^\/webhooks\/(\d+)\/([^/]+)$/.exec(route))) {
      return send(200, this.createMessage('0', { ...body, webhook_id: m[1] }));
    }
    if (method === 'POST' && (m = /^\/channels\/(\d+)\/messages$/.exec(route))) {
      return send(200, this.createMessage(m[1], body));
    }
    if ((m = /^\/channels\/(\d+)\/messages\/(\d+)$/.exec(route))) {
      const stored = this.messages.get(m[2]);
      if (!stored || stored.channel_id !== m[1]) return send(404, { message: 'Unknown Message', code: 10008 });
      if (method === 'PATCH') {
        Object.assign(stored, body, { edited_timestamp: new Date().toISOString() });
        return send(200, stored);
      }
      if (method === 'GET') return send(200, stored);
    }
    if (method === 'POST' && (m = /^\/channels\/(\d+)\/messages\/(\d+)\/threads$/.exec(route))) {
      const [, channel, message] = m;
      if (this.threads.has(message))
        return send(400, { message: 'A thread has already been created for this message', code: 160004 });
      // A thread started from a message takes the message's id.
      const thread = {
        id: message,
        type: 11,
        guild_id: this.guildId,
        parent_id: channel,
        owner_id: this.botUserId,
        name: body?.name,
        last_message_id: null,
        rate_limit_per_user: 0,
        message_count: 0,
        member_count: 1,
        total_message_sent: 0,
        flags: 0,
        thread_metadata: {
          archived: false,
          archive_timestamp: new Date().toISOString(),
          auto_archive_duration: body?.auto_archive_duration ?? 1440,
          locked: false,
        },
        member: { id: message, user_id: this.botUserId, join_timestamp: new Date().toISOString(), flags: 0 },
      };
      this.threads.set(message, thread);
      return send(201, thread);
    }
    send(404, { message: '404: Not Found', code: 0 });
  }

  private createMessage(channelId: string, body: any): StoredMessage {
    const message: StoredMessage = {
      id: this.snowflake(),
      channel_id: channelId,
      type: 0,
      content: '',
      embeds: [],
      components: [],
      attachments: [],
      mentions: [],
      mention_roles: [],
      mention_everyone: false,
      pinned: false,
      tts: false,
      timestamp: new Date().toISOString(),
      edited_timestamp: null,
      flags: 0,
      author: {
        id: this.botUserId,
        username: 'healbot',
        discriminator: '0',
        global_name: null,
        avatar: null,
        bot: true,
        public_flags: 0,
      },
      ...body,
    };
    delete message.allowed_mentions;
    delete message.interaction_token;
    this.messages.set(message.id, message);
    return message;
  }
}
