/**
 * Text from outside never pings anyone: `healbot serve` with the real Bolt adapter against a
 * local Slack Web API. An alert summary, the `by` of an API request and a probe's output carry
 * Slack's broadcast and mention tokens; only healbot's own mentions (approvers, on-call) ping.
 */
import { writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SlackApiServer } from '../adapters/slack/slack-api-server.js';
import { API_TOKEN, startTestBot, tempDir, waitFor, type TestBot } from './harness.js';

const HOSTILE = ['<!channel>', '<!here>', '<!everyone>', '<!subteam^S0EVERYONE>', '<@U0CEO>'];

describe('mentions on Slack', () => {
  const dir = tempDir();
  let slack: SlackApiServer;
  let bot: TestBot;

  beforeAll(async () => {
    slack = await new SlackApiServer().start();
    const script = `${dir.path}/loud.cjs`;
    writeFileSync(
      script,
      `console.error(${JSON.stringify(`upstream says <!everyone> & <@U0CEO> > all`)}); process.exit(Number(process.argv[2]));`,
    );
    const node = process.execPath;
    bot = await startTestBot({
      services: {
        loud: {
          probes: [{ name: 'ready', command: [node, script, '1'] }],
          command: { restart: [node, script, '3'], status: [node, script, '1'], timeoutMs: 5000 },
        },
      },
      healing: { verifyTimeout: 1000, approvalTimeout: '10m', approvers: ['api:ops'] },
      oncall: ['<!subteam^S0ONCALL>'],
      slack: {
        mode: 'http',
        botToken: 'xoxb-1111111111-2222222222-mentionsTEST',
        signingSecret: 'mentions-signing-secret-0123456789',
        apiUrl: slack.apiUrl,
        alertChannels: ['C0ALERTS'],
        approvers: ['U0ANA'],
      },
    });
  });
  afterAll(async () => {
    await bot?.close();
    await slack?.stop();
    dir.cleanup();
  });

  it('posts outside text escaped and mentions only the approvers and the on-call', async () => {
    const alert = await bot.call('/webhooks/generic', {
      method: 'POST',
      json: { service: 'loud', summary: `${HOSTILE.join(' ')} db on fire` },
    });
    expect(alert.status).toBe(202);
    const approval = await waitFor(async () => (await bot.bot.store.pendingApprovals())[0], 'the approval request');
    const decided = await bot.call(`/api/approvals/${approval.id}`, {
      method: 'POST',
      token: API_TOKEN,
      json: { decision: 'approve', by: '<!channel>' },
    });
    expect(decided.status).toBe(200);
    const heal = await bot.call('/api/heal', {
      method: 'POST',
      json: { service: 'loud', by: '<!here>', dryRun: true },
    });
    expect(heal.status).toBe(202);
    await waitFor(
      async () =>
        (await bot.bot.store.listIncidents()).every((r) => r.status === 'closed') &&
        (await bot.bot.store.listIncidents()).length === 2,
      'both incidents to close',
    );
    await waitFor(() => slack.everythingSent().includes('S0ONCALL'), 'the escalation on Slack');
    await new Promise((resolve) => setTimeout(resolve, 300));

    const sent = slack.everythingSent();
    for (const token of HOSTILE) expect(sent, token).not.toContain(token);
    expect(sent).not.toContain('<!channel>');
    // `by` in a request body names nobody: the approval is the credential's, not "<!channel>"'s.
    expect(sent).toContain('api:ops');
    expect(sent).toContain('&lt;!everyone&gt;');
    // The approver healbot asks is a mention; the on-call of the escalation too.
    expect(sent).toContain('<@U0ANA>');
    expect(sent).toContain('<!subteam^S0ONCALL>');
  });
});
