import { describe, expect, it } from 'vitest';
import {
  APPROVE_ACTION_ID,
  DENY_ACTION_ID,
  SLACK_LIMITS,
  escapeMrkdwn,
  renderCode,
  renderDecided,
  renderMessage,
  type SlackBlock,
} from '../../../adapters/slack/blocks.js';
import { createRedactor } from '../../../src/redact.js';

const redact = createRedactor(['s3cr3t-configured-value']);

function allTexts(blocks: SlackBlock[]): string[] {
  return JSON.stringify(blocks).match(/"text":"(?:[^"\\]|\\.)*"/g) ?? [];
}

describe('renderMessage', () => {
  it('renders title, text, fields and mentions as mrkdwn sections', () => {
    const rendered = renderMessage(
      {
        title: 'api is down',
        tone: 'error',
        text: 'backend refuses connections',
        fields: [{ label: 'Root cause', value: 'service_down' }],
        mentions: ['<@U0ONCALL>'],
      },
      redact,
    );
    expect(rendered.blocks[0]).toEqual({
      type: 'section',
      text: { type: 'mrkdwn', text: ':rotating_light: *api is down*\nbackend refuses connections\ncc <@U0ONCALL>' },
    });
    expect(rendered.blocks[1]).toEqual({
      type: 'section',
      fields: [{ type: 'mrkdwn', text: '*Root cause*\nservice_down' }],
    });
    expect(rendered.text).toContain('<@U0ONCALL>');
  });

  it('escapes &, < and > everywhere, mention tokens included, so outside text never pings', () => {
    expect(escapeMrkdwn('a < b && <@U1> <!subteam^S1|@oncall> <!channel> <http://x>')).toBe(
      'a &lt; b &amp;&amp; &lt;@U1&gt; &lt;!subteam^S1|@oncall&gt; &lt;!channel&gt; &lt;http://x&gt;',
    );
  });

  it("mentions only healbot's own people: configured approvers, groups and verified users", () => {
    const people = { users: new Set(['U0ANA']), groups: new Set(['S0SRE']) };
    const rendered = renderMessage(
      { text: 'ask U0ANA or S0SRE; <@U0ANA> asked; <@U0CEO> and <!here> said so' },
      (t) => t,
      people,
    );
    expect(rendered.blocks[0]).toMatchObject({
      text: { text: 'ask <@U0ANA> or <!subteam^S0SRE>; <@U0ANA> asked; @U0CEO and &lt;!here&gt; said so' },
    });
    expect(rendered.text).not.toContain('<!here>');
  });

  it('renders Approve (primary, with a confirm dialog) and Deny (danger) buttons carrying the approval id', () => {
    const rendered = renderMessage(
      {
        text: 'restart api?',
        buttons: [
          {
            action: 'approve',
            value: 'ap-1',
            label: 'Approve',
            style: 'primary',
            confirm: {
              title: 'Restart api?',
              text: 'This runs *restart* on *api*.',
              confirm: 'Restart',
              deny: 'Cancel',
            },
          },
          { action: 'deny', value: 'ap-1', label: 'Deny', style: 'danger' },
        ],
      },
      redact,
    );
    const actions = rendered.blocks.at(-1) as {
      type: string;
      elements: { action_id: string; value: string; style: string; confirm?: { text: { text: string } } }[];
    };
    expect(actions.type).toBe('actions');
    expect(actions.elements.map((e) => [e.action_id, e.value, e.style])).toEqual([
      [APPROVE_ACTION_ID, 'ap-1', 'primary'],
      [DENY_ACTION_ID, 'ap-1', 'danger'],
    ]);
    expect(actions.elements[0].confirm?.text.text).toBe('This runs *restart* on *api*.');
  });

  it('cuts long logs to fit a section and says how many lines were left out', () => {
    const lines = Array.from(
      { length: 500 },
      (_, i) => `2024-01-01T00:00:${String(i).padStart(3, '0')} worker ${i} crashed with a long log line`,
    );
    const rendered = renderMessage({ text: 'logs', code: lines.join('\n') }, redact);
    const code = (rendered.blocks[1] as { text: { text: string } }).text.text;
    expect(code.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    const shown = code.split('\n').filter((l) => l.includes('worker')).length;
    expect(shown).toBeGreaterThan(10);
    expect(code).toMatch(new RegExp(`_… ${500 - shown} more lines_$`));
  });

  it('cuts a single overlong line instead of dropping it', () => {
    const code = renderCode('x'.repeat(10_000));
    expect(code.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    expect(code).toContain('xxx…');
  });

  it('keeps every text within its limit and the block count within 50, keeping the buttons', () => {
    const rendered = renderMessage(
      {
        text: 'y'.repeat(5000),
        fields: Array.from({ length: 600 }, (_, i) => ({ label: `f${i}`, value: 'z'.repeat(3000) })),
        buttons: [{ action: 'approve', value: 'ap-2', label: 'Approve', style: 'primary' }],
      },
      redact,
    );
    expect(rendered.blocks.length).toBe(SLACK_LIMITS.blocks);
    expect(rendered.blocks.at(-1)?.type).toBe('actions');
    const first = rendered.blocks[0] as { text: { text: string } };
    expect(first.text.text.length).toBeLessThanOrEqual(SLACK_LIMITS.sectionText);
    const fieldTexts = (rendered.blocks[1] as { fields: { text: string }[] }).fields.map((f) => f.text.length);
    expect(Math.max(...fieldTexts)).toBeLessThanOrEqual(SLACK_LIMITS.fieldText);
  });

  it('redacts every text before it is cut, so no part of a secret survives', () => {
    const token = 'xoxb-1234567890-abcdefghijkl';
    const rendered = renderMessage(
      {
        title: `token ${token}`,
        text: 'password=hunter2hunter2 and s3cr3t-configured-value',
        fields: [{ label: 'env', value: `SLACK_TOKEN=${token}` }],
        code: `connect failed: Authorization: Bearer abcdefghijklmnop\n${'.'.repeat(2990)}${token}`,
        buttons: [
          {
            action: 'approve',
            value: 'a',
            label: 'Approve',
            style: 'primary',
            confirm: { title: 't', text: `use ${token}`, confirm: 'ok', deny: 'no' },
          },
        ],
      },
      redact,
    );
    const json = JSON.stringify(rendered);
    for (const secret of ['xoxb-1234567890', 'hunter2', 's3cr3t-configured-value', 'abcdefghijklmnop'])
      expect(json).not.toContain(secret);
    expect(allTexts(rendered.blocks).some((t) => t.includes('[REDACTED]'))).toBe(true);
  });
});

describe('renderDecided', () => {
  const original: SlackBlock[] = [
    { type: 'section', text: { type: 'mrkdwn', text: 'restart api?' } },
    { type: 'actions', block_id: 'healbot_approval', elements: [] },
  ];

  it('removes the buttons and says who approved and when', () => {
    const at = new Date('2024-05-01T14:07:00Z');
    const decided = renderDecided(original, { outcome: 'approved', by: '<@U1>', at });
    expect(decided.blocks.map((b) => b.type)).toEqual(['section', 'context']);
    expect(decided.text).toBe('Approved by <@U1> at 14:07 UTC');
    expect(JSON.stringify(decided.blocks[1])).toContain(
      `Approved by <@U1> at <!date^${at.getTime() / 1000}^{time}|14:07 UTC>`,
    );
  });

  it('keeps the buttons while more approvals are needed', () => {
    const decided = renderDecided(original, { outcome: 'approved', by: '<@U1>', at: new Date(), waitingFor: 1 });
    expect(decided.blocks.map((b) => b.type)).toEqual(['section', 'actions', 'context']);
    expect(decided.text).toContain('waiting for 1 more approval');
  });

  it('says who denied', () => {
    expect(renderDecided(original, { outcome: 'denied', by: '<@U2>', at: new Date('2024-05-01T09:03:00Z') }).text).toBe(
      'Denied by <@U2> at 09:03 UTC',
    );
  });
});
