import { describe, expect, it } from 'vitest';
import { parseButtonCustomId, renderMessage as renderDiscord } from '../../adapters/discord/render.js';
import { LINKS_BLOCK_ID, renderMessage as renderSlack } from '../../adapters/slack/blocks.js';
import { renderForConsole } from '../../adapters/console/render.js';
import { contextMessage } from '../../commands/present.js';
import { alertContext } from '../../src/server/alert-context.js';
import { parseAlertmanager } from '../../src/server/alert-payloads.js';
import { alertmanagerPayload } from '../serve/harness.js';

const redact = (s: string) => s.replace(/s3cret/g, '[redacted]');

function firingAlert(annotations: Record<string, string>) {
  const payload = alertmanagerPayload([{ labels: { service: 'api', severity: 'critical' }, summary: 'api is down' }]);
  Object.assign(payload.alerts[0].annotations, annotations);
  return parseAlertmanager(payload)[0];
}

describe('alert context in the thread', () => {
  it('carries the summary, the description, the runbook and the graph as links, and the labels that matched', () => {
    const context = alertContext(
      firingAlert({
        description: 'The api has answered 5xx for 5 minutes.',
        runbook_url: 'https://runbooks.example.com/api-down',
      }),
    );
    expect(context).toEqual({
      summary: 'api is down',
      description: 'The api has answered 5xx for 5 minutes.',
      links: [
        { label: 'Runbook', url: 'https://runbooks.example.com/api-down' },
        { label: 'Graph', url: 'http://127.0.0.1:9090/graph' },
      ],
      labels: { alertname: 'Down', service: 'api', severity: 'critical' },
      source: 'alertmanager',
    });
    const message = contextMessage(context);
    expect(message.text).toBe('*api is down*\nThe api has answered 5xx for 5 minutes.');
    expect(message.fields).toEqual([{ label: 'Labels', value: 'alertname=Down, service=api, severity=critical' }]);
  });

  it('never turns a non-web URL from an annotation into a button', () => {
    const context = alertContext(
      firingAlert({ runbook_url: 'javascript:alert(1)', dashboard_url: 'file:///etc/passwd' }),
    );
    expect(context.links.map((l) => l.label)).toEqual(['Graph']);
  });

  it('renders links as Slack URL buttons, Discord link buttons and console lines, redacted', () => {
    const message = contextMessage({
      summary: 'api is down',
      links: [{ label: 'Runbook', url: 'https://runbooks.example.com/api?token=s3cret' }],
      labels: {},
    });
    const slack = renderSlack(message, redact);
    const links = slack.blocks.find((b) => b.block_id === LINKS_BLOCK_ID) as unknown as {
      elements: { url: string; text: { text: string }; action_id: string }[];
    };
    expect(links.elements).toEqual([
      {
        type: 'button',
        action_id: 'healbot_link_0',
        text: { type: 'plain_text', text: 'Runbook', emoji: true },
        url: 'https://runbooks.example.com/api?token=[redacted]',
      },
    ]);
    const discord = renderDiscord(message, redact);
    expect(discord.components).toEqual([
      {
        type: 1,
        components: [{ type: 2, style: 5, label: 'Runbook', url: 'https://runbooks.example.com/api?token=[redacted]' }],
      },
    ]);
    expect(renderForConsole(message)).toContain('Runbook: https://runbooks.example.com/api?token=s3cret');
  });

  it('renders command buttons (Silence…) so a click runs the command as the user who clicked', () => {
    const message = contextMessage(
      { summary: 'api is down', links: [], labels: { service: 'api' }, source: 'alertmanager', silenceable: true },
      'inc_1a2b3c4d',
    );
    const slack = renderSlack(message, redact);
    const actions = slack.blocks.at(-1) as unknown as {
      elements: { action_id: string; value: string; style?: string }[];
    };
    expect(actions.elements.map((e) => [e.action_id, e.value, e.style])).toEqual([
      ['healbot_command_0', 'silence inc_1a2b3c4d 1h', undefined],
      ['healbot_command_1', 'silence inc_1a2b3c4d 4h', undefined],
      ['healbot_command_2', 'silence inc_1a2b3c4d 24h', undefined],
    ]);
    const discord = renderDiscord(message, redact);
    const buttons = discord.components[0].components as { custom_id: string; style: number }[];
    expect(buttons.map((b) => b.custom_id)).toEqual([
      'healbot:command:silence inc_1a2b3c4d 1h',
      'healbot:command:silence inc_1a2b3c4d 4h',
      'healbot:command:silence inc_1a2b3c4d 24h',
    ]);
    expect(parseButtonCustomId(buttons[0].custom_id)).toEqual({ action: 'command', value: 'silence inc_1a2b3c4d 1h' });
    expect(buttons[0].style).toBe(2);
    expect(renderForConsole(message)).toContain('→ Silence 4h: /heal silence inc_1a2b3c4d 4h');
    expect(
      contextMessage({ summary: 'x', links: [], labels: {}, source: 'grafana' }, 'inc_1a2b3c4d').buttons,
    ).toBeUndefined();
  });
});
