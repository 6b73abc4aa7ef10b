import type { IncidentView, IntakeDecision, Signal } from './intake.js';
import type { IncidentSilence } from './silences.js';
import type {
  AlertContext,
  ApprovalRequest,
  Diagnosis,
  HealReport,
  Incident,
  IncidentSource,
  ProgressEvent,
  RootCause,
} from './types.js';

/**
 * Who is asking or deciding, as a verified door knows them: a Slack or Discord user id from a
 * verified request, a named API credential (`api`), the webhook token (`webhook`, never an
 * approver), the local operator (`cli`, `console`), or healbot itself (`healbot`, e.g. a
 * resolved alert withdrawing its request).
 */
export interface Actor {
  platform: 'slack' | 'discord' | 'console' | 'cli' | 'api' | 'webhook' | 'healbot';
  /** The verified id on that door; two approvals need two distinct `platform:id` identities. */
  id: string;
  /** How to mention or show them, e.g. `<@U0ONCALL>` or `@ana`. */
  display?: string;
  /** Discord role ids, Slack user-group ids. */
  roles?: string[];
}

export interface HealRequest {
  service: string;
  source: IncidentSource;
  requestedBy?: Actor;
  summary?: string;
  origin?: Incident['origin'];
  dryRun?: boolean;
  /** A key that identifies the triggering event; the same key never opens a second incident. */
  dedupeKey?: string;
  /** Security-related alerts are diagnosed and reported, never acted on automatically. */
  security?: boolean;
  /** Report only: a person stopped the workload on purpose (this says how); healbot acts on nothing. */
  leaveAlone?: string;
  /** When the failure was first seen (epoch ms: the Docker event, the first failing probe); time to heal counts from it. */
  failingSince?: number;
  /** The triggering alert's labels: runbooks match on them, nothing is ever filled from them. */
  labels?: Record<string, string>;
  context?: Incident['context'];
}

/** An incident whose work is not a heal (an application error routed to GitHub or to chat). */
export interface TrackRequest {
  service: string;
  source: IncidentSource;
  summary: string;
  /** What was recognised, shown and stored like a root cause. */
  rootCause: RootCause;
  dedupeKey?: string;
  context?: Incident['context'];
}

/** How a tracked incident ended; `summary` closes its thread. */
export interface TrackOutcome {
  outcome: HealReport['outcome'];
  summary: string;
  /** Who must act, with mentions (the on-call). */
  escalation?: string;
}

export interface ServiceStatus {
  service: string;
  healthy: boolean;
  rootCause: RootCause;
  paused: boolean;
  breakerOpen: boolean;
  openIncident?: string;
}

export interface IncidentRecord {
  id: string;
  service: string;
  status: 'open' | 'closed';
  source: IncidentSource;
  openedAt: string;
  closedAt?: string;
  alertCount: number;
  rootCause?: RootCause;
  plan?: HealReport['plan'];
  actions?: HealReport['actions'];
  outcome?: HealReport['outcome'];
  summary?: string;
  requestedBy?: string;
  /** Diagnose and plan only. */
  dryRun?: boolean;
  context?: AlertContext;
  /** The Alertmanager silence healbot created for this incident's alert, while it lasts. */
  silence?: IncidentSilence;
}

/** How often a remediation (`runbook:<name>` or `action:<kind>`) worked on a service, and how its latest run went. */
export interface RemediationStats {
  service: string;
  remediation: string;
  runs: number;
  succeeded: number;
  lastOk: boolean;
  lastAt: number;
}

export type DecisionResult =
  | {
      ok: true;
      decision: 'approved' | 'denied';
      request: ApprovalRequest;
      by: string[];
      at: string;
      waitingFor?: number;
    }
  | {
      ok: false;
      reason: 'not_allowed' | 'expired' | 'not_found' | 'already_decided' | 'same_approver';
      message: string;
    };

/**
 * The one engine every door uses: chat commands, alert messages, webhooks and the CLI.
 * Commands and adapters depend on this interface, never on how it is built.
 */
export interface HealbotApi {
  services(): string[];
  /** Opens an incident (or joins the open one for the service) and runs it to the end. */
  heal(request: HealRequest): Promise<HealReport>;
  /** Like heal, but says at once what became of the request: opened, or joined an open incident (and where it stands). */
  open(request: HealRequest): Promise<IntakeDecision>;
  /** Hands signals (alerts, monitoring rounds, events) to the intake, in one store transaction. */
  accept(signals: readonly Signal[]): Promise<IntakeDecision[]>;
  /** Where an incident stands now. */
  incident(id: string): Promise<IncidentView | undefined>;
  /** Closes an open incident by hand (`/heal resolve <id>`): an approver says the failure is over. */
  resolveIncident(id: string, by: Actor): Promise<IncidentView>;
  /** Whether `actor` may approve actions on `service` (so a reply only offers buttons that work). */
  mayApprove(actor: Actor, service: string): boolean;
  /** The chat thread of an incident on a platform, when it has one. */
  thread(
    incidentId: string,
    platform: string,
  ): Promise<{ platform: string; channel: string; thread: string; statusMessage: string } | undefined>;
  diagnose(service: string): Promise<Diagnosis>;
  status(): Promise<ServiceStatus[]>;
  history(service?: string, limit?: number): Promise<IncidentRecord[]>;
  /** Success counts of runbooks and built-in actions, per service. */
  remediationStats(service?: string): Promise<RemediationStats[]>;
  pause(service: string, by: Actor): Promise<void>;
  resume(service: string, by: Actor): Promise<void>;
  decide(approvalId: string, actor: Actor, decision: 'approve' | 'deny'): Promise<DecisionResult>;
  /** Silences the Alertmanager alert behind an incident for `durationMs` (approvers only). */
  silence(incidentId: string, durationMs: number, by: Actor): Promise<IncidentSilence>;
  /** Expires the silence healbot created for an incident (approvers only). */
  expireSilence(incidentId: string, by: Actor): Promise<IncidentSilence>;
  /** Every incident's progress events. Returns the unsubscribe function. */
  subscribe(listener: (event: ProgressEvent) => void): () => void;
}
