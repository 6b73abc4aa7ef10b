import { createServer, type IncomingMessage, type RequestListener, type Server, type ServerResponse } from 'node:http';
import { z } from 'zod';
import { own } from '../config/own.js';
import { withDeadline } from '../deadline.js';
import type { Config } from '../config/schema.js';
import type { EngineLogger } from '../engine/engine.js';
import type { Actor, IncidentRecord } from '../engine/api.js';
import { describeError, HealbotError } from '../errors.js';
import type { Watchdog } from '../monitor/watchdog.js';
import { redactDeep, type Redactor } from '../redact.js';
import type { Store } from '../store/store.js';
import type { ErrorRouter } from '../app-errors/error-router.js';
import type { ServedApi } from '../leadership/standby-api.js';
import { acceptAlerts } from './alert-intake.js';
import { logfireWebhook, sentryWebhook } from './app-error-webhooks.js';
import { parseAlertmanager, parseGeneric, parseGrafana, PayloadError, type IncomingAlert } from './alert-payloads.js';
import { hasBearerToken, HttpError, readJson, sendError, sendJson } from './http.js';
import { LogLimiter } from './log-limit.js';
import type { HealbotMetrics } from './metrics.js';

export interface HttpServerOptions {
  /** The engine, or on a standby replica the queue it records requests in for the leader. */
  engine: ServedApi;
  store: Store;
  config: Config;
  metrics: HealbotMetrics;
  watchdog: Watchdog;
  redact: Redactor;
  logger: EngineLogger;
  /** Chat adapters' HTTP handlers by path, e.g. Slack's HTTP mode at /slack/events (it verifies Slack's own signature). */
  chatRoutes?: Readonly<Record<string, RequestListener>>;
  /** Set on a replica that stands by: /readyz says so and names the leader. */
  standby?: { leader: () => string | undefined };
  /** Why this replica must not serve (it lost its Lease), for /readyz. */
  notReadyBecause?: () => string | undefined;
  /** GitHub's webhook deliveries, mounted at /webhooks/github (they carry a signature, not the bearer token). */
  githubWebhook?: (req: IncomingMessage, res: ServerResponse) => Promise<number>;
  /** Routes Sentry and Logfire errors (/webhooks/sentry, /webhooks/logfire). */
  errorRouter?: ErrorRouter;
  /** Server-Sent Events keep-alive comment interval. @defaultValue 15000 */
  keepAliveMs?: number;
  /** Overrides {@link CONNECTION_LIMITS}. */
  limits?: Partial<typeof CONNECTION_LIMITS>;
}

/**
 * How long a client may take and how many may connect at once, so a slow or flooding client
 * cannot hold sockets open: headers within 10 s, the whole request within 30 s, an idle
 * keep-alive connection 5 s, at most 256 connections.
 */
export const CONNECTION_LIMITS = {
  headersTimeoutMs: 10_000,
  requestTimeoutMs: 30_000,
  keepAliveTimeoutMs: 5_000,
  maxConnections: 256,
};

/** The JSON shape of an incident on the API. */
export function incidentJson(record: IncidentRecord) {
  return {
    id: record.id,
    service: record.service,
    status: record.status,
    source: record.source,
    openedAt: record.openedAt,
    closedAt: record.closedAt ?? null,
    alertCount: record.alertCount,
    rootCause: record.rootCause ?? null,
    plan: record.plan ?? null,
    actions: record.actions ?? null,
    outcome: record.outcome ?? null,
    summary: record.summary ?? null,
  };
}

/** How long /readyz waits for the store to take its test write before it answers not ready. */
const STORE_READY_TIMEOUT_MS = 2000;

const healBody = z.strictObject({
  service: z.string().min(1),
  by: z.string().min(1).max(100).optional(),
  dryRun: z.boolean().optional(),
});
/** `by` is still accepted for old clients, and ignored: authority comes from the credential. */
const decisionBody = z.strictObject({
  decision: z.enum(['approve', 'deny']),
  by: z.string().min(1).max(100).optional(),
});

/** Who called, as the bearer token proves it: the webhook token, or a named API credential. */
type Caller = { door: 'webhook' } | { door: 'api'; name: string };

const actorOf = (caller: Caller): Actor =>
  caller.door === 'api'
    ? { platform: 'api', id: caller.name, display: `api:${caller.name}` }
    : { platform: 'webhook', id: 'server.token', display: 'the webhook token' };

const WEBHOOKS: Record<string, (body: unknown) => IncomingAlert[]> = {
  alertmanager: parseAlertmanager,
  grafana: parseGrafana,
  generic: parseGeneric,
};

function parseWith<T>(schema: z.ZodType<T>, body: unknown): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new HttpError(400, `${issue.path.map(String).join('.') || 'body'}: ${issue.message}`);
}

/** What a client is told to wait before it retries a request the store could not record. */
const STORE_RETRY_AFTER_SECONDS = 5;

const DECISION_STATUS: Record<string, number> = {
  not_found: 404,
  expired: 410,
  already_decided: 409,
  same_approver: 403,
  not_allowed: 403,
};

/**
 * healbot's HTTP server: alert webhooks, the token-protected API (heal, approvals, incidents,
 * a Server-Sent Events stream), health, readiness and metrics. Every refusal is a one-line JSON
 * error; nothing a client sends can crash it.
 */
export function createHttpServer(options: HttpServerOptions): Server {
  const { engine, store, config, metrics, watchdog, redact, logger } = options;
  const token = config.server?.token;
  const limit = config.server?.maxBodyBytes ?? 1024 * 1024;
  const streams = new Set<ServerResponse>();
  const limits = { ...CONNECTION_LIMITS, ...options.limits };
  const malformed = new LogLimiter();
  // Every answer passes the redactor on its way out, error messages too (a parser may quote the body).
  const send = (res: ServerResponse, status: number, body: unknown) => sendJson(res, status, redactDeep(body, redact));
  const fail = (res: ServerResponse, error: HttpError) =>
    sendError(res, new HttpError(error.status, redact(error.message), error.headers));
  const failures = new LogLimiter();

  const apiTokens = config.server?.apiTokens ?? [];
  const requireToken = (req: IncomingMessage): Caller => {
    const credential = apiTokens.find((t) => hasBearerToken(req, t.token));
    if (credential) return { door: 'api', name: credential.name };
    if (!token && apiTokens.length === 0)
      throw new HttpError(401, 'server.token is not configured: set it to use webhooks and the API', {
        'www-authenticate': 'Bearer',
        connection: 'close',
      });
    if (!hasBearerToken(req, token))
      throw new HttpError(401, 'missing or wrong bearer token', { 'www-authenticate': 'Bearer', connection: 'close' });
    return { door: 'webhook' };
  };

  async function webhook(req: IncomingMessage, res: ServerResponse, kind: string, url: URL): Promise<number> {
    if ((kind === 'sentry' || kind === 'logfire') && options.errorRouter) {
      const context = { config, store, router: options.errorRouter, limit };
      return kind === 'sentry' ? sentryWebhook(req, res, context) : logfireWebhook(req, res, url, context);
    }
    const parse = own(WEBHOOKS, kind);
    if (!parse)
      throw new HttpError(404, `unknown webhook "${kind}"; use alertmanager, grafana, generic, sentry or logfire`);
    requireToken(req);
    const body = await readJson(req, limit);
    let alerts: IncomingAlert[];
    try {
      alerts = parse(body);
    } catch (error) {
      if (error instanceof PayloadError) throw new HttpError(400, error.message);
      throw error;
    }
    const outcomes = await acceptAlerts(engine, alerts, 'webhook', { silences: Boolean(config.alertmanager) });
    for (const outcome of outcomes) metrics.countAlert('webhook', outcome.result);
    if (kind === 'generic' && outcomes[0]?.result === 'unmatched') {
      throw new HttpError(
        404,
        `unknown service "${alerts[0].service}"; known services: ${engine.services().join(', ')}`,
      );
    }
    send(res, 202, { accepted: outcomes.length, alerts: outcomes });
    return 202;
  }

  function events(req: IncomingMessage, res: ServerResponse): number {
    requireToken(req);
    res.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    res.write(': healbot incident events\n\n');
    streams.add(res);
    const unsubscribe = engine.subscribe((event) => {
      res.write(`event: ${event.type}\ndata: ${JSON.stringify(redactDeep(event, redact))}\n\n`);
    });
    const keepAlive = setInterval(() => res.write(': keep-alive\n\n'), options.keepAliveMs ?? 15_000);
    keepAlive.unref();
    const stop = () => {
      clearInterval(keepAlive);
      unsubscribe();
      streams.delete(res);
    };
    req.once('close', stop);
    res.once('close', stop);
    return 200;
  }

  async function route(
    req: IncomingMessage,
    res: ServerResponse,
    url: URL,
  ): Promise<{ route: string; status: number }> {
    const method = req.method ?? 'GET';
    const path = url.pathname.replace(/\/+$/, '') || '/';
    const expect = (m: string) => {
      if (method !== m) throw new HttpError(405, `${path} accepts ${m}, not ${method}`, { allow: m });
    };
    if (path === '/healthz') {
      send(res, 200, { ok: true });
      return { route: path, status: 200 };
    }
    if (path === '/readyz') {
      const loops = watchdog.report();
      const reason = options.notReadyBecause?.();
      // A store that cannot take a write makes every heal and webhook fail: not ready.
      const storeWritable = await withDeadline('the store', STORE_READY_TIMEOUT_MS, () => store.writable()).catch(
        () => false,
      );
      const ok = loops.every((l) => l.ok) && storeWritable && reason === undefined;
      send(res, ok ? 200 : 503, {
        ok,
        ...(options.standby ? { standby: true, leader: options.standby.leader() ?? null } : {}),
        ...(reason ? { reason } : {}),
        store: storeWritable ? 'writable' : 'cannot be written',
        loops: loops.map((l) => ({ ...l, silentMs: Math.round(l.silentMs) })),
      });
      return { route: path, status: ok ? 200 : 503 };
    }
    if (path === '/metrics') {
      const text = await metrics.text();
      res.writeHead(200, { 'content-type': metrics.contentType });
      res.end(text);
      return { route: path, status: 200 };
    }
    const chatRoute =
      options.chatRoutes && Object.hasOwn(options.chatRoutes, path) ? options.chatRoutes[path] : undefined;
    if (chatRoute) {
      chatRoute(req, res);
      return { route: path, status: 0 };
    }
    if (path === '/webhooks/github' && options.githubWebhook) {
      expect('POST');
      return { route: path, status: await options.githubWebhook(req, res) };
    }
    const hook = /^\/webhooks\/([a-z]+)$/.exec(path);
    if (hook) {
      expect('POST');
      return { route: '/webhooks/' + hook[1], status: await webhook(req, res, hook[1], url) };
    }
    if (path === '/api/events') {
      expect('GET');
      return { route: path, status: events(req, res) };
    }
    if (path === '/api/heal') {
      expect('POST');
      const caller = requireToken(req);
      const body = parseWith(healBody, await readJson(req, limit));
      const requestedBy = actorOf(caller);
      const decision = await engine.open({ service: body.service, source: 'api', requestedBy, dryRun: body.dryRun });
      decision.report?.catch(() => undefined);
      const view = await decision.incident?.();
      send(res, 202, {
        incidentId: decision.incidentId,
        service: body.service,
        result: decision.result,
        state: view?.state ?? null,
        ...(view?.approval ? { approvalId: view.approval.id } : {}),
      });
      return { route: path, status: 202 };
    }
    if (path === '/api/incidents') {
      expect('GET');
      requireToken(req);
      const service = url.searchParams.get('service') ?? undefined;
      const status = url.searchParams.get('status');
      const limitParam = Number(url.searchParams.get('limit') ?? 100);
      const records = await store.listIncidents({
        service,
        status: status === 'open' || status === 'closed' ? status : undefined,
        limit: Number.isInteger(limitParam) && limitParam > 0 ? Math.min(limitParam, 1000) : 100,
      });
      send(res, 200, records.map(incidentJson));
      return { route: path, status: 200 };
    }
    const incident = /^\/api\/incidents\/([A-Za-z0-9_-]+)$/.exec(path);
    if (incident) {
      expect('GET');
      requireToken(req);
      const record = await store.getIncident(incident[1]);
      if (!record) throw new HttpError(404, `there is no incident ${incident[1]}`);
      send(res, 200, incidentJson(record));
      return { route: '/api/incidents/:id', status: 200 };
    }
    if (path === '/api/approvals') {
      expect('GET');
      requireToken(req);
      send(
        res,
        200,
        (await store.pendingApprovals()).map(
          ({ id, incidentId, service, step, expiresAt, approvedBy, requiredApprovals }) => ({
            id,
            incidentId,
            service,
            step,
            expiresAt,
            approvedBy,
            requiredApprovals,
          }),
        ),
      );
      return { route: path, status: 200 };
    }
    const approval = /^\/api\/approvals\/([A-Za-z0-9_-]+)$/.exec(path);
    if (approval) {
      expect('POST');
      const caller = requireToken(req);
      const body = parseWith(decisionBody, await readJson(req, limit));
      const result = await engine.decide(approval[1], actorOf(caller), body.decision);
      if (result.ok === 'queued') {
        send(res, 202, { ok: true, queued: true, decision: result.decision, approvalId: result.request.id });
        return { route: '/api/approvals/:id', status: 202 };
      }
      const status = result.ok ? 200 : (own(DECISION_STATUS, result.reason) ?? 409);
      const message =
        !result.ok && result.reason === 'not_allowed' && caller.door === 'webhook'
          ? 'the webhook token (server.token) can never approve or deny: use a named credential from server.apiTokens that is listed as an approver (api:<name>)'
          : !result.ok
            ? result.message
            : undefined;
      send(
        res,
        status,
        result.ok
          ? { ok: true, decision: result.decision, by: result.by, waitingFor: result.waitingFor ?? 0 }
          : { ok: false, reason: result.reason, error: message },
      );
      return { route: '/api/approvals/:id', status };
    }
    throw new HttpError(404, `nothing at ${method} ${path}`);
  }

  const server = createServer((req, res) => {
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://healbot');
    } catch {
      fail(res, new HttpError(400, 'malformed request URL'));
      return;
    }
    route(req, res, url).then(
      ({ route: name, status }) => metrics.countRequest(name, status || res.statusCode),
      (error: unknown) => {
        const http =
          error instanceof HttpError
            ? error
            : error instanceof HealbotError && error.code === 'STORE_UNUSABLE'
              ? // Nothing was recorded, and it may work again: senders (Alertmanager) retry a 503, never a 4xx.
                new HttpError(503, redact(describeError(error)), { 'retry-after': String(STORE_RETRY_AFTER_SECONDS) })
              : error instanceof HealbotError && error.userFacing
                ? new HttpError(error.code === 'UNKNOWN_SERVICE' ? 404 : 400, redact(describeError(error)))
                : undefined;
        if (http) fail(res, http);
        else {
          failures.run((suppressed) =>
            logger.error(
              { err: redact(describeError(error)), path: url.pathname, ...(suppressed ? { suppressed } : {}) },
              'request failed',
            ),
          );
          fail(res, new HttpError(500, 'healbot hit an internal error; see its log'));
        }
        metrics.countRequest(
          url.pathname.startsWith('/api/') ? '/api' : url.pathname.startsWith('/webhooks/') ? '/webhooks' : 'other',
          http?.status ?? 500,
        );
      },
    );
  });
  server.on('clientError', (error, socket) => {
    if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n');
    else socket.destroy();
    malformed.run((suppressed) =>
      logger.warn({ err: describeError(error), ...(suppressed ? { suppressed } : {}) }, 'malformed HTTP request'),
    );
  });
  server.headersTimeout = limits.headersTimeoutMs;
  server.requestTimeout = limits.requestTimeoutMs;
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  server.on('close', () => {
    for (const res of streams) res.end();
  });
  return server;
}

/** Ends the Server-Sent Events streams and closes the server. */
export async function closeHttpServer(server: Server): Promise<void> {
  await new Promise<void>((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
