import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ALERT_CHANNEL, APPROVER, fixture, startHarness, type Harness } from './harness.js';
import { waitFor } from './slack-api-server.js';

let h: Harness;

beforeAll(async () => {
  h = await startHarness('socket');
});
afterAll(async () => {
  await h?.close();
});

/** A click on a command button (Silence 4h) in a thread, as Slack delivers it over Socket Mode. */
function commandClick(user: string, value: string) {
  const base = fixture<Record<string, unknown>>('block-actions.json');
  return {
    ...base,
    user: { id: user, username: user.toLowerCase(), name: user.toLowerCase(), team_id: 'T0001' },
    trigger_id: 'trigger-command-click',
    channel: { id: ALERT_CHANNEL, name: 'alerts' },
    container: { type: 'message', message_ts: '1700000100.000200', channel_id: ALERT_CHANNEL, is_ephemeral: false },
    message: {
      type: 'message',
      user: 'UHEALBOT',
      bot_id: 'BHEALBOT',
      ts: '1700000100.000200',
      thread_ts: '1700000100.000100',
      text: 'api answers 5xx',
      blocks: [],
    },
    response_url: h.slack.responseUrl('command-click'),
    actions: [
      {
        action_id: 'healbot_command_1',
        block_id: 'healbot_approval',
        text: { type: 'plain_text', text: 'Silence 4h' },
        value,
        type: 'button',
        action_ts: '1700000101.000000',
      },
    ],
  };
}

describe('Slack command buttons', () => {
  it('run their command as the verified user who clicked and answer in the thread', async () => {
    await h.slack.connected();
    const ack = await h.slack.sendEnvelope('interactive', commandClick(APPROVER, 'silence inc_1a2b3c4d 4h'));
    expect(ack.envelope_id).toBeTruthy();
    const answer = await waitFor(
      () => h.slack.callsOf('chat.postEphemeral').find((c) => c.body.user === APPROVER),
      'the answer to the click',
    );
    expect(answer.body.channel).toBe(ALERT_CHANNEL);
    expect(answer.body.thread_ts).toBe('1700000100.000100');
    // The harness has no Alertmanager configured: the command says so, and nothing else happens.
    expect(JSON.stringify(answer.body)).toContain('silences need alertmanager: { url } in the config');
  });
});
