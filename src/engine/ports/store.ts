import type { IncidentRecord, RemediationStats } from '../api.js';
import type { ApprovalRequest } from '../types.js';

export interface ApprovalRecord extends ApprovalRequest {
  status: 'pending' | 'approved' | 'denied' | 'expired';
  approvedBy: string[];
  /** The verified identities (`platform:id`) behind approvedBy; two approvals need two distinct ones. */
  approverIds?: string[];
  decidedBy?: string;
  decidedAt?: string;
}

export interface AuditEntry {
  at: string;
  incidentId?: string;
  service?: string;
  /** What happened: requested, planned, approval_requested, approved, denied, refused, action, verified, outcome, breaker_opened, paused, resumed… */
  event: string;
  actor?: string;
  detail: Record<string, unknown>;
}

export interface StoredThread {
  platform: string;
  channel: string;
  thread: string;
  statusMessage: string;
}

/**
 * Durable state: incidents, approvals, breaker and pause state, the append-only audit log,
 * chat threads and processed event keys. Every write is committed before it returns, so a
 * killed healbot loses nothing.
 */
export interface Store {
  saveIncident(
    record: IncidentRecord & {
      dedupeKey?: string;
      origin?: unknown;
      dryRun?: boolean;
      labels?: Record<string, string>;
      context?: unknown;
    },
  ): void;
  updateIncident(id: string, patch: Partial<IncidentRecord>): void;
  getIncident(id: string): (IncidentRecord & { origin?: unknown; context?: unknown }) | undefined;
  listIncidents(filter?: { service?: string; limit?: number; status?: 'open' | 'closed' }): IncidentRecord[];
  openIncidentFor(service: string): IncidentRecord | undefined;
  /** The id of the service's newest open incident that is not a dry run (cheap: the alert path asks per alert). */
  openIncidentId(service: string): string | undefined;
  /** Adds `by` (default 1) to an incident's alert count. */
  incrementAlertCount(id: string, by?: number): void;
  /** Remembers that alert `fingerprint` fires on `incidentId`. */
  trackFiring(incidentId: string, fingerprint: string): void;
  /** Forgets a firing alert; returns how many of the incident's alerts still fire. */
  resolveFiring(incidentId: string, fingerprint: string): number;

  /** Records `key` as seen; false when it was seen before (a duplicate delivery). */
  claimEvent(key: string, incidentId?: string): boolean;
  eventIncident(key: string): string | undefined;

  saveApproval(record: ApprovalRecord): void;
  getApproval(id: string): ApprovalRecord | undefined;
  /** Atomically moves a pending approval on; false when it was no longer pending (a second click). */
  transitionApproval(id: string, from: 'pending', to: ApprovalRecord): boolean;
  pendingApprovals(): ApprovalRecord[];

  recordHealAttempt(service: string, at: number, ok: boolean): void;
  healAttemptsSince(service: string, since: number): { at: number; ok: boolean }[];
  isBreakerOpen(service: string): boolean;
  setBreakerOpen(service: string, open: boolean): void;
  /** Closes the breaker and starts its count over from `at` (someone ran /heal resume). */
  resetBreaker(service: string, at: number): void;
  /** When the breaker was last reset, if ever. */
  breakerResetAt(service: string): number | undefined;
  isPaused(service: string): boolean;
  setPaused(service: string, paused: boolean): void;

  /** Counts one run of a remediation (`runbook:<name>` or `action:<kind>`) on a service, for success rates. */
  recordRemediation(service: string, remediation: string, at: number, ok: boolean): void;
  /** The latest runs of a remediation on a service, newest first. */
  remediationRuns(service: string, remediation: string, limit: number): { at: number; ok: boolean }[];
  /** Success counts per service and remediation, optionally for one service. */
  remediationStats(service?: string): RemediationStats[];

  appendAudit(entry: AuditEntry): void;
  listAudit(filter?: { service?: string; since?: string }): AuditEntry[];

  saveThread(incidentId: string, thread: StoredThread): void;
  getThread(incidentId: string, platform: string): StoredThread | undefined;

  /** Whether a write reaches durable storage right now (readiness); optional. */
  writable?(): boolean;

  /** Runs `work` as one transaction (one commit for many writes, e.g. a batch of alerts); optional. */
  transaction?<T>(work: () => T): T;

  close(): void;
}
