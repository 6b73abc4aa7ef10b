import type { EngineLogger } from '../engine/engine.js';
import type { Diagnosis, HealReport, ProgressEvent } from '../engine/types.js';
import { GitHubApiError, GitHubClient } from '../github/client.js';
import type { Redactor } from '../redact.js';
import type { Store } from '../store/store.js';

export interface GitHubConfig {
  /** owner/name; incidents of services without a repo of their own are not escalated when unset. */
  repo?: string;
  token: string;
  /** https://api.github.com, or https://HOST/api/v3 for GitHub Enterprise Server. */
  apiUrl: string;
}

export interface GitHubEscalationOptions {
  config: GitHubConfig;
  redact: Redactor;
  store: Store;
  logger?: EngineLogger;
  /** Labels put on every issue. @defaultValue ['healbot'] */
  labels?: string[];
  /** Waits before each retry when GitHub gives no retry-after. @defaultValue GITHUB_DEFAULTS.retryDelaysMs */
  retryDelaysMs?: readonly number[];
  /** The repo a service's issues go to when it has its own (a CI pipeline's repo). */
  repoFor?: (service: string) => string | undefined;
}

/** Defaults for GitHub escalation. */
export const GITHUB_DEFAULTS = {
  /** @defaultValue 15 s for GitHub to answer one request. */
  requestTimeoutMs: 15_000,
  /** @defaultValue four retries after 2, 8, 30 and 120 s: an escalation is not dropped because GitHub hiccuped. */
  retryDelaysMs: [2_000, 8_000, 30_000, 120_000],
  /** @defaultValue a retry-after longer than 5 min is capped to it. */
  maxRetryAfterMs: 300_000,
} as const;

/** Whether trying again can help: no answer, a server error, or a rate limit; never a refusal of the request itself. */
function retryable(error: unknown): boolean {
  return !(error instanceof GitHubApiError) || error.transient;
}

const ESCALATING = new Set<HealReport['outcome']>(['escalated', 'failed']);

/** The issue text: what healbot saw, what it concluded, what it did and what is left to do. */
export function issueFor(report: HealReport, diagnosis?: Diagnosis): { title: string; body: string } {
  const rc = report.rootCause;
  const lines = [
    `healbot could not heal **${report.service}** on its own (incident \`${report.incidentId}\`, outcome: ${report.outcome}).`,
    '',
    `**Root cause:** \`${rc.kind}\`${rc.layer ? ` (layer: ${rc.layer})` : ''}, confidence ${rc.confidence.toFixed(2)}`,
    '',
    rc.summary,
    '',
  ];
  if (report.escalation) lines.push(`**What is needed:** ${report.escalation}`, '');
  if (rc.evidence.length > 0)
    lines.push('**Evidence**', '', ...rc.evidence.map((e) => `- ${e.source}: ${e.detail}`), '');
  if (report.hops.length > 0) {
    lines.push('**Request path** (outermost first)', '', '| service | layer | result | ms |', '|---|---|---|---|');
    for (const hop of report.hops)
      lines.push(
        `| ${hop.service} | ${hop.name} | ${hop.ok ? 'ok' : `fails${hop.status ? ` ${hop.status}` : ''}${hop.error ? `: ${hop.error}` : ''}`} | ${hop.ms} |`,
      );
    lines.push('');
  }
  if (report.plan.length > 0)
    lines.push('**Plan**', '', ...report.plan.map((s) => `- ${s.action} ${s.target} (${s.risk}): ${s.reason}`), '');
  if (report.actions.length > 0)
    lines.push(
      '**Actions taken**',
      '',
      ...report.actions.map(
        (a) =>
          `- ${a.action} ${a.target}: ${a.ok ? 'ok' : `failed: ${a.error ?? ''}`} (${a.ms} ms${a.approvedBy?.length ? `, approved by ${a.approvedBy.join(' and ')}` : ''})`,
      ),
      '',
    );
  const logs = diagnosis?.runtime[report.service]?.logs;
  if (logs && logs.length > 0) lines.push('**Last log lines**', '', '```', ...logs.slice(-20), '```', '');
  lines.push(`_Opened by healbot. Summary: ${report.summary}_`);
  const title =
    rc.kind === 'pipeline_failed'
      ? `healbot: ${rc.summary.slice(0, 180)}`
      : `healbot: ${report.service} needs a human (${rc.kind})`;
  return { title, body: lines.join('\n') };
}

/**
 * Opens a GitHub issue with the diagnosis when an incident is escalated or fails. One issue per
 * incident, also across restarts (the store remembers which incidents already have one).
 */
export class GitHubEscalation {
  private readonly diagnoses = new Map<string, Diagnosis>();
  private readonly pending = new Set<Promise<unknown>>();
  private readonly client: GitHubClient;

  constructor(private readonly options: GitHubEscalationOptions) {
    const { token, apiUrl } = options.config;
    // Rate limits come back to escalate(): its retries wait minutes if need be, and count as attempts.
    this.client = new GitHubClient({
      token,
      apiUrl,
      timeoutMs: GITHUB_DEFAULTS.requestTimeoutMs,
      maxRetryWaitMs: 0,
      redact: options.redact,
    });
  }

  /** Feed it the engine's progress events. */
  observe(event: ProgressEvent): void {
    if (event.type === 'finding') this.diagnoses.set(event.incidentId, event.diagnosis);
    if (event.type !== 'done') return;
    const diagnosis = this.diagnoses.get(event.incidentId);
    this.diagnoses.delete(event.incidentId);
    if (!ESCALATING.has(event.report.outcome) || event.report.duplicate) return;
    const work = this.escalate(event.report, diagnosis);
    this.pending.add(work);
    void work.finally(() => this.pending.delete(work));
  }

  /** Opens the issue for an escalated report (once per incident); resolves with its URL, or undefined when skipped or failed. */
  async escalate(report: HealReport, diagnosis?: Diagnosis): Promise<string | undefined> {
    const { store, logger } = this.options;
    const repo = this.options.repoFor?.(report.service) ?? this.options.config.repo;
    if (!repo) return undefined;
    // A failed CI run gets one issue, however many incidents its deliveries and re-runs open.
    const run = diagnosis?.runtime[report.service]?.ci?.run;
    if (
      !(await store.claimEvent(
        run ? `github-issue:${repo}:run:${run.id}` : `github-issue:${report.incidentId}`,
        report.incidentId,
      ))
    )
      return undefined;
    const delays = this.options.retryDelaysMs ?? GITHUB_DEFAULTS.retryDelaysMs;
    const issue = issueFor(report, diagnosis);
    for (let attempt = 0; ; attempt++) {
      try {
        const opened = await this.openIssue(issue, repo);
        await store.appendAudit({
          at: new Date().toISOString(),
          incidentId: report.incidentId,
          service: report.service,
          event: 'github_issue',
          detail: { url: opened.url, number: opened.number, attempts: attempt + 1 },
        });
        logger?.info({ incidentId: report.incidentId, url: opened.url }, 'opened a GitHub issue');
        return opened.url;
      } catch (error) {
        const message = this.options.redact((error as Error).message);
        if (attempt >= delays.length || !retryable(error)) {
          await store.appendAudit({
            at: new Date().toISOString(),
            incidentId: report.incidentId,
            service: report.service,
            event: 'github_issue_failed',
            detail: { error: message, attempts: attempt + 1 },
          });
          logger?.error(
            { incidentId: report.incidentId, err: message, attempts: attempt + 1 },
            'could not open a GitHub issue',
          );
          return undefined;
        }
        const wait = Math.min(
          error instanceof GitHubApiError && error.retryAfter !== undefined ? error.retryAfter * 1000 : delays[attempt],
          GITHUB_DEFAULTS.maxRetryAfterMs,
        );
        logger?.warn(
          { incidentId: report.incidentId, err: message, retryInMs: wait },
          'could not open a GitHub issue yet; retrying',
        );
        await new Promise((resolve) => setTimeout(resolve, wait));
      }
    }
  }

  /** `POST /repos/{owner}/{repo}/issues`. */
  async openIssue(
    issue: { title: string; body: string },
    repo = this.options.config.repo,
  ): Promise<{ number: number; url: string }> {
    const json = await this.client.json<{ number?: number; html_url?: string }>('POST', `/repos/${repo}/issues`, {
      body: { title: issue.title, body: issue.body, labels: this.options.labels ?? ['healbot'] },
    });
    return { number: json.number ?? 0, url: json.html_url ?? '' };
  }

  /** Waits for issues being opened (for shutdown and tests). */
  async idle(): Promise<void> {
    await Promise.allSettled([...this.pending]);
  }
}
