import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALERT_CHANNEL, SIGNING_SECRET, fixture, startHarness, type Harness } from './harness.js';
import { signSlackRequest, waitFor, type RecordedCall } from './slack-api-server.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness('http', { approverGroups: { S0ONCALL: ['UONCALL'] } });
});
afterAll(async () => {
  await h?.close();
});

const sent = (call: RecordedCall) => JSON.stringify(call.body);

async function post(body: string, contentType: string, headers: Record<string, string>): Promise<number> {
  const response = await fetch(h.eventsUrl!, {
    method: 'POST',
    headers: { 'content-type': contentType, ...headers },
    body,
  });
  await response.arrayBuffer();
  return response.status;
}

function slashCommandForm(text: string, id: string, user = 'U2147483697'): string {
  const payload = {
    ...fixture<Record<string, string>>('slash-command.json'),
    text,
    user_id: user,
    channel_id: ALERT_CHANNEL,
    trigger_id: `trigger-${id}`,
    response_url: h.slack.responseUrl(id),
  };
  return new URLSearchParams(payload).toString();
}

const form = 'application/x-www-form-urlencoded';

describe('Slack adapter over HTTP (real Bolt HTTPReceiver behind healbot serve, local Slack)', () => {
  it('answers a signed /heal status', async () => {
    const body = slashCommandForm('status', 'http-status');
    expect(await post(body, form, signSlackRequest(body, SIGNING_SECRET))).toBe(200);
    const reply = await waitFor(() => h.slack.calls.find((c) => c.url === '/response/http-status'), 'the status reply');
    expect(reply.body.response_type).toBe('in_channel');
    expect(sent(reply)).toContain('Service status');
  });

  it('rejects a bad signature with 401 and does nothing', async () => {
    const body = slashCommandForm('api', 'http-forged');
    const status = await post(body, form, signSlackRequest(body, 'not-the-signing-secret'));
    expect(status).toBe(401);
    // A well-signed request after it is answered, so the forged one had every chance to act.
    const probe = slashCommandForm('help', 'http-after-forged');
    await post(probe, form, signSlackRequest(probe, SIGNING_SECRET));
    await waitFor(() => h.slack.calls.find((c) => c.url === '/response/http-after-forged'), 'the help reply');
    expect(h.slack.calls.some((c) => c.url === '/response/http-forged')).toBe(false);
    expect(await h.healbot.engine.history()).toHaveLength(0);
  });

  it('rejects a correctly signed request whose timestamp is more than 5 minutes old', async () => {
    const body = slashCommandForm('api', 'http-stale');
    const status = await post(
      body,
      form,
      signSlackRequest(body, SIGNING_SECRET, Math.floor(Date.now() / 1000) - 6 * 60),
    );
    expect(status).toBe(401);
    expect(h.slack.calls.some((c) => c.url === '/response/http-stale')).toBe(false);
    expect(await h.healbot.engine.history()).toHaveLength(0);
  });

  it('retries a 429 on chat.postMessage after its Retry-After, once, and threads the diagnosis under the alert', async () => {
    h.slack.rateLimit('chat.postMessage', 1, 1);
    const event = fixture<{ event: { ts: string } }>('event-alertmanager-message.json');
    const body = JSON.stringify(event);
    expect(await post(body, 'application/json', signSlackRequest(body, SIGNING_SECRET))).toBe(200);
    await waitFor(
      () => h.slack.callsOf('chat.postMessage').find((c) => sent(c).includes('Diagnosis')),
      'the diagnosis',
      15_000,
    );
    const attempts = h.slack.calls.filter((c) => c.method === 'chat.postMessage');
    expect(attempts[0].status).toBe(429);
    expect(attempts[1].status).toBe(200);
    // The same message, sent again no sooner than Retry-After (1 s) said.
    expect(attempts[1].body).toEqual(attempts[0].body);
    expect(attempts[1].at - attempts[0].at).toBeGreaterThanOrEqual(1000);
    expect(attempts.filter((c) => c.status === 429)).toHaveLength(1);
    expect(attempts.every((c) => c.body.thread_ts === event.event.ts)).toBe(true);
    expect(h.logs.some((l) => l.msg.includes('rate limited'))).toBe(true);
  });

  it('treats an Events API retry (same event_id, X-Slack-Retry-Num: 1) as the same delivery: one incident', async () => {
    const body = JSON.stringify(fixture('event-alertmanager-message.json'));
    const status = await post(body, 'application/json', {
      ...signSlackRequest(body, SIGNING_SECRET),
      'x-slack-retry-num': '1',
      'x-slack-retry-reason': 'http_timeout',
    });
    expect(status).toBe(200);
    const dropped = await waitFor(
      () => h.logs.find((l) => l.msg === 'dropped a redelivered Slack payload'),
      'the retry to be dropped',
    );
    expect((dropped.fields as { retryNum?: number }).retryNum).toBe(1);
    expect(await h.healbot.engine.history('api')).toHaveLength(1);
  });

  it('ignores its own messages in the alert channel', async () => {
    const event = fixture<{ event: Record<string, unknown>; event_id: string }>('event-alertmanager-message.json');
    const own = {
      ...event,
      event_id: 'Ev0OWN',
      event: { ...event.event, subtype: undefined, ts: '1700000200.000100', user: 'UHEALBOT', bot_id: 'BHEALBOT' },
    };
    const body = JSON.stringify(own);
    expect(await post(body, 'application/json', signSlackRequest(body, SIGNING_SECRET))).toBe(200);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(h.logs.filter((l) => l.msg === 'alert recognised')).toHaveLength(1);
  });

  it('lets a member of an approver user group deny with /heal deny <id>', async () => {
    const approvalId = await waitFor(() => {
      for (const call of h.slack.callsOf('chat.postMessage')) {
        const match = /\/heal deny (apr_[a-z0-9]+)/.exec(sent(call));
        if (match) return match[1];
      }
      return undefined;
    }, 'the approval request');
    const outsider = slashCommandForm(`deny ${approvalId}`, 'http-deny-outsider', 'UOUTSIDER');
    await post(outsider, form, signSlackRequest(outsider, SIGNING_SECRET));
    const refused = await waitFor(
      () => h.slack.calls.find((c) => c.url === '/response/http-deny-outsider'),
      'the outsider reply',
    );
    expect(refused.body.response_type).toBe('ephemeral');

    const body = slashCommandForm(`deny ${approvalId}`, 'http-deny', 'UONCALL');
    expect(await post(body, form, signSlackRequest(body, SIGNING_SECRET))).toBe(200);
    const reply = await waitFor(() => h.slack.calls.find((c) => c.url === '/response/http-deny'), 'the deny reply');
    expect(reply.body.response_type).toBe('in_channel');
    expect(sent(reply)).toContain('denied');
    expect(h.slack.callsOf('usergroups.users.list').map((c) => c.body.usergroup)).toContain('S0ONCALL');
    let outcome: string | undefined;
    for (let i = 0; i < 100 && outcome === undefined; i += 1) {
      outcome = (await h.healbot.engine.history('api'))[0]?.outcome;
      if (outcome === undefined) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(outcome).toBe('denied');
    expect(h.target.restarts).toBe(0);
  });
});
