import type { Message } from 'discord.js';
import { compileMatchers, healFromAlert, recognizeAlert, type AlertMatcher } from '../../commands/alert-message.js';
import type { HealbotApi } from '../../src/engine/api.js';
import { describeError } from '../../src/errors.js';
import type { DiscordLogger } from './logger.js';

export interface AlertChannelOptions {
  api: HealbotApi;
  /** Channel ids (or names, with or without `#`) that monitoring posts to. */
  alertChannels: readonly string[];
  matchers: readonly AlertMatcher[];
  logger: DiscordLogger;
  /** healbot's own user id, so its messages are never read as alerts. */
  selfId: () => string | undefined;
}

/** The fields recognizeAlert reads, taken from a Discord message and its embeds. */
export function alertMessageOf(message: Message): Parameters<typeof recognizeAlert>[0] {
  return {
    text: message.content,
    author: message.author.username,
    isBot: message.author.bot || message.webhookId !== null,
    embeds: message.embeds.map((embed) => ({
      title: embed.title ?? undefined,
      description: embed.description ?? undefined,
      fields: embed.fields.map((field) => ({ name: field.name, value: field.value })),
    })),
  };
}

/**
 * Watches alert channels: a webhook or bot post (Alertmanager's and Grafana's Discord
 * integrations post embeds, Uptime Kuma too) that names a configured service starts a heal
 * whose conversation threads on the alert. People's messages are ignored: they use `/heal`.
 */
export function createAlertChannelListener(options: AlertChannelOptions): (message: Message) => void {
  // Bad patterns are a config problem: surface them at start, not on the first alert.
  compileMatchers(options.matchers, 'discord.matchers');
  const channels = new Set(options.alertChannels.map((c) => c.replace(/^#/, '')));
  return (message) => {
    const name = 'name' in message.channel ? message.channel.name : undefined;
    if (!channels.has(message.channelId) && !(name && channels.has(name))) return;
    if (message.author.id === options.selfId()) return;
    if (!message.webhookId && !message.author.bot) return;

    const alert = recognizeAlert(alertMessageOf(message), options.matchers, options.api.services());
    if (!alert) {
      options.logger.debug?.(
        { channel: message.channelId, message: message.id },
        'discord: alert-channel message names no configured service',
      );
      return;
    }
    if (!alert.firing) return;
    options.logger.info(
      { service: alert.service, channel: message.channelId, message: message.id },
      'discord: alert recognised',
    );
    healFromAlert(options.api, alert, { platform: 'discord', channel: message.channelId, message: message.id }).catch(
      (error: unknown) =>
        options.logger.error({ err: describeError(error), service: alert.service }, 'discord: heal from alert failed'),
    );
  };
}
