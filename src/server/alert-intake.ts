import type { HealbotApi } from '../engine/api.js';
import type { IntakeResult, Signal } from '../engine/intake.js';
import type { IncidentSource } from '../engine/types.js';
import { alertContext } from './alert-context.js';
import type { IncomingAlert } from './alert-payloads.js';

/** What became of one alert (see IntakeResult). */
export interface AlertOutcome {
  fingerprint: string;
  status: IncomingAlert['status'];
  service?: string;
  result: IntakeResult;
  incidentId?: string;
  reason?: string;
}

/** The alert as a signal: the engine's intake decides what it does. */
export function alertSignal(alert: IncomingAlert, source: IncidentSource, silences = false): Signal {
  // An anonymous alert has no identity to deduplicate or resolve by: every delivery is new.
  const key = alert.anonymous ? undefined : `alert:${alert.fingerprint}:${alert.startsAt}`;
  return {
    source,
    service: alert.service,
    key,
    labels: alert.labels,
    text: alert.summary,
    at: alert.startsAt || undefined,
    status: alert.status,
    fingerprint: alert.anonymous ? undefined : alert.fingerprint,
    context: alertContext(alert, silences),
  };
}

/**
 * Hands a webhook delivery's alerts to the engine's intake as signals, in one store
 * transaction, and reports what became of each.
 */
export async function acceptAlerts(
  api: Pick<HealbotApi, 'accept'>,
  alerts: readonly IncomingAlert[],
  source: IncidentSource = 'webhook',
  options: { silences?: boolean } = {},
): Promise<AlertOutcome[]> {
  const decisions = await api.accept(alerts.map((alert) => alertSignal(alert, source, options.silences)));
  // An incident's report never rejects (a failure ends it as 'failed'): nothing to catch here.
  return decisions.map((decision, i) => {
    return {
      fingerprint: alerts[i].fingerprint,
      status: alerts[i].status,
      service: decision.service,
      result: decision.result,
      ...(decision.incidentId ? { incidentId: decision.incidentId } : {}),
      ...(decision.reason ? { reason: decision.reason } : {}),
    };
  });
}
