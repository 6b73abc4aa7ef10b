import { randomBytes } from 'node:crypto';
import type { Config } from '../config/schema.js';
import { withDeadline } from '../deadline.js';
import { hasService, serviceConfig } from '../config/own.js';
import { PermissionDenied, UnknownServiceError, UsageError } from '../errors.js';
import { redactDeep, type Redactor } from '../redact.js';
import type { EngineLogger } from './ports/logger.js';
import type { ApprovalRecord, Store } from './ports/store.js';
import type {
  Actor,
  DecisionResult,
  HealbotApi,
  HealRequest,
  IncidentRecord,
  RemediationStats,
  ServiceStatus,
  TrackOutcome,
  TrackRequest,
} from './api.js';
import { ApprovalBook, identityOf, type ApprovalDecision } from './approvals.js';
import { diagnose, inspectRuntime, runProbe, type Sensors } from './diagnose.js';
import { Intake, type IncidentView, type IntakeDecision, type Signal } from './intake.js';
import { respectIntent } from './intent.js';
import { describePhase, type Phase } from './phase.js';
import { LONGEST_SILENCE_MS, type IncidentSilence, type Silencer } from './silences.js';
import { planFor, type PlanContext } from './plan.js';
import { actionPast, summarize } from './report.js';
import {
  chooseRunbook,
  planRunbook,
  redactReasons,
  remediationName,
  runbookPlanSteps,
  type RunbookPlan,
} from './runbook-plan.js';
import { describeRunbookRun, runRunbook, type CommandRunner } from './runbook-run.js';
import { closestNames } from './suggest.js';
import { TargetLocks, targetKey, type HeldTargets, type TargetAction } from './target-locks.js';
import { timeSinceFailure } from './time-to-heal.js';
import type {
  ActionResult,
  ApprovalRequest,
  Diagnosis,
  HealReport,
  Incident,
  PlanStep,
  ProgressEvent,
} from './types.js';
import { verifyInsideOut } from './verify.js';

export type { EngineLogger } from './ports/logger.js';

export interface EngineOptions {
  config: Config;
  sensors: Sensors;
  store: Store;
  redact: Redactor;
  /** Whether `actor` may approve actions on `service` (configured approvers, roles, platform). */
  mayApprove: (actor: Actor, service: string) => boolean;
  /** Who may approve, for messages. */
  approversOf: (service: string) => string[];
  logger?: EngineLogger;
  now?: () => number;
  /** `HEALING_ENABLED=false`: diagnose and plan only. */
  healingEnabled?: boolean;
  /** Target locks shared with other engines of this process; by default the engine's own. */
  locks?: TargetLocks;
  /**
   * Fencing: asked right before every action. Returns why this process must not act (it lost
   * its Lease), or undefined when it may.
   */
  mayAct?: () => string | undefined;
  /** Runs runbook commands (argv, no shell); without it, command steps fail. */
  runCommand?: CommandRunner;
  /** Creates and expires Alertmanager silences, when `alertmanager.url` is configured. */
  silencer?: Silencer;
}

/** How long past healing.actionTimeout the engine waits for a runtime that ignores its own deadline. */
const ACTION_GRACE_MS = 2000;
const quietLogger: EngineLogger = { info() {}, warn() {}, error() {} };
/** Who withdraws a pending approval when the failure behind it ends before anyone decided. */
const FAILURE_ENDED: Actor = { platform: 'healbot', id: 'failure-ended', display: 'the failure ending' };
const newId = (prefix: string) => `${prefix}${randomBytes(4).toString('hex')}`;
const actorName = (actor?: Actor) => (actor ? (actor.display ?? `${actor.platform}:${actor.id}`) : undefined);

interface Running {
  incident: Incident;
  promise: Promise<HealReport>;
}

/**
 * The pipeline every door shares: signal → incident → diagnose → root cause → plan →
 * approval → act → verify → report. It emits progress events and returns data.
 */
export class Engine implements HealbotApi {
  private readonly listeners = new Set<(event: ProgressEvent) => void>();
  private readonly running = new Map<string, Running>();
  /** What each running incident is doing, for replies that join it. */
  private readonly phases = new Map<string, Phase>();
  private readonly approvals: ApprovalBook;
  private readonly locks: TargetLocks;
  private readonly intake: Intake;
  private readonly log: EngineLogger;
  private readonly now: () => number;

  constructor(private readonly options: EngineOptions) {
    this.log = options.logger ?? quietLogger;
    this.now = options.now ?? Date.now;
    this.locks = options.locks ?? new TargetLocks();
    this.approvals = new ApprovalBook(
      options.store,
      (actor, request) => options.mayApprove(actor, request.service),
      (record) =>
        void this.resumeApproved(record).catch((error: unknown) =>
          this.log.error({ err: error, approval: record.id }, 'resuming an approved action failed'),
        ),
      async (record) => {
        await this.audit(record.incidentId, record.service, 'approval_expired', undefined, { approval: record.id });
        await this.closeOrphanExclusive(
          record,
          'escalated',
          `nobody approved ${record.step.action} ${record.step.target} in time; nothing was changed`,
        );
      },
      this.now,
      (error, approvalId) => this.log.error({ err: error, approval: approvalId }, 'expiring an approval failed'),
    );
    this.intake = new Intake({
      config: options.config,
      store: options.store,
      now: this.now,
      newId: () => newId('inc_'),
      running: (service) => {
        const run = this.running.get(service);
        return run && { incidentId: run.incident.id, promise: run.promise };
      },
      open: (store, incident, options) => this.openIncident(store, incident, options),
      rerun: (store, record, signal) => this.rerun(store, record, signal),
      reportOf: (store, incidentId, service, joined) => this.reportFromRecord(incidentId, service, joined, store),
      note: (store, incidentId, message, detail) => this.note(incidentId, message, detail, store),
      withdraw: async (store, approvalId) =>
        void (await this.decideWith(store, approvalId, FAILURE_ENDED, 'deny', true)),
      closeRecovered: (store, record, why) => this.closeRecovered(record, why, store),
      view: (store, record) => this.view(record, store),
    });
  }

  private get config(): Config {
    return this.options.config;
  }

  /**
   * Picks up where a previous process stopped: open incidents stay open (signals join them),
   * pending approvals stay valid; interrupted runs are told (in their thread and on the event
   * stream), an action that was under way is named, the service is diagnosed again, and
   * nothing is re-run without a fresh decision. Only the store's owner calls this.
   */
  async recover(): Promise<void> {
    const store = this.options.store;
    const pending = new Set((await store.pendingApprovals()).map((a) => a.incidentId));
    for (const record of await store.listIncidents({ status: 'open' })) {
      if (pending.has(record.id) || this.running.has(record.service)) continue;
      if (record.dryRun) {
        await store.updateIncident(record.id, {
          status: 'closed',
          closedAt: new Date(this.now()).toISOString(),
          outcome: 'escalated',
          summary: 'dry run interrupted by a restart; nothing was changed',
        });
        continue;
      }
      // Escalated and still open: the failure goes on; signals join it.
      if (record.outcome) continue;
      const trail = (await store.listAudit()).filter((e) => e.incidentId === record.id);
      const started = trail.filter((e) => e.event === 'action_started');
      const finished = trail.filter((e) => e.event === 'action').length;
      const cut = started.length > finished ? started.at(-1) : undefined;
      const step = cut?.detail.step as PlanStep | undefined;
      const summary = step
        ? `healbot stopped (crashed or was killed) during ${step.action} ${step.target}, started at ${cut!.at}; whether it finished is unknown and it is not re-run. Run /heal ${record.service} to decide again`
        : `healbot restarted while this incident was running; nothing is re-run automatically. Run /heal ${record.service} to diagnose again`;
      await store.updateIncident(record.id, { outcome: step ? 'failed' : 'escalated', summary });
      await this.audit(record.id, record.service, 'interrupted', undefined, step ? { step, startedAt: cut!.at } : {});
      void this.rediagnoseAfterRestart(record.id, record.service, summary).catch((error: unknown) =>
        this.log.error({ err: error, incident: record.id }, 'telling an interrupted incident failed'),
      );
    }
    await this.approvals.restore();
  }

  /** Tells an interrupted incident's thread and event stream what happened and how its service is now; changes nothing. */
  private async rediagnoseAfterRestart(incidentId: string, service: string, summary: string): Promise<void> {
    let now: string;
    try {
      const rc = (await diagnose(this.options.sensors, service)).rootCause;
      now =
        rc.kind === 'healthy'
          ? `${service} is healthy.`
          : `${rc.summary.replace(/\.$/, '')}. Nothing was re-run; /heal ${service} decides again.`;
      if (rc.kind === 'healthy')
        queueMicrotask(
          () =>
            void this.intake
              .accept({
                source: 'monitor',
                service,
                status: 'resolved',
                text: 'diagnosed again after a restart',
              })
              .catch((error: unknown) => this.log.error({ err: error, service }, 'signal could not be handled')),
        );
    } catch (error) {
      now = `the diagnosis failed (${this.options.redact((error as Error).message)}).`;
    }
    await this.note(incidentId, `${summary}. Diagnosed again after the restart: ${now}`);
  }

  services(): string[] {
    return Object.keys(this.config.services);
  }

  subscribe(listener: (event: ProgressEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  private emit(event: ProgressEvent): void {
    this.trackPhase(event);
    for (const listener of this.listeners) {
      try {
        listener(event);
      } catch (error) {
        this.log.error({ err: error }, 'progress listener failed');
      }
    }
  }

  private audit(
    incidentId: string | undefined,
    service: string | undefined,
    event: string,
    actor: string | undefined,
    detail: Record<string, unknown>,
    store: Store = this.options.store,
  ): Promise<void> {
    return store.appendAudit({
      at: new Date(this.now()).toISOString(),
      incidentId,
      service,
      event,
      actor,
      detail: redactDeep(detail, this.options.redact),
    });
  }

  private redactOptional(text: string | undefined): string | undefined {
    return text === undefined ? undefined : this.options.redact(text);
  }

  private requireService(service: string): void {
    if (!hasService(this.config, service))
      throw new UnknownServiceError(service, this.services(), closestNames(service, this.services()));
  }

  async diagnose(service: string): Promise<Diagnosis> {
    this.requireService(service);
    return diagnose(this.options.sensors, service);
  }

  async status(): Promise<ServiceStatus[]> {
    return Promise.all(
      this.services().map(async (service) => {
        const diagnosis = await diagnose(this.options.sensors, service);
        // A healthy status check is a verification: it ends an escalated incident of the service.
        if (diagnosis.rootCause.kind === 'healthy')
          await this.intake.accept({ source: 'monitor', service, status: 'resolved', text: 'status check' });
        return {
          service,
          healthy: diagnosis.rootCause.kind === 'healthy',
          rootCause: diagnosis.rootCause,
          paused: await this.options.store.isPaused(service),
          breakerOpen: await this.options.store.isBreakerOpen(service),
          openIncident:
            this.running.get(service)?.incident.id ??
            (await this.options.store.listIncidents({ service, status: 'open', limit: 5 })).find((r) => !r.dryRun)?.id,
        };
      }),
    );
  }

  async history(service?: string, limit = 10): Promise<IncidentRecord[]> {
    if (service) this.requireService(service);
    return this.options.store.listIncidents({ service, limit });
  }

  async remediationStats(service?: string): Promise<RemediationStats[]> {
    if (service) this.requireService(service);
    return this.options.store.remediationStats(service);
  }

  private async requireApprover(service: string, actor: Actor, what: string): Promise<void> {
    if (this.options.mayApprove(actor, service)) return;
    await this.audit(undefined, service, `refused_${what}`, actorName(actor), {});
    throw new PermissionDenied(
      `only approvers of ${service} may ${what} it (${this.options.approversOf(service).join(', ') || 'none configured'})`,
    );
  }

  async pause(service: string, by: Actor): Promise<void> {
    this.requireService(service);
    await this.requireApprover(service, by, 'pause');
    await this.options.store.setPaused(service, true);
    await this.audit(undefined, service, 'paused', actorName(by), {});
  }

  async resume(service: string, by: Actor): Promise<void> {
    this.requireService(service);
    await this.requireApprover(service, by, 'resume');
    await this.options.store.setPaused(service, false);
    await this.options.store.resetBreaker(service, this.now());
    await this.audit(undefined, service, 'resumed', actorName(by), { breakerReset: true });
  }

  async decide(approvalId: string, actor: Actor, decision: 'approve' | 'deny'): Promise<DecisionResult> {
    return this.decideWith(this.options.store, approvalId, actor, decision);
  }

  /**
   * Decides an approval through `store`. A denial settles an incident no run waits for, under
   * the intake's lock on its service, unless that lock is `held` already (the intake withdrawing
   * a request inside its transaction).
   */
  private async decideWith(
    store: Store,
    approvalId: string,
    actor: Actor,
    decision: 'approve' | 'deny',
    held = false,
  ): Promise<DecisionResult> {
    const result = await this.approvals.decide(approvalId, actor, decision, store);
    const record = await store.getApproval(approvalId);
    const event = result.ok ? (decision === 'approve' ? 'approved' : 'denied') : `refused_${result.reason}`;
    await this.audit(
      record?.incidentId,
      record?.service,
      event,
      actorName(actor),
      {
        approval: approvalId,
        step: record?.step,
        door: actor.platform,
        identity: identityOf(actor),
      },
      store,
    );
    if (result.ok && result.decision === 'denied' && record) {
      const summary = `${record.step.action} ${record.step.target} was denied by ${result.by.join(' and ')}; nothing was changed`;
      if (held) await this.closeOrphan(record, 'denied', summary, store);
      else await this.closeOrphanExclusive(record, 'denied', summary);
    }
    return result;
  }

  /** The Alertmanager alert behind an incident, for silencing: its record and label matchers. */
  private async silenceable(incidentId: string, by: Actor): Promise<{ record: IncidentRecord; silencer: Silencer }> {
    const silencer = this.options.silencer;
    if (!silencer) throw new UsageError('silences need alertmanager: { url } in the config');
    const record = await this.options.store.getIncident(incidentId);
    if (!record) throw new UsageError(`there is no incident ${incidentId}`);
    if (record.context?.source !== 'alertmanager' || Object.keys(record.context.labels).length === 0)
      throw new UsageError(
        `incident ${incidentId} did not come from an Alertmanager alert: there is nothing to silence`,
      );
    await this.requireApprover(record.service, by, 'silence');
    return { record, silencer };
  }

  async silence(incidentId: string, durationMs: number, by: Actor): Promise<IncidentSilence> {
    if (!(durationMs > 0 && durationMs <= LONGEST_SILENCE_MS))
      throw new UsageError(`a silence lasts from 1 minute to ${LONGEST_SILENCE_MS / 3_600_000} hours`);
    const { record, silencer } = await this.silenceable(incidentId, by);
    const who = actorName(by)!;
    const until = new Date(this.now() + durationMs);
    const id = await silencer.create({
      matchers: record.context!.labels,
      endsAt: until,
      createdBy: `healbot for ${who}`,
      comment: `Silenced from chat on healbot incident ${incidentId} (${record.service})`,
    });
    const silence: IncidentSilence = { id, until: until.toISOString(), by: who };
    await this.options.store.updateIncident(incidentId, { silence });
    await this.audit(incidentId, record.service, 'silenced', who, {
      silence: id,
      until: silence.until,
      matchers: record.context!.labels,
    });
    await this.note(
      incidentId,
      `Silenced by ${who} until ${silence.until.slice(0, 16).replace('T', ' ')} UTC (Alertmanager silence ${id}).`,
    );
    return silence;
  }

  async expireSilence(incidentId: string, by: Actor): Promise<IncidentSilence> {
    const { record, silencer } = await this.silenceable(incidentId, by);
    if (!record.silence || record.silence.expiredAt)
      throw new UsageError(`incident ${incidentId} has no silence to expire`);
    await silencer.expire(record.silence.id);
    const who = actorName(by)!;
    await this.options.store.updateIncident(incidentId, {
      silence: { ...record.silence, expiredAt: new Date(this.now()).toISOString(), expiredBy: who },
    });
    await this.audit(incidentId, record.service, 'silence_expired', who, { silence: record.silence.id });
    await this.note(incidentId, `${who} expired the silence ${record.silence.id}; the alert notifies again.`);
    return record.silence;
  }

  /** closeOrphan under the intake's lock on the incident's service: no signal joins or re-runs it meanwhile. */
  private async closeOrphanExclusive(
    record: ApprovalRecord,
    outcome: 'denied' | 'escalated',
    summary: string,
  ): Promise<void> {
    const service = (await this.options.store.getIncident(record.incidentId))?.service;
    if (service === undefined) return;
    await this.intake.exclusive([service], () => this.closeOrphan(record, outcome, summary));
  }

  /** A denial or expiry after a restart has no run waiting for it: settle its incident here (a denial closes it, an expiry escalates it). */
  private async closeOrphan(
    record: ApprovalRecord,
    outcome: 'denied' | 'escalated',
    summary: string,
    store: Store = this.options.store,
  ): Promise<void> {
    if ([...this.running.values()].some((run) => run.incident.id === record.incidentId)) return;
    const stored = await store.getIncident(record.incidentId);
    if (!stored || stored.status !== 'open') return;
    if ([...this.running.values()].some((run) => run.incident.id === record.incidentId)) return;
    const closes = outcome !== 'escalated' || stored.dryRun;
    await store.updateIncident(stored.id, {
      ...(closes ? { status: 'closed' as const, closedAt: new Date(this.now()).toISOString() } : {}),
      outcome,
      summary,
    });
    await this.audit(stored.id, stored.service, 'outcome', undefined, { outcome, summary }, store);
  }

  /** An idle open incident whose service is healthy again: it ends here, with a line in its thread. */
  private async closeRecovered(record: IncidentRecord, why: string, store: Store = this.options.store): Promise<void> {
    // `why` starts with the service's name, written as configured.
    const summary = [record.summary?.replace(/\.?$/, '.'), `${why}; incident closed.`].filter(Boolean).join(' ');
    await store.updateIncident(record.id, {
      status: 'closed',
      closedAt: new Date(this.now()).toISOString(),
      summary,
    });
    await this.audit(record.id, record.service, 'closed', undefined, { why }, store);
    await this.note(record.id, `${why}; incident \`${record.id}\` is closed.`, {}, store);
  }

  async resolveIncident(id: string, by: Actor): Promise<IncidentView> {
    const found = await this.options.store.getIncident(id);
    if (!found) throw new UsageError(`there is no incident ${id}; /heal history lists them`);
    await this.requireApprover(found.service, by, 'resolve');
    // Under the intake's lock: no signal joins or re-runs the incident while it is being closed.
    return this.intake.exclusive([found.service], async () => {
      const record = (await this.options.store.getIncident(id))!;
      if (record.status === 'closed') return this.view(record);
      if (this.running.get(record.service)?.incident.id === id)
        throw new UsageError(
          `incident ${id} is still running (${(await this.view(record)).state}); wait for it, or deny its approval`,
        );
      for (const approval of (await this.options.store.pendingApprovals()).filter((a) => a.incidentId === id))
        await this.approvals.decide(approval.id, FAILURE_ENDED, 'deny');
      await this.closeRecovered(record, `resolved by ${actorName(by)}`);
      return this.view((await this.options.store.getIncident(id))!);
    });
  }

  mayApprove(actor: Actor, service: string): boolean {
    return this.options.mayApprove(actor, service);
  }

  async incident(id: string): Promise<IncidentView | undefined> {
    const record = await this.options.store.getIncident(id);
    return record && this.view(record);
  }

  thread(incidentId: string, platform: string) {
    return this.options.store.getThread(incidentId, platform);
  }

  private trackPhase(event: ProgressEvent): void {
    if (event.type === 'started') this.phases.set(event.incident.id, { kind: 'diagnosing' });
    else if (event.type === 'done' || event.type === 'failed') this.phases.delete(event.incidentId);
    else if (this.phases.has(event.incidentId)) {
      if (event.type === 'awaiting_approval')
        this.phases.set(event.incidentId, { kind: 'awaiting_approval', request: event.request });
      else if (event.type === 'action_started') this.phases.set(event.incidentId, { kind: 'acting', step: event.step });
      else if (event.type === 'action_finished') this.phases.set(event.incidentId, { kind: 'verifying' });
      else if (event.type === 'approval') this.phases.set(event.incidentId, { kind: 'approved' });
    }
  }

  private async view(record: IncidentRecord, store: Store = this.options.store): Promise<IncidentView> {
    const pending =
      record.status === 'open' ? (await store.pendingApprovals()).find((a) => a.incidentId === record.id) : undefined;
    const running = this.running.get(record.service)?.incident.id === record.id;
    const phase: Phase = running
      ? (this.phases.get(record.id) ?? { kind: 'diagnosing' })
      : pending
        ? { kind: 'awaiting_approval', request: pending }
        : record.status === 'closed'
          ? { kind: 'closed', outcome: record.outcome, summary: record.summary }
          : { kind: 'escalated', summary: record.summary };
    const approval = phase.kind === 'awaiting_approval' ? phase.request : undefined;
    return {
      id: record.id,
      service: record.service,
      status: record.status,
      state: describePhase(phase),
      ...(approval ? { approval } : {}),
    };
  }

  /**
   * Adds information to an incident, running or closed (an alert resolved, a restart healbot
   * did not cause): an 'info' progress event for its thread and an audit entry.
   */
  async note(
    incidentId: string,
    message: string,
    detail: Record<string, unknown> = {},
    store: Store = this.options.store,
  ): Promise<void> {
    const record = await store.getIncident(incidentId);
    await this.audit(incidentId, record?.service, 'info', undefined, { message, ...detail }, store);
    this.emit({ type: 'info', incidentId, message: this.options.redact(message) });
  }

  /** Ids of incidents currently running, by service. */
  openIncidents(): Record<string, string> {
    return Object.fromEntries([...this.running].map(([service, run]) => [service, run.incident.id]));
  }

  async heal(request: HealRequest): Promise<HealReport> {
    const { report } = await this.open(request);
    if (!report) throw new UsageError(`nothing to heal for ${request.service}`);
    return report;
  }

  async open(request: HealRequest): Promise<IntakeDecision> {
    this.requireService(request.service);
    const { dedupeKey, summary, ...rest } = request;
    return this.intake.accept({ ...rest, key: dedupeKey, text: summary });
  }

  accept(signals: readonly Signal[]): Promise<IntakeDecision[]> {
    return this.intake.acceptAll(signals, (error, signal) =>
      this.log.error(
        { err: (error as Error)?.message ?? String(error), service: signal.service },
        'signal could not be handled',
      ),
    );
  }

  private async openIncident(
    store: Store,
    opened: Incident,
    options: Pick<RunOptions, 'security' | 'leaveAlone' | 'labels'>,
  ): Promise<{ report: Promise<HealReport> }> {
    const incident: Incident = {
      ...opened,
      requestedBy: this.redactOptional(opened.requestedBy),
      summary: this.redactOptional(opened.summary),
    };
    await this.recordOpened(store, incident, { labels: options.labels });
    return { report: this.start(incident, options) };
  }

  /** Saves a newly opened incident and audits who asked for it: the first lines of its trail. */
  private async recordOpened(
    store: Store,
    incident: Incident,
    extra: { labels?: Record<string, string>; dedupeKey?: string; rootCause?: IncidentRecord['rootCause'] } = {},
  ): Promise<void> {
    await store.saveIncident({
      id: incident.id,
      service: incident.service,
      status: 'open',
      source: incident.source,
      openedAt: incident.openedAt,
      alertCount: 1,
      requestedBy: incident.requestedBy,
      origin: incident.origin,
      dryRun: incident.dryRun,
      context: incident.context,
      ...extra,
    });
    await this.audit(
      incident.id,
      incident.service,
      'requested',
      incident.requestedBy,
      { source: incident.source, summary: incident.summary },
      store,
    );
  }

  /** Someone asked again about an escalated incident that is still open: run the pipeline again, in the same incident and thread. */
  private async rerun(store: Store, record: IncidentRecord, signal: Signal): Promise<{ report: Promise<HealReport> }> {
    const stored = record as IncidentRecord & { origin?: Incident['origin'] };
    const requestedBy = signal.requestedBy ? actorName(signal.requestedBy) : record.requestedBy;
    const incident: Incident = {
      id: record.id,
      service: record.service,
      source: record.source,
      requestedBy,
      summary: signal.text ?? record.summary,
      openedAt: record.openedAt,
      origin: stored.origin,
      context: (record as IncidentRecord & { context?: Incident['context'] }).context,
    };
    await store.updateIncident(record.id, { outcome: undefined, summary: undefined });
    await this.audit(
      incident.id,
      incident.service,
      'requested',
      requestedBy,
      { source: signal.source, again: true },
      store,
    );
    return { report: this.start(incident, { labels: signal.labels }) };
  }

  /**
   * Opens an incident whose work is done by `work` rather than by a heal (an application error
   * routed to a fix workflow, an issue or chat), tells its thread what `work` says, and closes
   * it with the outcome, like any other incident. Resolves once the incident is recorded, with
   * its id and the report to come; a `dedupeKey` seen before is a duplicate with the first report.
   */
  async track(
    request: TrackRequest,
    work: (say: (message: string) => void, incidentId: string) => Promise<TrackOutcome>,
  ): Promise<{ incidentId: string; duplicate: boolean; report: Promise<HealReport> }> {
    this.requireService(request.service);
    const store = this.options.store;
    const incident: Incident = {
      id: newId('inc_'),
      service: request.service,
      source: request.source,
      summary: this.redactOptional(request.summary),
      openedAt: new Date(this.now()).toISOString(),
      context: request.context,
    };
    if (request.dedupeKey && !(await store.claimEvent(request.dedupeKey, incident.id))) {
      const first = await store.eventIncident(request.dedupeKey);
      const report = await this.reportFromRecord(first, request.service);
      return { incidentId: first ?? '', duplicate: true, report: Promise.resolve(report) };
    }
    await this.recordOpened(store, incident, { dedupeKey: request.dedupeKey, rootCause: request.rootCause });
    this.emit({ type: 'started', incident });
    return { incidentId: incident.id, duplicate: false, report: this.runTracked(incident, request, work) };
  }

  private async runTracked(
    incident: Incident,
    request: TrackRequest,
    work: (say: (message: string) => void, incidentId: string) => Promise<TrackOutcome>,
  ): Promise<HealReport> {
    let result: TrackOutcome;
    // What `work` says is told in order, each line audited before the next.
    let told = Promise.resolve();
    const say = (message: string) => {
      told = told
        .then(() => this.note(incident.id, message))
        .catch((error: unknown) =>
          this.log.error({ err: error, incident: incident.id }, 'could not tell a tracked incident'),
        );
    };
    try {
      result = await work(say, incident.id);
    } catch (error) {
      await told;
      return this.fail(incident, error);
    }
    await told;
    const report: HealReport = {
      incidentId: incident.id,
      service: incident.service,
      outcome: result.outcome,
      rootCause: request.rootCause,
      hops: [],
      plan: [],
      actions: [],
      approvedBy: [],
      summary: this.options.redact(result.summary),
      escalation: result.escalation,
    };
    await this.closeIncident(incident, report, true);
    this.emit({ type: 'done', incidentId: incident.id, report });
    return report;
  }

  private start(incident: Incident, options: RunOptions): Promise<HealReport> {
    const promise = this.run(incident, options)
      .catch((error: unknown) => this.fail(incident, error))
      .finally(() => {
        if (this.running.get(incident.service)?.incident.id === incident.id) this.running.delete(incident.service);
      });
    if (!incident.dryRun) this.running.set(incident.service, { incident, promise });
    return promise;
  }

  private async reportFromRecord(
    incidentId: string | undefined,
    service: string,
    joined = false,
    store: Store = this.options.store,
  ): Promise<HealReport> {
    const record = incidentId ? await store.getIncident(incidentId) : undefined;
    const rootCause = record?.rootCause ?? {
      kind: 'unknown' as const,
      service,
      summary: 'duplicate event',
      confidence: 0,
      evidence: [],
    };
    return {
      incidentId: incidentId ?? '',
      service,
      outcome: record?.outcome ?? 'not_needed',
      rootCause,
      hops: [],
      plan: record?.plan ?? [],
      actions: record?.actions ?? [],
      approvedBy: [],
      summary: record?.summary ?? 'this event was already handled; nothing was done twice',
      ...(joined ? { joined: true } : { duplicate: true }),
    };
  }

  private async fail(incident: Incident, error: unknown): Promise<HealReport> {
    const message = this.options.redact((error as Error)?.message ?? String(error));
    this.log.error({ incident: incident.id, err: message }, 'incident failed');
    this.emit({ type: 'failed', incidentId: incident.id, error: message });
    const rootCause = {
      kind: 'unknown' as const,
      service: incident.service,
      summary: `healbot failed: ${message}`,
      confidence: 0,
      evidence: [],
    };
    const report: HealReport = {
      incidentId: incident.id,
      service: incident.service,
      outcome: 'failed',
      rootCause,
      hops: [],
      plan: [],
      actions: [],
      approvedBy: [],
      summary: `healbot failed while handling ${incident.service} (incident ${incident.id}): ${message}`,
      escalation: this.config.oncall.join(' ') || undefined,
      internalError: message,
    };
    try {
      await this.closeIncident(incident, report);
    } catch (closeError) {
      // The store closed under a running incident (healbot is shutting down): the report still answers.
      this.log.error(
        { incident: incident.id, err: this.options.redact((closeError as Error)?.message ?? String(closeError)) },
        'could not record the failed incident',
      );
    }
    // Told like any other end: the thread closes with the failure and escalation fires.
    this.emit({ type: 'done', incidentId: incident.id, report });
    return report;
  }

  private async closeIncident(incident: Incident, report: HealReport, tracked = false): Promise<void> {
    // An escalation ends the run, not the incident: the failure goes on, and later signals join it.
    // Not for tracked work (an application error) nor a CI pipeline: each failing run is its own attempt.
    const stays =
      report.outcome === 'escalated' &&
      !incident.dryRun &&
      !tracked &&
      this.config.services[incident.service]?.github === undefined;
    await this.options.store.updateIncident(incident.id, {
      ...(stays ? {} : { status: 'closed' as const, closedAt: new Date(this.now()).toISOString() }),
      rootCause: report.rootCause,
      plan: report.plan,
      actions: report.actions,
      outcome: report.outcome,
      summary: report.summary,
    });
    await this.audit(incident.id, incident.service, 'outcome', undefined, {
      outcome: report.outcome,
      summary: report.summary,
      timeToHealMs: report.timeToHealMs,
    });
  }

  private async finish(
    incident: Incident,
    diagnosis: Diagnosis,
    partial: Omit<HealReport, 'incidentId' | 'service' | 'rootCause' | 'hops' | 'summary'>,
    lead?: string,
  ): Promise<HealReport> {
    const summary = summarize({
      ...partial,
      rootCause: diagnosis.rootCause,
      service: incident.service,
      diagnosed: diagnosis.runtime[incident.service],
    });
    const report: HealReport = {
      incidentId: incident.id,
      service: incident.service,
      rootCause: diagnosis.rootCause,
      hops: diagnosis.path,
      ...partial,
      summary: this.options.redact(lead ? `${lead}; ${summary}` : summary),
    };
    if (report.outcome === 'escalated' || report.outcome === 'failed') {
      report.escalation = [partial.escalation, ...this.config.oncall].filter(Boolean).join(' ') || undefined;
      if (this.config.oncall.length > 0) report.notify = [...this.config.oncall];
    }
    await this.closeIncident(incident, report);
    this.emit({ type: 'done', incidentId: incident.id, report });
    return report;
  }

  private async blockReason(
    incident: Incident,
    options: RunOptions,
    targets: readonly string[] = [],
  ): Promise<string | undefined> {
    const store = this.options.store;
    if (incident.dryRun) return 'dry run: nothing was changed';
    if (this.options.healingEnabled === false || !this.config.healing.enabled)
      return 'healing is disabled (HEALING_ENABLED=false): diagnose and plan only';
    if (options.security) return 'the alert is marked security-related: healbot never acts on it automatically';
    // The service acted on may be another (a dependency, a layer owner): its own gates count too.
    for (const service of new Set([incident.service, ...targets])) {
      if (!hasService(this.config, service)) continue;
      if (await store.isPaused(service))
        return `healing of ${service} is paused; /heal resume ${service} turns it back on`;
      if (await store.isBreakerOpen(service))
        return `the breaker for ${service} is open (it needed healing too often); no more automatic attempts until someone runs /heal resume ${service}`;
      const cooldown = this.config.services[service].policy.cooldown;
      if (cooldown > 0) {
        const last = (await store.healAttemptsSince(service, this.now() - cooldown)).at(-1);
        if (last)
          return `${service} was healed ${Math.round((this.now() - last.at) / 1000)} s ago; the cooldown is ${Math.round(cooldown / 1000)} s`;
      }
    }
    return undefined;
  }

  private breakerFor(service: string) {
    return this.config.services[service].policy.breaker ?? this.config.breaker;
  }

  /**
   * Records a heal attempt and opens the breaker once the service needed healing too often.
   * Called with the target's lock held, so two incidents never count the same attempt window at once.
   */
  private async recordAttempt(incident: Incident, target: string): Promise<string | undefined> {
    const store = this.options.store;
    await store.recordHealAttempt(target, this.now(), true);
    const breaker = this.breakerFor(target);
    // A reset (/heal resume) starts the count over.
    const since = Math.max(this.now() - breaker.window, (await store.breakerResetAt(target)) ?? 0);
    const attempts = await store.healAttemptsSince(target, since);
    if (attempts.length >= breaker.threshold && !(await store.isBreakerOpen(target))) {
      await store.setBreakerOpen(target, true);
      await this.audit(incident.id, target, 'breaker_opened', undefined, {
        attempts: attempts.length,
        windowMs: breaker.window,
      });
      const message = `${target} needed healing ${attempts.length} times in ${Math.round(breaker.window / 60_000)} min: it is unstable (flapping). The breaker is open: no more automatic attempts until /heal resume ${target}.`;
      this.emit({ type: 'info', incidentId: incident.id, message });
      return message;
    }
    return undefined;
  }

  private async requestApproval(incident: Incident, step: PlanStep): Promise<ApprovalDecision> {
    const policy = serviceConfig(this.config, step.target)?.policy ?? this.config.services[incident.service].policy;
    const request: ApprovalRequest = {
      id: newId('apr_'),
      incidentId: incident.id,
      service: step.target,
      step,
      approvers: this.options.approversOf(step.target),
      requiredApprovals: policy.twoApprovers ? 2 : 1,
      expiresAt: new Date(this.now() + this.config.healing.approvalTimeout).toISOString(),
    };
    await this.audit(incident.id, step.target, 'approval_requested', undefined, { approval: request.id, step });
    const { decision } = await this.approvals.wait(request);
    this.emit({ type: 'awaiting_approval', incidentId: incident.id, request });
    const result = await decision;
    this.emit({
      type: 'approval',
      incidentId: incident.id,
      approvalId: request.id,
      decision: result.decision,
      by: result.by,
    });
    return result;
  }

  private async act(
    incident: Incident,
    step: PlanStep,
    approvedBy: string[],
    timeoutMs = this.config.healing.actionTimeout,
  ): Promise<ActionResult> {
    const runtime = this.options.sensors.runtimes[step.target];
    const started = performance.now();
    // Written before the call: a crash in the middle of the action leaves this behind to be told.
    await this.audit(incident.id, step.target, 'action_started', approvedBy.join(' and ') || 'policy:auto', { step });
    this.markStarted(incident, step);
    let result: ActionResult;
    if (!runtime || step.action === 'manual' || step.action === 'command' || step.action === 'runbook') {
      result = {
        action: step.action,
        target: step.target,
        ok: false,
        ms: 0,
        error: `${step.target} has no runtime that can ${step.action}`,
        approvedBy,
      };
    } else {
      const before = await inspectRuntime(runtime, 20);
      try {
        const request = { action: step.action, params: step.params };
        // The runtime's own deadlines say more; this one holds even if a client ignores them.
        await withDeadline(`${step.target}'s ${runtime.kind} runtime`, timeoutMs + ACTION_GRACE_MS, (signal) =>
          runtime.perform(request, { timeoutMs, signal }),
        );
        const after = await inspectRuntime(runtime, 0);
        result = {
          action: step.action,
          target: step.target,
          ok: true,
          ms: Math.round(performance.now() - started),
          before,
          after,
          approvedBy,
        };
      } catch (error) {
        const after = await inspectRuntime(runtime, 20);
        result = {
          action: step.action,
          target: step.target,
          ok: false,
          ms: Math.round(performance.now() - started),
          error: this.options.redact((error as Error).message),
          before,
          after,
          approvedBy,
        };
      }
    }
    await this.audit(incident.id, step.target, 'action', approvedBy.join(' and ') || 'policy:auto', {
      step,
      ok: result.ok,
      ms: result.ms,
      error: result.error,
      before: result.before?.status,
      after: result.after?.status,
    });
    this.emit({ type: 'action_finished', incidentId: incident.id, step, result });
    return result;
  }

  private targetKeyOf(service: string): string {
    return targetKey(service, this.config.services[service]);
  }

  /** What another incident did to these targets since `since`, said as "db was restarted 4 s ago by inc_…". */
  private recentAction(targets: readonly string[], since: number): string | undefined {
    const acted = targets
      .map((t) => this.locks.actedSince(this.targetKeyOf(t), since))
      .find((a): a is TargetAction => a !== undefined);
    if (!acted) return undefined;
    return `${acted.service} was ${actionPast(acted.action)} ${Math.round((this.now() - acted.at) / 1000)} s ago by ${acted.incidentId}`;
  }

  private async run(incident: Incident, options: RunOptions): Promise<HealReport> {
    const held: { targets?: HeldTargets } = {};
    try {
      return await this.runHolding(incident, options, held);
    } finally {
      held.targets?.release();
    }
  }

  private async runHolding(
    incident: Incident,
    options: RunOptions,
    held: { targets?: HeldTargets },
  ): Promise<HealReport> {
    const { sensors } = this.options;
    const diagnosedAt = this.now();
    this.emit({ type: 'started', incident });
    const diagnosis = await diagnose(sensors, incident.service, {
      onProbe: (result) => this.emit({ type: 'probe', incidentId: incident.id, result }),
      onRuntime: (service, state) => this.emit({ type: 'runtime', incidentId: incident.id, service, state }),
    });
    const rc = diagnosis.rootCause;
    this.emit({ type: 'finding', incidentId: incident.id, rootCause: rc, diagnosis });
    const planContext: PlanContext = {
      config: this.config,
      diagnosis,
      supports: (service, action) => sensors.runtimes[service]?.supports(action) ?? false,
    };
    const respected = respectIntent(planFor(rc, planContext), diagnosis, incident);
    // A door that already knows a person stopped it (Docker's events) asks for a report only.
    const plan = options.leaveAlone ? [] : respected.plan;
    const leftAlone = respected.leftAlone ?? (rc.kind !== 'healthy' ? options.leaveAlone : undefined);
    // A matching runbook replaces the default plan, but never undoes what a person did on purpose.
    const chosen = leftAlone ? undefined : chooseRunbook(this.config, rc, incident.service, options.labels);
    if (chosen) {
      const runs = await this.options.store.remediationRuns(
        chosen.cause.service,
        `runbook:${chosen.runbook.name}`,
        chosen.runbook.manualAfterFailures,
      );
      const history = () => runs;
      return this.runRunbook(
        incident,
        diagnosis,
        redactReasons(planRunbook(chosen.runbook, chosen.cause.service, planContext, history), this.options.redact),
        options,
        held,
        diagnosedAt,
      );
    }
    await this.audit(incident.id, incident.service, 'planned', undefined, {
      rootCause: rc.kind,
      layer: rc.layer,
      confidence: rc.confidence,
      plan,
      leftAlone,
    });
    // Known from now on, also while the incident waits for a person (the API shows it).
    await this.options.store.updateIncident(incident.id, { rootCause: rc, plan });
    const base = { plan, actions: [] as ActionResult[], approvedBy: [] as string[] };
    if (leftAlone && plan.length === 0) {
      this.emit({ type: 'plan', incidentId: incident.id, steps: [], blockedBy: leftAlone });
      return this.finish(incident, diagnosis, { ...base, outcome: 'not_needed', leftAlone });
    }

    if (rc.kind === 'healthy') {
      this.emit({ type: 'plan', incidentId: incident.id, steps: [] });
      return this.finish(incident, diagnosis, { ...base, outcome: 'not_needed' });
    }
    if (rc.kind === 'recreating') {
      this.emit({
        type: 'plan',
        incidentId: incident.id,
        steps: [],
        blockedBy: 'a replacement is starting: waiting for it, not acting',
      });
      const verification = await verifyInsideOut(sensors, incident.service, this.config.healing.verifyTimeout, (r) =>
        this.emit({ type: 'probe', incidentId: incident.id, result: r }),
      );
      this.emit({
        type: 'verified',
        incidentId: incident.id,
        ok: verification.ok,
        probes: verification.probes,
        ms: verification.ms,
      });
      return this.finish(
        incident,
        diagnosis,
        verification.ok
          ? { ...base, settled: verification.settled, outcome: 'not_needed' }
          : {
              ...base,
              settled: verification.settled,
              outcome: 'escalated',
              escalation: `it did not become ready within ${this.config.healing.verifyTimeout / 1000} s (stuck at ${verification.stuckAt})`,
            },
      );
    }
    const automated = plan.filter((s) => s.risk !== 'manual');
    const blockedBy =
      automated.length > 0
        ? await this.blockReason(
            incident,
            options,
            automated.map((s) => s.target),
          )
        : undefined;
    this.emit({ type: 'plan', incidentId: incident.id, steps: plan, blockedBy });
    if (automated.length === 0) return this.finish(incident, diagnosis, { ...base, outcome: 'escalated' });
    if (blockedBy) return this.finish(incident, diagnosis, { ...base, outcome: 'escalated', escalation: blockedBy });

    const actions: ActionResult[] = [];
    const approvedBy: string[] = [];
    let actedAt: number | undefined;
    let breakerMessage: string | undefined;
    for (const step of automated) {
      const policy = serviceConfig(this.config, step.target)?.policy;
      // The same step means the same parameters too: an approval for one CI run's cache, or one replica count, is not one for another.
      const same =
        options.preApproved &&
        options.preApproved.step.action === step.action &&
        options.preApproved.step.target === step.target &&
        JSON.stringify(options.preApproved.step.params ?? {}) === JSON.stringify(step.params ?? {});
      const preApproved = same ? options.preApproved!.by : undefined;
      if (preApproved) approvedBy.push(...preApproved);
      else if (step.risk === 'risky' && (step.askFirst || !policy?.auto.includes(step.action as never))) {
        const decision = await this.requestApproval(incident, step);
        if (decision.decision === 'denied')
          return this.finish(incident, diagnosis, {
            ...base,
            actions,
            approvedBy,
            outcome: 'denied',
            deniedBy: decision.by[0],
          });
        if (decision.decision === 'expired')
          return this.finish(incident, diagnosis, {
            ...base,
            actions,
            approvedBy,
            outcome: 'escalated',
            escalation: `nobody approved ${step.action} ${step.target} in time; nothing was changed`,
          });
        approvedBy.push(...decision.by);
      }
      if (!held.targets) {
        // The decision to act: from here until verification ends, no other incident acts on these targets.
        held.targets = await this.locks.acquire(
          automated.map((s) => this.targetKeyOf(s.target)),
          incident.id,
        );
        const changed = this.recentAction(
          automated.map((s) => s.target),
          diagnosedAt,
        );
        if (changed) {
          this.emit({ type: 'info', incidentId: incident.id, message: `${changed}; diagnosing again before acting` });
          const again = await diagnose(sensors, incident.service);
          const replan = planFor(again.rootCause, {
            config: this.config,
            diagnosis: again,
            supports: (service, action) => sensors.runtimes[service]?.supports(action) ?? false,
          });
          await this.audit(incident.id, incident.service, 'rediagnosed', undefined, {
            because: changed,
            rootCause: again.rootCause.kind,
            plan: replan,
          });
          if (!replan.some((s) => s.action === step.action && s.target === step.target)) {
            const outcome = again.rootCause.kind === 'healthy' ? 'not_needed' : 'escalated';
            return this.finish(
              incident,
              again,
              {
                ...base,
                plan: replan,
                actions,
                approvedBy,
                outcome,
                escalation:
                  outcome === 'escalated'
                    ? `the situation changed while waiting; run /heal ${incident.service} again`
                    : undefined,
              },
              changed,
            );
          }
        }
      }
      // The situation may have changed while waiting for a human: check the gates again.
      const lateBlock = await this.blockReason(incident, options, [step.target]);
      if (lateBlock)
        return this.finish(incident, diagnosis, {
          ...base,
          actions,
          approvedBy,
          outcome: 'escalated',
          escalation: lateBlock,
        });
      const fenced = this.options.mayAct?.();
      if (fenced)
        return this.finish(incident, diagnosis, {
          ...base,
          actions,
          approvedBy,
          outcome: 'escalated',
          escalation: `${fenced}; nothing was done here`,
        });
      actedAt ??= Date.now();
      // Counted when the action starts, so a concurrent incident already sees the cooldown and the breaker.
      breakerMessage = (await this.recordAttempt(incident, step.target)) ?? breakerMessage;
      const result = await this.act(incident, step, approvedBy);
      actions.push(result);
      if (!result.ok) {
        await this.countRemediations(actions, false);
        return this.finish(incident, diagnosis, {
          ...base,
          actions,
          approvedBy,
          outcome: 'failed',
          escalation: breakerMessage,
        });
      }
    }

    const verification = await this.verifyFix(incident, diagnosis, actedAt);
    const firstFailing = diagnosis.probes.find((p) => !p.ok && p.service === incident.service);
    const retriedSet = firstFailing
      ? sensors.probes[firstFailing.service]?.find((p) => p.config.name === firstFailing.name)
      : undefined;
    const retried = verification.ok && retriedSet ? await runProbe(firstFailing!.service, retriedSet.probe) : undefined;
    const ok = verification.ok && (retried?.ok ?? true);
    this.emit({
      type: 'verified',
      incidentId: incident.id,
      ok,
      probes: retried ? [...verification.probes, retried] : verification.probes,
      ms: verification.ms,
    });
    const timeToHealMs = actedAt !== undefined ? timeSinceFailure(incident, diagnosis) : undefined;
    await this.countRemediations(actions, ok);
    if (!ok) {
      const stuck = verification.stuckAt ?? `${retried?.name} still fails (${retried?.error})`;
      return this.finish(incident, diagnosis, {
        ...base,
        actions,
        approvedBy,
        retried,
        settled: verification.settled,
        outcome: 'failed',
        escalation: [`still unhealthy after the fix: ${stuck}`, breakerMessage].filter(Boolean).join('; '),
      });
    }
    return this.finish(incident, diagnosis, {
      ...base,
      actions,
      approvedBy,
      retried,
      timeToHealMs,
      settled: verification.settled,
      outcome: 'healed',
      escalation: breakerMessage,
    });
  }

  /** Holds the target as acted on by this incident (a waiter learns who acted) and tells the event stream. */
  private markStarted(incident: Incident, step: PlanStep): void {
    this.locks.started(this.targetKeyOf(step.target), {
      incidentId: incident.id,
      service: step.target,
      action: step.action,
      at: this.now(),
    });
    this.emit({ type: 'action_started', incidentId: incident.id, step });
  }

  /** Verifies from the inside out after an action, streaming each probe. */
  private verifyFix(incident: Incident, diagnosis: Diagnosis, actedAt: number | undefined) {
    return verifyInsideOut(
      this.options.sensors,
      incident.service,
      this.config.healing.verifyTimeout,
      (r) => this.emit({ type: 'probe', incidentId: incident.id, result: r }),
      { before: diagnosis, unchangedChecks: this.config.healing.unchangedChecks, actedAt },
    );
  }

  /** Success rates: each built-in action counts as working only when the service verified healthy after it. */
  private async countRemediations(actions: ActionResult[], healed: boolean): Promise<void> {
    for (const action of actions)
      await this.options.store.recordRemediation(
        action.target,
        remediationName(action),
        this.now(),
        healed && action.ok,
      );
  }

  /** A matching runbook instead of the default plan: one approval for all of it, then steps, verification, rollback. */
  private async runRunbook(
    incident: Incident,
    diagnosis: Diagnosis,
    runbook: RunbookPlan,
    options: RunOptions,
    held: { targets?: HeldTargets },
    diagnosedAt: number,
  ): Promise<HealReport> {
    const plan = runbookPlanSteps(runbook);
    const base = { plan, actions: [] as ActionResult[], approvedBy: [] as string[] };
    await this.audit(incident.id, incident.service, 'planned', undefined, {
      rootCause: diagnosis.rootCause.kind,
      confidence: diagnosis.rootCause.confidence,
      runbook: runbook.name,
      plan,
    });
    const blockedBy = runbook.manualReason ? undefined : await this.blockReason(incident, options, [runbook.target]);
    this.emit({ type: 'plan', incidentId: incident.id, steps: plan, blockedBy });
    if (runbook.manualReason || blockedBy)
      return this.finish(incident, diagnosis, { ...base, outcome: 'escalated', escalation: blockedBy });
    const approval = runbook.approval;
    const approvedBy: string[] = [];
    const pre = options.preApproved;
    if (
      pre &&
      pre.step.action === 'runbook' &&
      pre.step.target === approval.target &&
      pre.step.reason === approval.reason
    )
      approvedBy.push(...pre.by);
    else if (approval.risk === 'risky') {
      const decision = await this.requestApproval(incident, approval);
      if (decision.decision === 'denied')
        return this.finish(incident, diagnosis, { ...base, outcome: 'denied', deniedBy: decision.by[0] });
      if (decision.decision === 'expired')
        return this.finish(incident, diagnosis, {
          ...base,
          outcome: 'escalated',
          escalation: `nobody approved runbook ${runbook.name} on ${approval.target} in time; nothing was changed`,
        });
      approvedBy.push(...decision.by);
    }
    // The decision to act: until verification and any rollback end, no other incident acts on the target.
    held.targets = await this.locks.acquire([this.targetKeyOf(runbook.target)], incident.id);
    const changed = this.recentAction([runbook.target], diagnosedAt);
    if (changed)
      return this.finish(incident, diagnosis, {
        ...base,
        approvedBy,
        outcome: 'escalated',
        escalation: `${changed}; the situation changed while waiting, so runbook ${runbook.name} did not run: run /heal ${incident.service} again`,
      });
    const lateBlock = (await this.blockReason(incident, options, [runbook.target])) ?? this.options.mayAct?.();
    if (lateBlock)
      return this.finish(incident, diagnosis, { ...base, approvedBy, outcome: 'escalated', escalation: lateBlock });
    const breakerMessage = await this.recordAttempt(incident, runbook.target);
    const actedAt = Date.now();
    const run = await runRunbook(runbook, {
      runCommand:
        this.options.runCommand ??
        (async () => ({ output: '', timedOut: false, error: 'this healbot has no command runner' })),
      act: (step) => this.act(incident, step.plan, approvedBy, step.timeoutMs),
      verifyProbes: async () => {
        const verification = await this.verifyFix(incident, diagnosis, actedAt);
        this.emit({
          type: 'verified',
          incidentId: incident.id,
          ok: verification.ok,
          probes: verification.probes,
          ms: verification.ms,
        });
        return verification;
      },
      onStart: (step) => this.markStarted(incident, step.plan),
      onStep: async (phase, step, result) => {
        await this.audit(incident.id, step.plan.target, 'runbook_step', approvedBy.join(' and ') || 'policy:auto', {
          runbook: runbook.name,
          phase,
          step: step.name,
          argv: step.argv,
          ok: result.ok,
          ms: result.ms,
          error: result.error,
          output: result.output,
        });
        if (step.argv) this.emit({ type: 'action_finished', incidentId: incident.id, step: step.plan, result });
      },
      redact: this.options.redact,
    });
    const message = describeRunbookRun(run.report);
    if (!run.ok) this.emit({ type: 'info', incidentId: incident.id, message: this.options.redact(message) });
    await this.options.store.recordRemediation(runbook.target, remediationName(approval), this.now(), run.ok);
    const outcome = run.ok ? ('healed' as const) : ('failed' as const);
    return this.finish(incident, diagnosis, {
      ...base,
      actions: run.actions,
      approvedBy,
      outcome,
      runbook: run.report,
      timeToHealMs: run.ok ? timeSinceFailure(incident, diagnosis) : undefined,
      escalation: breakerMessage,
    });
  }

  /** An approval decided after a restart: diagnose again and act only if the same step is still right. */
  private async resumeApproved(record: ApprovalRecord): Promise<void> {
    const service = (await this.options.store.getIncident(record.incidentId))?.service;
    if (service === undefined) return;
    // Under the intake's lock: no signal opens or re-runs an incident of the service meanwhile.
    const resumed = await this.intake.exclusive([service], async () => {
      const stored = (await this.options.store.getIncident(record.incidentId)) as
        | (IncidentRecord & { origin?: Incident['origin']; labels?: Record<string, string> })
        | undefined;
      if (!stored || stored.status !== 'open') return undefined;
      const other = this.running.get(stored.service);
      if (other) {
        await this.closeOrphan(
          record,
          'escalated',
          `approved after a restart, but incident ${other.incident.id} for ${stored.service} was already running; nothing was done here`,
        );
        return undefined;
      }
      const incident: Incident = {
        id: stored.id,
        service: stored.service,
        source: stored.source,
        requestedBy: stored.requestedBy,
        openedAt: stored.openedAt,
        origin: stored.origin,
      };
      await this.audit(incident.id, incident.service, 'resumed_after_restart', record.decidedBy, {
        approval: record.id,
      });
      return {
        report: this.start(incident, {
          preApproved: { step: record.step, by: record.approvedBy },
          labels: stored.labels,
        }),
      };
    });
    await resumed?.report;
  }

  close(): void {
    this.approvals.close();
  }
}

interface RunOptions {
  security?: boolean;
  leaveAlone?: string;
  /** The triggering alert's labels, for runbooks' `when.labels`; never substituted into commands. */
  labels?: Record<string, string>;
  preApproved?: { step: PlanStep; by: string[] };
}
