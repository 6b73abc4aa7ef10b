import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { SLASH_COMMAND } from '../../../adapters/slack/adapter.js';
import { commandDefinitions } from '../../../commands/index.js';

interface Manifest {
  features: {
    slash_commands: { command: string; usage_hint: string; description: string }[];
    bot_user: { display_name: string };
  };
  oauth_config: { scopes: { bot: string[] } };
  settings: {
    event_subscriptions: { bot_events: string[] };
    interactivity: { is_enabled: boolean };
    socket_mode_enabled: boolean;
  };
}

const manifest = parse(await readFile(new URL('../../../manifest.yml', import.meta.url), 'utf8')) as Manifest;

describe('manifest.yml', () => {
  it('declares exactly the one registered slash command', () => {
    expect(manifest.features.slash_commands.map((c) => c.command)).toEqual([SLASH_COMMAND]);
  });

  it("lists every subcommand in /heal's usage hint", () => {
    const hint = manifest.features.slash_commands[0].usage_hint;
    const subcommands = commandDefinitions.filter((d) => d.name !== 'heal').map((d) => d.name);
    expect(subcommands.length).toBeGreaterThan(5);
    for (const name of subcommands) expect(hint.split(/[\s|[\]<>]+/)).toContain(name);
    // The default subcommand (/heal <service>) comes first.
    expect(hint.startsWith('[service]')).toBe(true);
    // Slack rejects hints and descriptions over these lengths.
    expect(hint.length).toBeLessThanOrEqual(1000);
    expect(manifest.features.slash_commands[0].description.length).toBeLessThanOrEqual(2000);
  });

  it('asks only for the scopes healbot uses', () => {
    expect([...manifest.oauth_config.scopes.bot].sort()).toEqual([
      'channels:history',
      'chat:write',
      'commands',
      'usergroups:read',
    ]);
  });

  it('turns on interactivity, socket mode and the message.channels event', () => {
    expect(manifest.settings.interactivity.is_enabled).toBe(true);
    expect(manifest.settings.socket_mode_enabled).toBe(true);
    expect(manifest.settings.event_subscriptions.bot_events).toEqual(['message.channels']);
  });
});
