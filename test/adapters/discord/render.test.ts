import { ButtonStyle, ComponentType } from 'discord.js';
import { describe, expect, it } from 'vitest';
import {
  DISCORD_LIMITS,
  allowedMentions,
  buttonCustomId,
  codeBlock,
  embedLength,
  parseButtonCustomId,
  renderDecided,
  renderMessage,
  threadName,
} from '../../../adapters/discord/render.js';
import { createRedactor } from '../../../src/redact.js';

const redact = createRedactor(['s3cr3t-db-password']);

describe('renderMessage', () => {
  it('renders plain text as content and keeps *bold* bold in Discord markdown', () => {
    const payload = renderMessage({ text: 'Healing *api* now' }, redact);
    expect(payload.content).toBe('Healing **api** now');
    expect(payload.embeds).toEqual([]);
    expect(payload.components).toEqual([]);
    expect(payload.allowed_mentions).toEqual({ parse: [], users: [], roles: [] });
  });

  it('renders title, tone and fields as an embed, and approval buttons with the approval id in custom_id', () => {
    const payload = renderMessage(
      {
        title: 'Approve restart of api?',
        text: 'api exited with code 1',
        tone: 'warn',
        fields: [{ label: 'Action', value: 'restart api' }],
        buttons: [
          { action: 'approve', value: 'apr-1', label: 'Approve', style: 'primary' },
          { action: 'deny', value: 'apr-1', label: 'Deny', style: 'danger' },
        ],
      },
      redact,
    );
    expect(payload.embeds).toHaveLength(1);
    expect(payload.embeds[0]).toMatchObject({
      title: 'Approve restart of api?',
      description: 'api exited with code 1',
      color: 0xfee75c,
    });
    expect(payload.embeds[0].fields).toEqual([{ name: 'Action', value: 'restart api', inline: true }]);
    expect(payload.components).toEqual([
      {
        type: ComponentType.ActionRow,
        components: [
          {
            type: ComponentType.Button,
            style: ButtonStyle.Success,
            label: 'Approve',
            custom_id: 'healbot:approve:apr-1',
          },
          { type: ComponentType.Button, style: ButtonStyle.Danger, label: 'Deny', custom_id: 'healbot:deny:apr-1' },
        ],
      },
    ]);
  });

  it('puts mentions in content and allows only those mentions to ping', () => {
    const payload = renderMessage(
      { text: 'breaker open', tone: 'error', mentions: ['<@123>', '<@&456>', '@everyone'] },
      redact,
    );
    expect(payload.content).toBe('<@123> <@&456> @everyone');
    expect(payload.allowed_mentions).toEqual({ parse: [], users: ['123'], roles: ['456'] });
  });

  it('redacts secrets in every part of the message', () => {
    const payload = renderMessage(
      {
        title: 'token=abcdef123456',
        text: 'password is s3cr3t-db-password',
        fields: [{ label: 'DSN', value: 'postgres://app:hunter2pass@db:5432/app' }],
        code: 'Authorization: Bearer abcdefghijklmnopqrstuvwxyz\nAPI_KEY=zzzzzzzzzzzz',
        buttons: [{ action: 'approve', value: 'a', label: 'Approve s3cr3t-db-password', style: 'primary' }],
      },
      redact,
    );
    const json = JSON.stringify(payload);
    for (const secret of [
      'abcdef123456',
      's3cr3t-db-password',
      'hunter2pass',
      'abcdefghijklmnopqrstuvwxyz',
      'zzzzzzzzzzzz',
    ])
      expect(json).not.toContain(secret);
    expect(json).toContain('[REDACTED]');
  });

  it('truncates long logs with "… N more lines" and keeps the embed within every Discord limit', () => {
    const lines = Array.from(
      { length: 500 },
      (_, i) => `2024-05-01T12:00:${String(i).padStart(3, '0')} ERROR request failed upstream=api attempt=${i}`,
    );
    const payload = renderMessage(
      {
        title: 'x'.repeat(400),
        text: 'y'.repeat(5000),
        code: lines.join('\n'),
        fields: Array.from({ length: 40 }, (_, i) => ({ label: `field ${i}`, value: 'v'.repeat(2000) })),
      },
      redact,
    );
    const embed = payload.embeds[0];
    expect(embed.title!.length).toBeLessThanOrEqual(DISCORD_LIMITS.embedTitle);
    expect(embed.description!.length).toBeLessThanOrEqual(DISCORD_LIMITS.embedDescription);
    expect(embed.fields!.length).toBeLessThanOrEqual(DISCORD_LIMITS.embedFields);
    for (const field of embed.fields!) expect(field.value.length).toBeLessThanOrEqual(DISCORD_LIMITS.fieldValue);
    expect(embedLength(embed)).toBeLessThanOrEqual(DISCORD_LIMITS.embedTotal);
    expect(embed.description).toMatch(/… \d+ more lines\n```$/);
    expect(embed.description).toContain(lines[0]);
  });

  it('keeps plain content within 2000 characters', () => {
    expect(renderMessage({ text: 'z'.repeat(3000) }, redact).content.length).toBe(DISCORD_LIMITS.content);
  });
});

describe('codeBlock', () => {
  it('keeps short logs whole', () => {
    expect(codeBlock('a\nb', 100)).toBe('```\na\nb\n```');
  });

  it('counts the lines it leaves out', () => {
    const block = codeBlock(Array.from({ length: 10 }, (_, i) => `line ${i}`).join('\n'), 50);
    expect(block.length).toBeLessThanOrEqual(50);
    const kept = block.split('\n').filter((l) => l.startsWith('line ')).length;
    expect(block).toContain(`… ${10 - kept} more lines`);
  });

  it('cannot be closed early by backticks in the logs', () => {
    const block = codeBlock('before ``` after', 100);
    expect(block.match(/```/g)).toHaveLength(2);
  });
});

describe('button custom ids', () => {
  it('round-trips the action and approval id', () => {
    expect(parseButtonCustomId(buttonCustomId('deny', 'apr-9'))).toEqual({ action: 'deny', value: 'apr-9' });
    expect(parseButtonCustomId('someone-else:approve:1')).toBeUndefined();
  });
});

describe('renderDecided', () => {
  const original = { content: '', embeds: [{ title: 'Approve restart of api?', description: 'api is down' }] };
  const buttons = renderMessage(
    { text: 'x', buttons: [{ action: 'approve', value: 'a', label: 'Approve', style: 'primary' }] },
    redact,
  ).components;

  it('shows who decided and when, and removes the buttons', () => {
    const at = new Date('2024-05-01T12:00:00Z');
    const payload = renderDecided(original, { decision: 'approved', by: '<@42>', at }, buttons, redact);
    expect(payload.components).toEqual([]);
    expect(payload.embeds[0].title).toBe('Approve restart of api?');
    expect(payload.embeds[0].fields).toEqual([
      { name: 'Decision', value: `✅ Approved by <@42> <t:${at.getTime() / 1000}:f>` },
    ]);
  });

  it('keeps the buttons while more approvals are needed', () => {
    const payload = renderDecided(
      original,
      { decision: 'approved', by: '<@42>', at: new Date(), waitingFor: 1 },
      buttons,
      redact,
    );
    expect(payload.components).toEqual(buttons);
    expect(payload.embeds[0].fields![0].value).toContain('waiting for 1 more approval');
  });
});

describe('allowedMentions and threadName', () => {
  it('ignores anything that is not a user or role mention', () => {
    expect(allowedMentions(['<@!7>', 'hello', '<#9>'])).toEqual({ parse: [], users: ['7'], roles: [] });
  });

  it('names threads from the title within 100 characters, without markdown or secrets', () => {
    expect(threadName({ title: '*api* is down token=abc123456', text: '' }, redact)).toBe(
      'api is down token=[REDACTED]',
    );
    expect(threadName({ text: 'q'.repeat(300) }, redact)).toHaveLength(100);
  });
});
