/**
 * CI pipelines in the engine's terms: a run's state becomes a root cause, the failure's
 * category a plan, and the outcome a summary that ends with a link to the run.
 */
import type { Config, GitHubServiceConfig } from '../../config/schema.js';
import { serviceConfig } from '../../config/own.js';
import { classifyCiLog, type CiFailureCategory } from './patterns.js';
import type { SummaryInput } from '../report.js';
import type { CiFailedJob, CiState, Evidence, PlanStep, RootCause, RuntimeState } from '../types.js';

const FAILED = new Set(['failure', 'timed_out']);
const TRANSIENT = new Set(['network', 'registry_unavailable']);

/** `3 m 12 s`, `45 s`. */
export function formatRunDuration(ms: number): string {
  const total = Math.max(Math.round(ms / 1000), 0);
  const minutes = Math.floor(total / 60);
  return minutes > 0 ? `${minutes} m ${total % 60} s` : `${total} s`;
}

const title = (ci: CiState) => (ci.run ? `CI · ${ci.run.workflow} on ${ci.run.branch}` : `CI · ${ci.repo}`);

/** The root cause a CI runtime's state shows: healthy, running (a re-run in progress) or a failed run and why. */
export function ciRootCause(service: string, state: RuntimeState): RootCause | undefined {
  const ci = state.ci;
  if (!ci) return undefined;
  const run = ci.run;
  const evidence: Evidence[] = [];
  if (!run)
    return {
      kind: 'healthy',
      service,
      summary: `${title(ci)}: no run of the configured workflows and branches yet; nothing to heal`,
      confidence: 0.6,
      evidence,
    };
  evidence.push({
    source: 'runtime',
    detail: `run #${run.number} attempt ${run.attempt}: ${run.status}${run.conclusion ? `, ${run.conclusion}` : ''} (${run.url})`,
  });
  if (run.status !== 'completed')
    return {
      kind: 'recreating',
      service,
      summary: `${title(ci)} is running (run #${run.number}, attempt ${run.attempt}); waiting for its result`,
      confidence: 0.9,
      evidence,
    };
  if (!run.conclusion || !FAILED.has(run.conclusion))
    return {
      kind: 'healthy',
      service,
      summary: `${title(ci)} passed (run #${run.number}); nothing to heal`,
      confidence: 0.95,
      evidence,
    };
  for (const job of ci.failedJobs)
    evidence.push({
      source: 'runtime',
      detail: `job ${job.name} ${job.conclusion}${job.failedStep ? ` at step '${job.failedStep}'` : ''}`,
    });
  const failure = ci.failure;
  if (!failure) {
    const job = ci.failedJobs[0];
    const where = job ? ` in ${job.failedStep ? `step '${job.failedStep}' of ` : ''}job '${job.name}'` : '';
    const why = run.conclusion === 'timed_out' ? 'timed out' : 'failed';
    return {
      kind: 'pipeline_failed',
      service,
      layer: job?.name,
      summary: `${title(ci)} ${why}${where}; its log matches no known failure pattern`,
      confidence: 0.4,
      evidence,
    };
  }
  evidence.push({
    source: 'runtime',
    detail: `log of ${failure.job}: "${failure.line.slice(0, 200)}" (pattern ${failure.id}, confidence ${failure.confidence.toFixed(2)})`,
  });
  for (const job of ci.unexplainedJobs ?? [])
    evidence.push({
      source: 'runtime',
      detail: `job ${job} also failed, and its log matches no known failure pattern`,
    });
  const step = failure.step ? ` in step '${failure.step}'` : ` in job '${failure.job}'`;
  return {
    kind: 'pipeline_failed',
    service,
    layer: failure.step ? `${failure.job}/${failure.step}` : failure.job,
    summary: `${title(ci)} failed: ${failure.description}${step}`,
    confidence: failure.confidence,
    evidence,
  };
}

/** Whether a run belongs to the configured workflows (by name or file name) and branches. */
export function watches(
  config: Pick<GitHubServiceConfig, 'workflows' | 'branches'>,
  run: { name?: string | null; path?: string; head_branch?: string | null },
): boolean {
  const file = run.path?.split('/').pop();
  const workflowOk =
    config.workflows.length === 0 || config.workflows.some((w) => w === run.name || w === file || w === run.path);
  const branchOk = config.branches.length === 0 || config.branches.includes(run.head_branch ?? '');
  return workflowOk && branchOk;
}

/** Re-running failed jobs re-runs all of them: a job that cannot be healed that way decides for the run. */
const SEVERITY: Record<CiFailureCategory, number> = {
  lockfile: 3,
  test_failure: 3,
  disk_full: 3,
  cache_corrupt: 2,
  registry_unavailable: 1,
  network: 1,
};

/**
 * The failure that decides what to do with the run: the most severe of its failed jobs' (the
 * more confident on a tie). A failed job whose log says nothing healbot knows leaves it unsure.
 */
export function explainFailure(jobs: CiFailedJob[]): Pick<CiState, 'failure' | 'unexplainedJobs'> {
  let failure: CiState['failure'];
  const unexplainedJobs: string[] = [];
  for (const job of jobs) {
    const match = classifyCiLog(job.logTail);
    if (!match) unexplainedJobs.push(job.name);
    else if (
      !failure ||
      SEVERITY[match.category] > SEVERITY[failure.category] ||
      (SEVERITY[match.category] === SEVERITY[failure.category] && match.confidence > failure.confidence)
    )
      failure = { ...match, job: job.name, step: job.failedStep };
  }
  if (failure && unexplainedJobs.length > 0) failure = { ...failure, confidence: Math.min(failure.confidence, 0.5) };
  return { failure, unexplainedJobs };
}
const manual = (target: string, reason: string): PlanStep => ({ action: 'manual', target, risk: 'manual', reason });

/**
 * The plan for a failed run. A transient network or registry error is re-run (safe), once per
 * run; a corrupted cache is deleted and the run re-run (risky); a stale lockfile, failing
 * tests or a full disk are never re-run: they get a diagnosis and, when configured, a repair
 * workflow (risky).
 */
export function ciPlan(
  rc: RootCause,
  config: Config,
  state: RuntimeState | undefined,
  supports: (action: PlanStep['action']) => boolean,
): PlanStep[] {
  const ci = state?.ci;
  const run = ci?.run;
  const failure = ci?.failure;
  if (!run || !failure) return [manual(rc.service, `${rc.summary}: read the log and fix it by hand`)];
  const target = rc.service;
  const params = { run: run.id, attempt: run.attempt, workflow: run.workflow, branch: run.branch };
  const where = failure.step ? `step '${failure.step}' of job '${failure.job}'` : `job '${failure.job}'`;
  const retried =
    run.attempt > 1
      ? `run #${run.number} was already re-run (this was attempt ${run.attempt}) and failed again; healbot re-runs a run at most once`
      : undefined;
  const reruns = ci.reruns;
  if (
    !retried &&
    reruns &&
    reruns.count >= reruns.threshold &&
    (TRANSIENT.has(failure.category) || failure.category === 'cache_corrupt')
  ) {
    return [
      manual(
        target,
        `${run.workflow} on ${run.branch} was re-run ${reruns.count} times in the last ${Math.round(reruns.windowMs / 60_000)} min (breaker.threshold ${reruns.threshold} per workflow): it is flaky, not unlucky. healbot stops re-running it; find out why ${failure.description}`,
      ),
    ];
  }
  if (TRANSIENT.has(failure.category)) {
    if (retried)
      return [
        manual(
          target,
          `${retried}. The ${failure.category === 'network' ? 'network error' : 'registry outage'} persists: check the service it reaches, then re-run it by hand`,
        ),
      ];
    return [
      {
        action: 'rerun_failed_jobs',
        target,
        risk: 'safe',
        reason: `${failure.description} in ${where} is transient: re-run the failed jobs`,
        params,
      },
    ];
  }
  if (failure.category === 'cache_corrupt') {
    if (retried) return [manual(target, `${retried}. Delete the job's caches in Actions › Caches and look at the log`)];
    const keys = ci.failedJobs.find((j) => j.name === failure.job)?.cacheKeys ?? [];
    if (keys.length === 0)
      return [
        manual(
          target,
          `${failure.description} in ${where}, but the log names no restored cache key: delete the job's cache in Actions › Caches, then re-run`,
        ),
      ];
    return [
      {
        action: 'delete_caches',
        target,
        risk: 'risky',
        reason: `${failure.description} in ${where}: delete the cache ${keys.join(', ')} and re-run the failed jobs`,
        params: { ...params, keys: keys.join(',') },
      },
    ];
  }
  const repair = serviceConfig(config, target)?.github?.repair;
  if (repair && (repair.on as string[]).includes(failure.category) && supports('dispatch_repair')) {
    return [
      {
        action: 'dispatch_repair',
        target,
        risk: 'risky',
        reason: `${failure.description} in ${where}: start the repair workflow (repository_dispatch "${repair.eventType}") with the failure`,
        params: { ...params, failure: failure.description, step: failure.step ?? '', job: failure.job },
      },
    ];
  }
  const line = `the failing line: "${failure.line.slice(0, 160)}"`;
  switch (failure.category) {
    case 'lockfile':
      return [
        manual(
          target,
          `${failure.description} in ${where} (${line}). Regenerate the lockfile (npm install) and commit it; a re-run fails the same way, so healbot does not re-run it`,
        ),
      ];
    case 'test_failure':
      return [
        manual(
          target,
          `tests fail in ${where} (${line}). The code or the test is wrong: healbot never re-runs failing tests`,
        ),
      ];
    case 'disk_full':
      return [
        manual(
          target,
          `the runner ran out of disk in ${where}. Free space in the workflow (remove unused tools, prune Docker) or use a larger runner`,
        ),
      ];
    default:
      return [manual(target, `${rc.summary}: read the log and fix it by hand`)];
  }
}

const DONE: Record<string, string> = {
  rerun_failed_jobs: 're-ran the failed jobs',
  delete_caches: 'deleted the corrupted cache and re-ran the failed jobs',
  dispatch_repair: 'started the repair workflow',
};

/**
 * The line that ends a CI incident's thread, e.g. "CI · build on main failed: npm ETIMEDOUT
 * fetching registry metadata in step 'Install'; re-ran the failed jobs (safe, automatic);
 * passed in 3 m 12 s. https://github.com/…/actions/runs/…".
 */
export function ciSummary(
  input: Pick<
    SummaryInput,
    'outcome' | 'rootCause' | 'plan' | 'actions' | 'approvedBy' | 'deniedBy' | 'escalation' | 'settled' | 'diagnosed'
  >,
): string {
  const cause = input.rootCause.summary.replace(/\.$/, '');
  const run = input.settled?.ci?.run ?? input.diagnosed?.ci?.run;
  const link = run?.url ? ` ${run.url}` : '';
  const done = input.actions.filter((a) => a.ok);
  const step = input.plan.find((s) => s.risk !== 'manual');
  const how = `${step?.risk ?? 'safe'}, ${input.approvedBy.length > 0 ? `approved by ${input.approvedBy.join(' and ')}` : 'automatic'}`;
  const what = done.map((a) => DONE[a.action] ?? a.action).join(', ');
  const settledRun = input.settled?.ci?.run;
  const took =
    settledRun?.startedAt && settledRun.updatedAt
      ? ` in ${formatRunDuration(Date.parse(settledRun.updatedAt) - Date.parse(settledRun.startedAt))}`
      : '';
  const which =
    settledRun && settledRun.id !== input.diagnosed?.ci?.run?.id
      ? `the next run (#${settledRun.number})`
      : settledRun
        ? `attempt ${settledRun.attempt}`
        : 'the re-run';
  switch (input.outcome) {
    case 'not_needed':
      // A run that was in progress when healbot looked, and passed while it waited.
      if (settledRun && input.diagnosed?.ci?.run?.status !== 'completed')
        return `${cause}; it finished: ${settledRun.conclusion ?? settledRun.status}${took}.${link}`;
      return `${cause}.${link}`;
    case 'healed':
      return `${cause}; ${what} (${how}); ${done.some((a) => a.action === 'dispatch_repair') ? `${which} passed` : 'passed'}${took}.${link}`;
    case 'denied':
      return `${cause}; ${step ? (DONE[step.action] ?? step.action) : 'the fix'} was denied by ${input.deniedBy}; nothing was changed.${link}`;
    case 'failed': {
      const failed = input.actions.find((a) => !a.ok);
      if (failed) return `${cause}; ${failed.action.replaceAll('_', ' ')} failed: ${failed.error}.${link}`;
      if (input.settled?.status === 'unknown')
        return `${cause}; ${what} (${how}), but ${input.settled.note ?? input.settled.error ?? 'its result could not be read'}: look at the run.${link}`;
      const again =
        input.settled?.ci?.failure?.description ??
        input.settled?.note ??
        input.settled?.ci?.run?.conclusion ??
        'it did not pass';
      const tail = input.escalation?.replace(/^still unhealthy after the fix: [^;]*;?\s*/, '');
      return `${cause}; ${what} (${how}), but ${which} failed again: ${again}${tail ? `. ${tail}` : ''}.${link}`.replace(
        /\.\./g,
        '.',
      );
    }
    default: {
      const reason = input.escalation ?? input.plan.find((s) => s.risk === 'manual')?.reason ?? 'a human needs to look';
      return `${cause}; nothing was re-run. ${reason.charAt(0).toUpperCase()}${reason.slice(1)}.${link}`.replace(
        /\.\./g,
        '.',
      );
    }
  }
}
