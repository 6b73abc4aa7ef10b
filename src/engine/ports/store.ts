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

/** Work a replica that does not lead hands to the one that does: a signal it accepted, an approval decision it recorded. */
export interface QueuedWork {
  seq: number;
  kind: string;
  payload: unknown;
  at: string;
}

/**
 * Durable state: incidents, approvals, breaker and pause state, the append-only audit log,
 * chat threads, processed event keys and the work queue between replicas. Every write is
 * committed before its promise resolves, so a killed healbot loses nothing. SQLite (embedded,
 * one process) and Postgres (shared by several replicas) implement it; both pass
 * test/store/store-contract.test.ts.
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
  ): Promise<void>;
  updateIncident(id: string, patch: Partial<IncidentRecord>): Promise<void>;
  getIncident(id: string): Promise<(IncidentRecord & { origin?: unknown; context?: unknown }) | undefined>;
  listIncidents(filter?: { service?: string; limit?: number; status?: 'open' | 'closed' }): Promise<IncidentRecord[]>;
  openIncidentFor(service: string): Promise<IncidentRecord | undefined>;
  /** The id of the service's newest open incident that is not a dry run (cheap: the alert path asks per alert). */
  openIncidentId(service: string): Promise<string | undefined>;
  /** Adds `by` (default 1) to an incident's alert count. */
  incrementAlertCount(id: string, by?: number): Promise<void>;
  /** Remembers that alert `fingerprint` fires on `incidentId`. */
  trackFiring(incidentId: string, fingerprint: string): Promise<void>;
  /** Forgets a firing alert; returns how many of the incident's alerts still fire. */
  resolveFiring(incidentId: string, fingerprint: string): Promise<number>;

  /** Records `key` as seen; false when it was seen before (a duplicate delivery). Atomic across replicas. */
  claimEvent(key: string, incidentId?: string): Promise<boolean>;
  eventIncident(key: string): Promise<string | undefined>;

  saveApproval(record: ApprovalRecord): Promise<void>;
  getApproval(id: string): Promise<ApprovalRecord | undefined>;
  /** Atomically moves a pending approval on; false when it was no longer pending (a second click, on any replica). */
  transitionApproval(id: string, from: 'pending', to: ApprovalRecord): Promise<boolean>;
  pendingApprovals(): Promise<ApprovalRecord[]>;

  recordHealAttempt(service: string, at: number, ok: boolean): Promise<void>;
  healAttemptsSince(service: string, since: number): Promise<{ at: number; ok: boolean }[]>;
  isBreakerOpen(service: string): Promise<boolean>;
  setBreakerOpen(service: string, open: boolean): Promise<void>;
  /** Closes the breaker and starts its count over from `at` (someone ran /heal resume). */
  resetBreaker(service: string, at: number): Promise<void>;
  /** When the breaker was last reset, if ever. */
  breakerResetAt(service: string): Promise<number | undefined>;
  isPaused(service: string): Promise<boolean>;
  setPaused(service: string, paused: boolean): Promise<void>;

  /** Counts one run of a remediation (`runbook:<name>` or `action:<kind>`) on a service, for success rates. */
  recordRemediation(service: string, remediation: string, at: number, ok: boolean): Promise<void>;
  /** The latest runs of a remediation on a service, newest first. */
  remediationRuns(service: string, remediation: string, limit: number): Promise<{ at: number; ok: boolean }[]>;
  /** Success counts per service and remediation, optionally for one service. */
  remediationStats(service?: string): Promise<RemediationStats[]>;

  appendAudit(entry: AuditEntry): Promise<void>;
  listAudit(filter?: { service?: string; since?: string }): Promise<AuditEntry[]>;

  saveThread(incidentId: string, thread: StoredThread): Promise<void>;
  getThread(incidentId: string, platform: string): Promise<StoredThread | undefined>;

  /** Queues work for the leading replica. */
  enqueueWork(kind: string, payload: unknown): Promise<void>;
  /** Removes and returns up to `limit` queued items, oldest first; each item goes to exactly one caller. */
  takeWork(limit: number): Promise<QueuedWork[]>;

  /** Whether a write reaches durable storage right now (readiness). */
  writable(): Promise<boolean>;

  /**
   * Runs `work` as one transaction against `tx` (one commit for many writes, e.g. a batch of
   * alerts); rolls back and rethrows when `work` throws. Calls made on `tx` belong to the
   * transaction; calls made on the store itself meanwhile do not.
   */
  transaction<T>(work: (tx: Store) => Promise<T>): Promise<T>;

  close(): Promise<void>;
}
