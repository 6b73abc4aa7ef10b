import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { HealReport } from '../../src/engine/types.js';
import { GitHubEscalation } from '../../src/escalation/github.js';
import { createRedactor } from '../../src/redact.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import { GitHubApiServer } from '../support/github-api-server.js';

const leaked = 'ghp_leakedLeakedLeaked0123456789abcdef';

const report = (incidentId: string): HealReport => ({
  incidentId,
  service: 'api',
  outcome: 'escalated',
  rootCause: {
    kind: 'unknown',
    service: 'api',
    summary: `api answers 502; its log says Authorization: Bearer ${leaked}`,
    confidence: 0.4,
    evidence: [],
  },
  hops: [],
  plan: [],
  actions: [],
  approvedBy: [],
  summary: 'healbot could not heal api',
});

/** GitHub escalation through the shared client, against the local GitHub REST API server. */
describe('GitHub escalation', () => {
  let github: GitHubApiServer;
  let store: SqliteStore;

  beforeEach(async () => {
    github = await new GitHubApiServer({ repo: 'acme/ops' }).start();
    store = new SqliteStore(':memory:');
  });
  afterEach(async () => {
    await store.close();
    await github.close();
  });

  const escalation = (token = github.token) =>
    new GitHubEscalation({
      config: { repo: 'acme/ops', token, apiUrl: github.enterpriseApiUrl },
      redact: createRedactor([token]),
      store,
      retryDelaysMs: [10, 10],
    });
  const audit = async (event: string) => (await store.listAudit({ service: 'api' })).find((e) => e.event === event);

  it('retries through server errors with its backoff and opens one issue, redacted, with the API headers', async () => {
    github.outage({ status: 502, times: 2, match: /\/issues$/ });
    const url = await escalation().escalate(report('inc_1'));
    expect(github.calls('POST', /\/issues$/).map((r) => r.status)).toEqual([502, 502, 201]);
    expect(github.issues).toHaveLength(1);
    expect(url).toBe(`https://github.com/acme/ops/issues/${github.issues[0].number}`);
    expect((await audit('github_issue'))?.detail).toMatchObject({ number: github.issues[0].number, attempts: 3 });
    const issue = github.issues[0];
    expect(`${issue.title}\n${issue.body}`).not.toContain(leaked);
    expect(issue.body).toContain('its log says Authorization: [REDACTED]');
    expect(issue.labels.map((l) => l.name)).toEqual(['healbot']);
    const headers = github.calls('POST', /\/issues$/)[2].headers;
    expect(headers).toMatchObject({
      accept: 'application/vnd.github+json',
      'x-github-api-version': '2022-11-28',
      'user-agent': 'healbot',
      authorization: `Bearer ${github.token}`,
    });
  });

  it('gives up at once on a refusal, recording one line that names the repo and status but not the token', async () => {
    const readOnly = 'ghp_readOnlyReadOnly0123456789abcdefAB';
    github.tokens.set(readOnly, { actions: 'read', issues: 'read', contents: 'read' });
    expect(await escalation(readOnly).escalate(report('inc_2'))).toBeUndefined();
    expect(github.calls('POST', /\/issues$/)).toHaveLength(1);
    const failed = await audit('github_issue_failed');
    expect(failed?.detail).toEqual({
      error:
        'GitHub answered 403 to POST /api/v3/repos/acme/ops/issues: Resource not accessible by personal access token (the token lacks a permission: actions read/write, issues write)',
      attempts: 1,
    });
    expect(JSON.stringify(await store.listAudit({}))).not.toContain(readOnly);
  });

  it('gives up after its last retry when GitHub stays down', async () => {
    github.outage({ status: 503, times: 5, match: /\/issues$/ });
    expect(await escalation().escalate(report('inc_3'))).toBeUndefined();
    expect(github.calls('POST', /\/issues$/)).toHaveLength(3);
    expect((await audit('github_issue_failed'))?.detail).toEqual({
      error: 'GitHub answered 503 to POST /api/v3/repos/acme/ops/issues: Server Error',
      attempts: 3,
    });
  });
});
