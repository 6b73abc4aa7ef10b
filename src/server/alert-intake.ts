import type { Config } from '../config/schema.js';
import { own } from '../config/own.js';
import type { Engine, EngineLogger } from '../engine/engine.js';
import type { IncidentSource } from '../engine/types.js';
import type { Store } from '../store/store.js';
import { alertContext } from './alert-context.js';
import type { IncomingAlert } from './alert-payloads.js';

/** What became of one alert. */
export interface AlertOutcome {
  fingerprint: string;
  status: IncomingAlert['status'];
  service?: string;
  /**
   * opened: a new incident; joined: counted on the running one; grouped: counted on one that
   * closed within `monitor.groupWindow`; duplicate: this exact alert was seen before;
   * resolved: the alert's incident was told; unmatched: no configured service; ignored: nothing to do.
   */
  result: 'opened' | 'joined' | 'grouped' | 'duplicate' | 'resolved' | 'unmatched' | 'ignored';
  incidentId?: string;
  reason?: string;
}

export type IntakeEngine = Pick<Engine, 'heal' | 'openIncidents' | 'note' | 'decide'>;

export interface AlertIntakeOptions {
  engine: IntakeEngine;
  store: Store;
  config: Config;
  logger?: EngineLogger;
  now?: () => number;
  onOutcome?: (outcome: AlertOutcome, source: string) => void;
}

const TRUTHY = /^(true|yes|1|on)$/i;

/** The actor that withdraws a pending approval when the alert behind it resolves. */
const RESOLVED_ALERT = { platform: 'healbot' as const, id: 'alert-resolved', display: 'the resolved alert' };

/**
 * Turns alerts into incidents: maps each to a configured service, deduplicates redeliveries,
 * groups a storm into one incident per service and tells an incident when its alert resolves.
 * Synchronous up to the engine call, so concurrent deliveries cannot open two incidents.
 */
export class AlertIntake {
  /** Fingerprints still firing, per incident, so the first resolved alert of many does not close it. */
  private readonly firing = new Map<string, Set<string>>();
  private readonly now: () => number;

  constructor(private readonly options: AlertIntakeOptions) {
    this.now = options.now ?? Date.now;
  }

  /** The configured service an alert is about: label matchers first, then `alerting.serviceLabels`. */
  serviceFor(alert: IncomingAlert): string | undefined {
    const { services, alerting } = this.options.config;
    if (alert.service !== undefined) return Object.hasOwn(services, alert.service) ? alert.service : undefined;
    for (const [name, service] of Object.entries(services)) {
      for (const matcher of service.alerts) {
        const wanted = Object.entries(matcher.labels);
        if (wanted.length > 0 && wanted.every(([k, v]) => alert.labels[k] === v)) return name;
      }
    }
    for (const label of alerting.serviceLabels) {
      const value = alert.labels[label];
      if (value !== undefined && Object.hasOwn(services, value)) return value;
    }
    return undefined;
  }

  isSecurity(alert: IncomingAlert): boolean {
    return TRUTHY.test(alert.labels[this.options.config.alerting.securityLabel] ?? '');
  }

  /** Handles a delivery's alerts in one store transaction: one commit per delivery, not several per alert. */
  accept(alerts: IncomingAlert[], source: IncidentSource = 'webhook'): AlertOutcome[] {
    const { store } = this.options;
    return store.transaction
      ? store.transaction(() => this.acceptEach(alerts, source))
      : this.acceptEach(alerts, source);
  }

  private acceptEach(alerts: IncomingAlert[], source: IncidentSource): AlertOutcome[] {
    return alerts.map((alert) => {
      let outcome: AlertOutcome;
      try {
        outcome = alert.status === 'resolved' ? this.resolve(alert) : this.fire(alert, source);
      } catch (error) {
        this.options.logger?.error({ err: error, fingerprint: alert.fingerprint }, 'alert could not be handled');
        outcome = {
          fingerprint: alert.fingerprint,
          status: alert.status,
          result: 'ignored',
          reason: (error as Error).message,
        };
      }
      this.options.onOutcome?.(outcome, source);
      return outcome;
    });
  }

  private key(alert: IncomingAlert): string | undefined {
    return alert.anonymous ? undefined : `alert:${alert.fingerprint}:${alert.startsAt}`;
  }

  private track(incidentId: string, alert: IncomingAlert): void {
    let set = this.firing.get(incidentId);
    if (!set) this.firing.set(incidentId, (set = new Set()));
    set.add(alert.fingerprint);
  }

  private fire(alert: IncomingAlert, source: IncidentSource): AlertOutcome {
    const { engine, store, config } = this.options;
    const base = { fingerprint: alert.fingerprint, status: alert.status } as const;
    const service = this.serviceFor(alert);
    if (!service)
      return {
        ...base,
        result: 'unmatched',
        reason: alert.service ? `unknown service "${alert.service}"` : 'no configured service matches its labels',
      };
    const key = this.key(alert);
    if (key) {
      const prior = store.eventIncident(key);
      if (prior !== undefined) return { ...base, service, result: 'duplicate', incidentId: prior };
    }
    const running = own(engine.openIncidents(), service);
    if (!running) {
      // A storm outlives its incident: alerts shortly after it closed (or while it waits, across a restart) are counted on it.
      const last = store.listIncidents({ service, limit: 1 })[0];
      const waiting = last?.status === 'open' && store.pendingApprovals().some((a) => a.incidentId === last.id);
      const recent =
        last &&
        (waiting ||
          (last.status === 'closed' && Date.parse(last.closedAt ?? '') >= this.now() - config.monitor.groupWindow));
      if (last && recent) {
        if (key && !store.claimEvent(key, last.id))
          return { ...base, service, result: 'duplicate', incidentId: store.eventIncident(key) };
        store.incrementAlertCount(last.id);
        this.track(last.id, alert);
        return { ...base, service, result: 'grouped', incidentId: last.id };
      }
    }
    const report = engine.heal({
      service,
      source,
      summary: alert.summary,
      dedupeKey: key,
      security: this.isSecurity(alert),
      labels: alert.labels,
      context: alertContext(alert, Boolean(config.alertmanager)),
    });
    report.catch((error: unknown) => this.options.logger?.error({ err: error, service }, 'heal from an alert failed'));
    const incidentId = own(engine.openIncidents(), service) ?? (key ? store.eventIncident(key) : undefined);
    if (incidentId) this.track(incidentId, alert);
    return { ...base, service, result: running ? 'joined' : 'opened', incidentId };
  }

  private resolve(alert: IncomingAlert): AlertOutcome {
    const { engine, store } = this.options;
    const base = { fingerprint: alert.fingerprint, status: alert.status } as const;
    const service = this.serviceFor(alert);
    const key = this.key(alert);
    const incidentId = key
      ? store.eventIncident(key)
      : service
        ? (own(engine.openIncidents(), service) ?? store.openIncidentFor(service)?.id)
        : undefined;
    if (!incidentId) return { ...base, service, result: 'ignored', reason: 'no incident was opened for this alert' };
    if (key && !store.claimEvent(`resolved:${alert.fingerprint}:${alert.startsAt}`, incidentId))
      return { ...base, service, result: 'duplicate', incidentId };
    const record = store.getIncident(incidentId);
    if (!record) return { ...base, service, result: 'ignored', reason: 'the incident is gone' };
    const stillFiring = this.firing.get(incidentId);
    stillFiring?.delete(alert.fingerprint);
    const at = new Date(this.now()).toISOString();
    if (record.status === 'closed') {
      engine.note(incidentId, `The alert resolved at ${at}: ${alert.summary}`, { fingerprint: alert.fingerprint });
      return { ...base, service: record.service, result: 'resolved', incidentId };
    }
    if (stillFiring && stillFiring.size > 0) {
      engine.note(incidentId, `One alert resolved (${alert.summary}); ${stillFiring.size} still firing`, {
        fingerprint: alert.fingerprint,
      });
      return { ...base, service: record.service, result: 'resolved', incidentId };
    }
    this.firing.delete(incidentId);
    const acted = (record.actions?.length ?? 0) > 0;
    const pending = store.pendingApprovals().filter((a) => a.incidentId === incidentId);
    if (!acted && pending.length > 0) {
      // healbot has not changed anything yet: the alert going away withdraws its request.
      engine.note(
        incidentId,
        `The alert resolved by itself at ${at} before anyone approved; withdrawing the request, nothing was changed.`,
        { fingerprint: alert.fingerprint },
      );
      // The engine closes the incident, also when no run waits for the approval (after a restart).
      for (const approval of pending) void engine.decide(approval.id, RESOLVED_ALERT, 'deny');
      return { ...base, service: record.service, result: 'resolved', incidentId };
    }
    engine.note(incidentId, `The alert resolved at ${at} while healbot was working on it.`, {
      fingerprint: alert.fingerprint,
    });
    return { ...base, service: record.service, result: 'resolved', incidentId };
  }
}
