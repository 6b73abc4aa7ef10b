import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALERT_CHANNEL, APPROVER, fixture, startHarness, type Harness } from './harness.js';
import { waitFor, type RecordedCall } from './slack-api-server.js';

let h: Harness;
beforeAll(async () => {
  h = await startHarness('socket');
});
afterAll(async () => {
  await h?.close();
});

const alertEvent = fixture<{ event: { channel: string; ts: string }; event_id: string }>(
  'event-alertmanager-message.json',
);
/** The same alert posted again later: a new Slack message (new ts, new event id). */
const secondAlert = {
  ...alertEvent,
  event_id: 'Ev0ALERT0099',
  event: { ...alertEvent.event, ts: '1700000200.000300', event_ts: '1700000200.000300' },
};

let counter = 0;
function slashCommand(text: string, user: string) {
  counter += 1;
  const id = `join-${counter}`;
  return {
    id,
    payload: {
      ...fixture('slash-command.json'),
      text,
      user_id: user,
      channel_id: 'C0OPS',
      trigger_id: `trigger-${id}`,
      response_url: h.slack.responseUrl(id),
    },
  };
}
const responseTo = (id: string): RecordedCall | undefined =>
  h.slack.calls.find((c) => c.method === 'response_url' && c.raw.length > 0 && c.url === `/response/${id}`);
const actionIds = (call: RecordedCall) =>
  ((call.body.blocks ?? []) as { type: string; elements?: { action_id?: string }[] }[])
    .flatMap((b) => b.elements ?? [])
    .map((e) => e.action_id);

describe('Slack: a request that joins an open incident says where it is', () => {
  let incidentId: string;
  let permalink: string;

  it('opens the incident from the alert message and waits for approval in its thread', async () => {
    await h.slack.sendEnvelope('events_api', alertEvent);
    const pending = await waitFor(async () => (await h.healbot.store.pendingApprovals())[0], 'the approval request');
    incidentId = pending.incidentId;
    permalink = `https://healbot-test.slack.com/archives/${ALERT_CHANNEL}/p${alertEvent.event.ts.replace('.', '')}`;
  });

  it('answers /heal api from an approver with the incident, its state, a permalink to its thread and the buttons', async () => {
    const { id, payload } = slashCommand('api', APPROVER);
    await h.slack.sendEnvelope('slash_commands', payload);
    const reply = await waitFor(() => responseTo(id), 'the /heal api reply');
    const text = String(reply.body.text);
    expect(text).toContain(incidentId);
    expect(text).toMatch(/waiting for approval to (re)?start api/);
    expect(text).toContain(permalink);
    expect(text).not.toContain('diagnosing every layer');
    expect(actionIds(reply)).toEqual(['healbot_approve', 'healbot_deny']);
    expect(h.slack.callsOf('chat.getPermalink').at(-1)?.body).toMatchObject({
      channel: ALERT_CHANNEL,
      message_ts: alertEvent.event.ts,
    });
    expect(await h.healbot.engine.history('api')).toHaveLength(1);
  });

  it('gives someone who may not approve the same answer without buttons', async () => {
    const { id, payload } = slashCommand('api', 'UNOBODY');
    await h.slack.sendEnvelope('slash_commands', payload);
    const reply = await waitFor(() => responseTo(id), 'the /heal api reply');
    expect(String(reply.body.text)).toContain(incidentId);
    expect(actionIds(reply)).toEqual([]);
  });

  it('answers a second alert message once, in its own thread, pointing to the incident thread', async () => {
    await h.slack.sendEnvelope('events_api', secondAlert);
    const answer = await waitFor(
      () => h.slack.callsOf('chat.postMessage').find((c) => c.body.thread_ts === secondAlert.event.ts),
      'the answer under the second alert',
    );
    expect(String(answer.body.text)).toContain(incidentId);
    expect(String(answer.body.text)).toContain(permalink);
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(h.slack.callsOf('chat.postMessage').filter((c) => c.body.thread_ts === secondAlert.event.ts)).toHaveLength(
      1,
    );
    expect(await h.healbot.engine.history('api')).toHaveLength(1);
    expect((await h.healbot.store.getIncident(incidentId))?.alertCount).toBe(2);
    expect(h.target.restarts).toBe(0);
  });
});
