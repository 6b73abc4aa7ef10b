import type { HealbotApi } from '../src/engine/api.js';
import type { IntakeDecision } from '../src/engine/intake.js';
import { ConfigError } from '../src/errors.js';
import { threadLinker, type ChatSurface } from './chat.js';

/** A chat message as far as alert recognition cares; Slack attachments and Discord embeds both fit. */
export interface AlertMessage {
  text: string;
  author?: string;
  isBot?: boolean;
  /** Slack attachments or Discord embeds: Alertmanager's and Grafana's notifications put the alert here. */
  attachments?: AlertAttachment[];
  embeds?: AlertAttachment[];
}

export interface AlertAttachment {
  title?: string;
  text?: string;
  /** Discord calls it `description`. */
  description?: string;
  fallback?: string;
  pretext?: string;
  /** Slack fields have `title`, Discord fields have `name`. */
  fields?: { title?: string; name?: string; value: string }[];
}

/** A configured regex that maps a message to a service. */
export interface AlertMatcher {
  pattern: string;
  service: string;
}

export interface RecognizedAlert {
  service: string;
  /** The alert's headline, for the incident summary. */
  summary: string;
  /** False for "resolved"/"up" notifications: nothing to heal. */
  firing: boolean;
}

/** Label keys that name the affected service in Alertmanager/Grafana notifications. */
const SERVICE_LABELS = ['service', 'job', 'app', 'application', 'container', 'deployment', 'component'];

/**
 * Alerting tools' status tags. Alertmanager and Grafana: `[FIRING:2]`, `[RESOLVED]`; Grafana
 * legacy: `[Alerting]`, `[OK]`, `[No Data]`; Uptime Kuma: `[🔴 Down]`, `[✅ Up]`.
 */
const FIRING_TAG = /\[(?:FIRING(?::\d+)?(?:,[^\]\n]*)?|Alerting|No Data|(?:🔴\s*)?Down)\]/i;
const RESOLVED_TAG = /\[(?:RESOLVED|OK|(?:✅\s*)?Up)\]/i;
/** Uptime Kuma puts the monitor name first: `[api] [🔴 Down] connect ECONNREFUSED`. */
const KUMA_NAME = /^\s*\[([^\]\n]{1,80})\]\s*\[(?:🔴|✅|\s)*\s*(?:Down|Up)\]/i;
const LABEL_PAIR = /\b([A-Za-z_][A-Za-z0-9_]*)\s*(?:=|:)\s*["'`]?([A-Za-z0-9][A-Za-z0-9_.-]{0,62})/g;

/** Regexes run on at most this much text, so a slow pattern meets a bounded input. */
const MAX_MATCH_INPUT = 4000;

const compiledCache = new Map<string, RegExp>();

/**
 * Compiles configured matchers once, so a bad pattern is reported as a config problem
 * (`<path>[i].pattern`) instead of failing on the first message.
 */
export function compileMatchers(
  matchers: readonly AlertMatcher[],
  path = 'matchers',
): { regex: RegExp; service: string }[] {
  const problems: { path: string; message: string }[] = [];
  const compiled: { regex: RegExp; service: string }[] = [];
  matchers.forEach((matcher, index) => {
    const cached = compiledCache.get(matcher.pattern);
    if (cached) {
      compiled.push({ regex: cached, service: matcher.service });
      return;
    }
    try {
      const regex = new RegExp(matcher.pattern, 'i');
      compiledCache.set(matcher.pattern, regex);
      compiled.push({ regex, service: matcher.service });
    } catch (error) {
      problems.push({
        path: `${path}[${index}].pattern`,
        message: `is not a valid regular expression (${(error as Error).message})`,
      });
    }
  });
  if (problems.length > 0) throw new ConfigError(problems);
  return compiled;
}

/** Slack mrkdwn and Discord markdown noise that hides the plain alert text. */
function plain(text: string): string {
  return text
    .replace(/<([^|>\n]+)\|([^>\n]+)>/g, '$2')
    .replace(/<(https?:[^>\n]+)>/g, '$1')
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .replace(/(^|\s)[*_~]+(?=\S)/gm, '$1')
    .replace(/(?<=\S)[*_~]+(?=\s|$)/gm, '');
}

function collectText(message: AlertMessage): {
  headline: string;
  all: string;
  fields: { key: string; value: string }[];
} {
  const parts: string[] = [];
  const fields: { key: string; value: string }[] = [];
  let headline = '';
  const push = (value: string | undefined) => {
    if (!value) return;
    const text = plain(value);
    parts.push(text);
    if (!headline && text.trim()) headline = text.trim().split('\n')[0];
  };
  for (const attachment of [...(message.attachments ?? []), ...(message.embeds ?? [])]) {
    push(attachment.title);
    push(attachment.pretext);
    push(attachment.text);
    push(attachment.description);
    for (const field of attachment.fields ?? []) {
      const key = (field.title ?? field.name ?? '').trim();
      fields.push({ key, value: plain(field.value).trim() });
      parts.push(`${key}: ${plain(field.value)}`);
    }
    if (!attachment.title && !attachment.text && !attachment.description) push(attachment.fallback);
  }
  // The message text goes first when present: it is what a human sees as the headline.
  const text = plain(message.text ?? '');
  if (text.trim()) headline = text.trim().split('\n')[0];
  return { headline, all: [text, ...parts].join('\n').slice(0, MAX_MATCH_INPUT), fields };
}

function findService(candidate: string, services: readonly string[]): string | undefined {
  const trimmed = candidate.trim().replace(/[.-]+$/, '');
  if (services.includes(trimmed)) return trimmed;
  const lower = trimmed.toLowerCase();
  return services.find((s) => s.toLowerCase() === lower);
}

/**
 * Recognises an alert notification and maps it to a configured service: configured regex
 * matchers first, then Alertmanager's default Slack/Discord text (`[FIRING:1] ApiDown api`),
 * Grafana's (`[FIRING:1] … (service=api)`, `[Alerting] …`) and Uptime Kuma's (`[api] [🔴 Down] …`).
 * Returns undefined when the message is not an alert or names no configured service; a name
 * that is not in `services` is never returned. Throws ConfigError for an invalid matcher pattern.
 */
export function recognizeAlert(
  message: AlertMessage,
  matchers: readonly AlertMatcher[],
  services: readonly string[],
): RecognizedAlert | undefined {
  const { headline, all, fields } = collectText(message);
  if (!all.trim()) return undefined;
  const resolved = RESOLVED_TAG.test(all) && !FIRING_TAG.test(headline);
  const summary = headline.slice(0, 200);

  for (const { regex, service } of compileMatchers(matchers)) {
    if (regex.test(all) && services.includes(service)) return { service, summary, firing: !resolved };
  }

  const tagged = FIRING_TAG.test(all) || RESOLVED_TAG.test(all);
  if (!tagged) return undefined;
  const firing = !resolved;

  const kuma = KUMA_NAME.exec(all);
  if (kuma) {
    const service = findService(kuma[1], services);
    if (service) return { service, summary, firing };
  }

  for (const field of fields) {
    if (SERVICE_LABELS.includes(field.key.toLowerCase())) {
      const service = findService(field.value, services);
      if (service) return { service, summary, firing };
    }
  }
  for (const key of SERVICE_LABELS) {
    for (const match of all.matchAll(LABEL_PAIR)) {
      if (match[1].toLowerCase() !== key) continue;
      const service = findService(match[2], services);
      if (service) return { service, summary, firing };
    }
  }

  // Alertmanager's default title lists label values without keys: "[FIRING:1] ApiDown api (prod)".
  // Only a single, unambiguous service name in the headline counts; healbot does not guess.
  const words = (
    headline
      .replace(FIRING_TAG, ' ')
      .replace(RESOLVED_TAG, ' ')
      .match(/[A-Za-z0-9][A-Za-z0-9_.-]*/g) ?? []
  )
    .map((w) => findService(w, services))
    .filter((s): s is string => s !== undefined);
  const distinct = [...new Set(words)];
  if (distinct.length === 1) return { service: distinct[0], summary, firing };
  return undefined;
}

/**
 * Opens (or joins) the incident for a recognised alert message, anchored to that message so
 * the diagnosis lands in its thread. The message's identity is the dedupe key: a redelivery
 * never opens a second incident. An alert that joins an open incident gets one short reply
 * under it pointing to the incident's thread, so it does not look ignored.
 */
export async function healFromAlert(
  api: HealbotApi,
  alert: RecognizedAlert,
  origin: { platform: string; channel: string; message: string },
  surface?: ChatSurface,
): Promise<IntakeDecision> {
  const decision = await api.open({
    service: alert.service,
    source: 'alert',
    summary: alert.summary,
    origin,
    dedupeKey: `${origin.platform}:${origin.channel}:${origin.message}`,
  });
  decision.report?.catch(() => undefined);
  const view = decision.result === 'joined' && surface?.replyToMessage ? await decision.incident?.() : undefined;
  if (view && surface?.replyToMessage) {
    const link = await threadLinker(api, surface)(view.id);
    const where = link ? ` Follow it there: ${link}` : '';
    await surface.replyToMessage(origin.channel, origin.message, {
      text: `Already on it: this alert joined incident \`${view.id}\` for *${view.service}* (${view.state}).${where}`,
      tone: 'info',
    });
  }
  return decision;
}
