import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { GitHubRoutes } from '../../src/app-errors/github-routes.js';
import { createRedactor } from '../../src/redact.js';
import { GitHubApiServer } from '../support/github-api-server.js';

const leaked = 'sk_live_0123456789abcdefABCDEF';

describe("the error routes' GitHub calls", () => {
  let github: GitHubApiServer;
  let routes: GitHubRoutes;

  beforeEach(async () => {
    github = await new GitHubApiServer({ repo: 'acme/shop' }).start();
    routes = new GitHubRoutes(
      { repo: 'acme/shop', token: github.token, apiUrl: github.enterpriseApiUrl },
      createRedactor([github.token]),
    );
  });
  afterEach(() => github.close());

  it('redacts the issue, the comment and the dispatch before they leave', async () => {
    const issue = await routes.openIssue({ title: `api: ${leaked}`, body: `\`${leaked}\``, labels: ['healbot'] });
    expect(issue.url).toBe(`https://github.com/acme/shop/issues/${issue.number}`);
    await routes.comment(issue.number, `again: ${leaked}`);
    await routes.dispatch({
      error_message: `Stripe refused ${leaked}`,
      file: null,
      line: 3,
      trace_id: null,
      service: 'api',
      incident: 'inc_1',
    });
    expect(github.issues[0]).toMatchObject({ title: 'api: [REDACTED]', body: '`[REDACTED]`' });
    expect(github.issues[0].comments[0].body).toBe('again: [REDACTED]');
    expect(github.dispatches[0].client_payload).toMatchObject({ error_message: 'Stripe refused [REDACTED]', line: 3 });
    expect(github.calls('POST', /./).every((r) => r.headers['x-github-api-version'] === '2022-11-28')).toBe(true);
  });

  it('fails with one line naming the repo and the status', async () => {
    await expect(routes.comment(999, 'hello')).rejects.toThrow(
      /^GitHub answered 404 to POST \/api\/v3\/repos\/acme\/shop\/issues\/999\/comments: Not Found/,
    );
  });
});
