import { createHmac } from 'node:crypto';
import { createServer } from 'node:http';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { json } from './http.js';
import { GitHubApiServer } from './github-api-server.js';

describe('the local GitHub REST API server', () => {
  let github: GitHubApiServer;
  let get: (path: string, init?: RequestInit) => Promise<Response>;

  beforeEach(async () => {
    github = await new GitHubApiServer({ repo: 'acme/shop' }).start();
    get = (path, init = {}) =>
      fetch(`${github.apiUrl}${path}`, {
        ...init,
        headers: {
          authorization: `Bearer ${github.token}`,
          accept: 'application/vnd.github+json',
          'x-github-api-version': '2022-11-28',
          'content-type': 'application/json',
          ...(init.headers as Record<string, string>),
        },
      });
  });
  afterEach(() => github.close());

  it('lists runs newest first, paginated with Link headers, under GHES /api/v3 as well', async () => {
    for (let i = 0; i < 5; i++)
      github.addRun({
        workflow: 'build.yml',
        conclusion: i === 4 ? 'failure' : 'success',
        jobs: [{ name: 'build', conclusion: 'success' }],
      });
    const first = await get('/repos/acme/shop/actions/runs?per_page=2');
    expect(first.status).toBe(200);
    expect(first.headers.get('x-ratelimit-remaining')).toBe('4999');
    expect(first.headers.get('link')).toMatch(/page=2>; rel="next", <[^>]+page=3>; rel="last"/);
    const body = await json(first);
    expect(body.total_count).toBe(5);
    expect(body.workflow_runs[0].conclusion).toBe('failure');
    const last = await fetch(
      `${github.enterpriseApiUrl}/repos/acme/shop/actions/workflows/build.yml/runs?per_page=2&page=3`,
      { headers: { authorization: `token ${github.token}`, 'user-agent': 'test' } },
    );
    expect(last.headers.get('link')).toMatch(/rel="prev".*rel="first"/);
    expect((await json(last)).workflow_runs).toHaveLength(1);
    expect(github.requests.at(-1)?.path).toBe('/repos/acme/shop/actions/workflows/build.yml/runs');
  });

  it('answers errors with GitHub bodies: 401 bad credentials, 403 missing permission, 404, 422', async () => {
    const bad = await fetch(`${github.apiUrl}/repos/acme/shop/actions/runs`, {
      headers: { authorization: 'Bearer nope', 'user-agent': 't' },
    });
    expect(bad.status).toBe(401);
    expect(await json(bad)).toMatchObject({ message: 'Bad credentials', status: '401' });
    github.tokens.set('read-only', { actions: 'read', issues: 'none', contents: 'none' });
    const run = github.addRun({
      workflow: 'ci.yml',
      conclusion: 'failure',
      jobs: [{ name: 'test', conclusion: 'failure' }],
    });
    const denied = await get(`/repos/acme/shop/actions/runs/${run.id}/rerun-failed-jobs`, {
      method: 'POST',
      headers: { authorization: 'Bearer read-only' },
    });
    expect(denied.status).toBe(403);
    expect((await json(denied)).message).toBe('Resource not accessible by personal access token');
    expect((await get('/repos/acme/other/actions/runs')).status).toBe(404);
    const invalid = await get('/repos/acme/shop/issues', {
      method: 'POST',
      body: JSON.stringify({ body: 'no title' }),
    });
    expect(invalid.status).toBe(422);
    expect(await json(invalid)).toMatchObject({
      message: 'Validation Failed',
      errors: [{ field: 'title', code: 'missing_field' }],
    });
  });

  it('redirects job logs to a signed URL that serves timestamped lines without a token', async () => {
    const run = github.addRun({
      workflow: 'ci.yml',
      conclusion: 'failure',
      jobs: [
        {
          name: 'build',
          conclusion: 'failure',
          steps: [{ name: 'Install', conclusion: 'failure', log: ['npm ERR! code ETIMEDOUT'] }],
        },
      ],
    });
    const res = await get(`/repos/acme/shop/actions/jobs/${run.jobs[0].id}/logs`, { redirect: 'manual' });
    expect(res.status).toBe(302);
    const location = res.headers.get('location')!;
    const log = await (await fetch(location)).text();
    expect(log).toMatch(/^\d{4}-\d\d-\d\dT[\d:.]+Z ##\[group\]Run Set up job$/m);
    expect(log).toMatch(/Z npm ERR! code ETIMEDOUT\n.*##\[error\]Process completed with exit code 1\./);
    expect((await fetch(location.replace(/sig=\w+/, 'sig=forged'))).status).toBe(403);
  });

  it('re-runs failed jobs as a new attempt with new job ids that completes as scripted', async () => {
    const run = github.addRun({
      workflow: 'ci.yml',
      conclusion: 'failure',
      jobs: [
        { name: 'lint', conclusion: 'success' },
        { name: 'build', conclusion: 'failure' },
      ],
      reruns: [{ conclusion: 'success', durationMs: 192_000 }],
    });
    const oldBuild = run.jobs[1].id;
    expect((await get(`/repos/acme/shop/actions/runs/${run.id}/rerun-failed-jobs`, { method: 'POST' })).status).toBe(
      201,
    );
    expect((await get(`/repos/acme/shop/actions/runs/${run.id}/rerun-failed-jobs`, { method: 'POST' })).status).toBe(
      403,
    );
    expect((await json(await get(`/repos/acme/shop/actions/runs/${run.id}`))).status).toBe('in_progress');
    const done = await json(await get(`/repos/acme/shop/actions/runs/${run.id}`));
    expect(done).toMatchObject({ status: 'completed', conclusion: 'success', run_attempt: 2 });
    expect(Date.parse(done.updated_at) - Date.parse(done.run_started_at)).toBe(192_000);
    const jobs = (await json(await get(`/repos/acme/shop/actions/runs/${run.id}/jobs`))).jobs;
    expect(jobs.map((j: { name: string }) => j.name)).toEqual(['lint', 'build']);
    expect(jobs[1].id).not.toBe(oldBuild);
    expect(await json(await get(`/repos/acme/shop/actions/runs/${run.id}/attempts/1`))).toMatchObject({
      run_attempt: 1,
      conclusion: 'failure',
    });
    expect((await get(`/repos/acme/shop/actions/runs/${run.id}/attempts/3`)).status).toBe(404);
  });

  it('lists caches by key prefix and deletes them by exact key', async () => {
    github.addCache({ key: 'Linux-node-abc' });
    github.addCache({ key: 'Linux-node-abcdef' });
    const listed = await json(await get('/repos/acme/shop/actions/caches?key=Linux-node-abc'));
    expect(listed.total_count).toBe(2);
    const deleted = await get('/repos/acme/shop/actions/caches?key=Linux-node-abc', { method: 'DELETE' });
    expect(deleted.status).toBe(200);
    expect((await json(deleted)).actions_caches).toHaveLength(1);
    expect(github.caches.map((c) => c.key)).toEqual(['Linux-node-abcdef']);
    expect((await get('/repos/acme/shop/actions/caches?key=Linux-node-abc', { method: 'DELETE' })).status).toBe(404);
  });

  it('answers a secondary rate limit with 403 and retry-after, then serves again', async () => {
    github.rateLimit({ kind: 'secondary', retryAfter: 3 });
    const limited = await get('/repos/acme/shop/actions/runs');
    expect(limited.status).toBe(403);
    expect(limited.headers.get('retry-after')).toBe('3');
    expect((await json(limited)).message).toMatch(/secondary rate limit/);
    expect((await get('/repos/acme/shop/actions/runs')).status).toBe(200);
  });

  it('finds issues with the search API by repo, state, label and phrase', async () => {
    const open = (title: string, labels: string[]) =>
      get('/repos/acme/shop/issues', {
        method: 'POST',
        body: JSON.stringify({ title, body: `error ${title}`, labels }),
      });
    await open('KeyError in checkout', ['healbot']);
    await open('Timeout in cart', ['healbot']);
    const found = await json(
      await get(
        `/search/issues?q=${encodeURIComponent('repo:acme/shop is:issue is:open label:healbot "KeyError in checkout"')}`,
      ),
    );
    expect(found.total_count).toBe(1);
    expect(found.items[0]).toMatchObject({
      number: 1,
      title: 'KeyError in checkout',
      html_url: 'https://github.com/acme/shop/issues/1',
    });
    expect((await get('/search/issues')).status).toBe(422);
  });

  it('accepts repository_dispatch with a client_payload and rejects one without event_type', async () => {
    expect(
      (
        await get('/repos/acme/shop/dispatches', {
          method: 'POST',
          body: JSON.stringify({ event_type: 'repair-lockfile', client_payload: { run: 1 } }),
        })
      ).status,
    ).toBe(204);
    expect(
      (await get('/repos/acme/shop/dispatches', { method: 'POST', body: JSON.stringify({ client_payload: {} }) }))
        .status,
    ).toBe(422);
    expect(github.dispatches).toEqual([{ event_type: 'repair-lockfile', client_payload: { run: 1 } }]);
  });

  it('signs webhook deliveries with X-Hub-Signature-256 over the documented example payload', async () => {
    const received: { headers: Record<string, unknown>; body: string }[] = [];
    const receiver = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        received.push({ headers: req.headers, body });
        res.writeHead(202).end();
      });
    });
    await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
    try {
      github.webhook = {
        url: `http://127.0.0.1:${(receiver.address() as { port: number }).port}/webhooks/github`,
        secret: 's3cret',
      };
      const run = github.addRun({
        workflow: 'ci.yml',
        conclusion: 'failure',
        jobs: [{ name: 'build', conclusion: 'failure' }],
      });
      const delivery = await github.deliver('workflow_run', github.workflowRunPayload(run));
      expect(delivery.status).toBe(202);
      const [got] = received;
      expect(got.headers['x-hub-signature-256']).toBe(
        `sha256=${createHmac('sha256', 's3cret').update(got.body).digest('hex')}`,
      );
      const payload = JSON.parse(got.body);
      expect(payload).toMatchObject({
        action: 'completed',
        workflow_run: { id: run.id, conclusion: 'failure', head_branch: 'main', path: '.github/workflows/ci.yml' },
        repository: { full_name: 'acme/shop' },
      });
      expect(payload.workflow_run.head_commit.message).toBe('build(test): check workflow run event payload');
      await github.redeliver(delivery.id);
      expect(received[1].headers['x-github-delivery']).toBe(delivery.id);
    } finally {
      receiver.close();
    }
  });
});
