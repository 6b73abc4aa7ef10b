import { createHmac } from 'node:crypto';
import { z } from 'zod';
import { AppErrorPayloadError, sameSecret, textFingerprint, type AppError } from './app-error.js';

/** The Sentry-Hook-Resource values healbot acts on; others (installation, comment…) are acknowledged and ignored. */
export const SENTRY_RESOURCES = ['error', 'issue', 'event_alert', 'metric_alert'] as const;
export type SentryResource = (typeof SENTRY_RESOURCES)[number];

/**
 * Sentry signs the exact body it sends: HMAC-SHA256 with the integration's client secret,
 * hex-encoded in `Sentry-Hook-Signature`.
 */
export function verifySentrySignature(rawBody: Buffer, signature: string | undefined, clientSecret: string): boolean {
  if (!signature) return false;
  const expected = createHmac('sha256', clientSecret).update(rawBody).digest('hex');
  return sameSecret(signature.trim().toLowerCase(), expected);
}

const frame = z.looseObject({
  filename: z.string().nullish(),
  abs_path: z.string().nullish(),
  lineno: z.number().nullish(),
  in_app: z.boolean().nullish(),
  function: z.string().nullish(),
});
const exceptionValue = z.looseObject({
  type: z.string().nullish(),
  value: z.string().nullish(),
  stacktrace: z.looseObject({ frames: z.array(frame).nullish() }).nullish(),
});
const metadata = z.looseObject({
  type: z.string().nullish(),
  value: z.string().nullish(),
  filename: z.string().nullish(),
});

const sentryEvent = z.looseObject({
  event_id: z.string().min(1),
  project: z.union([z.number(), z.string()]).nullish(),
  platform: z.string().nullish(),
  title: z.string().nullish(),
  message: z.string().nullish(),
  culprit: z.string().nullish(),
  level: z.string().nullish(),
  issue_id: z.union([z.string(), z.number()]).nullish(),
  web_url: z.string().nullish(),
  metadata: metadata.nullish(),
  exception: z.looseObject({ values: z.array(exceptionValue).nullish() }).nullish(),
  contexts: z.looseObject({ trace: z.looseObject({ trace_id: z.string().nullish() }).nullish() }).nullish(),
  tags: z.array(z.tuple([z.string(), z.string()])).nullish(),
});

const sentryIssue = z.looseObject({
  id: z.union([z.string(), z.number()]),
  title: z.string().nullish(),
  culprit: z.string().nullish(),
  level: z.string().nullish(),
  platform: z.string().nullish(),
  web_url: z.string().nullish(),
  permalink: z.string().nullish(),
  shortId: z.string().nullish(),
  metadata: metadata.nullish(),
  project: z.looseObject({ id: z.union([z.string(), z.number()]).nullish(), slug: z.string().nullish() }).nullish(),
});

const schemas = {
  error: z.looseObject({ action: z.string(), data: z.looseObject({ error: sentryEvent }) }),
  event_alert: z.looseObject({
    action: z.string(),
    data: z.looseObject({ event: sentryEvent, triggered_rule: z.string().nullish() }),
  }),
  issue: z.looseObject({ action: z.string(), data: z.looseObject({ issue: sentryIssue }) }),
  metric_alert: z.looseObject({
    action: z.string(),
    data: z.looseObject({
      description_text: z.string().nullish(),
      description_title: z.string().nullish(),
      web_url: z.string().nullish(),
      metric_alert: z.looseObject({
        id: z.union([z.string(), z.number()]),
        identifier: z.union([z.string(), z.number()]).nullish(),
        title: z.string().nullish(),
        projects: z.array(z.string()).nullish(),
        alert_rule: z.looseObject({ name: z.string().nullish(), projects: z.array(z.string()).nullish() }).nullish(),
      }),
    }),
  }),
} satisfies Record<SentryResource, z.ZodType>;

/** What one delivery says: errors to route, or why there is nothing to do. */
export type SentryDelivery = { errors: AppError[] } | { errors: []; ignored: string };

function parsed<T>(schema: z.ZodType<T>, body: unknown, resource: string): T {
  const result = schema.safeParse(body);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new AppErrorPayloadError(
    `not a Sentry "${resource}" webhook: ${issue.path.map(String).join('.') || 'body'}: ${issue.message}`,
  );
}

/** The frame where it happened: the innermost in-app frame, else the innermost frame (Sentry lists oldest first). */
function culpritFrame(event: z.infer<typeof sentryEvent>) {
  const values = event.exception?.values ?? [];
  const frames = values.at(-1)?.stacktrace?.frames ?? [];
  return [...frames].reverse().find((f) => f.in_app) ?? frames.at(-1);
}

const withoutNull = (labels: Record<string, string | null | undefined>) =>
  Object.fromEntries(
    Object.entries(labels).filter((e): e is [string, string] => typeof e[1] === 'string' && e[1] !== ''),
  );

function fromEvent(event: z.infer<typeof sentryEvent>, rule?: string | null): AppError {
  const exception = event.exception?.values?.at(-1);
  const frame = culpritFrame(event);
  const type = exception?.type ?? event.metadata?.type ?? undefined;
  const message = exception?.value ?? event.metadata?.value ?? event.message ?? event.title ?? '';
  const tags = Object.fromEntries(event.tags ?? []);
  return {
    source: 'sentry',
    id: event.event_id,
    fingerprint:
      event.issue_id != null
        ? `sentry-issue:${event.issue_id}`
        : textFingerprint(type, message, event.culprit ?? undefined),
    service: tags.service,
    project: event.project != null ? String(event.project) : undefined,
    title: event.title ?? (type ? `${type}: ${message}` : message),
    type,
    message,
    platform: event.platform ?? undefined,
    file: frame?.filename ?? frame?.abs_path ?? event.metadata?.filename ?? undefined,
    line: frame?.lineno ?? undefined,
    culprit: event.culprit ?? undefined,
    traceId: event.contexts?.trace?.trace_id ?? undefined,
    link: event.web_url ?? undefined,
    labels: withoutNull({ ...tags, level: event.level, rule: rule ?? undefined }),
  };
}

/**
 * Turns one Sentry integration-platform delivery into application errors. `error` and
 * `event_alert` carry an event (exception, frames, trace); `issue` carries the issue (created
 * or unresolved opens one); `metric_alert` carries a threshold crossing (critical or warning).
 */
export function parseSentry(resource: string, body: unknown): SentryDelivery {
  switch (resource) {
    case 'error': {
      const delivery = parsed(schemas.error, body, resource);
      return { errors: [fromEvent(delivery.data.error)] };
    }
    case 'event_alert': {
      const delivery = parsed(schemas.event_alert, body, resource);
      return { errors: [fromEvent(delivery.data.event, delivery.data.triggered_rule)] };
    }
    case 'issue': {
      const delivery = parsed(schemas.issue, body, resource);
      if (delivery.action !== 'created' && delivery.action !== 'unresolved')
        return { errors: [], ignored: `issue ${delivery.action}: nothing to route` };
      const issue = delivery.data.issue;
      const type = issue.metadata?.type ?? undefined;
      const message = issue.metadata?.value ?? issue.title ?? '';
      return {
        errors: [
          {
            source: 'sentry',
            id: `issue:${issue.id}:${delivery.action}`,
            fingerprint: `sentry-issue:${issue.id}`,
            project: issue.project?.slug ?? (issue.project?.id != null ? String(issue.project.id) : undefined),
            title: issue.title ?? message,
            type,
            message,
            platform: issue.platform ?? undefined,
            file: issue.metadata?.filename ?? undefined,
            culprit: issue.culprit ?? undefined,
            link: issue.web_url ?? issue.permalink ?? undefined,
            labels: withoutNull({ level: issue.level, issue: issue.shortId }),
          },
        ],
      };
    }
    case 'metric_alert': {
      const delivery = parsed(schemas.metric_alert, body, resource);
      if (delivery.action === 'resolved') return { errors: [], ignored: 'metric alert resolved' };
      const { metric_alert: alert, description_text: text, description_title: title, web_url: link } = delivery.data;
      const projects = alert.projects ?? alert.alert_rule?.projects ?? [];
      return {
        errors: [
          {
            source: 'sentry',
            id: `metric:${alert.id}:${delivery.action}`,
            fingerprint: `sentry-metric:${alert.alert_rule?.name ?? alert.id}`,
            project: projects[0],
            title: title ?? alert.title ?? 'Sentry metric alert',
            message: text ?? title ?? '',
            link: link ?? undefined,
            labels: withoutNull({ rule: alert.alert_rule?.name, severity: delivery.action }),
          },
        ],
      };
    }
    default:
      return { errors: [], ignored: `resource "${resource}" is not routed` };
  }
}
