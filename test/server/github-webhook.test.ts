import { createHmac } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBot, type TestBot } from '../serve/harness.js';
import { json } from '../support/http.js';

const SECRET = 'whsec-0123456789abcdef';
const sign = (body: string, secret = SECRET) => `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;

describe('POST /webhooks/github', () => {
  let bot: TestBot | undefined;
  afterEach(async () => {
    await bot?.close();
    bot = undefined;
  });

  const post = (body: string, headers: Record<string, string>) =>
    fetch(`${bot!.url}/webhooks/github`, {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json', ...headers },
    });
  const start = (github: Record<string, unknown> = { token: 'ghp_x', webhookSecret: SECRET }) =>
    startTestBot({
      services: { ci: { github: { repo: 'acme/shop', workflows: ['build.yml'] } } },
      github: { apiUrl: 'http://127.0.0.1:9', ...github },
    });

  it('answers every bad delivery with one clear line and opens nothing', async () => {
    bot = await start();
    const good = JSON.stringify({ zen: 'Keep it logically awesome.', hook_id: 1 });
    const noDelivery = await post(good, { 'x-hub-signature-256': sign(good), 'x-github-event': 'ping' });
    expect(noDelivery.status).toBe(400);
    expect((await json(noDelivery)).error).toBe('missing or malformed X-GitHub-Delivery header');
    expect((await post(good, { 'x-github-event': 'ping', 'x-github-delivery': 'd-1' })).status).toBe(401);
    const bad = '{"action":';
    const malformed = await post(bad, {
      'x-hub-signature-256': sign(bad),
      'x-github-event': 'workflow_run',
      'x-github-delivery': 'd-2',
    });
    expect(malformed.status).toBe(400);
    expect((await json(malformed)).error).toMatch(/^malformed JSON/);
    const notARun = JSON.stringify({
      action: 'completed',
      workflow_run: { id: 'seven' },
      repository: { full_name: 'acme/shop' },
    });
    const wrongShape = await post(notARun, {
      'x-hub-signature-256': sign(notARun),
      'x-github-event': 'workflow_run',
      'x-github-delivery': 'd-3',
    });
    expect(wrongShape.status).toBe(400);
    expect((await json(wrongShape)).error).toMatch(/^not a workflow_run payload: workflow_run\.id/);
    expect((await fetch(`${bot.url}/webhooks/github`)).status).toBe(405);
    const ping = await post(good, {
      'x-hub-signature-256': sign(good),
      'x-github-event': 'ping',
      'x-github-delivery': 'd-4',
    });
    expect(ping.status).toBe(200);
    const elsewhere = JSON.stringify({
      action: 'completed',
      workflow_run: {
        id: 7,
        name: 'build',
        path: '.github/workflows/build.yml',
        head_branch: 'main',
        conclusion: 'failure',
        status: 'completed',
      },
      repository: { full_name: 'someone/else' },
    });
    const ignored = await post(elsewhere, {
      'x-hub-signature-256': sign(elsewhere),
      'x-github-event': 'workflow_run',
      'x-github-delivery': 'd-5',
    });
    expect(ignored.status).toBe(202);
    expect((await json(ignored)).ignored).toMatch(/no service watches someone\/else/);
    expect(await bot.bot.store.listIncidents({})).toHaveLength(0);
  });

  it('refuses deliveries until a webhook secret is configured', async () => {
    bot = await start({ token: 'ghp_x' });
    const body = '{}';
    const res = await post(body, {
      'x-hub-signature-256': sign(body),
      'x-github-event': 'ping',
      'x-github-delivery': 'd-1',
    });
    expect(res.status).toBe(503);
    expect((await json(res)).error).toMatch(/github\.webhookSecret is not configured/);
  });
});
