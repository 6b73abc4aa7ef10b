import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALERT_CHANNEL, APP_TOKEN, APPROVER, BOT_TOKEN, fixture, startHarness, type Harness } from './harness.js';
import { waitFor, type RecordedCall } from './slack-api-server.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness('socket');
});
afterAll(async () => {
  await h?.close();
});

let counter = 0;
function slashCommand(text: string, user = 'U2147483697') {
  counter += 1;
  const id = `cmd-${counter}`;
  return {
    id,
    payload: {
      ...fixture('slash-command.json'),
      text,
      user_id: user,
      channel_id: ALERT_CHANNEL,
      trigger_id: `trigger-${id}`,
      response_url: h.slack.responseUrl(id),
    },
  };
}

function responseTo(id: string): RecordedCall | undefined {
  return h.slack.calls.find((c) => c.method === 'response_url' && c.raw.length > 0 && c.url === `/response/${id}`);
}

interface PostedBlock {
  type: string;
  elements?: { action_id?: string; value?: string; confirm?: { text: { text: string } } }[];
}

function approvalPost(): { call: RecordedCall; approvalId: string; blocks: PostedBlock[] } | undefined {
  for (const call of h.slack.callsOf('chat.postMessage')) {
    const blocks = (call.body.blocks ?? []) as PostedBlock[];
    const approve = blocks.find((b) => b.type === 'actions')?.elements?.find((e) => e.action_id === 'healbot_approve');
    if (approve?.value) return { call, approvalId: approve.value, blocks };
  }
  return undefined;
}

function click(
  user: string,
  action: 'healbot_approve' | 'healbot_deny',
  approval: NonNullable<ReturnType<typeof approvalPost>>,
  ts: string,
) {
  counter += 1;
  const base = fixture<Record<string, unknown>>('block-actions.json');
  return {
    ...base,
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: 'T0001' },
    trigger_id: `trigger-click-${counter}`,
    channel: { id: ALERT_CHANNEL, name: 'alerts' },
    container: { type: 'message', message_ts: ts, channel_id: ALERT_CHANNEL, is_ephemeral: false },
    message: {
      type: 'message',
      user: 'UHEALBOT',
      bot_id: 'BHEALBOT',
      ts,
      thread_ts: approval.call.body.thread_ts,
      text: approval.call.body.text,
      blocks: approval.blocks,
    },
    response_url: h.slack.responseUrl(`click-${counter}`),
    actions: [
      {
        action_id: action,
        block_id: 'healbot_approval',
        text: { type: 'plain_text', text: 'Approve' },
        value: approval.approvalId,
        type: 'button',
        action_ts: '1700000001.000000',
      },
    ],
  };
}

describe('Slack adapter over Socket Mode (real Bolt App, real engine, local Slack)', () => {
  it('connects with apps.connections.open using the app token and verifies the bot token', async () => {
    await h.slack.connected();
    expect(h.slack.callsOf('apps.connections.open')[0]?.token).toBe(APP_TOKEN);
    expect(h.slack.callsOf('auth.test').length).toBeGreaterThan(0);
    expect(h.slack.callsOf('auth.test').every((c) => c.token === BOT_TOKEN)).toBe(true);
  });

  it('answers /heal status in the channel after acking the envelope', async () => {
    const { id, payload } = slashCommand('status');
    const ack = await h.slack.sendEnvelope('slash_commands', payload);
    expect(ack.envelope_id).toBeTruthy();
    const reply = await waitFor(() => responseTo(id), 'the /heal status reply');
    expect(reply.body.response_type).toBe('in_channel');
    expect(reply.raw).toContain('Service status');
    expect(reply.raw).toContain('web');
  });

  it('answers /heal with an unknown service ephemerally, suggesting the close name', async () => {
    const { id, payload } = slashCommand('apj');
    await h.slack.sendEnvelope('slash_commands', payload);
    const reply = await waitFor(() => responseTo(id), 'the /heal apj reply');
    expect(reply.body.response_type).toBe('ephemeral');
    expect(reply.raw).toContain('unknown service');
    expect(reply.raw).toContain('Did you mean api');
    expect(await h.healbot.engine.history()).toHaveLength(0);
  });

  const alertEvent = fixture<{ event: { channel: string; ts: string }; event_id: string }>(
    'event-alertmanager-message.json',
  );

  it('turns an Alertmanager message in an alert channel into a diagnosis threaded under the alert', async () => {
    const ack = await h.slack.sendEnvelope('events_api', alertEvent);
    expect(ack.envelope_id).toBeTruthy();
    const finding = await waitFor(
      () =>
        h.slack
          .callsOf('chat.postMessage')
          .find((c) => c.body.thread_ts === alertEvent.event.ts && sent(c).includes('Diagnosis')),
      'the diagnosis in the alert thread',
    );
    expect(finding.body.channel).toBe(ALERT_CHANNEL);
    // The status message itself is a reply under the alert, not a new top-level message.
    expect(h.slack.callsOf('chat.postMessage').every((c) => c.body.thread_ts === alertEvent.event.ts)).toBe(true);
    const incidents = await h.healbot.engine.history('api');
    expect(incidents).toHaveLength(1);
    expect(incidents[0].source).toBe('alert');
  });

  it('cuts the long log tail to fit a section, with a note of how many lines were left out', async () => {
    const withLogs = await waitFor(
      () => h.slack.callsOf('chat.postMessage').find((c) => sent(c).includes('more lines')),
      'the diagnosis with logs',
    );
    const texts = JSON.stringify(withLogs.body.blocks).match(/```[^`]*```(?:\\n_… \d+ more lines_)?/g) ?? [];
    expect(texts.length).toBe(1);
    expect(texts[0]).toMatch(/_… \d+ more lines_$/);
    for (const block of withLogs.body.blocks as { text?: { text: string } }[])
      expect((block.text?.text ?? '').length).toBeLessThanOrEqual(3000);
  });

  it('asks for approval with Approve (confirm naming the action and target) and Deny buttons', async () => {
    const approval = await waitFor(() => approvalPost(), 'the approval request');
    const actions = approval.blocks.find((b) => b.type === 'actions')!;
    expect(actions.elements?.map((e) => e.action_id)).toEqual(['healbot_approve', 'healbot_deny']);
    expect(actions.elements?.[0].confirm?.text.text).toMatch(/(re)?start api/);
    expect(h.target.restarts).toBe(0);
  });

  it('refuses an Approve click from someone who is not an approver, ephemerally, and runs nothing', async () => {
    const approval = approvalPost()!;
    const ts = approvalTs(approval.call);
    await h.slack.sendEnvelope('interactive', click('UNOBODY', 'healbot_approve', approval, ts));
    const refusal = await waitFor(
      () => h.slack.callsOf('chat.postEphemeral').find((c) => c.body.user === 'UNOBODY'),
      'the refusal',
    );
    expect(refusal.body.channel).toBe(ALERT_CHANNEL);
    expect(String(refusal.body.text)).toMatch(/not|may/i);
    expect(h.target.restarts).toBe(0);
    expect(h.slack.callsOf('chat.update').some((c) => sent(c).includes('Approved by'))).toBe(false);
  });

  it('runs the action once when the approver clicks Approve twice at once, and shows who approved', async () => {
    const approval = approvalPost()!;
    const ts = approvalTs(approval.call);
    await Promise.all([
      h.slack.sendEnvelope('interactive', click(APPROVER, 'healbot_approve', approval, ts)),
      h.slack.sendEnvelope('interactive', click(APPROVER, 'healbot_approve', approval, ts)),
    ]);
    const updated = await waitFor(
      () => h.slack.callsOf('chat.update').find((c) => c.body.ts === ts && sent(c).includes('Approved by')),
      'the approval message update',
    );
    expect(String(updated.body.text)).toMatch(new RegExp(`^Approved by <@${APPROVER}> at \\d\\d:\\d\\d UTC$`));
    expect((updated.body.blocks as PostedBlock[]).some((b) => b.type === 'actions')).toBe(false);
    await waitFor(
      () => h.slack.callsOf('chat.postMessage').find((c) => sent(c).includes('healed')),
      'the healed summary',
      20_000,
    );
    expect(h.target.restarts).toBe(1);
    // The second click is told the approval was already decided.
    await waitFor(
      () => h.slack.callsOf('chat.postEphemeral').find((c) => c.body.user === APPROVER),
      'the second click answer',
    );
    const [incident] = await h.healbot.engine.history('api');
    expect(incident.outcome).toBe('healed');
  });

  it('does not open a second incident when the same alert is redelivered (same event_id, retry_attempt 1)', async () => {
    const recognisedBefore = h.logs.filter((l) => l.msg === 'alert recognised').length;
    await h.slack.sendEnvelope('events_api', alertEvent, { retryAttempt: 1 });
    await waitFor(
      () => h.logs.find((l) => l.msg === 'dropped a redelivered Slack payload'),
      'the redelivery to be dropped',
    );
    // A different event id for the same Slack message passes the adapter; the engine's dedupeKey stops it.
    await h.slack.sendEnvelope('events_api', { ...alertEvent, event_id: 'Ev0ALERT0002' });
    await waitFor(
      () => h.logs.filter((l) => l.msg === 'alert recognised').length === recognisedBefore + 1,
      'the second delivery to reach the engine',
    );
    await new Promise((resolve) => setTimeout(resolve, 200));
    await h.conversations.idle();
    expect(await h.healbot.engine.history('api')).toHaveLength(1);
    expect(h.target.restarts).toBe(1);
  });

  it('never sends the token-looking secret from a probe error to Slack', async () => {
    const { id, payload } = slashCommand('diagnose worker');
    await h.slack.sendEnvelope('slash_commands', payload);
    const reply = await waitFor(() => responseTo(id), 'the /heal diagnose worker reply');
    expect(reply.raw).toContain('REDACTED');
    const everything = h.slack.everythingSent();
    expect(everything).not.toContain('leakedFROMprobe');
    expect(everything).not.toContain('healbotTESTtoken');
    expect(everything).not.toContain('healbotAPPtoken');
  });
});

/** A call's decoded fields as text (form bodies are URL-encoded on the wire). */
function sent(call: RecordedCall): string {
  return JSON.stringify(call.body);
}

function approvalTs(call: RecordedCall): string {
  return String(call.response?.ts);
}
