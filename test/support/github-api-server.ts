/**
 * A local stand-in for the GitHub REST API (api.github.com, or GHES under /api/v3) on 127.0.0.1.
 *
 * It answers the documented paths healbot uses with GitHub's status codes, headers and error
 * bodies: workflows, workflow runs and their jobs, job logs (a 302 to a short-lived blob URL,
 * like GitHub's), re-runs, Actions caches, issues, comments and issue search, and repository_dispatch. It
 * paginates with `Link` headers, checks tokens and their permissions, can answer with primary
 * or secondary rate limits (`retry-after`), records every request, and sends signed webhook
 * deliveries built from GitHub's documented example payloads (test/fixtures/github/).
 */
import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

const FIXTURES = join(import.meta.dirname, '..', 'fixtures', 'github');
const DOCS = 'https://docs.github.com/rest';
const API_VERSIONS = new Set(['2022-11-28', '2026-03-10']);

export type Conclusion = 'success' | 'failure' | 'timed_out' | 'cancelled' | 'skipped' | 'neutral' | 'action_required';
export type RunStatus = 'queued' | 'in_progress' | 'completed';
export type Permission = 'none' | 'read' | 'write';

/** What a token may do, like a fine-grained personal access token's repository permissions. */
export interface TokenPermissions {
  actions: Permission;
  issues: Permission;
  contents: Permission;
}

export interface StepSpec {
  name: string;
  conclusion?: Conclusion;
  /** Log lines the step printed (without GitHub's timestamps: the server adds them). */
  log?: string[];
}

export interface JobSpec {
  name: string;
  conclusion: Conclusion;
  steps?: StepSpec[];
}

/** What a re-run of a run's failed jobs turns into, consumed one per re-run. */
export interface RerunOutcome {
  conclusion: Conclusion;
  /** The re-run jobs; defaults to the failed jobs, all passing or all with `conclusion`. */
  jobs?: JobSpec[];
  /** How long the re-run took, for `run_started_at` → `updated_at`. @defaultValue 192000 */
  durationMs?: number;
  /** Reads of the run (GET) it stays in progress for before it completes. @defaultValue 1 */
  readsInProgress?: number;
}

export interface RunSpec {
  /** The workflow file name, e.g. `build.yml`. */
  workflow: string;
  /** The workflow's name; defaults to the file name without its extension. */
  workflowName?: string;
  branch?: string;
  event?: string;
  status?: RunStatus;
  conclusion: Conclusion | null;
  jobs: JobSpec[];
  /** Outcomes of the next re-runs, in order. */
  reruns?: RerunOutcome[];
  createdAt?: string;
}

export interface WorkflowRecord {
  id: number;
  node_id: string;
  name: string;
  path: string;
  state: 'active';
  created_at: string;
  updated_at: string;
  url: string;
  html_url: string;
  badge_url: string;
}

interface Step {
  name: string;
  status: RunStatus;
  conclusion: Conclusion | null;
  number: number;
  started_at: string;
  completed_at: string | null;
  log: string[];
}

export interface JobRecord {
  id: number;
  run_id: number;
  run_attempt: number;
  name: string;
  status: RunStatus;
  conclusion: Conclusion | null;
  started_at: string;
  completed_at: string | null;
  steps: Step[];
}

export interface RunRecord {
  id: number;
  name: string;
  workflow_id: number;
  path: string;
  head_branch: string;
  head_sha: string;
  event: string;
  status: RunStatus;
  conclusion: Conclusion | null;
  run_number: number;
  run_attempt: number;
  created_at: string;
  updated_at: string;
  run_started_at: string;
  jobs: JobRecord[];
  reruns: RerunOutcome[];
  /** How each earlier attempt looked when it ended, for GET …/attempts/{n}. */
  attempts: Record<string, unknown>[];
  /** Reads left before an in-progress re-run completes. */
  readsLeft?: number;
  pending?: RerunOutcome;
}

export interface CacheRecord {
  id: number;
  ref: string;
  key: string;
  version: string;
  last_accessed_at: string;
  created_at: string;
  size_in_bytes: number;
}

export interface IssueRecord {
  id: number;
  number: number;
  title: string;
  body: string | null;
  labels: { id: number; name: string }[];
  state: 'open' | 'closed';
  comments: { id: number; body: string; created_at: string }[];
  created_at: string;
}

/** One request as the server received it, with what it answered. */
export interface RecordedRequest {
  method: string;
  /** The path without the query string and without a GHES `/api/v3` prefix. */
  path: string;
  query: Record<string, string>;
  headers: Record<string, string | string[] | undefined>;
  body?: unknown;
  raw: string;
  status: number;
  at: number;
}

/** One webhook delivery the server sent, and how the receiver answered. */
export interface Delivery {
  id: string;
  event: string;
  body: string;
  headers: Record<string, string>;
  status?: number;
  response?: string;
}

interface RateLimit {
  kind: 'primary' | 'secondary';
  times: number;
  retryAfter: number;
  match?: RegExp;
}

interface Reply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const iso = (ms: number) => new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
const error = (status: number, message: string, extra: Record<string, unknown> = {}): Reply => ({
  status,
  body: { message, documentation_url: DOCS, status: String(status), ...extra },
});
const notFound = () => error(404, 'Not Found');

/**
 * The local GitHub. Seed it with `addRun` and `addCache`, point healbot's `apiUrl` at `apiUrl`
 * (or `enterpriseApiUrl`), and assert on `requests`, `issues`, `dispatches` and `deliveries`.
 */
export class GitHubApiServer {
  readonly requests: RecordedRequest[] = [];
  readonly deliveries: Delivery[] = [];
  readonly dispatches: { event_type: string; client_payload?: Record<string, unknown> }[] = [];
  readonly workflows: WorkflowRecord[] = [];
  readonly runs: RunRecord[] = [];
  readonly caches: CacheRecord[] = [];
  readonly issues: IssueRecord[] = [];
  /** Tokens the server accepts, with their permissions. */
  readonly tokens = new Map<string, TokenPermissions>();
  /** Where `deliver` posts webhook deliveries, signed with `secret`. */
  webhook?: { url: string; secret: string };
  readonly owner: string;
  readonly repo: string;
  #server?: Server;
  #ids = 1000;
  #limits: RateLimit[] = [];
  #outages: { status: number; times: number; match?: RegExp }[] = [];
  #blobs = new Map<string, { jobId: number; expires: number }>();
  #remaining = new Map<string, number>();
  // Runs start half an hour ago, so breaker windows measured from now see them.
  readonly #epoch = Math.floor(Date.now() / 60_000) * 60_000 - 30 * 60_000;

  constructor(options: { repo?: string; token?: string } = {}) {
    [this.owner, this.repo] = (options.repo ?? 'octo-org/octo-repo').split('/');
    this.tokens.set(options.token ?? 'ghp_healbotTestToken0123456789abcdefABCD', {
      actions: 'write',
      issues: 'write',
      contents: 'write',
    });
  }

  /** The first token, with every permission. */
  get token(): string {
    return [...this.tokens.keys()][0];
  }

  get port(): number {
    return (this.#server!.address() as AddressInfo).port;
  }

  /** Base URL like https://api.github.com. */
  get apiUrl(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  /** Base URL like GitHub Enterprise Server's https://HOST/api/v3. */
  get enterpriseApiUrl(): string {
    return `${this.apiUrl}/api/v3`;
  }

  get fullName(): string {
    return `${this.owner}/${this.repo}`;
  }

  async start(): Promise<this> {
    this.#server = createServer((req, res) => void this.#serve(req, res));
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async close(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  /** Answers the next `times` matching requests with a rate limit (403 with retry-after for secondary, 403 with x-ratelimit-remaining 0 for primary). */
  rateLimit(
    options: { kind?: 'primary' | 'secondary'; times?: number; retryAfter?: number; match?: RegExp } = {},
  ): void {
    this.#limits.push({
      kind: options.kind ?? 'secondary',
      times: options.times ?? 1,
      retryAfter: options.retryAfter ?? 1,
      match: options.match,
    });
  }

  /** Answers the next `times` matching requests with a server error, as GitHub's front end does when a backend is down. */
  outage(options: { status?: 500 | 502 | 503; times?: number; match?: RegExp } = {}): void {
    this.#outages.push({ status: options.status ?? 502, times: options.times ?? 1, match: options.match });
  }

  /** Requests whose method and path match, e.g. `calls('POST', /rerun-failed-jobs$/)`. */
  calls(method: string, path: RegExp): RecordedRequest[] {
    return this.requests.filter((r) => r.method === method && path.test(r.path));
  }

  workflow(file: string, name?: string): WorkflowRecord {
    const path = `.github/workflows/${file}`;
    const existing = this.workflows.find((w) => w.path === path);
    if (existing) return existing;
    const id = this.#nextId();
    const created = iso(this.#epoch - 86_400_000);
    const workflow: WorkflowRecord = {
      id,
      node_id: `W_${id}`,
      name: name ?? file.replace(/\.ya?ml$/, ''),
      path,
      state: 'active',
      created_at: created,
      updated_at: created,
      url: `${this.#api()}/actions/workflows/${id}`,
      html_url: `https://github.com/${this.fullName}/blob/main/${path}`,
      badge_url: `https://github.com/${this.fullName}/workflows/${encodeURIComponent(name ?? file)}/badge.svg`,
    };
    this.workflows.push(workflow);
    return workflow;
  }

  /** Adds a workflow run (completed unless `status` says otherwise) with its jobs and steps. */
  addRun(spec: RunSpec): RunRecord {
    const workflow = this.workflow(spec.workflow, spec.workflowName);
    const id = this.#nextId() * 1000;
    const created = spec.createdAt ?? iso(this.#epoch + this.runs.length * 60_000);
    const run: RunRecord = {
      id,
      name: workflow.name,
      workflow_id: workflow.id,
      path: workflow.path,
      head_branch: spec.branch ?? 'main',
      head_sha: randomBytes(20).toString('hex'),
      event: spec.event ?? 'push',
      status: spec.status ?? 'completed',
      conclusion: spec.conclusion,
      run_number: this.runs.filter((r) => r.workflow_id === workflow.id).length + 1,
      run_attempt: 1,
      created_at: created,
      run_started_at: created,
      updated_at: iso(Date.parse(created) + 150_000),
      jobs: [],
      reruns: [...(spec.reruns ?? [])],
      attempts: [],
    };
    run.jobs = spec.jobs.map((job) => this.#job(run, job, created));
    this.runs.push(run);
    return run;
  }

  addCache(cache: { key: string; ref?: string; sizeInBytes?: number }): CacheRecord {
    const record: CacheRecord = {
      id: this.#nextId(),
      ref: cache.ref ?? 'refs/heads/main',
      key: cache.key,
      version: randomBytes(32).toString('hex'),
      last_accessed_at: iso(this.#epoch),
      created_at: iso(this.#epoch - 3_600_000),
      size_in_bytes: cache.sizeInBytes ?? 1024 * 1024,
    };
    this.caches.push(record);
    return record;
  }

  /** The `workflow_run` webhook payload for a run, built from GitHub's documented example. */
  workflowRunPayload(
    run: RunRecord,
    action: 'requested' | 'in_progress' | 'completed' = 'completed',
  ): Record<string, unknown> {
    const example = JSON.parse(readFileSync(join(FIXTURES, 'workflow-run-completed.json'), 'utf8'));
    const workflow = this.workflows.find((w) => w.id === run.workflow_id)!;
    return {
      ...example,
      action,
      repository: { ...example.repository, ...this.#repository() },
      workflow: { ...example.workflow, ...workflow },
      workflow_run: {
        ...example.workflow_run,
        ...this.#runJson(run),
        repository: this.#repository(),
        head_repository: this.#repository(),
      },
    };
  }

  /** The `workflow_job` webhook payload for a job, built from GitHub's documented example. */
  workflowJobPayload(
    job: JobRecord,
    action: 'queued' | 'in_progress' | 'completed' = 'completed',
  ): Record<string, unknown> {
    const example = JSON.parse(readFileSync(join(FIXTURES, 'workflow-job-completed-failure.json'), 'utf8'));
    const run = this.runs.find((r) => r.id === job.run_id)!;
    return {
      ...example,
      action,
      repository: { ...example.repository, ...this.#repository() },
      workflow_job: { ...example.workflow_job, ...this.#jobJson(run, job) },
    };
  }

  /**
   * Posts a signed delivery to `webhook.url`, as GitHub does: `X-GitHub-Event`, `X-GitHub-Delivery`,
   * `X-Hub-Signature-256` (HMAC-SHA256 of the body), `User-Agent: GitHub-Hookshot/…`. Pass
   * `secret` to sign with another secret (a forgery), `id` to reuse a delivery id.
   */
  async deliver(event: string, payload: unknown, options: { secret?: string; id?: string } = {}): Promise<Delivery> {
    if (!this.webhook) throw new Error('GitHubApiServer.webhook is not set');
    const body = JSON.stringify(payload);
    const id = options.id ?? randomUUID();
    const sign = (algorithm: string) =>
      createHmac(algorithm, options.secret ?? this.webhook!.secret)
        .update(body)
        .digest('hex');
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/044aadd',
      'x-github-event': event,
      'x-github-delivery': id,
      'x-github-hook-id': '292430182',
      'x-github-hook-installation-target-type': 'repository',
      'x-github-hook-installation-target-id': '300029405',
      'x-hub-signature': `sha1=${sign('sha1')}`,
      'x-hub-signature-256': `sha256=${sign('sha256')}`,
    };
    const delivery: Delivery = { id, event, body, headers };
    this.deliveries.push(delivery);
    const res = await fetch(this.webhook.url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
    delivery.status = res.status;
    delivery.response = await res.text();
    return delivery;
  }

  /** Sends a delivery again with the same id and body, like "Redeliver" in the webhook settings. */
  async redeliver(id: string): Promise<Delivery> {
    const original = this.deliveries.find((d) => d.id === id);
    if (!original || !this.webhook) throw new Error(`no delivery ${id}`);
    const res = await fetch(this.webhook.url, {
      method: 'POST',
      headers: original.headers,
      body: original.body,
      signal: AbortSignal.timeout(10_000),
    });
    const delivery: Delivery = { ...original, status: res.status, response: await res.text() };
    this.deliveries.push(delivery);
    return delivery;
  }

  /** Completes a run that is still in progress (added with `status`), like `finishRerun`. */
  async completeRun(run: RunRecord, conclusion: Conclusion): Promise<void> {
    run.pending ??= { conclusion };
    await this.finishRerun(run);
  }

  /** Completes a re-run now (instead of after its reads), sending `workflow_run` completed when a webhook is set. */
  async finishRerun(run: RunRecord): Promise<void> {
    this.#complete(run);
    if (this.webhook) await this.deliver('workflow_run', this.workflowRunPayload(run));
  }

  #nextId(): number {
    return ++this.#ids;
  }

  #api(): string {
    return `https://api.github.com/repos/${this.fullName}`;
  }

  #repository() {
    return {
      name: this.repo,
      full_name: this.fullName,
      html_url: `https://github.com/${this.fullName}`,
      url: this.#api(),
      owner: { login: this.owner },
    };
  }

  #job(run: RunRecord, spec: JobSpec, startedAt: string): JobRecord {
    const steps: StepSpec[] = spec.steps ?? [{ name: 'Run', conclusion: spec.conclusion }];
    const started = Date.parse(startedAt);
    return {
      id: this.#nextId() * 1000 + 7,
      run_id: run.id,
      run_attempt: run.run_attempt,
      name: spec.name,
      status: 'completed',
      conclusion: spec.conclusion,
      started_at: iso(started),
      completed_at: iso(started + 120_000),
      steps: [
        { name: 'Set up job', conclusion: 'success' as Conclusion, log: ["Current runner version: '2.321.0'"] },
        ...steps,
        { name: 'Complete job', conclusion: 'success' as Conclusion, log: [] },
      ].map((step, i) => ({
        name: step.name,
        status: 'completed' as RunStatus,
        conclusion: step.conclusion ?? 'success',
        number: i + 1,
        started_at: iso(started + i * 10_000),
        completed_at: iso(started + (i + 1) * 10_000),
        log: step.log ?? [],
      })),
    };
  }

  #runJson(run: RunRecord) {
    const api = this.#api();
    return {
      id: run.id,
      name: run.name,
      node_id: `WFR_${run.id}`,
      head_branch: run.head_branch,
      head_sha: run.head_sha,
      path: run.path,
      display_title: `${run.name} on ${run.head_branch}`,
      run_number: run.run_number,
      run_attempt: run.run_attempt,
      event: run.event,
      status: run.status,
      conclusion: run.conclusion,
      workflow_id: run.workflow_id,
      check_suite_id: run.id + 1,
      url: `${api}/actions/runs/${run.id}`,
      html_url: `https://github.com/${this.fullName}/actions/runs/${run.id}`,
      jobs_url: `${api}/actions/runs/${run.id}/jobs`,
      logs_url: `${api}/actions/runs/${run.id}/logs`,
      rerun_url: `${api}/actions/runs/${run.id}/rerun`,
      cancel_url: `${api}/actions/runs/${run.id}/cancel`,
      workflow_url: `${api}/actions/workflows/${run.workflow_id}`,
      previous_attempt_url:
        run.run_attempt > 1 ? `${api}/actions/runs/${run.id}/attempts/${run.run_attempt - 1}` : null,
      created_at: run.created_at,
      updated_at: run.updated_at,
      run_started_at: run.run_started_at,
      pull_requests: [],
      repository: this.#repository(),
    };
  }

  #jobJson(run: RunRecord, job: JobRecord) {
    return {
      id: job.id,
      run_id: run.id,
      run_attempt: job.run_attempt,
      run_url: `${this.#api()}/actions/runs/${run.id}`,
      node_id: `CR_${job.id}`,
      head_sha: run.head_sha,
      head_branch: run.head_branch,
      workflow_name: run.name,
      url: `${this.#api()}/actions/jobs/${job.id}`,
      html_url: `https://github.com/${this.fullName}/actions/runs/${run.id}/job/${job.id}`,
      status: job.status,
      conclusion: job.conclusion,
      created_at: job.started_at,
      started_at: job.started_at,
      completed_at: job.completed_at,
      name: job.name,
      steps: job.steps.map(({ log: _log, ...step }) => step),
      check_run_url: `${this.#api()}/check-runs/${job.id}`,
      labels: ['ubuntu-latest'],
      runner_id: 5,
      runner_name: 'GitHub Actions 5',
      runner_group_id: 2,
      runner_group_name: 'GitHub Actions',
    };
  }

  /** The job's log as GitHub serves it: one timestamped line each, steps in `##[group]` blocks. */
  #logText(job: JobRecord): string {
    const lines: string[] = [];
    for (const step of job.steps) {
      const at = step.started_at.replace('Z', '.0000000Z');
      lines.push(`${at} ##[group]Run ${step.name}`, `${at} ##[endgroup]`);
      for (const line of step.log) lines.push(`${at} ${line}`);
      if (step.conclusion === 'failure') lines.push(`${at} ##[error]Process completed with exit code 1.`);
    }
    return lines.join('\n') + '\n';
  }

  #complete(run: RunRecord): void {
    const outcome = run.pending;
    if (!outcome) return;
    const started = Date.parse(run.run_started_at);
    run.status = 'completed';
    run.conclusion = outcome.conclusion;
    run.updated_at = iso(started + (outcome.durationMs ?? 192_000));
    for (const job of run.jobs) {
      if (job.status === 'completed') continue;
      job.status = 'completed';
      job.completed_at = run.updated_at;
      job.conclusion = job.steps.some((s) => s.conclusion === 'failure') ? 'failure' : 'success';
      for (const step of job.steps) step.status = 'completed';
    }
    run.pending = undefined;
    run.readsLeft = undefined;
  }

  #rerun(run: RunRecord, all: boolean): Reply {
    if (run.status !== 'completed') return error(403, 'This workflow run is not completed and cannot be re-run.');
    const failed = run.jobs.filter((j) => all || (j.conclusion !== 'success' && j.conclusion !== 'skipped'));
    if (failed.length === 0) return error(403, 'This workflow run has no failed jobs to re-run.');
    const outcome = run.reruns.shift() ?? { conclusion: 'success' };
    run.attempts.push(this.#runJson(run));
    run.run_attempt += 1;
    run.status = 'queued';
    run.conclusion = null;
    run.run_started_at = iso(Date.parse(run.updated_at) + 60_000);
    run.updated_at = run.run_started_at;
    const specs =
      outcome.jobs ??
      failed.map((j) => ({
        name: j.name,
        conclusion: outcome.conclusion,
        steps: j.steps.slice(1, -1).map((s) => ({
          name: s.name,
          conclusion: outcome.conclusion === 'success' ? ('success' as Conclusion) : (s.conclusion ?? undefined),
          log: outcome.conclusion === 'success' ? [] : s.log,
        })),
      }));
    // A re-run creates new jobs (new ids) for the failed ones and keeps the passed ones.
    const rerunJobs = specs.map((spec) => ({
      ...this.#job(run, spec, run.run_started_at),
      status: 'queued' as RunStatus,
      conclusion: null,
      completed_at: null,
    }));
    run.jobs = [...run.jobs.filter((j) => !failed.includes(j)), ...rerunJobs];
    run.pending = outcome;
    run.readsLeft = outcome.readsInProgress ?? 1;
    return { status: 201, body: {} };
  }

  #page<T>(url: URL, items: T[]): { items: T[]; headers: Record<string, string> } {
    const perPage = Math.min(Math.max(Number(url.searchParams.get('per_page') ?? 30) || 30, 1), 100);
    const page = Math.max(Number(url.searchParams.get('page') ?? 1) || 1, 1);
    const last = Math.max(Math.ceil(items.length / perPage), 1);
    const link = (n: number, rel: string) => {
      const target = new URL(url);
      target.searchParams.set('per_page', String(perPage));
      target.searchParams.set('page', String(n));
      return `<${target.toString()}>; rel="${rel}"`;
    };
    const links: string[] = [];
    if (page > 1) links.push(link(page - 1, 'prev'));
    if (page < last) links.push(link(page + 1, 'next'), link(last, 'last'));
    if (page > 1) links.push(link(1, 'first'));
    return {
      items: items.slice((page - 1) * perPage, page * perPage),
      headers: links.length ? { link: links.join(', ') } : {},
    };
  }

  #findWorkflow(idOrFile: string): WorkflowRecord | undefined {
    return this.workflows.find((w) => String(w.id) === idOrFile || w.path === `.github/workflows/${idOrFile}`);
  }

  #listRuns(url: URL, runs: RunRecord[]): Reply {
    const q = url.searchParams;
    const filtered = runs
      .filter((r) => !q.get('branch') || r.head_branch === q.get('branch'))
      .filter((r) => !q.get('event') || r.event === q.get('event'))
      .filter((r) => !q.get('status') || r.status === q.get('status') || r.conclusion === q.get('status'))
      .sort((a, b) => b.created_at.localeCompare(a.created_at) || b.id - a.id);
    const { items, headers } = this.#page(url, filtered);
    return {
      status: 200,
      body: { total_count: filtered.length, workflow_runs: items.map((r) => this.#runJson(r)) },
      headers,
    };
  }

  #permission(token: string | undefined, area: keyof TokenPermissions, need: Permission): Reply | undefined {
    const have = token ? this.tokens.get(token)?.[area] : undefined;
    if (have === 'write' || (need === 'read' && have === 'read')) return undefined;
    return error(403, 'Resource not accessible by personal access token');
  }

  #route(
    method: string,
    path: string,
    url: URL,
    body: Record<string, unknown> | undefined,
    token: string | undefined,
  ): Reply {
    const read = (area: keyof TokenPermissions) => this.#permission(token, area, 'read');
    const write = (area: keyof TokenPermissions) => this.#permission(token, area, 'write');
    const base = `/repos/${this.owner}/${this.repo}`;
    if (path === '/search/issues' && method === 'GET') return read('issues') ?? this.#searchIssues(url);
    if (!path.startsWith(`${base}/`)) return notFound();
    const rest = path.slice(base.length);
    let m: RegExpExecArray | null;

    if (method === 'GET' && rest === '/actions/workflows') {
      const denied = read('actions');
      if (denied) return denied;
      const { items, headers } = this.#page(url, this.workflows);
      return { status: 200, body: { total_count: this.workflows.length, workflows: items }, headers };
    }
    if ((m = /^\/actions\/workflows\/([^/]+)(\/runs)?$/.exec(rest)) && method === 'GET') {
      const denied = read('actions');
      if (denied) return denied;
      const workflow = this.#findWorkflow(decodeURIComponent(m[1]));
      if (!workflow) return notFound();
      return m[2]
        ? this.#listRuns(
            url,
            this.runs.filter((r) => r.workflow_id === workflow.id),
          )
        : { status: 200, body: workflow };
    }
    if (method === 'GET' && rest === '/actions/runs') return read('actions') ?? this.#listRuns(url, this.runs);
    if ((m = /^\/actions\/runs\/(\d+)\/attempts\/(\d+)$/.exec(rest)) && method === 'GET') {
      const run = this.runs.find((r) => r.id === Number(m![1]));
      const attempt = Number(m[2]);
      if (!run || attempt < 1 || attempt > run.run_attempt) return notFound();
      return (
        read('actions') ?? {
          status: 200,
          body: attempt === run.run_attempt ? this.#runJson(run) : run.attempts[attempt - 1],
        }
      );
    }
    if ((m = /^\/actions\/runs\/(\d+)(?:\/(jobs|rerun-failed-jobs|rerun))?$/.exec(rest))) {
      const run = this.runs.find((r) => r.id === Number(m![1]));
      if (!run) return notFound();
      if (method === 'GET' && !m[2]) {
        const denied = read('actions');
        if (denied) return denied;
        const json = this.#runJson(run);
        if (run.pending && run.readsLeft !== undefined) {
          run.status = 'in_progress';
          json.status = 'in_progress';
          if (--run.readsLeft < 0) {
            this.#complete(run);
            return { status: 200, body: this.#runJson(run) };
          }
        }
        return { status: 200, body: json };
      }
      if (method === 'GET' && m[2] === 'jobs') {
        const denied = read('actions');
        if (denied) return denied;
        const filter = url.searchParams.get('filter') ?? 'latest';
        if (filter !== 'latest' && filter !== 'all')
          return error(422, 'Invalid request.\n\nNo subschema in "oneOf" matched.', {
            errors: [{ resource: 'Job', field: 'filter', code: 'invalid' }],
          });
        const jobs = run.jobs;
        const { items, headers } = this.#page(url, jobs);
        return {
          status: 200,
          body: { total_count: jobs.length, jobs: items.map((j) => this.#jobJson(run, j)) },
          headers,
        };
      }
      if (method === 'POST' && m[2]) return write('actions') ?? this.#rerun(run, m[2] === 'rerun');
    }
    if ((m = /^\/actions\/jobs\/(\d+)(\/logs)?$/.exec(rest)) && method === 'GET') {
      const denied = read('actions');
      if (denied) return denied;
      const job = this.runs.flatMap((r) => r.jobs).find((j) => j.id === Number(m![1]));
      if (!job) return notFound();
      const run = this.runs.find((r) => r.id === job.run_id)!;
      if (!m[2]) return { status: 200, body: this.#jobJson(run, job) };
      const sig = randomBytes(16).toString('hex');
      this.#blobs.set(sig, { jobId: job.id, expires: Date.now() + 60_000 });
      return { status: 302, headers: { location: `${this.apiUrl}/_blobs/job-logs/${job.id}?sig=${sig}` } };
    }
    if (rest === '/actions/caches') {
      const key = url.searchParams.get('key');
      const ref = url.searchParams.get('ref');
      if (method === 'GET') {
        const denied = read('actions');
        if (denied) return denied;
        // Listing matches keys by prefix; deleting by key matches the key exactly.
        const found = this.caches
          .filter((c) => (!key || c.key.startsWith(key)) && (!ref || c.ref === ref))
          .sort((a, b) => b.last_accessed_at.localeCompare(a.last_accessed_at));
        const { items, headers } = this.#page(url, found);
        return { status: 200, body: { total_count: found.length, actions_caches: items }, headers };
      }
      if (method === 'DELETE') {
        const denied = write('actions');
        if (denied) return denied;
        if (!key) return error(422, 'Invalid request.\n\n"key" wasn\'t supplied.');
        const found = this.caches.filter((c) => c.key === key && (!ref || c.ref === ref));
        if (found.length === 0) return notFound();
        for (const cache of found) this.caches.splice(this.caches.indexOf(cache), 1);
        return { status: 200, body: { total_count: found.length, actions_caches: found } };
      }
    }
    if ((m = /^\/actions\/caches\/(\d+)$/.exec(rest)) && method === 'DELETE') {
      const denied = write('actions');
      if (denied) return denied;
      const index = this.caches.findIndex((c) => c.id === Number(m![1]));
      if (index < 0) return notFound();
      this.caches.splice(index, 1);
      return { status: 204 };
    }
    if (rest === '/issues') {
      if (method === 'GET') {
        const denied = read('issues');
        if (denied) return denied;
        const state = url.searchParams.get('state') ?? 'open';
        const labels = url.searchParams.get('labels')?.split(',').filter(Boolean) ?? [];
        const found = this.issues
          .filter(
            (i) => (state === 'all' || i.state === state) && labels.every((l) => i.labels.some((x) => x.name === l)),
          )
          .sort((a, b) => b.number - a.number);
        const { items, headers } = this.#page(url, found);
        return { status: 200, body: items.map((i) => this.#issueJson(i)), headers };
      }
      if (method === 'POST') {
        const denied = write('issues');
        if (denied) return denied;
        if (typeof body?.title !== 'string' || body.title === '')
          return error(422, 'Validation Failed', {
            errors: [{ resource: 'Issue', code: 'missing_field', field: 'title' }],
          });
        const labels = Array.isArray(body.labels)
          ? body.labels.map((l) => ({
              id: this.#nextId(),
              name: String(typeof l === 'object' && l ? (l as { name: string }).name : l),
            }))
          : [];
        const issue: IssueRecord = {
          id: this.#nextId(),
          number: this.issues.length + 1,
          title: body.title,
          body: typeof body.body === 'string' ? body.body : null,
          labels,
          state: 'open',
          comments: [],
          created_at: iso(Date.now()),
        };
        this.issues.push(issue);
        return {
          status: 201,
          body: this.#issueJson(issue),
          headers: { location: `${this.#api()}/issues/${issue.number}` },
        };
      }
    }
    if ((m = /^\/issues\/(\d+)(\/comments)?$/.exec(rest))) {
      const issue = this.issues.find((i) => i.number === Number(m![1]));
      if (!issue) return notFound();
      if (method === 'GET' && !m[2]) return read('issues') ?? { status: 200, body: this.#issueJson(issue) };
      if (method === 'PATCH' && !m[2]) {
        const denied = write('issues');
        if (denied) return denied;
        if (body?.state === 'open' || body?.state === 'closed') issue.state = body.state;
        if (typeof body?.title === 'string') issue.title = body.title;
        if (typeof body?.body === 'string') issue.body = body.body;
        return { status: 200, body: this.#issueJson(issue) };
      }
      if (method === 'GET' && m[2]) {
        const denied = read('issues');
        if (denied) return denied;
        const { items, headers } = this.#page(url, issue.comments);
        return { status: 200, body: items.map((c) => this.#commentJson(issue, c)), headers };
      }
      if (method === 'POST' && m[2]) {
        const denied = write('issues');
        if (denied) return denied;
        if (typeof body?.body !== 'string' || body.body === '')
          return error(422, 'Validation Failed', {
            errors: [{ resource: 'IssueComment', code: 'missing_field', field: 'body' }],
          });
        const comment = { id: this.#nextId(), body: body.body, created_at: iso(Date.now()) };
        issue.comments.push(comment);
        return { status: 201, body: this.#commentJson(issue, comment) };
      }
    }
    if (rest === '/dispatches' && method === 'POST') {
      const denied = write('contents');
      if (denied) return denied;
      const eventType = body?.event_type;
      if (typeof eventType !== 'string' || eventType.length === 0 || eventType.length > 100)
        return error(422, "Invalid request.\n\nFor 'properties/event_type', nil is not a string.", {
          errors: [{ resource: 'Dispatch', code: 'invalid', field: 'event_type' }],
        });
      const payload = body?.client_payload;
      if (payload !== undefined && (typeof payload !== 'object' || payload === null || Array.isArray(payload)))
        return error(422, "Invalid request.\n\nFor 'properties/client_payload', it is not an object.");
      if (payload && Object.keys(payload).length > 10)
        return error(422, 'Invalid request.\n\nNo more than 10 properties are allowed; 11 were supplied.');
      this.dispatches.push({ event_type: eventType, client_payload: payload as Record<string, unknown> | undefined });
      return { status: 204 };
    }
    return notFound();
  }

  /** `GET /search/issues?q=…`: `repo:`, `is:open|closed`, `is:issue`, `label:` qualifiers and words or "phrases" in the title or body. */
  #searchIssues(url: URL): Reply {
    const q = url.searchParams.get('q');
    if (!q) return error(422, 'Validation Failed', { errors: [{ resource: 'Search', field: 'q', code: 'missing' }] });
    const terms = [...q.matchAll(/(\w+):("[^"]*"|\S+)|"([^"]*)"|(\S+)/g)];
    const found = this.issues.filter((issue) =>
      terms.every(([, key, value, phrase, word]) => {
        const v = value?.replace(/^"|"$/g, '');
        if (key === 'repo') return v?.toLowerCase() === this.fullName.toLowerCase();
        if (key === 'is') return v === 'issue' || v === issue.state;
        if (key === 'label') return issue.labels.some((l) => l.name === v);
        if (key === 'in') return true;
        const text = (phrase ?? word ?? `${key}:${v}`).toLowerCase();
        return `${issue.title}\n${issue.body ?? ''}`.toLowerCase().includes(text);
      }),
    );
    const { items, headers } = this.#page(
      url,
      found.sort((a, b) => b.number - a.number),
    );
    return {
      status: 200,
      body: { total_count: found.length, incomplete_results: false, items: items.map((i) => this.#issueJson(i)) },
      headers,
    };
  }

  #issueJson(issue: IssueRecord) {
    return {
      id: issue.id,
      node_id: `I_${issue.id}`,
      number: issue.number,
      title: issue.title,
      body: issue.body,
      state: issue.state,
      labels: issue.labels,
      comments: issue.comments.length,
      url: `${this.#api()}/issues/${issue.number}`,
      html_url: `https://github.com/${this.fullName}/issues/${issue.number}`,
      comments_url: `${this.#api()}/issues/${issue.number}/comments`,
      user: { login: 'healbot[bot]', type: 'Bot' },
      created_at: issue.created_at,
      updated_at: issue.created_at,
    };
  }

  #commentJson(issue: IssueRecord, comment: { id: number; body: string; created_at: string }) {
    return {
      id: comment.id,
      body: comment.body,
      html_url: `https://github.com/${this.fullName}/issues/${issue.number}#issuecomment-${comment.id}`,
      issue_url: `${this.#api()}/issues/${issue.number}`,
      user: { login: 'healbot[bot]', type: 'Bot' },
      created_at: comment.created_at,
      updated_at: comment.created_at,
    };
  }

  #rateLimited(token: string, path: string): Reply | undefined {
    const limit = this.#limits.find((l) => l.times > 0 && (!l.match || l.match.test(path)));
    if (!limit) return undefined;
    limit.times -= 1;
    if (limit.kind === 'secondary') {
      return {
        ...error(
          403,
          'You have exceeded a secondary rate limit. Please wait a few minutes before you try again. If you reach out to GitHub Support for help, please include the request ID 0000:1111:2222:3333:44444444.',
        ),
        headers: { 'retry-after': String(limit.retryAfter) },
      };
    }
    this.#remaining.set(token, 0);
    return {
      ...error(
        403,
        'API rate limit exceeded for user ID 1. If you reach out to GitHub Support for help, please include the request ID 0000:1111:2222:3333:44444444.',
      ),
      headers: {
        'x-ratelimit-remaining': '0',
        'x-ratelimit-reset': String(Math.ceil(Date.now() / 1000) + limit.retryAfter),
      },
    };
  }

  async #serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks).toString('utf8');
    const url = new URL(req.url ?? '/', this.apiUrl);
    const path = url.pathname.replace(/^\/api\/v3(?=\/)/, '');
    const method = req.method ?? 'GET';
    const reply = this.#answer(req, method, path, url, raw);
    this.requests.push({
      method,
      path,
      query: Object.fromEntries(url.searchParams),
      headers: req.headers,
      body: reply.parsed,
      raw,
      status: reply.status,
      at: Date.now(),
    });
    const headers: Record<string, string> = {
      'x-github-request-id': `${randomBytes(2).toString('hex').toUpperCase()}:${randomBytes(4).toString('hex').toUpperCase()}`,
      ...reply.headers,
    };
    if (reply.body === undefined || reply.status === 204 || reply.status === 302) {
      res.writeHead(reply.status, headers).end();
      return;
    }
    if (typeof reply.body === 'string') {
      res.writeHead(reply.status, { 'content-type': 'text/plain; charset=utf-8', ...headers }).end(reply.body);
      return;
    }
    res
      .writeHead(reply.status, { 'content-type': 'application/json; charset=utf-8', ...headers })
      .end(JSON.stringify(reply.body));
  }

  #answer(req: IncomingMessage, method: string, path: string, url: URL, raw: string): Reply & { parsed?: unknown } {
    if (path.startsWith('/_blobs/job-logs/')) {
      // The signed storage URL the job-logs endpoint redirects to: no GitHub token, an expiring signature.
      const blob = this.#blobs.get(url.searchParams.get('sig') ?? '');
      const jobId = Number(path.split('/').pop());
      if (!blob || blob.jobId !== jobId || blob.expires < Date.now())
        return {
          status: 403,
          body: '<?xml version="1.0" encoding="utf-8"?><Error><Code>AuthenticationFailed</Code><Message>Server failed to authenticate the request.</Message></Error>',
        };
      const job = this.runs.flatMap((r) => r.jobs).find((j) => j.id === jobId)!;
      return { status: 200, body: this.#logText(job) };
    }
    let parsed: unknown;
    if (raw) {
      try {
        parsed = JSON.parse(raw);
      } catch {
        return error(400, 'Problems parsing JSON');
      }
    }
    const common = (token: string): Record<string, string> => {
      const remaining = this.#remaining.get(token) ?? 5000;
      return {
        'x-github-media-type': 'github.v3; format=json',
        'x-github-api-version-selected': '2022-11-28',
        'x-ratelimit-limit': '5000',
        'x-ratelimit-remaining': String(remaining),
        'x-ratelimit-used': String(5000 - remaining),
        'x-ratelimit-reset': String(Math.ceil(this.#epoch / 1000) + 3600),
        'x-ratelimit-resource': 'core',
      };
    };
    const version = req.headers['x-github-api-version'];
    if (typeof version === 'string' && !API_VERSIONS.has(version))
      return { ...error(400, `API version '${version}' is not supported.`), parsed };
    if (!req.headers['user-agent'])
      return {
        ...error(
          403,
          'Request forbidden by administrative rules. Please make sure your request has a User-Agent header (https://docs.github.com/en/rest/overview/resources-in-the-rest-api#user-agent-required).',
        ),
        parsed,
      };
    const auth = /^(?:Bearer|token) (\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
    if (!auth) return { ...error(401, 'Requires authentication'), parsed };
    if (!this.tokens.has(auth)) return { ...error(401, 'Bad credentials'), parsed };
    const outage = this.#outages.find((o) => o.times > 0 && (!o.match || o.match.test(path)));
    if (outage) {
      outage.times -= 1;
      return { ...error(outage.status, 'Server Error'), parsed };
    }
    const limited = this.#rateLimited(auth, path);
    if (limited) return { ...limited, headers: { ...common(auth), ...limited.headers }, parsed };
    this.#remaining.set(auth, Math.max((this.#remaining.get(auth) ?? 5000) - 1, 0));
    const reply = this.#route(method, path, url, parsed as Record<string, unknown> | undefined, auth);
    return { ...reply, headers: { ...common(auth), ...reply.headers }, parsed };
  }
}
