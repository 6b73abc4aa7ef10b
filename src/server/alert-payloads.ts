import { createHash } from 'node:crypto';
import { z } from 'zod';

/** One alert, whatever door it came through, before it is mapped to a service. */
export interface IncomingAlert {
  /** Stable identity of the alert (Alertmanager's fingerprint); with `startsAt` it names one firing. */
  fingerprint: string;
  status: 'firing' | 'resolved';
  startsAt: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  summary: string;
  /** Set by the generic webhook, which names the service directly. */
  service?: string;
  severity?: string;
  /** True when the sender gave no identity: every delivery is a new alert and none is deduplicated. */
  anonymous?: boolean;
  /** Back to the rule's graph (Prometheus, Grafana). */
  generatorURL?: string;
  /** The sender, when it is one whose alerts can be silenced or linked back to. */
  source?: AlertSource;
}

export type AlertSource = 'alertmanager' | 'grafana';

/**
 * Label and annotation values: strings, or numbers and booleans written as strings. Anything
 * else (an object nested 10,000 deep, an array) is refused with the label's name, never turned
 * into a string, which would recurse.
 */
const labelValue = z.union([z.string(), z.number(), z.boolean()], { error: 'must be a string' }).transform(String);
const stringRecord = z.record(z.string(), labelValue);

const amAlert = z.object({
  status: z.enum(['firing', 'resolved']),
  labels: stringRecord.default({}),
  annotations: stringRecord.default({}),
  startsAt: z.string().default(''),
  endsAt: z.string().optional(),
  fingerprint: z.string().optional(),
  generatorURL: z.string().optional(),
});

/** Alertmanager's webhook payload, version 4. */
const alertmanagerSchema = z.object({
  version: z.string().optional(),
  status: z.string().optional(),
  alerts: z.array(amAlert),
  groupLabels: stringRecord.optional(),
  commonLabels: stringRecord.optional(),
});

/** Grafana's legacy (pre-unified) alert notification: one rule, tags as labels. */
const grafanaLegacySchema = z.object({
  ruleName: z.string().optional(),
  ruleId: z.union([z.number(), z.string()]).optional(),
  title: z.string().optional(),
  message: z.string().optional(),
  state: z.string(),
  tags: stringRecord.default({}),
});

const genericSchema = z.strictObject({
  service: z.string().min(1, 'names the service to heal'),
  summary: z.string().default(''),
  severity: z.string().optional(),
  status: z.enum(['firing', 'resolved']).default('firing'),
  /** The sender's id for this alert, so a redelivery is recognised. */
  id: z.string().min(1).optional(),
  startsAt: z.string().optional(),
  labels: stringRecord.default({}),
});

/** A payload that does not have the expected shape; the message names the first bad field. */
export class PayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PayloadError';
  }
}

function firstIssue(error: z.ZodError): string {
  const issue = error.issues[0];
  const path = issue.path.map(String).join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** A stable fingerprint from sorted labels, for senders that do not send one. */
export function labelFingerprint(labels: Record<string, string>): string {
  const sorted = Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join('\u0000');
  return createHash('sha256').update(sorted).digest('hex').slice(0, 16);
}

const summaryOf = (labels: Record<string, string>, annotations: Record<string, string>) =>
  annotations.summary ?? annotations.description ?? annotations.message ?? labels.alertname ?? 'alert';

function fromAlertmanagerShape(alerts: z.infer<typeof amAlert>[], source: AlertSource): IncomingAlert[] {
  return alerts.map((a) => ({
    fingerprint: a.fingerprint || labelFingerprint(a.labels),
    status: a.status,
    startsAt: a.startsAt,
    labels: a.labels,
    annotations: a.annotations,
    summary: summaryOf(a.labels, a.annotations),
    severity: a.labels.severity,
    generatorURL: a.generatorURL || undefined,
    source,
  }));
}

/** Alertmanager webhook (version 4) → alerts. */
export function parseAlertmanager(body: unknown): IncomingAlert[] {
  const parsed = alertmanagerSchema.safeParse(body);
  if (!parsed.success)
    throw new PayloadError(`not an Alertmanager webhook payload (version 4): ${firstIssue(parsed.error)}`);
  return fromAlertmanagerShape(parsed.data.alerts, 'alertmanager');
}

/** Grafana alerting webhook → alerts. Unified alerting has Alertmanager's `alerts` array; legacy alerting has one rule and `state`. */
export function parseGrafana(body: unknown): IncomingAlert[] {
  if (body && typeof body === 'object' && 'alerts' in body) {
    const parsed = alertmanagerSchema.safeParse(body);
    if (!parsed.success) throw new PayloadError(`not a Grafana alerting webhook payload: ${firstIssue(parsed.error)}`);
    return fromAlertmanagerShape(parsed.data.alerts, 'grafana');
  }
  const legacy = grafanaLegacySchema.safeParse(body);
  if (!legacy.success) throw new PayloadError(`not a Grafana alerting webhook payload: ${firstIssue(legacy.error)}`);
  const { ruleName, ruleId, title, message, state, tags } = legacy.data;
  if (state !== 'alerting' && state !== 'ok') return [];
  const labels = { alertname: ruleName ?? title ?? 'grafana', ...tags };
  return [
    {
      fingerprint: `grafana:${ruleId ?? labelFingerprint(labels)}`,
      status: state === 'ok' ? 'resolved' : 'firing',
      // Legacy notifications carry no start time: one firing per rule until it resolves.
      startsAt: '',
      labels,
      annotations: message ? { message } : {},
      summary: message ?? title ?? labels.alertname,
    },
  ];
}

/** `{ service, summary, severity }` → one alert naming its service. */
export function parseGeneric(body: unknown): IncomingAlert[] {
  const parsed = genericSchema.safeParse(body);
  if (!parsed.success) throw new PayloadError(`expected { service, summary, severity }: ${firstIssue(parsed.error)}`);
  const g = parsed.data;
  const labels = { ...g.labels, ...(g.severity ? { severity: g.severity } : {}) };
  return [
    {
      fingerprint: g.id ? `generic:${g.id}` : `generic:${labelFingerprint({ service: g.service, summary: g.summary })}`,
      status: g.status,
      startsAt: g.startsAt ?? '',
      labels,
      annotations: g.summary ? { summary: g.summary } : {},
      summary: g.summary || `alert for ${g.service}`,
      service: g.service,
      severity: g.severity,
      // Without an id a redelivery cannot be told from a new alert.
      ...(g.id ? {} : { anonymous: true }),
    },
  ];
}
