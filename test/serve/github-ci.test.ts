import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { ChatMessage, ChatSurface, ThreadRef } from '../../commands/chat.js';
import { IncidentConversations } from '../../commands/conversation.js';
import { runCommand } from '../../commands/index.js';
import type { HealReport, ProgressEvent } from '../../src/engine/types.js';
import { json } from '../support/http.js';
import { GitHubApiServer, type RunSpec, type StepSpec } from '../support/github-api-server.js';
import { startTestBot, tempDir, waitFor, type TestBot } from './harness.js';

const SECRET = 'whsec-0123456789abcdef';

const setupNode: StepSpec = {
  name: 'Run actions/setup-node@v4',
  log: ['Cache restored from key: node-cache-Linux-x64-npm-3f5a9c', 'Cache restored successfully'],
};
const failingInstall = (log: string[]): StepSpec => ({
  name: 'Install',
  conclusion: 'failure',
  log: ['npm ci', ...log],
});
const build = (install: StepSpec, extra: Partial<RunSpec> = {}): RunSpec => ({
  workflow: 'build.yml',
  conclusion: 'failure',
  jobs: [{ name: 'build', conclusion: 'failure', steps: [{ name: 'Run actions/checkout@v4' }, setupNode, install] }],
  ...extra,
});

/** A chat platform that records what it is asked to post. */
class RecordingSurface implements ChatSurface {
  readonly platform = 'test';
  readonly posts: ChatMessage[] = [];
  async openThread(_origin: unknown, status: ChatMessage): Promise<ThreadRef> {
    this.posts.push(status);
    return { platform: 'test', channel: 'C0CI', thread: 'T1', statusMessage: 'S1' };
  }
  async updateStatus(_thread: ThreadRef, status: ChatMessage): Promise<void> {
    this.posts.push(status);
  }
  async reply(_thread: ThreadRef, message: ChatMessage): Promise<void> {
    this.posts.push(message);
  }
}

const NPM_TIMEOUT = [
  'npm ERR! code ETIMEDOUT',
  'npm ERR! errno ETIMEDOUT',
  'npm ERR! network request to https://registry.npmjs.org/express failed, reason: connect ETIMEDOUT 104.16.0.35:443',
];

const CORRUPT_CACHE = [
  'npm ERR! code EINTEGRITY',
  'npm ERR! sha512-AAAA integrity checksum failed when using sha512: wanted sha512-AAAA but got sha512-BBBB. (15325 bytes)',
];
const ANA = { platform: 'slack', id: 'U0ANA', display: '@ana' } as const;

describe('CI pipelines as services (GitHub Actions)', () => {
  let github: GitHubApiServer;
  let bot: TestBot;
  let reports: HealReport[];
  let events: ProgressEvent[];

  async function start(service: Record<string, unknown> = {}, extra: Record<string, unknown> = {}, apiUrl?: string) {
    bot = await startTestBot({
      services: {
        ci: {
          github: { repo: 'acme/shop', workflows: ['build.yml'], branches: ['main'], pollInterval: '50ms', ...service },
          policy: { approvers: ['U0ANA'] },
        },
      },
      github: { token: github.token, apiUrl: apiUrl ?? github.apiUrl, webhookSecret: SECRET },
      ...extra,
    });
    github.webhook = { url: `${bot.url}/webhooks/github`, secret: SECRET };
    bot.bot.engine.subscribe((event) => {
      events.push(event);
      if (event.type === 'done') reports.push(event.report);
    });
  }

  const failed = (run: ReturnType<GitHubApiServer['addRun']>) =>
    github.deliver('workflow_run', github.workflowRunPayload(run));
  const approvalRequest = () =>
    waitFor(
      () =>
        events.find((e): e is Extract<ProgressEvent, { type: 'awaiting_approval' }> => e.type === 'awaiting_approval'),
      'the approval request',
    );
  const reportFor = (incidentId: string) =>
    waitFor(() => reports.find((r) => r.incidentId === incidentId), `incident ${incidentId} to end`, 20_000);

  beforeEach(async () => {
    github = await new GitHubApiServer({ repo: 'acme/shop' }).start();
    reports = [];
    events = [];
  });
  afterEach(async () => {
    await bot?.close();
    await github.close();
  });

  it('re-runs a job that failed on an npm network timeout, and the later success verifies it', async () => {
    await start({ pollInterval: '1h' });
    const run = github.addRun(
      build(failingInstall(NPM_TIMEOUT), {
        reruns: [{ conclusion: 'success', durationMs: 192_000, readsInProgress: 1_000_000 }],
      }),
    );
    const delivery = await failed(run);
    expect(delivery.status).toBe(202);
    const incidentId = JSON.parse(delivery.response!).incidents.ci;
    expect(incidentId).toMatch(/^inc_/);

    // The job log was read through GitHub's redirect, and the token never went to the storage host.
    await waitFor(() => github.calls('POST', /\/rerun-failed-jobs$/).length === 1, 'the re-run');
    const blob = github.requests.find((r) => r.path.startsWith('/_blobs/job-logs/'));
    expect(blob?.headers.authorization).toBeUndefined();
    expect(github.calls('GET', /\/actions\/jobs\/\d+\/logs$/)[0].status).toBe(302);
    // Polling is an hour apart: only the next webhook (the re-run's success) can end the verification.
    await github.finishRerun(run);
    const report = await reportFor(incidentId);
    expect(report.outcome).toBe('healed');
    expect(report.summary).toBe(
      `CI · build on main failed: npm ETIMEDOUT fetching registry metadata in step 'Install'; re-ran the failed jobs (safe, automatic); passed in 3 m 12 s. https://github.com/acme/shop/actions/runs/${run.id}`,
    );
    expect(report.actions.map((a) => a.action)).toEqual(['rerun_failed_jobs']);
    expect(github.issues).toHaveLength(0);

    // `/heal ci` from chat on the now green pipeline: nothing to do.
    const answer = await runCommand(bot.bot.api, {
      actor: { platform: 'slack', id: 'U0ANA' },
      text: 'ci',
      channel: 'C0CI',
    });
    expect(answer.message.text).toBe('Healing *ci*: diagnosing every layer now; follow the thread.');
    const again = await waitFor(() => reports.find((r) => r.incidentId !== incidentId), 'the /heal ci incident');
    expect(again.outcome).toBe('not_needed');
    expect(again.summary).toMatch(/^CI · build on main passed \(run #1\); nothing to heal/);
    expect(github.calls('POST', /\/rerun-failed-jobs$/)).toHaveLength(1);
  });

  it('deletes the corrupted cache only after approval, then re-runs (GitHub Enterprise API URL)', async () => {
    await start({}, {}, github.enterpriseApiUrl);
    github.addCache({ key: 'node-cache-Linux-x64-npm-3f5a9c' });
    github.addCache({ key: 'node-cache-Linux-x64-npm-other' });
    const run = github.addRun(build(failingInstall(CORRUPT_CACHE)));
    const incidentId = JSON.parse((await failed(run)).response!).incidents.ci;
    const ask = await approvalRequest();
    expect(ask.request.step).toMatchObject({
      action: 'delete_caches',
      risk: 'risky',
      params: { keys: 'node-cache-Linux-x64-npm-3f5a9c' },
    });
    expect(github.requests.filter((r) => r.method !== 'GET')).toHaveLength(0);

    const refused = await bot.bot.engine.decide(ask.request.id, { platform: 'slack', id: 'U0MALLORY' }, 'approve');
    expect(refused.ok).toBe(false);
    expect((await bot.bot.engine.decide(ask.request.id, ANA, 'approve')).ok).toBe(true);
    const report = await reportFor(incidentId);
    expect(report.outcome).toBe('healed');
    expect(github.calls('DELETE', /\/actions\/caches$/).map((r) => r.query.key)).toEqual([
      'node-cache-Linux-x64-npm-3f5a9c',
    ]);
    expect(github.caches.map((c) => c.key)).toEqual(['node-cache-Linux-x64-npm-other']);
    expect(github.calls('POST', /\/rerun-failed-jobs$/)).toHaveLength(1);
    expect(
      github.requests.every((r) => r.path.startsWith('/_blobs/') || r.headers['x-github-api-version'] === '2022-11-28'),
    ).toBe(true);
    expect(report.summary).toMatch(
      /failed: npm integrity checksum failed \(a corrupted cache\) in step 'Install'; deleted the corrupted cache and re-ran the failed jobs \(risky, approved by @ana\); passed in 3 m 12 s\./,
    );
  });

  it('keeps a pending cache deletion across a restart and acts once on approval, for the same run only', async () => {
    const dir = tempDir();
    try {
      const store = { path: `${dir.path}/healbot.db` };
      await start({}, { store });
      github.addCache({ key: 'node-cache-Linux-x64-npm-3f5a9c' });
      const run = github.addRun(build(failingInstall(CORRUPT_CACHE)));
      const incidentId = JSON.parse((await failed(run)).response!).incidents.ci;
      const ask = await approvalRequest();
      await bot.close();

      await start({}, { store });
      expect((await bot.bot.engine.decide(ask.request.id, ANA, 'approve')).ok).toBe(true);
      const report = await reportFor(incidentId);
      expect(report.outcome).toBe('healed');
      expect(report.approvedBy).toEqual(['@ana']);
      expect(github.calls('DELETE', /\/actions\/caches$/)).toHaveLength(1);
      expect(github.calls('POST', /\/rerun-failed-jobs$/)).toHaveLength(1);
    } finally {
      await bot.close();
      dir.cleanup();
    }
  });

  it('does not re-run a stale lockfile or failing tests: it escalates with the step and the log lines', async () => {
    await start();
    const lockfile = github.addRun(
      build(
        failingInstall([
          'npm ERR! code EUSAGE',
          'npm ERR! `npm ci` can only install packages when your package.json and package-lock.json or npm-shrinkwrap.json are in sync.',
          "npm ERR! Invalid: lock file's express@4.17.1 does not satisfy express@^4.18.2",
        ]),
      ),
    );
    const first = await reportFor(JSON.parse((await failed(lockfile)).response!).incidents.ci);
    expect(first.outcome).toBe('escalated');
    expect(first.summary).toContain(
      "failed: package-lock.json is out of date (npm ci: lock file's express@4.17.1 does not satisfy express@^4.18.2) in step 'Install'; nothing was re-run. ",
    );
    expect(first.summary).toContain('Regenerate the lockfile');

    const tests = github.addRun({
      workflow: 'build.yml',
      conclusion: 'failure',
      jobs: [
        {
          name: 'test',
          conclusion: 'failure',
          steps: [
            {
              name: 'Test',
              conclusion: 'failure',
              log: [
                'FAIL src/cart.test.ts',
                '    expect(received).toBe(expected)',
                'Tests:       1 failed, 41 passed, 42 total',
              ],
            },
          ],
        },
      ],
    });
    const second = await reportFor(JSON.parse((await failed(tests)).response!).incidents.ci);
    expect(second.outcome).toBe('escalated');
    expect(second.summary).toMatch(/Tests fail in step 'Test' of job 'test'.*healbot never re-runs failing tests/);

    expect(github.requests.filter((r) => r.method === 'POST' && r.path.includes('/actions/'))).toHaveLength(0);
    await waitFor(() => github.issues.length === 2, 'two GitHub issues on the repo');
    await bot.github!.idle();
    const [lockIssue, testIssue] = github.issues;
    expect(lockIssue.title).toMatch(/^healbot: CI · build on main failed: package-lock\.json is out of date/);
    expect(lockIssue.body).toContain('does not satisfy express@^4.18.2');
    expect(lockIssue.body).toContain(`https://github.com/acme/shop/actions/runs/${lockfile.id}`);
    expect(testIssue.body).toContain('Tests:       1 failed, 41 passed, 42 total');
    expect(lockIssue.labels.map((l) => l.name)).toEqual(['healbot']);
  });

  it('tells the whole story in the chat thread: the failing step, the redacted log lines, the outcome and the run', async () => {
    await start();
    const surface = new RecordingSurface();
    const conversations = new IncidentConversations(bot.bot.api, surface, { platform: 'test', defaultChannel: 'C0CI' });
    conversations.start();
    try {
      const leaked = 'npm_SECRETsecretSECRETsecret0123456789';
      const run = github.addRun(
        build(
          failingInstall([
            `npm ERR! request to https://registry.npmjs.org/express failed with //registry.npmjs.org/:_authToken=${leaked}`,
            'npm ERR! code EUSAGE',
            "npm ERR! Invalid: lock file's express@4.17.1 does not satisfy express@^4.18.2",
          ]),
        ),
      );
      const report = await reportFor(JSON.parse((await failed(run)).response!).incidents.ci);
      await conversations.idle();
      const finding = surface.posts.find((p) => p.text.startsWith('*Diagnosis:*'))!;
      expect(finding.text).toContain("in step 'Install'");
      expect(finding.fields).toContainEqual({ label: 'Root cause', value: 'pipeline failed (build/Install)' });
      expect(finding.code).toContain("npm ERR! Invalid: lock file's express@4.17.1 does not satisfy express@^4.18.2");
      const last = surface.posts.at(-1)!;
      expect(`${last.title} ${last.text}`).toContain(`https://github.com/acme/shop/actions/runs/${run.id}`);
      expect(report.summary).toContain('nothing was re-run');
      await bot.github!.idle();
      expect(JSON.stringify(surface.posts)).not.toContain(leaked);
      expect(github.issues[0].body).not.toContain(leaked);
      expect(github.issues[0].body).toContain('[REDACTED]');
    } finally {
      await conversations.stop();
    }
  });

  it('dispatches the configured repair workflow with the failure after approval, and the next run verifies it', async () => {
    await start({ repair: { eventType: 'repair-lockfile' } });
    const run = github.addRun(
      build(
        failingInstall([
          'npm ERR! code EUSAGE',
          "npm ERR! Invalid: lock file's express@4.17.1 does not satisfy express@^4.18.2",
        ]),
      ),
    );
    const incidentId = JSON.parse((await failed(run)).response!).incidents.ci;
    const ask = await approvalRequest();
    expect(ask.request.step.action).toBe('dispatch_repair');
    expect(github.dispatches).toHaveLength(0);
    await bot.bot.engine.decide(ask.request.id, ANA, 'approve');
    await waitFor(() => github.dispatches.length === 1, 'the repository_dispatch');
    expect(github.dispatches[0]).toMatchObject({
      event_type: 'repair-lockfile',
      client_payload: {
        run_id: run.id,
        run_attempt: 1,
        workflow: 'build',
        branch: 'main',
        step: 'Install',
        job: 'build',
      },
    });
    expect(String(github.dispatches[0].client_payload?.failure)).toContain('does not satisfy');
    // The repair workflow pushes a fixed lockfile; the push runs the workflow again, green.
    const next = github.addRun({
      workflow: 'build.yml',
      conclusion: 'success',
      jobs: [{ name: 'build', conclusion: 'success' }],
    });
    await github.deliver('workflow_run', github.workflowRunPayload(next));
    const report = await reportFor(incidentId);
    expect(report.outcome).toBe('healed');
    expect(report.summary).toMatch(
      /started the repair workflow \(risky, approved by @ana\); the next run \(#2\) passed in/,
    );
  });

  it('counts re-runs per workflow: a flaky workflow stops being re-run while another one of the service still is', async () => {
    await start({ workflows: ['build.yml', 'lint.yml'] }, { breaker: { threshold: 2, window: '1h' } });
    // Someone re-ran build twice in the last half hour.
    for (let i = 0; i < 2; i++)
      github.addRun(build(failingInstall(NPM_TIMEOUT), { conclusion: 'success' })).run_attempt = 2;
    const flaky = github.addRun(build(failingInstall(NPM_TIMEOUT)));
    const stopped = await reportFor(JSON.parse((await failed(flaky)).response!).incidents.ci);
    expect(stopped.outcome).toBe('escalated');
    expect(stopped.summary).toMatch(
      /Build on main was re-run 2 times in the last 60 min \(breaker\.threshold 2 per workflow\)/,
    );
    expect(github.calls('POST', /\/rerun-failed-jobs$/)).toHaveLength(0);

    const lint = github.addRun({ ...build(failingInstall(NPM_TIMEOUT)), workflow: 'lint.yml' });
    const rerun = await reportFor(JSON.parse((await failed(lint)).response!).incidents.ci);
    expect(rerun.outcome).toBe('healed');
    expect(github.calls('POST', /\/rerun-failed-jobs$/).map((r) => r.path)).toEqual([
      `/repos/acme/shop/actions/runs/${lint.id}/rerun-failed-jobs`,
    ]);
  });

  it('waits for a run that is still in progress when asked to heal, and reports how it ended', async () => {
    await start();
    const run = github.addRun({
      workflow: 'build.yml',
      status: 'in_progress',
      conclusion: null,
      jobs: [{ name: 'build', conclusion: 'success' }],
    });
    const res = await bot.call('/api/heal', { method: 'POST', json: { service: 'ci' } });
    const incidentId = (await json(res)).incidentId;
    await waitFor(
      () => github.calls('GET', new RegExp(`/actions/runs$`)).length >= 2,
      'healbot to poll the running run',
    );
    await github.completeRun(run, 'success');
    const report = await reportFor(incidentId);
    expect(report.outcome).toBe('not_needed');
    expect(report.summary).toBe(
      `CI · build on main is running (run #1, attempt 1); waiting for its result; it finished: success in 3 m 12 s. https://github.com/acme/shop/actions/runs/${run.id}`,
    );
    expect(github.requests.filter((r) => r.method !== 'GET')).toHaveLength(0);
  });

  it('rejects a forged signature with 401 and ignores a replayed delivery', async () => {
    await start();
    const run = github.addRun(build(failingInstall(NPM_TIMEOUT)));
    const forged = await github.deliver('workflow_run', github.workflowRunPayload(run), { secret: 'not-the-secret' });
    expect(forged.status).toBe(401);
    expect(JSON.parse(forged.response!).error).toMatch(/X-Hub-Signature-256 does not match/);
    expect(await bot.bot.store.listIncidents({})).toHaveLength(0);

    const real = await failed(run);
    expect(real.status).toBe(202);
    const replay = await github.redeliver(real.id);
    expect(replay.status).toBe(200);
    expect(JSON.parse(replay.response!)).toMatchObject({ duplicate: true });
    await reportFor(JSON.parse(real.response!).incidents.ci);
    expect(await bot.bot.store.listIncidents({})).toHaveLength(1);
    expect(github.calls('POST', /\/rerun-failed-jobs$/)).toHaveLength(1);
  });

  it('stops after a re-run fails again: the breaker opens, a GitHub issue is opened, and nothing is re-run twice', async () => {
    await start({}, { breaker: { threshold: 1, window: '1h' } });
    const run = github.addRun(build(failingInstall(NPM_TIMEOUT), { reruns: [{ conclusion: 'failure' }] }));
    const first = await reportFor(JSON.parse((await failed(run)).response!).incidents.ci);
    expect(first.outcome).toBe('failed');
    expect(first.summary).toMatch(
      /re-ran the failed jobs \(safe, automatic\), but attempt 2 failed again: npm ETIMEDOUT fetching registry metadata/,
    );
    expect(first.summary).toMatch(/The breaker is open/);

    // The failed attempt's own delivery: the same run is never re-run a second time.
    const second = await reportFor(JSON.parse((await failed(run)).response!).incidents.ci);
    expect(second.outcome).toBe('escalated');
    expect(second.summary).toMatch(/already re-run \(this was attempt 2\)/);
    // A new run failing the same way meets the breaker: its workflow was re-run once this hour.
    const next = github.addRun(build(failingInstall(NPM_TIMEOUT)));
    const third = await reportFor(JSON.parse((await failed(next)).response!).incidents.ci);
    expect(third.outcome).toBe('escalated');
    expect(third.summary).toMatch(
      /Build on main was re-run 1 times in the last 60 min \(breaker\.threshold 1 per workflow\): it is flaky, not unlucky/,
    );
    expect(await bot.bot.store.isBreakerOpen('ci')).toBe(true);

    expect(github.calls('POST', /\/rerun-failed-jobs$/)).toHaveLength(1);
    await bot.github!.idle();
    // One issue per failed run, however many incidents it went through.
    expect(github.issues.map((i) => i.title)).toHaveLength(2);
  });
});
