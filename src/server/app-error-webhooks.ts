import type { IncomingMessage, ServerResponse } from 'node:http';
import { AppErrorPayloadError, sameSecret, type AppError } from '../app-errors/app-error.js';
import type { ErrorRouter } from '../app-errors/error-router.js';
import { parseLogfire } from '../app-errors/logfire.js';
import { parseSentry, verifySentrySignature } from '../app-errors/sentry.js';
import type { Config } from '../config/schema.js';
import type { Store } from '../store/store.js';
import { HttpError, parseJson, readJsonBytes, sendJson } from './http.js';

export interface AppErrorWebhookContext {
  config: Config;
  store: Store;
  router: ErrorRouter;
  limit: number;
}

const header = (req: IncomingMessage, name: string) => {
  const value = req.headers[name];
  return Array.isArray(value) ? value[0] : value;
};

function parsedWith<T>(parse: () => T): T {
  try {
    return parse();
  } catch (error) {
    if (error instanceof AppErrorPayloadError) throw new HttpError(400, error.message);
    throw error;
  }
}

/**
 * `POST /webhooks/sentry`: a Sentry integration-platform delivery. The signature is checked
 * over the raw body before anything is parsed; a Request-ID seen before is a 409.
 */
export async function sentryWebhook(
  req: IncomingMessage,
  res: ServerResponse,
  context: AppErrorWebhookContext,
): Promise<number> {
  const sentry = context.config.sentry;
  if (!sentry)
    throw new HttpError(404, 'Sentry is not configured: add sentry: { clientSecret } to use /webhooks/sentry');
  const raw = await readJsonBytes(req, context.limit);
  if (!verifySentrySignature(raw, header(req, 'sentry-hook-signature'), sentry.clientSecret)) {
    throw new HttpError(
      401,
      "Sentry-Hook-Signature is missing or does not match the body (sentry.clientSecret must be the integration's client secret)",
    );
  }
  const requestId = header(req, 'request-id');
  const resource = header(req, 'sentry-hook-resource');
  if (!requestId) throw new HttpError(400, 'the Request-ID header is missing');
  if (!resource) throw new HttpError(400, 'the Sentry-Hook-Resource header is missing');
  const delivery = parsedWith(() => parseSentry(resource, parseJson(raw)));
  if (!(await context.store.claimEvent(`sentry-request:${requestId}`)))
    throw new HttpError(409, `Sentry delivery ${requestId} was already received`);
  if ('ignored' in delivery) {
    sendJson(res, 202, { accepted: 0, ignored: delivery.ignored });
    return 202;
  }
  return answer(res, await context.router.accept(delivery.errors.map((e) => withTagService(e, sentry.serviceTag))));
}

function withTagService(error: AppError, tag: string): AppError {
  return tag === 'service' || !Object.hasOwn(error.labels, tag) ? error : { ...error, service: error.labels[tag] };
}

/**
 * `POST /webhooks/logfire`: a Logfire alert. Logfire cannot sign, so the shared secret comes
 * as a bearer token or as `?secret=` on the webhook URL; `?service=` names the service when the
 * alert's query selects no service_name.
 */
export async function logfireWebhook(
  req: IncomingMessage,
  res: ServerResponse,
  url: URL,
  context: AppErrorWebhookContext,
): Promise<number> {
  const logfire = context.config.logfire;
  if (!logfire) throw new HttpError(404, 'Logfire is not configured: add logfire: { secret } to use /webhooks/logfire');
  const bearer = /^Bearer\s+(.+)$/i.exec(header(req, 'authorization')?.trim() ?? '')?.[1];
  const given = bearer ?? url.searchParams.get('secret') ?? '';
  if (!sameSecret(given, logfire.secret))
    throw new HttpError(
      401,
      'missing or wrong Logfire secret (Authorization: Bearer <logfire.secret> or ?secret= on the webhook URL)',
      { 'www-authenticate': 'Bearer' },
    );
  const service = url.searchParams.get('service') ?? undefined;
  const body = parseJson(await readJsonBytes(req, context.limit));
  const errors = parsedWith(() => parseLogfire(body));
  return answer(
    res,
    await context.router.accept(errors.map((e) => (e.service === undefined && service ? { ...e, service } : e))),
  );
}

function answer(res: ServerResponse, outcomes: Awaited<ReturnType<ErrorRouter['accept']>>): number {
  sendJson(res, 202, { accepted: outcomes.filter((o) => o.result === 'routed').length, errors: outcomes });
  return 202;
}
