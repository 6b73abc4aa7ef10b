import type { CiFailureCategory } from './ci/patterns.js';
import type { PatternMatch } from './patterns/pattern.js';

/**
 * The engine's data model. Everything the engine produces is data: adapters and commands
 * turn it into messages.
 */

/** The stable root-cause vocabulary (see ../shared/scenarios.md). */
export const ROOT_CAUSE_KINDS = [
  'healthy',
  'layer_broken',
  'service_down',
  'service_unhealthy',
  'crash_loop',
  'oom_killed',
  'dependency_down',
  'observer_blind',
  'scaled_to_zero',
  'image_pull_failed',
  'no_endpoints',
  'recreating',
  'pipeline_failed',
  'bad_rollout',
  'stale_config',
  'unknown',
] as const;
export type RootCauseKind = (typeof ROOT_CAUSE_KINDS)[number];

/** How a probe failed, so "I cannot see it" stays apart from "it is down". */
export type ProbeErrorKind = 'dns' | 'refused' | 'timeout' | 'status' | 'body' | 'tls' | 'reset' | 'exit' | 'other';

export interface ProbeResult {
  service: string;
  name: string;
  ok: boolean;
  status?: number;
  error?: string;
  errorKind?: ProbeErrorKind;
  /** The host name the probe resolved, when it has one (for observer_blind advice). */
  host?: string;
  ms: number;
}

/** What a runtime says about one service's workload, normalised across Docker, Kubernetes and commands. */
export interface RuntimeState {
  runtime: 'docker' | 'kubernetes' | 'command' | 'process' | 'github';
  /** Human name of what was inspected: a container, a deployment, a unit. */
  target: string;
  status: 'running' | 'exited' | 'restarting' | 'paused' | 'created' | 'dead' | 'missing' | 'unknown';
  exitCode?: number;
  oomKilled?: boolean;
  restartCount?: number;
  health?: 'healthy' | 'unhealthy' | 'starting' | 'none';
  healthLog?: string[];
  startedAt?: string;
  finishedAt?: string;
  memory?: { limitBytes?: number; usageBytes?: number };
  networks?: string[];
  /** Last log lines, already redacted. */
  logs?: string[];
  kubernetes?: KubernetesState;
  ci?: CiState;
  /** Set when the runtime could not be read: healbot cannot see this workload. */
  error?: string;
  /** Something the reader should know about how the target was chosen, e.g. several containers matched its labels. */
  note?: string;
  /**
   * Set when a person stopped, paused or scaled it down through the runtime's API (`docker stop`,
   * `docker pause`, `kubectl scale --replicas=0`): healbot does not undo that unasked.
   */
  stoppedOnPurpose?: { how: string; at: string };
  /** Config files (configured, or mounted read-only) modified after the workload started. */
  changedFiles?: { path: string; modifiedAt: string }[];
}

export interface KubernetesContainerState {
  name: string;
  ready: boolean;
  restartCount: number;
  waitingReason?: string;
  waitingMessage?: string;
  terminatedReason?: string;
  lastTerminatedReason?: string;
  exitCode?: number;
  image?: string;
}

export interface KubernetesPodState {
  name: string;
  phase: string;
  ready: boolean;
  deleting: boolean;
  /** When the pod was asked to terminate (ISO time), if it was. */
  deletionTimestamp?: string;
  labels: Record<string, string>;
  containers: KubernetesContainerState[];
  createdAt?: string;
}

export interface KubernetesState {
  namespace: string;
  deployment: string;
  desiredReplicas: number;
  readyReplicas: number;
  availableReplicas: number;
  updatedReplicas?: number;
  /** Replica count to restore to, from config, the annotation healbot keeps, or inferred from the cluster. */
  lastKnownReplicas?: number;
  /** Where lastKnownReplicas came from when the Deployment is at zero, for the plan's reason. */
  replicasSource?: string;
  pods: KubernetesPodState[];
  service?: {
    name: string;
    selector: Record<string, string>;
    readyEndpoints: number;
    notReadyEndpoints: number;
    /** True when the configured Service does not exist. */
    missing?: boolean;
  };
  events: { reason: string; message: string; type: string; object?: string }[];
  memoryLimit?: string;
  /** The Deployment's newest revision and the one before it, from its ReplicaSets. */
  rollout?: { current: KubernetesRevision; previous?: KubernetesRevision };
}

/** One revision of a Deployment: a ReplicaSet and what it runs. */
export interface KubernetesRevision {
  revision: number;
  replicaSet: string;
  /** The ReplicaSet's `pod-template-hash`, which its pods carry as a label. */
  podTemplateHash?: string;
  images: string[];
  readyReplicas: number;
  availableReplicas: number;
}

/** One GitHub Actions workflow run as healbot read it. */
export interface CiRun {
  id: number;
  attempt: number;
  number: number;
  workflow: string;
  /** `.github/workflows/build.yml` */
  path: string;
  branch: string;
  status: string;
  conclusion: string | null;
  /** The run's page on GitHub. */
  url: string;
  /** When the latest attempt started and last changed: the attempt's duration. */
  startedAt?: string;
  updatedAt?: string;
}

export interface CiFailedJob {
  id: number;
  name: string;
  conclusion: string | null;
  /** The first step that failed. */
  failedStep?: string;
  /** The end of the job's log, timestamps removed, already redacted. */
  logTail: string[];
  /** Cache keys the job restored ("Cache restored from key: …"). */
  cacheKeys: string[];
}

/** What a CI runtime says about a pipeline: the run looked at, its failed jobs and what their logs say. */
export interface CiState {
  repo: string;
  run?: CiRun;
  failedJobs: CiFailedJob[];
  /** Failed jobs whose logs match no known pattern: healbot will not re-run what it does not understand. */
  unexplainedJobs?: string[];
  /** Re-runs of the failed run's workflow and branch within the breaker window (by anyone), against its threshold. */
  reruns?: { count: number; threshold: number; windowMs: number };
  /** The log pattern that explains the failure, with the job and step it came from. */
  failure?: {
    id: string;
    category: CiFailureCategory;
    confidence: number;
    description: string;
    line: string;
    job: string;
    step?: string;
  };
}

export interface Evidence {
  source: 'probe' | 'runtime' | 'dependency' | 'policy';
  detail: string;
}

export interface RootCause {
  kind: RootCauseKind;
  service: string;
  /** The failing layer (a probe name) or, for dependency_down, the dependency's service name. */
  layer?: string;
  summary: string;
  confidence: number;
  evidence: Evidence[];
  /** For dependency_down: the dependency's own root cause. */
  underlying?: RootCause;
  /** A restart cannot fix this (a live process answered 4xx), whatever the confidence threshold says. */
  restartWontHelp?: boolean;
  /** The failure pattern the service's own words matched (src/engine/patterns), if any. */
  pattern?: PatternMatch;
}

/** `command` is a runbook's argv step; `runbook` stands for a whole runbook in its approval request. */
export type ActionKind =
  | 'restart'
  | 'start'
  | 'unpause'
  | 'scale'
  | 'rollout_restart'
  | 'rollout_undo'
  | 'delete_pod'
  | 'rerun_failed_jobs'
  | 'delete_caches'
  | 'dispatch_repair'
  | 'command'
  | 'runbook'
  | 'manual';
export type Risk = 'safe' | 'risky' | 'manual';

export interface PlanStep {
  action: ActionKind;
  /** The configured service the step acts on. */
  target: string;
  risk: Risk;
  reason: string;
  /** Action parameters, e.g. { replicas: 2 } for scale or { pod } for delete_pod. */
  params?: Record<string, string | number>;
  /** Needs an approval even when `policy.auto` lists the action (it undoes what a person did on purpose). */
  askFirst?: boolean;
}

export interface Diagnosis {
  service: string;
  probes: ProbeResult[];
  /** The request path: the service's layers outermost first, then its dependencies'. */
  path: Hop[];
  /** Runtime state per service (the service and its dependencies and layer owners). */
  runtime: Record<string, RuntimeState | undefined>;
  rootCause: RootCause;
  startedAt: string;
  ms: number;
}

export interface ActionResult {
  action: ActionKind;
  target: string;
  ok: boolean;
  ms: number;
  error?: string;
  before?: RuntimeState;
  after?: RuntimeState;
  approvedBy?: string[];
  /** A command step's output (last lines, redacted). */
  output?: string;
  /** The runbook step this result belongs to, by name. */
  step?: string;
}

export type Outcome = 'healed' | 'not_needed' | 'escalated' | 'failed' | 'denied';

export type IncidentSource = 'cli' | 'chat' | 'alert' | 'webhook' | 'monitor' | 'event' | 'api' | 'sentry' | 'logfire';

export interface Incident {
  id: string;
  service: string;
  source: IncidentSource;
  requestedBy?: string;
  summary?: string;
  openedAt: string;
  /** Where the conversation started (a chat channel and message), so replies land in its thread. */
  origin?: { platform: string; channel: string; message?: string };
  /** Diagnose and plan only. */
  dryRun?: boolean;
  /** When the failure was first seen (ISO time), if before the incident opened. */
  failingSince?: string;
  /** What the alert or error carried for humans, shown at the top of the thread. */
  context?: AlertContext;
}

/** What an alert or application error carries for humans: its texts, links back and the labels that matched. */
export interface AlertContext {
  summary?: string;
  description?: string;
  /** Links in the order shown: the runbook first, then the graph (generatorURL), Sentry or Logfire. */
  links: { label: string; url: string }[];
  labels: Record<string, string>;
  /** Where the alert came from; an Alertmanager alert can be silenced from the thread. */
  source?: 'alertmanager' | 'grafana' | 'sentry' | 'logfire';
  /** True when healbot can silence it (an Alertmanager alert, and `alertmanager.url` is configured). */
  silenceable?: boolean;
}

/** One hop of the request path, for rendering `public ✗ 502 (41 ms) → proxy ✓ → internal ✓ → db ✓`. */
export interface Hop {
  service: string;
  name: string;
  ok: boolean;
  status?: number;
  error?: string;
  ms: number;
}

export interface HealReport {
  incidentId: string;
  service: string;
  outcome: Outcome;
  rootCause: RootCause;
  hops: Hop[];
  plan: PlanStep[];
  actions: ActionResult[];
  approvedBy: string[];
  deniedBy?: string;
  /** From the first failure signal (the event, the first failing probe) to verified health, when healed. */
  timeToHealMs?: number;
  /** The original failing check, retried after verification. */
  retried?: ProbeResult;
  summary: string;
  escalation?: string;
  /** Whom healbot itself notifies about this report (the configured on-call); only these may ping. */
  notify?: string[];
  /** True when this answers a duplicate delivery of an event that was already handled. */
  duplicate?: boolean;
  /** Set when healbot itself failed (not the service): the reason, redacted. */
  internalError?: string;
  /** Why healbot left the service as it is although it is down: a person stopped it on purpose. */
  leftAlone?: string;
  /** The runtime's state once verification settled, for runtimes whose fix takes minutes (a CI re-run). */
  settled?: RuntimeState;
  /** True when the request joined an open incident nothing runs for (escalated, or waiting for approval). */
  joined?: boolean;
  /** What a runbook did, when one ran instead of the default action. */
  runbook?: RunbookReport;
}

/** How a runbook run went: where it stopped, whether it was verified, what was undone. */
export interface RunbookReport {
  name: string;
  /** Names of the steps that completed. */
  completed: string[];
  failedStep?: { name: string; error: string };
  /** True when verification passed, false when it failed, undefined when it never ran. */
  verified?: boolean;
  verifyError?: string;
  /** Rollback steps that ran and succeeded, with what they undid. */
  undone: string[];
  rollbackFailed: string[];
}

export interface ApprovalRequest {
  id: string;
  incidentId: string;
  service: string;
  step: PlanStep;
  approvers: string[];
  requiredApprovals: number;
  expiresAt: string;
}

/** Typed progress events every adapter renders. */
export type ProgressEvent =
  | { type: 'started'; incident: Incident }
  | { type: 'probe'; incidentId: string; result: ProbeResult }
  | { type: 'runtime'; incidentId: string; service: string; state: RuntimeState }
  | { type: 'finding'; incidentId: string; rootCause: RootCause; diagnosis: Diagnosis }
  | { type: 'plan'; incidentId: string; steps: PlanStep[]; blockedBy?: string }
  | { type: 'awaiting_approval'; incidentId: string; request: ApprovalRequest }
  | {
      type: 'approval';
      incidentId: string;
      approvalId: string;
      decision: 'approved' | 'denied' | 'expired';
      by: string[];
    }
  | { type: 'action_started'; incidentId: string; step: PlanStep }
  | { type: 'action_finished'; incidentId: string; step: PlanStep; result: ActionResult }
  | { type: 'verified'; incidentId: string; ok: boolean; probes: ProbeResult[]; ms: number }
  | { type: 'info'; incidentId: string; message: string }
  | { type: 'done'; incidentId: string; report: HealReport }
  | { type: 'failed'; incidentId: string; error: string };
