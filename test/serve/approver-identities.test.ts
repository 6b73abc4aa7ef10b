import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configDir, runCli } from '../support/cli.js';
import { API_TOKEN, countedService, startTestBot, tempDir, TOKEN, waitFor, type TestBot } from './harness.js';

/**
 * Approvals come from verified identities: the bearer credential decides who approves, never
 * a name in the body; the webhook token never approves; two approvers are two identities.
 */
const LEAD_TOKEN = 'api-token-lead-0123456789abcdef';
const INTERN_TOKEN = 'api-token-intern-0123456789abcdef';
const dir = tempDir();
const files = configDir();
let bot: TestBot;
const worker = countedService(dir.path, 'worker', { twoApprovers: true });

beforeAll(async () => {
  bot = await startTestBot({
    server: {
      listen: '127.0.0.1:0',
      token: TOKEN,
      apiTokens: [
        { name: 'ops', token: API_TOKEN },
        { name: 'lead', token: LEAD_TOKEN },
        { name: 'intern', token: INTERN_TOKEN },
      ],
    },
    healing: { approvers: ['api:ops', 'api:lead', 'U0ONCALL'], verifyTimeout: '5s' },
    services: { worker: worker.config },
  });
});

afterAll(async () => {
  await bot.close();
  dir.cleanup();
  files.cleanup();
});

const decide = async (id: string, token: string, body: Record<string, unknown>) => {
  const res = await bot.call(`/api/approvals/${id}`, { method: 'POST', token, json: body });
  return {
    status: res.status,
    body: (await res.json()) as { ok: boolean; error?: string; by?: string[]; waitingFor?: number },
  };
};

describe('approvals from verified identities', () => {
  it('refuses a spoofed by, the webhook token, a non-approver credential and one credential twice; two distinct credentials approve', async () => {
    const started = await bot.call('/api/heal', { method: 'POST', token: API_TOKEN, json: { service: 'worker' } });
    const { incidentId } = (await started.json()) as { incidentId: string };
    const approval = await waitFor(
      async () => (await bot.bot.store.pendingApprovals()).find((a) => a.incidentId === incidentId),
      'the approval request',
    );

    const spoofed = await decide(approval.id, INTERN_TOKEN, { decision: 'approve', by: 'U0ONCALL' });
    expect(spoofed).toEqual({
      status: 403,
      body: {
        ok: false,
        reason: 'not_allowed',
        error: 'You are not an approver for worker; ask api:ops, api:lead, U0ONCALL.',
      },
    });

    const webhook = await decide(approval.id, TOKEN, { decision: 'approve', by: 'api:ops' });
    expect(webhook.status).toBe(403);
    expect(webhook.body.error).toBe(
      'the webhook token (server.token) can never approve or deny: use a named credential from server.apiTokens that is listed as an approver (api:<name>)',
    );

    const first = await decide(approval.id, API_TOKEN, { decision: 'approve', by: 'someone-else' });
    expect(first).toMatchObject({ status: 200, body: { ok: true, by: ['api:ops'], waitingFor: 1 } });
    const again = await decide(approval.id, API_TOKEN, { decision: 'approve', by: 'a-second-person' });
    expect(again).toEqual({
      status: 403,
      body: {
        ok: false,
        reason: 'same_approver',
        error: `api:ops already approved ${approval.id}; it needs a second approver with a different identity.`,
      },
    });
    expect(worker.runs()).toBe(0);
    expect((await bot.bot.store.getApproval(approval.id))?.status).toBe('pending');

    const refusals = (await bot.bot.store.listAudit({ service: 'worker' })).filter((e) =>
      e.event.startsWith('refused_'),
    );
    expect(refusals.map((e) => [e.event, e.detail.door, e.detail.identity])).toEqual([
      ['refused_not_allowed', 'api', 'api:intern'],
      ['refused_not_allowed', 'webhook', 'webhook:server.token'],
      ['refused_same_approver', 'api', 'api:ops'],
    ]);

    const second = await decide(approval.id, LEAD_TOKEN, { decision: 'approve' });
    expect(second).toMatchObject({ status: 200, body: { ok: true, by: ['api:ops', 'api:lead'], waitingFor: 0 } });
    const closed = await waitFor(
      async () =>
        (await bot.bot.store.getIncident(incidentId))?.status === 'closed' &&
        (await bot.bot.store.getIncident(incidentId)),
      'the heal to finish',
    );
    expect(closed.outcome).toBe('healed');
    expect(closed.summary).toContain('after approval by api:ops and api:lead');
    expect(worker.runs()).toBe(1);
    const approved = (await bot.bot.store.listAudit({ service: 'worker' })).filter((e) => e.event === 'approved');
    expect(approved.map((e) => [e.actor, e.detail.door])).toEqual([
      ['api:ops', 'api'],
      ['api:lead', 'api'],
    ]);
  });

  it('heal --yes counts as the local operator only: with two approvers required it says so, exits 2 and changes nothing', async () => {
    const service = countedService(dir.path, 'cli-worker', { twoApprovers: true });
    const result = await runCli([
      'heal',
      'svc',
      '--config',
      files.write('two.yml', { services: { svc: service.config } }),
      '--yes',
    ]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr.trim().split('\n')).toEqual([
      expect.stringMatching(
        /^healbot: start svc needs two approvers \(policy\.twoApprovers\); the terminal counts as one, the local operator: a second approver must approve apr_[0-9a-f]+ in chat or through the API$/,
      ),
    ]);
    expect(service.runs()).toBe(0);
  });
});
