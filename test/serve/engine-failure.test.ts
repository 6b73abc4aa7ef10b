import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HealReport } from '../../src/engine/types.js';
import type { Runtime } from '../../src/runtimes/runtime.js';
import { GitHubApiServer } from '../support/github-api-server.js';
import { startTestBot, waitFor, type TestBot } from './harness.js';

/**
 * healbot itself failing (a runtime that throws where the contract says it answers) ends as outcome
 * `failed` with the reason, and escalates: the on-call is named and a GitHub issue is opened
 * on the local GitHub API, retried with backoff while GitHub answers with rate limits.
 */
class BrokenRuntime implements Runtime {
  readonly kind = 'command' as const;
  async inspect() {
    return { runtime: 'command' as const, target: 'broken', status: 'exited' as const };
  }
  supports(): boolean {
    throw new Error('the state file is corrupt');
  }
  async perform(): Promise<void> {}
}

describe('an engine failure is told and escalated', () => {
  let github: GitHubApiServer;
  let bot: TestBot;

  beforeAll(async () => {
    github = await new GitHubApiServer().start();
    bot = await startTestBot(
      {
        oncall: ['<@U0ONCALL>'],
        github: { repo: github.fullName, token: github.token, apiUrl: github.apiUrl },
        services: { broken: { description: 'its runtime throws' } },
      },
      { runtimes: { broken: new BrokenRuntime() } },
    );
  });

  afterAll(async () => {
    await bot.close();
    await github.close();
  });

  it('ends failed with the reason, names the on-call, and opens the GitHub issue after two rate-limited attempts', async () => {
    github.rateLimit({ times: 2, retryAfter: 0, match: /\/issues$/ });
    const done = new Promise<HealReport>((resolve) =>
      bot.bot.api.subscribe((e) => e.type === 'done' && resolve(e.report)),
    );
    expect((await bot.call('/api/heal', { method: 'POST', json: { service: 'broken' } })).status).toBe(202);
    const report = await done;
    expect(report, JSON.stringify(report)).toMatchObject({
      outcome: 'failed',
      internalError: 'the state file is corrupt',
      escalation: '<@U0ONCALL>',
    });
    expect(report.summary).toMatch(
      /^healbot failed while handling broken \(incident inc_[0-9a-f]+\): the state file is corrupt$/,
    );
    await waitFor(() => github.issues.length === 1, 'the GitHub issue', 20_000);
    expect(github.calls('POST', /\/issues$/)).toHaveLength(3);
    expect(github.issues[0].title).toBe('healbot: broken needs a human (unknown)');
    const audit = await waitFor(
      async () => (await bot.bot.store.listAudit({ service: 'broken' })).find((e) => e.event === 'github_issue'),
      'the audit entry',
    );
    expect(audit.detail.attempts).toBe(3);
  });
});
