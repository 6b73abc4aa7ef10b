import type { GitHubServiceConfig } from '../config/schema.js';
import { logLinesOf, restoredCacheKeys } from '../engine/ci/patterns.js';
import { explainFailure, watches } from '../engine/ci/rules.js';
import type { CiFailedJob, CiRun, CiState, RuntimeState } from '../engine/types.js';
import { RuntimeError } from '../errors.js';
import type { Redactor } from '../redact.js';
import { GitHubClient } from '../github/client.js';
import type { Runtime, RuntimeAction } from './runtime.js';

/** The fields of GitHub's workflow run object healbot reads (REST and webhook payloads alike). */
export interface WorkflowRunJson {
  id: number;
  name?: string | null;
  path?: string;
  head_branch?: string | null;
  run_number?: number;
  run_attempt?: number;
  status?: string | null;
  conclusion?: string | null;
  html_url?: string;
  run_started_at?: string;
  updated_at?: string;
}

interface JobJson {
  id: number;
  name: string;
  conclusion: string | null;
  steps?: { name: string; conclusion: string | null; number: number }[];
}

const FAILED = new Set(['failure', 'timed_out']);
const sleep = (ms: number, wake: Promise<void>, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    void wake.then(() => (clearTimeout(timer), resolve()));
    signal?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

export function ciRunOf(run: WorkflowRunJson): CiRun {
  return {
    id: run.id,
    attempt: run.run_attempt ?? 1,
    number: run.run_number ?? 0,
    workflow: run.name || run.path?.split('/').pop() || 'workflow',
    path: run.path ?? '',
    branch: run.head_branch ?? '',
    status: run.status ?? 'unknown',
    conclusion: run.conclusion ?? null,
    url: run.html_url ?? '',
    startedAt: run.run_started_at,
    updatedAt: run.updated_at,
  };
}

function statusOf(run: CiRun | undefined): RuntimeState['status'] {
  if (!run) return 'missing';
  if (run.status !== 'completed') return 'restarting';
  return run.conclusion && FAILED.has(run.conclusion) ? 'exited' : 'running';
}

/**
 * A GitHub Actions pipeline as a runtime. `inspect` reads the newest run of the configured
 * workflows and branches, the failed jobs and steps and each failed job's log tail, and
 * classifies the failure; `perform` re-runs failed jobs, deletes a corrupted cache then
 * re-runs, or dispatches a repair workflow; `settle` follows the result until it is known.
 */
export class GitHubActionsRuntime implements Runtime {
  readonly kind = 'github' as const;
  private readonly client: GitHubClient;
  private readonly repo: string;
  private readonly redact: Redactor;
  /** The run the last action was about, so `settle` knows which result to wait for. */
  private baseline?: { run: number; attempt: number; path: string; branch: string };
  private wakeUp: () => void = () => undefined;
  private woken: Promise<void> = new Promise((resolve) => (this.wakeUp = resolve));

  constructor(
    private readonly config: GitHubServiceConfig,
    private readonly options: {
      token: string;
      apiUrl: string;
      timeoutMs?: number;
      redact: Redactor;
      breaker: { threshold: number; window: number };
      now?: () => number;
    },
  ) {
    this.client = new GitHubClient({ token: options.token, apiUrl: options.apiUrl, timeoutMs: options.timeoutMs });
    this.repo = config.repo;
    this.redact = options.redact;
  }

  supports(action: RuntimeAction['action']): boolean {
    return (
      action === 'rerun_failed_jobs' ||
      action === 'delete_caches' ||
      (action === 'dispatch_repair' && this.config.repair !== undefined)
    );
  }

  /** A workflow_run event for this pipeline arrived: wake a waiting `settle` now instead of at its next poll. */
  notify(): void {
    this.wakeUp();
    this.woken = new Promise((resolve) => (this.wakeUp = resolve));
  }

  /**
   * The run that says how the pipeline is: of each watched workflow and branch, its newest run
   * (an older failure already superseded by a newer run is history); of those, the newest that
   * failed, else the newest still running, else the newest.
   */
  private async headRun(signal?: AbortSignal): Promise<WorkflowRunJson | undefined> {
    const branch = this.config.branches.length === 1 ? `&branch=${encodeURIComponent(this.config.branches[0])}` : '';
    const runs = await this.client.paginate<WorkflowRunJson>(
      `/repos/${this.repo}/actions/runs?per_page=50&exclude_pull_requests=true${branch}`,
      'workflow_runs',
      { maxPages: 2, signal },
    );
    const heads = new Map<string, WorkflowRunJson>();
    for (const run of runs) {
      const key = `${run.path ?? run.name}@${run.head_branch}`;
      if (watches(this.config, run) && !heads.has(key)) heads.set(key, run);
    }
    const newest = [...heads.values()];
    return (
      newest.find((r) => r.status === 'completed' && r.conclusion && FAILED.has(r.conclusion)) ??
      newest.find((r) => r.status !== 'completed') ??
      newest[0]
    );
  }

  private async failedJobs(run: CiRun, signal?: AbortSignal): Promise<CiFailedJob[]> {
    const jobs = await this.client.paginate<JobJson>(
      `/repos/${this.repo}/actions/runs/${run.id}/jobs?filter=latest&per_page=100`,
      'jobs',
      { signal },
    );
    const failed = jobs.filter((job) => job.conclusion !== null && FAILED.has(job.conclusion));
    return Promise.all(
      failed.map(async (job) => {
        let lines: string[];
        try {
          lines = logLinesOf(await this.client.jobLog(this.repo, job.id, signal));
        } catch (error) {
          lines = [`(healbot could not read this job's log: ${(error as Error).message})`];
        }
        const tail = lines.slice(-this.config.logLines).map((line) => this.redact(line));
        return {
          id: job.id,
          name: job.name,
          conclusion: job.conclusion,
          failedStep: job.steps?.find((s) => s.conclusion !== null && FAILED.has(s.conclusion))?.name,
          logTail: tail,
          cacheKeys: restoredCacheKeys(lines),
        };
      }),
    );
  }

  private state(ci: CiState, extra: Partial<RuntimeState> = {}): RuntimeState {
    const run = ci.run;
    return {
      runtime: 'github',
      target: run ? `${this.repo} ${run.workflow} #${run.number} on ${run.branch}` : this.repo,
      status: statusOf(run),
      startedAt: run?.startedAt,
      finishedAt: run?.status === 'completed' ? run.updatedAt : undefined,
      restartCount: run ? run.attempt - 1 : undefined,
      logs: ci.failedJobs.flatMap((job) => job.logTail.slice(-20)),
      ci,
      ...extra,
    };
  }

  /** Reads one run (the given one, or the newest watched) with its failed jobs and their classified logs. */
  async read(runId?: number, signal?: AbortSignal): Promise<RuntimeState> {
    const json = runId
      ? await this.client.json<WorkflowRunJson>('GET', `/repos/${this.repo}/actions/runs/${runId}`, { signal })
      : await this.headRun(signal);
    if (!json)
      return this.state(
        { repo: this.repo, failedJobs: [] },
        { note: 'no run of the configured workflows and branches yet' },
      );
    const run = ciRunOf(json);
    const failedJobs =
      run.status === 'completed' && run.conclusion && FAILED.has(run.conclusion)
        ? await this.failedJobs(run, signal)
        : [];
    const { failure, unexplainedJobs } = explainFailure(failedJobs);
    const reruns = failedJobs.length > 0 ? await this.rerunsInWindow(run, signal) : undefined;
    return this.state({ repo: this.repo, run, failedJobs, failure, unexplainedJobs, reruns });
  }

  /** How often the run's workflow was re-run on its branch within the breaker window: the per-workflow breaker, kept by GitHub itself. */
  private async rerunsInWindow(run: CiRun, signal?: AbortSignal): Promise<CiState['reruns']> {
    const file = run.path.split('/').pop();
    if (!file) return undefined;
    const { threshold, window } = this.options.breaker;
    const since = (this.options.now ?? Date.now)() - window;
    const runs = await this.client.json<{ workflow_runs: WorkflowRunJson[] }>(
      'GET',
      `/repos/${this.repo}/actions/workflows/${encodeURIComponent(file)}/runs?branch=${encodeURIComponent(run.branch)}&per_page=100`,
      { signal },
    );
    const count = runs.workflow_runs.filter(
      (r) => (r.run_attempt ?? 1) > 1 && Date.parse(r.run_started_at ?? '') >= since,
    ).length;
    return { count, threshold, windowMs: window };
  }

  async inspect(options: { logLines?: number; signal?: AbortSignal } = {}): Promise<RuntimeState> {
    try {
      return await this.read(undefined, options.signal);
    } catch (error) {
      return { runtime: 'github', target: this.repo, status: 'unknown', error: this.redact((error as Error).message) };
    }
  }

  async perform(action: RuntimeAction, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    const runId = Number(action.params?.run);
    const attempt = Number(action.params?.attempt);
    if (!Number.isInteger(runId) || runId <= 0) throw new RuntimeError(`${action.action} needs the run it acts on`);
    try {
      const current = ciRunOf(
        await this.client.json<WorkflowRunJson>('GET', `/repos/${this.repo}/actions/runs/${runId}`, {
          signal: options.signal,
        }),
      );
      // The run may have been re-run by someone else while healbot waited for approval.
      if (current.attempt !== attempt || current.status !== 'completed')
        throw new RuntimeError(
          `run ${runId} changed since the diagnosis (now attempt ${current.attempt}, ${current.status}); nothing was done`,
        );
      this.baseline = { run: runId, attempt, path: current.path, branch: current.branch };
      if (action.action === 'dispatch_repair') {
        const repair = this.config.repair;
        if (!repair) throw new RuntimeError('no repair workflow is configured (github.repair.eventType)');
        const payload = {
          run_id: runId,
          run_attempt: attempt,
          run_url: current.url,
          workflow: current.workflow,
          branch: current.branch,
          failure: String(action.params?.failure ?? ''),
          step: String(action.params?.step ?? ''),
          job: String(action.params?.job ?? ''),
        };
        await this.client.json('POST', `/repos/${this.repo}/dispatches`, {
          body: { event_type: repair.eventType, client_payload: payload },
          signal: options.signal,
        });
        return;
      }
      if (action.action === 'delete_caches') {
        const keys = String(action.params?.keys ?? '')
          .split('\n')
          .filter(Boolean);
        if (keys.length === 0) throw new RuntimeError('no cache key to delete');
        for (const key of keys) {
          try {
            await this.client.json('DELETE', `/repos/${this.repo}/actions/caches?key=${encodeURIComponent(key)}`, {
              signal: options.signal,
            });
          } catch (error) {
            // Already gone (evicted, or deleted by hand) is what healbot wanted.
            if (!(error instanceof Error && 'status' in error && error.status === 404)) throw error;
          }
        }
      } else if (action.action !== 'rerun_failed_jobs') {
        throw new RuntimeError(`a GitHub Actions pipeline cannot ${action.action}`);
      }
      await this.client.json('POST', `/repos/${this.repo}/actions/runs/${runId}/rerun-failed-jobs`, {
        body: {},
        signal: options.signal,
      });
    } catch (error) {
      if (error instanceof RuntimeError) throw error;
      throw new RuntimeError(this.redact((error as Error).message), { cause: error });
    }
  }

  /**
   * Waits for the result of the last action: the re-run attempt's conclusion, or (after a repair
   * dispatch) the next run of the same workflow and branch; without an action, for the newest run
   * to finish. Polls every `pollInterval`, sooner
   * when a webhook arrives.
   */
  async settle(options: { timeoutMs: number; signal?: AbortSignal }): Promise<RuntimeState> {
    const baseline = this.baseline;
    this.baseline = undefined;
    const deadline = Date.now() + Math.max(options.timeoutMs, this.config.verifyTimeout);
    let last: RuntimeState | undefined;
    while (!options.signal?.aborted) {
      try {
        last = baseline
          ? await this.read(await this.resultRun(baseline, options.signal), options.signal)
          : await this.read(undefined, options.signal);
        const run = last.ci?.run;
        // Without an action of its own (a run was already in progress), the newest run finishing is the answer.
        const answers = !baseline || (run && (run.id !== baseline.run || run.attempt > baseline.attempt));
        if (!run || (answers && run.status === 'completed')) return last;
      } catch (error) {
        last = {
          runtime: 'github',
          target: this.repo,
          status: 'unknown',
          error: this.redact((error as Error).message),
        };
      }
      const left = deadline - Date.now();
      if (left <= 0) break;
      await sleep(Math.min(this.config.pollInterval, left), this.woken, options.signal);
    }
    const waited = `no result within ${Math.round(Math.max(options.timeoutMs, this.config.verifyTimeout) / 1000)} s`;
    return { ...(last ?? this.state({ repo: this.repo, failedJobs: [] })), status: 'unknown', note: waited };
  }

  /** The run whose conclusion answers the baseline: the same run after a re-run, or the newest run of its workflow and branch after a dispatch. */
  private async resultRun(
    baseline: NonNullable<GitHubActionsRuntime['baseline']>,
    signal?: AbortSignal,
  ): Promise<number> {
    const same = await this.client.json<WorkflowRunJson>('GET', `/repos/${this.repo}/actions/runs/${baseline.run}`, {
      signal,
    });
    if ((same.run_attempt ?? 1) > baseline.attempt) return baseline.run;
    const file = baseline.path.split('/').pop();
    if (!file) return baseline.run;
    const runs = await this.client.json<{ workflow_runs: WorkflowRunJson[] }>(
      'GET',
      `/repos/${this.repo}/actions/workflows/${encodeURIComponent(file)}/runs?branch=${encodeURIComponent(baseline.branch)}&per_page=5`,
      { signal },
    );
    return runs.workflow_runs.find((r) => r.id > baseline.run)?.id ?? baseline.run;
  }
}
