import type { AlertContext } from '../engine/types.js';
import type { IncomingAlert } from './alert-payloads.js';

/** Only web links become buttons: a `javascript:` or `file:` URL in an annotation never does. */
export function webLink(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'https:' || parsed.protocol === 'http:' ? parsed.href : undefined;
  } catch {
    return undefined;
  }
}

/** The human part of an alert: summary and description annotations, the runbook and graph links, the labels. */
export function alertContext(alert: IncomingAlert, silences = false): AlertContext {
  const links = [
    { label: 'Runbook', url: webLink(alert.annotations.runbook_url) },
    { label: alert.source === 'grafana' ? 'Open in Grafana' : 'Graph', url: webLink(alert.generatorURL) },
    { label: 'Dashboard', url: webLink(alert.annotations.dashboard_url) },
  ].filter((l): l is { label: string; url: string } => l.url !== undefined);
  return {
    summary: alert.annotations.summary,
    description: alert.annotations.description,
    links,
    labels: alert.labels,
    source: alert.source,
    ...(silences && alert.source === 'alertmanager' ? { silenceable: true } : {}),
  };
}
