import type { Config } from '../config/schema.js';
import type { Store } from './ports/store.js';
import type { Actor, IncidentRecord } from './api.js';
import { TargetLocks } from './target-locks.js';
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
/** What became of a signal; `queued` when a standby recorded it for the leading replica. */
export type IntakeResult =
  | 'opened'
  | 'joined'
  | 'grouped'
  | 'duplicate'
  | 'resolved'
  | 'unmatched'
  | 'ignored'
  | 'queued';

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
  /** Where the incident stands now, read when asked: only a reply to a person needs it, an alert storm does not pay for it. */
  incident?: () => Promise<IncidentView | undefined>;
  /** The incident's report once it ends (already settled for a join of an idle incident). */
  report?: Promise<HealReport>;
}

/**
 * What the intake needs from the engine that owns it. Calls that read or write the store get
 * the store to use: inside a decision, the decision's transaction.
 */
export interface IntakeHost {
  config: Config;
  store: Store;
  now(): number;
  newId(): string;
  /** The running pipeline of a service, if one runs. */
  running(service: string): { incidentId: string; promise: Promise<HealReport> } | undefined;
  /** Saves and starts a new incident; resolves once it is saved, with the report to come. */
  open(
    store: Store,
    incident: Incident,
    options: { security: boolean; leaveAlone?: string; labels?: Record<string, string> },
  ): Promise<{ report: Promise<HealReport> }>;
  /** Runs the pipeline again on an idle open incident (a person asked again after it escalated). */
  rerun(store: Store, record: IncidentRecord, signal: Signal): Promise<{ report: Promise<HealReport> }>;
  /** A report that answers without running anything (a duplicate or a join of an idle incident). */
  reportOf(store: Store, incidentId: string | undefined, service: string, joined: boolean): Promise<HealReport>;
  note(store: Store, incidentId: string, message: string, detail?: Record<string, unknown>): Promise<void>;
  /** Withdraws a pending approval: the failure ended before anyone decided. */
  withdraw(store: Store, approvalId: string): Promise<void>;
  /** Closes an idle open incident whose service is healthy again. */
  closeRecovered(store: Store, record: IncidentRecord, why: string): Promise<void>;
  view(store: Store, record: IncidentRecord): Promise<IncidentView>;
}

const TRUTHY = /^(true|yes|1|on)$/i;
/** People asking again re-run an escalated incident; machines only add to its count. */
const PEOPLE: ReadonlySet<IncidentSource> = new Set(['chat', 'api', 'cli']);
/** Least time between two "still failing" notes in an incident's thread. */
export const JOIN_NOTE_INTERVAL_MS = 5 * 60_000;

/** State that lives for one batch (one webhook delivery): its transaction, one alert-count write per incident, one lookup per service. */
interface Batch {
  store: Store;
  counts: Map<string, number>;
  open: Map<string, IncidentRecord | undefined>;
  waiting?: Set<string>;
}

/**
 * The one place that decides what a signal does: open an incident, join the open one, group
 * it onto one that just closed, drop a duplicate, note a resolution, withdraw an approval or
 * close an escalated incident. Decisions read and write the store, so they survive restarts.
 * Every decision holds its services' locks from reading the store to writing it, which
 * serialises signals per service: two doors never open two incidents.
 */
export class Intake {
  /** When each service was last seen healthy (monitoring, or its last alert resolving). */
  private readonly healthyAt = new Map<string, number>();
  /** Joins not yet told in the incident's thread, and when it was last told. */
  private readonly joinNotes = new Map<string, { lastAt: number; pending: number; latest?: string }>();
  /** One lock per service, held by a decision (or by the engine's own check-then-act on a service's incidents). */
  private readonly locks = new TargetLocks();

  constructor(private readonly host: IntakeHost) {}

  /** Runs `work` holding the locks of `services`: no signal about them is decided meanwhile. */
  async exclusive<T>(services: readonly string[], work: () => Promise<T>): Promise<T> {
    const held = await this.locks.acquire(services, 'intake');
    try {
      return await work();
    } finally {
      held.release();
    }
  }

  /** The configured service a signal is about. */
  serviceFor(signal: Pick<Signal, 'service' | 'labels'>): string | undefined {
    return serviceOfSignal(this.host.config, signal);
  }

  private isSecurity(signal: Signal): boolean {
    const label = this.host.config.alerting.securityLabel;
    return TRUTHY.test(signal.labels && Object.hasOwn(signal.labels, label) ? signal.labels[label] : '');
  }

  /**
   * Decides many signals (a webhook delivery) in one store transaction, holding the locks of
   * their services: one commit, one count write per incident.
   */
  async acceptAll(
    signals: readonly Signal[],
    onError?: (error: unknown, signal: Signal) => void,
  ): Promise<IntakeDecision[]> {
    const services = signals.map((signal) => this.serviceFor(signal)).filter((s): s is string => s !== undefined);
    return this.exclusive(services, () =>
      this.host.store.transaction(async (store) => {
        const batch: Batch = { store, counts: new Map(), open: new Map() };
        const decisions: IntakeDecision[] = [];
        for (const signal of signals) {
          try {
            decisions.push(await this.decide(signal, batch));
          } catch (error) {
            onError?.(error, signal);
            decisions.push({ result: 'ignored', reason: (error as Error).message });
          }
        }
        for (const [id, by] of batch.counts) await store.incrementAlertCount(id, by);
        return decisions;
      }),
    );
  }

  /** Decides one signal. */
  async accept(signal: Signal): Promise<IntakeDecision> {
    const [decision] = await this.acceptAll([signal], (error) => {
      throw error;
    });
    return decision;
  }

  private count(batch: Batch, incidentId: string, signal: Signal): void {
    // Monitoring rounds and people asking again are not alerts: they join without inflating the count.
    if (signal.source === 'monitor' || PEOPLE.has(signal.source)) return;
    batch.counts.set(incidentId, (batch.counts.get(incidentId) ?? 0) + 1);
  }

  /** Claims the signal's key for `incidentId`; false when another delivery claimed it first. */
  private async claim(batch: Batch, signal: Signal, incidentId: string): Promise<boolean> {
    if (signal.key && !(await batch.store.claimEvent(signal.key, incidentId))) return false;
    if (signal.fingerprint) await batch.store.trackFiring(incidentId, signal.fingerprint);
    return true;
  }

  /** The service's open incident (not a dry run), looked up once per batch. */
  private async openRecord(batch: Batch, service: string): Promise<IncidentRecord | undefined> {
    if (batch.open.has(service)) return batch.open.get(service);
    const id = await batch.store.openIncidentId(service);
    const record = id !== undefined ? await batch.store.getIncident(id) : undefined;
    batch.open.set(service, record);
    return record;
  }

  private async isWaiting(batch: Batch, incidentId: string): Promise<boolean> {
    batch.waiting ??= new Set((await batch.store.pendingApprovals()).map((a) => a.incidentId));
    return batch.waiting.has(incidentId);
  }

  /** Forgets what the batch knows about a service once a decision changed it. */
  private changed(batch: Batch, service: string): void {
    batch.open.delete(service);
    batch.waiting = undefined;
  }

  private decide(signal: Signal, batch: Batch): Promise<IntakeDecision> | IntakeDecision {
    const service = this.serviceFor(signal);
    if (!service) return unmatched(signal);
    return signal.status === 'resolved' ? this.resolve(batch, service, signal) : this.fire(batch, service, signal);
  }

  /** Where an incident stands, read when asked (after the decision's transaction). */
  private viewOf(incidentId: string): () => Promise<IncidentView | undefined> {
    const host = this.host;
    return async () => {
      const record = await host.store.getIncident(incidentId);
      return record && host.view(host.store, record);
    };
  }

  private async fire(batch: Batch, service: string, signal: Signal): Promise<IntakeDecision> {
    const { config } = this.host;
    const { store } = batch;
    if (signal.dryRun) return this.open(batch, service, signal);
    if (signal.key) {
      const prior = await store.eventIncident(signal.key);
      if (prior !== undefined) {
        const running = this.host.running(service);
        return {
          result: 'duplicate',
          service,
          incidentId: prior,
          report:
            running?.incidentId === prior
              ? running.promise
              : Promise.resolve(await this.host.reportOf(store, prior, service, false)),
        };
      }
    }
    const running = this.host.running(service);
    if (running) {
      await this.claim(batch, signal, running.incidentId);
      this.count(batch, running.incidentId, signal);
      return {
        result: 'joined',
        service,
        incidentId: running.incidentId,
        incident: this.viewOf(running.incidentId),
        report: running.promise,
      };
    }
    const open = await this.openRecord(batch, service);
    if (open) return this.joinIdle(batch, open, signal);
    // A CI pipeline's failing runs are each their own attempt: never grouped onto the last one.
    if (!PEOPLE.has(signal.source) && config.services[service]?.github === undefined) {
      // A storm outlives its incident: signals shortly after it closed, while the service never looked healthy, are counted on it.
      const last = (await store.listIncidents({ service, limit: 1 }))[0];
      const closedAt = last?.closedAt ? Date.parse(last.closedAt) : Number.NaN;
      // A failure seen to start after the incident closed (a Docker event, an alert's startsAt) is a new one.
      const startedAt = signal.failingSince ?? (signal.at ? Date.parse(signal.at) : Number.NaN);
      if (
        last &&
        !last.dryRun &&
        // After an attempt that failed, the next signal is the next attempt (the breaker bounds how many).
        last.outcome !== 'failed' &&
        !(startedAt > closedAt) &&
        closedAt >= this.host.now() - config.monitor.groupWindow &&
        !((this.healthyAt.get(service) ?? Number.NEGATIVE_INFINITY) >= closedAt)
      ) {
        if (!(await this.claim(batch, signal, last.id)))
          return { result: 'duplicate', service, incidentId: await store.eventIncident(signal.key!) };
        this.count(batch, last.id, signal);
        return { result: 'grouped', service, incidentId: last.id };
      }
    }
    return this.open(batch, service, signal);
  }

  /** An open incident nothing is running for: it waits for approval, or it escalated and the failure goes on. */
  private async joinIdle(batch: Batch, record: IncidentRecord, signal: Signal): Promise<IntakeDecision> {
    const { store } = batch;
    if (!(await this.claim(batch, signal, record.id)))
      return { result: 'duplicate', service: record.service, incidentId: await store.eventIncident(signal.key!) };
    this.count(batch, record.id, signal);
    if (PEOPLE.has(signal.source) && !(await this.isWaiting(batch, record.id))) {
      this.joinNotes.delete(record.id);
      const { report } = await this.host.rerun(store, record, signal);
      this.changed(batch, record.service);
      return {
        result: 'joined',
        rerun: true,
        service: record.service,
        incidentId: record.id,
        incident: this.viewOf(record.id),
        report,
      };
    }
    await this.noteJoin(batch, record, signal);
    const host = this.host;
    return {
      result: 'joined',
      service: record.service,
      incidentId: record.id,
      incident: async () => host.view(host.store, record),
      get report() {
        return host.reportOf(host.store, record.id, record.service, true);
      },
    };
  }

  /** Tells the thread that the failure goes on, at most once per JOIN_NOTE_INTERVAL_MS. */
  private async noteJoin(batch: Batch, record: IncidentRecord, signal: Signal): Promise<void> {
    const now = this.host.now();
    const notes = this.joinNotes.get(record.id) ?? { lastAt: Number.NEGATIVE_INFINITY, pending: 0 };
    notes.pending += 1;
    notes.latest = signal.text ?? notes.latest;
    this.joinNotes.set(record.id, notes);
    if (now - notes.lastAt < JOIN_NOTE_INTERVAL_MS) return;
    const what = notes.pending === 1 ? `another ${describeSource(signal.source)}` : `${notes.pending} more signals`;
    await this.host.note(
      batch.store,
      record.id,
      `Still failing: ${what}${notes.latest ? ` (${notes.latest})` : ''}. This incident stays open until ${record.service} is healthy again or someone runs /heal resolve ${record.id}.`,
      { source: signal.source },
    );
    notes.lastAt = now;
    notes.pending = 0;
    notes.latest = undefined;
  }

  private async open(batch: Batch, service: string, signal: Signal): Promise<IntakeDecision> {
    const { store } = batch;
    const id = this.host.newId();
    if (signal.key && !signal.dryRun && !(await store.claimEvent(signal.key, id)))
      return { result: 'duplicate', service, incidentId: await store.eventIncident(signal.key) };
    if (signal.fingerprint && !signal.dryRun) await store.trackFiring(id, signal.fingerprint);
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
    const { report } = await this.host.open(store, incident, {
      security: signal.security === true || this.isSecurity(signal),
      leaveAlone: signal.leaveAlone,
      labels: signal.labels,
    });
    if (!signal.dryRun) this.changed(batch, service);
    return { result: 'opened', service, incidentId: id, incident: this.viewOf(id), report };
  }

  private async resolve(batch: Batch, service: string, signal: Signal): Promise<IntakeDecision> {
    const { store } = batch;
    const now = this.host.now();
    const running = this.host.running(service);
    const incidentId = signal.key
      ? await store.eventIncident(signal.key)
      : (running?.incidentId ?? (await this.openRecord(batch, service))?.id);
    if (!signal.fingerprint) this.healthyAt.set(service, now);
    if (!incidentId) return { result: 'ignored', service, reason: 'no incident was opened for this alert' };
    if (signal.key && !(await store.claimEvent(`resolved:${signal.key}`, incidentId)))
      return { result: 'duplicate', service, incidentId };
    const record = await store.getIncident(incidentId);
    if (!record) return { result: 'ignored', service, reason: 'the incident is gone' };
    const base = { result: 'resolved', service: record.service, incidentId } as const;
    const at = new Date(now).toISOString();
    const what = signal.text ? `: ${signal.text}` : '';
    if (signal.fingerprint) {
      const stillFiring = await store.resolveFiring(incidentId, signal.fingerprint);
      if (record.status === 'open' && stillFiring > 0) {
        await this.host.note(store, incidentId, `One alert resolved${what}; ${stillFiring} still firing.`, {
          fingerprint: signal.fingerprint,
        });
        return { ...base, resolution: 'noted' };
      }
      this.healthyAt.set(record.service, now);
    }
    const why = signal.source === 'monitor' ? 'monitoring' : 'the resolved alert';
    if (record.status === 'closed') {
      await this.host.note(store, incidentId, `The alert resolved at ${at}${what}`, {
        fingerprint: signal.fingerprint,
      });
      return { ...base, resolution: 'noted' };
    }
    const acted = (record.actions?.length ?? 0) > 0;
    const pending = (await store.pendingApprovals()).filter((a) => a.incidentId === incidentId);
    if (!acted && pending.length > 0) {
      // healbot has not changed anything yet: the failure going away withdraws its request.
      await this.host.note(
        store,
        incidentId,
        `${record.service} recovered by itself at ${at} (${why}) before anyone approved; withdrawing the request, nothing was changed.`,
        { fingerprint: signal.fingerprint },
      );
      for (const approval of pending) await this.host.withdraw(store, approval.id);
      this.changed(batch, record.service);
      return { ...base, resolution: 'withdrawn' };
    }
    if (this.host.running(service)?.incidentId === incidentId) {
      // Monitoring sees the service between the steps of a heal; verification decides, not a round.
      if (signal.source !== 'monitor' && signal.source !== 'event')
        await this.host.note(store, incidentId, `The alert resolved at ${at} while healbot was working on it.`, {
          fingerprint: signal.fingerprint,
        });
      return { ...base, resolution: 'noted' };
    }
    this.joinNotes.delete(incidentId);
    await this.host.closeRecovered(
      store,
      record,
      signal.source === 'event'
        ? `${record.service}'s failure ended (${signal.text ?? 'a Docker event'}, ${at})`
        : `${record.service} is healthy again (${why}, ${at})`,
    );
    // Its failure ended when it closed: what fails after that is new, never grouped onto it.
    this.healthyAt.set(record.service, this.host.now());
    this.changed(batch, record.service);
    return { ...base, resolution: 'closed' };
  }
}

/** The configured service a signal is about: its own name, else label matchers, then `alerting.serviceLabels`. */
export function serviceOfSignal(
  config: Pick<Config, 'services' | 'alerting'>,
  signal: Pick<Signal, 'service' | 'labels'>,
): string | undefined {
  const { services, alerting } = config;
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

/** The decision for a signal no configured service matches, saying why. */
export function unmatched(signal: Pick<Signal, 'service'>): IntakeDecision {
  return {
    result: 'unmatched',
    reason:
      signal.service !== undefined ? `unknown service "${signal.service}"` : 'no configured service matches its labels',
  };
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
