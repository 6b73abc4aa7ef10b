import type { Config } from '../config/schema.js';
import type { Store } from './ports/store.js';
import type { Actor, IncidentRecord } from './api.js';
import type { ApprovalRequest, HealReport, Incident, IncidentSource } from './types.js';

/**
 * One thing that happened, from any door: a webhook alert, an alert message in a chat channel,
 * a monitoring round, a Docker event, `/heal`, `POST /api/heal`, a resolved alert. Doors only
 * build signals; the intake alone decides what they do to incidents.
 */
export interface Signal {
  source: IncidentSource;
  /** The configured service; when absent, `labels` name it (label matchers, then `alerting.serviceLabels`). */
  service?: string;
  /** The event's identity (an alert's fingerprint and start, a chat message, a Docker event): never counted twice. */
  key?: string;
  labels?: Record<string, string>;
  /** What the signal says, e.g. an alert's summary. */
  text?: string;
  /** When it happened (ISO time). */
  at?: string;
  /** Where it was said, so the conversation threads there. */
  origin?: Incident['origin'];
  /** `resolved`: the failure it reported is over (a resolved alert, a healthy monitoring round). @defaultValue 'firing' */
  status?: 'firing' | 'resolved';
  /** One alert among many on an incident, so the first of many to resolve does not close it. */
  fingerprint?: string;
  requestedBy?: Actor;
  /** Diagnose and plan only: a dry run never joins, and is never joined by, a real incident. */
  dryRun?: boolean;
  /** Diagnose and report, never act automatically (also set by the `alerting.securityLabel` label). */
  security?: boolean;
  /** Report only: a person stopped the workload on purpose (this says how); healbot acts on nothing. */
  leaveAlone?: string;
  /** When the failure was first seen (epoch ms); time to heal counts from it. */
  failingSince?: number;
  /** What the alert behind it says (summary, description, links), shown at the top of its thread. */
  context?: Incident['context'];
}

/**
 * What the intake did with a signal. opened: a new incident; joined: counted on the open one;
 * grouped: counted on one that closed within `monitor.groupWindow` while the failure went on;
 * duplicate: this exact event was seen before; resolved: the incident was told its failure ended;
 * unmatched: no configured service; ignored: nothing to do.
 */
export type IntakeResult = 'opened' | 'joined' | 'grouped' | 'duplicate' | 'resolved' | 'unmatched' | 'ignored';

/** Where an incident stands, for a reply that joins it. */
export interface IncidentView {
  id: string;
  service: string;
  status: 'open' | 'closed';
  /** What it is doing, in words: "diagnosing", "waiting for approval to start api", "verifying", "escalated: …". */
  state: string;
  /** The approval it waits for, if any. */
  approval?: ApprovalRequest;
}

export interface IntakeDecision {
  result: IntakeResult;
  service?: string;
  incidentId?: string;
  reason?: string;
  /** For resolved: what the resolution did to the incident. */
  resolution?: 'noted' | 'withdrawn' | 'closed';
  /** True when a person's request re-runs the pipeline on an idle open (escalated) incident. */
  rerun?: boolean;
  incident?: IncidentView;
  /** The incident's report once it ends (already settled for a join of an idle incident). */
  report?: Promise<HealReport>;
}

/** What the intake needs from the engine that owns it. */
export interface IntakeHost {
  config: Config;
  store: Store;
  now(): number;
  newId(): string;
  /** The running pipeline of a service, if one runs. */
  running(service: string): { incidentId: string; promise: Promise<HealReport> } | undefined;
  /** Saves and starts a new incident. */
  open(
    incident: Incident,
    options: { security: boolean; leaveAlone?: string; labels?: Record<string, string> },
  ): Promise<HealReport>;
  /** Runs the pipeline again on an idle open incident (a person asked again after it escalated). */
  rerun(record: IncidentRecord, signal: Signal): Promise<HealReport>;
  /** A report that answers without running anything (a duplicate or a join of an idle incident). */
  reportOf(incidentId: string | undefined, service: string, joined: boolean): HealReport;
  note(incidentId: string, message: string, detail?: Record<string, unknown>): void;
  /** Withdraws a pending approval: the failure ended before anyone decided. */
  withdraw(approvalId: string): void;
  /** Closes an idle open incident whose service is healthy again. */
  closeRecovered(record: IncidentRecord, why: string): void;
  view(record: IncidentRecord): IncidentView;
}

const TRUTHY = /^(true|yes|1|on)$/i;
/** People asking again re-run an escalated incident; machines only add to its count. */
const PEOPLE: ReadonlySet<IncidentSource> = new Set(['chat', 'api', 'cli']);
/** Least time between two "still failing" notes in an incident's thread. */
export const JOIN_NOTE_INTERVAL_MS = 5 * 60_000;

/** State that lives for one batch (one webhook delivery): one alert-count write per incident, one lookup per service. */
interface Batch {
  counts: Map<string, number>;
  open: Map<string, IncidentRecord | undefined>;
  waiting?: Set<string>;
}

/**
 * The one place that decides what a signal does: open an incident, join the open one, group
 * it onto one that just closed, drop a duplicate, note a resolution, withdraw an approval or
 * close an escalated incident. Decisions read and write the store, so they survive restarts.
 * Every decision runs synchronously from reading the store to writing it, which serialises
 * signals per service (Node runs one at a time): two doors never open two incidents.
 */
export class Intake {
  /** When each service was last seen healthy (monitoring, or its last alert resolving). */
  private readonly healthyAt = new Map<string, number>();
  /** Joins not yet told in the incident's thread, and when it was last told. */
  private readonly joinNotes = new Map<string, { lastAt: number; pending: number; latest?: string }>();
  private batch?: Batch;

  constructor(private readonly host: IntakeHost) {}

  /** The configured service a signal is about. */
  serviceFor(signal: Pick<Signal, 'service' | 'labels'>): string | undefined {
    const { services, alerting } = this.host.config;
    if (signal.service !== undefined) return Object.hasOwn(services, signal.service) ? signal.service : undefined;
    const labels = signal.labels ?? {};
    for (const [name, service] of Object.entries(services)) {
      for (const matcher of service.alerts) {
        const wanted = Object.entries(matcher.labels);
        if (wanted.length > 0 && wanted.every(([k, v]) => Object.hasOwn(labels, k) && labels[k] === v)) return name;
      }
    }
    for (const label of alerting.serviceLabels) {
      const value = Object.hasOwn(labels, label) ? labels[label] : undefined;
      if (value !== undefined && Object.hasOwn(services, value)) return value;
    }
    return undefined;
  }

  private isSecurity(signal: Signal): boolean {
    const label = this.host.config.alerting.securityLabel;
    return TRUTHY.test(signal.labels && Object.hasOwn(signal.labels, label) ? signal.labels[label] : '');
  }

  /** Decides many signals (a webhook delivery) in one store transaction: one commit, one count write per incident. */
  acceptAll(signals: readonly Signal[], onError?: (error: unknown, signal: Signal) => void): IntakeDecision[] {
    const { store } = this.host;
    const work = () => {
      this.batch = { counts: new Map(), open: new Map() };
      try {
        const decisions = signals.map((signal) => {
          try {
            return this.decide(signal);
          } catch (error) {
            onError?.(error, signal);
            return { result: 'ignored', reason: (error as Error).message } satisfies IntakeDecision;
          }
        });
        for (const [id, by] of this.batch.counts) store.incrementAlertCount(id, by);
        return decisions;
      } finally {
        this.batch = undefined;
      }
    };
    return store.transaction ? store.transaction(work) : work();
  }

  /** Decides one signal. */
  accept(signal: Signal): IntakeDecision {
    return this.acceptAll([signal], (error) => {
      throw error;
    })[0];
  }

  private count(incidentId: string, signal: Signal): void {
    // Monitoring rounds and people asking again are not alerts: they join without inflating the count.
    if (signal.source === 'monitor' || PEOPLE.has(signal.source)) return;
    if (this.batch) this.batch.counts.set(incidentId, (this.batch.counts.get(incidentId) ?? 0) + 1);
    else this.host.store.incrementAlertCount(incidentId, 1);
  }

  /** Claims the signal's key for `incidentId`; false when another delivery claimed it first. */
  private claim(signal: Signal, incidentId: string): boolean {
    if (signal.key && !this.host.store.claimEvent(signal.key, incidentId)) return false;
    if (signal.fingerprint) this.host.store.trackFiring(incidentId, signal.fingerprint);
    return true;
  }

  /** The service's open incident (not a dry run), looked up once per batch. */
  private openRecord(service: string): IncidentRecord | undefined {
    const batch = this.batch;
    if (batch?.open.has(service)) return batch.open.get(service);
    const id = this.host.store.openIncidentId(service);
    const record = id !== undefined ? this.host.store.getIncident(id) : undefined;
    batch?.open.set(service, record);
    return record;
  }

  private isWaiting(incidentId: string): boolean {
    const batch = this.batch;
    const waiting = batch?.waiting ?? new Set(this.host.store.pendingApprovals().map((a) => a.incidentId));
    if (batch) batch.waiting = waiting;
    return waiting.has(incidentId);
  }

  /** Forgets what the batch knows about a service once a decision changed it. */
  private changed(service: string): void {
    this.batch?.open.delete(service);
    if (this.batch) this.batch.waiting = undefined;
  }

  private decide(signal: Signal): IntakeDecision {
    const service = this.serviceFor(signal);
    if (!service)
      return {
        result: 'unmatched',
        reason:
          signal.service !== undefined
            ? `unknown service "${signal.service}"`
            : 'no configured service matches its labels',
      };
    return signal.status === 'resolved' ? this.resolve(service, signal) : this.fire(service, signal);
  }

  private fire(service: string, signal: Signal): IntakeDecision {
    const { store, config } = this.host;
    if (signal.dryRun) return this.open(service, signal);
    if (signal.key) {
      const prior = store.eventIncident(signal.key);
      if (prior !== undefined) {
        const running = this.host.running(service);
        return {
          result: 'duplicate',
          service,
          incidentId: prior,
          report:
            running?.incidentId === prior
              ? running.promise
              : Promise.resolve(this.host.reportOf(prior, service, false)),
        };
      }
    }
    const running = this.host.running(service);
    if (running) {
      this.claim(signal, running.incidentId);
      this.count(running.incidentId, signal);
      const host = this.host;
      return {
        result: 'joined',
        service,
        incidentId: running.incidentId,
        // Only a reply to a person needs the view: an alert storm does not pay for it.
        get incident() {
          const record = store.getIncident(running.incidentId);
          return record && host.view(record);
        },
        report: running.promise,
      };
    }
    const open = this.openRecord(service);
    if (open) return this.joinIdle(open, signal);
    // A CI pipeline's failing runs are each their own attempt: never grouped onto the last one.
    if (!PEOPLE.has(signal.source) && config.services[service]?.github === undefined) {
      // A storm outlives its incident: signals shortly after it closed, while the service never looked healthy, are counted on it.
      const last = store.listIncidents({ service, limit: 1 })[0];
      const closedAt = last?.closedAt ? Date.parse(last.closedAt) : Number.NaN;
      if (
        last &&
        !last.dryRun &&
        // After an attempt that failed, the next signal is the next attempt (the breaker bounds how many).
        last.outcome !== 'failed' &&
        closedAt >= this.host.now() - config.monitor.groupWindow &&
        !((this.healthyAt.get(service) ?? Number.NEGATIVE_INFINITY) >= closedAt)
      ) {
        if (!this.claim(signal, last.id))
          return { result: 'duplicate', service, incidentId: store.eventIncident(signal.key!) };
        this.count(last.id, signal);
        return { result: 'grouped', service, incidentId: last.id };
      }
    }
    return this.open(service, signal);
  }

  /** An open incident nothing is running for: it waits for approval, or it escalated and the failure goes on. */
  private joinIdle(record: IncidentRecord, signal: Signal): IntakeDecision {
    const { store } = this.host;
    if (!this.claim(signal, record.id))
      return { result: 'duplicate', service: record.service, incidentId: store.eventIncident(signal.key!) };
    this.count(record.id, signal);
    if (PEOPLE.has(signal.source) && !this.isWaiting(record.id)) {
      this.joinNotes.delete(record.id);
      const report = this.host.rerun(record, signal);
      this.changed(record.service);
      const again = store.getIncident(record.id) ?? record;
      return {
        result: 'joined',
        rerun: true,
        service: record.service,
        incidentId: record.id,
        incident: this.host.view(again),
        report,
      };
    }
    this.noteJoin(record, signal);
    const host = this.host;
    return {
      result: 'joined',
      service: record.service,
      incidentId: record.id,
      get incident() {
        return host.view(record);
      },
      get report() {
        return Promise.resolve(host.reportOf(record.id, record.service, true));
      },
    };
  }

  /** Tells the thread that the failure goes on, at most once per JOIN_NOTE_INTERVAL_MS. */
  private noteJoin(record: IncidentRecord, signal: Signal): void {
    const now = this.host.now();
    const notes = this.joinNotes.get(record.id) ?? { lastAt: Number.NEGATIVE_INFINITY, pending: 0 };
    notes.pending += 1;
    notes.latest = signal.text ?? notes.latest;
    this.joinNotes.set(record.id, notes);
    if (now - notes.lastAt < JOIN_NOTE_INTERVAL_MS) return;
    const what = notes.pending === 1 ? `another ${describeSource(signal.source)}` : `${notes.pending} more signals`;
    this.host.note(
      record.id,
      `Still failing: ${what}${notes.latest ? ` (${notes.latest})` : ''}. This incident stays open until ${record.service} is healthy again or someone runs /heal resolve ${record.id}.`,
      { source: signal.source },
    );
    notes.lastAt = now;
    notes.pending = 0;
    notes.latest = undefined;
  }

  private open(service: string, signal: Signal): IntakeDecision {
    const { store } = this.host;
    const id = this.host.newId();
    if (signal.key && !signal.dryRun && !store.claimEvent(signal.key, id))
      return { result: 'duplicate', service, incidentId: store.eventIncident(signal.key) };
    if (signal.fingerprint && !signal.dryRun) store.trackFiring(id, signal.fingerprint);
    const incident: Incident = {
      id,
      service,
      source: signal.source,
      requestedBy: signal.requestedBy
        ? (signal.requestedBy.display ?? `${signal.requestedBy.platform}:${signal.requestedBy.id}`)
        : undefined,
      summary: signal.text,
      openedAt: new Date(this.host.now()).toISOString(),
      origin: signal.origin,
      dryRun: signal.dryRun,
      failingSince: signal.failingSince !== undefined ? new Date(signal.failingSince).toISOString() : undefined,
      context: signal.context,
    };
    const report = this.host.open(incident, {
      security: signal.security === true || this.isSecurity(signal),
      leaveAlone: signal.leaveAlone,
      labels: signal.labels,
    });
    if (!signal.dryRun) this.changed(service);
    const record = store.getIncident(id);
    return { result: 'opened', service, incidentId: id, incident: record && this.host.view(record), report };
  }

  private resolve(service: string, signal: Signal): IntakeDecision {
    const { store } = this.host;
    const now = this.host.now();
    const running = this.host.running(service);
    const incidentId = signal.key
      ? store.eventIncident(signal.key)
      : (running?.incidentId ?? this.openRecord(service)?.id);
    if (!signal.fingerprint) this.healthyAt.set(service, now);
    if (!incidentId) return { result: 'ignored', service, reason: 'no incident was opened for this alert' };
    if (signal.key && !store.claimEvent(`resolved:${signal.key}`, incidentId))
      return { result: 'duplicate', service, incidentId };
    const record = store.getIncident(incidentId);
    if (!record) return { result: 'ignored', service, reason: 'the incident is gone' };
    const base = { result: 'resolved', service: record.service, incidentId } as const;
    const at = new Date(now).toISOString();
    const what = signal.text ? `: ${signal.text}` : '';
    if (signal.fingerprint) {
      const stillFiring = store.resolveFiring(incidentId, signal.fingerprint);
      if (record.status === 'open' && stillFiring > 0) {
        this.host.note(incidentId, `One alert resolved${what}; ${stillFiring} still firing.`, {
          fingerprint: signal.fingerprint,
        });
        return { ...base, resolution: 'noted' };
      }
      this.healthyAt.set(record.service, now);
    }
    const why = signal.source === 'monitor' ? 'monitoring' : 'the resolved alert';
    if (record.status === 'closed') {
      this.host.note(incidentId, `The alert resolved at ${at}${what}`, { fingerprint: signal.fingerprint });
      return { ...base, resolution: 'noted' };
    }
    const acted = (record.actions?.length ?? 0) > 0;
    const pending = store.pendingApprovals().filter((a) => a.incidentId === incidentId);
    if (!acted && pending.length > 0) {
      // healbot has not changed anything yet: the failure going away withdraws its request.
      this.host.note(
        incidentId,
        `${record.service} recovered by itself at ${at} (${why}) before anyone approved; withdrawing the request, nothing was changed.`,
        { fingerprint: signal.fingerprint },
      );
      for (const approval of pending) this.host.withdraw(approval.id);
      this.changed(record.service);
      return { ...base, resolution: 'withdrawn' };
    }
    if (running?.incidentId === incidentId) {
      // Monitoring sees the service between the steps of a heal; verification decides, not a round.
      if (signal.source !== 'monitor' && signal.source !== 'event')
        this.host.note(incidentId, `The alert resolved at ${at} while healbot was working on it.`, {
          fingerprint: signal.fingerprint,
        });
      return { ...base, resolution: 'noted' };
    }
    this.joinNotes.delete(incidentId);
    this.host.closeRecovered(
      record,
      signal.source === 'event'
        ? `${record.service}'s failure ended (${signal.text ?? 'a Docker event'}, ${at})`
        : `${record.service} is healthy again (${why}, ${at})`,
    );
    // Its failure ended when it closed: what fails after that is new, never grouped onto it.
    this.healthyAt.set(record.service, this.host.now());
    this.changed(record.service);
    return { ...base, resolution: 'closed' };
  }
}

function describeSource(source: IncidentSource): string {
  switch (source) {
    case 'monitor':
      return 'failing monitoring round';
    case 'event':
      return 'Docker event';
    default:
      return 'alert';
  }
}
