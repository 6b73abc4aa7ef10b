import { Client, Events, GatewayIntentBits, RESTEvents, type ChatInputCommandInteraction } from 'discord.js';
import type { ChatSurface } from '../../commands/chat.js';
import { commandDefinitions } from '../../commands/index.js';
import type { DiscordConfig } from '../../src/config/schema.js';
import type { HealbotApi } from '../../src/engine/api.js';
import { HealbotError, describeError } from '../../src/errors.js';
import type { Redactor } from '../../src/redact.js';
import { createAlertChannelListener } from './alert-channel.js';
import { InteractionHandler } from './interactions.js';
import { silentLogger, type DiscordLogger } from './logger.js';
import { registerSlashCommands, slashCommandBody } from './slash-commands.js';
import { DiscordSurface } from './surface.js';

export { DiscordSurface } from './surface.js';
export type { DiscordLogger } from './logger.js';

/** How long `start()` waits for the gateway's READY and the guilds before giving up. */
const READY_TIMEOUT_MS = 30_000;

export interface DiscordAdapterOptions {
  config: DiscordConfig;
  api: HealbotApi;
  redact: Redactor;
  logger?: DiscordLogger;
}

export interface DiscordAdapter {
  /** Where incident conversations are posted; works before `start()` (it only needs REST). */
  surface: ChatSurface;
  /** Logs in to the gateway, waits until ready and registers `/heal`. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The discord.js client, for diagnostics. */
  readonly client: Client;
}

/** The gateway intents healbot needs, and no more. */
export function discordIntents(config: Pick<DiscordConfig, 'alertChannels'>): GatewayIntentBits[] {
  // Guilds: channel, thread and role caches, so interactions resolve their channel and the
  // clicker's role ids (approver roles). Interactions themselves need no intent.
  const intents = [GatewayIntentBits.Guilds];
  // Reading alert posts needs MESSAGE_CREATE (GuildMessages) and their embeds and text
  // (MessageContent, a privileged intent): asked for only when alert channels are configured.
  if (config.alertChannels.length > 0) intents.push(GatewayIntentBits.GuildMessages, GatewayIntentBits.MessageContent);
  return intents;
}

/**
 * healbot on Discord: `/heal` slash commands, Approve/Deny buttons, alert channels, and a
 * ChatSurface where each incident is a thread. The adapter turns Discord events into engine
 * calls and engine output into embeds and components; it decides nothing.
 */
export function createDiscordAdapter(options: DiscordAdapterOptions): DiscordAdapter {
  const { config, api, redact } = options;
  const logger = options.logger ?? silentLogger;
  const client = new Client({
    intents: discordIntents(config),
    // `api` also moves gateway discovery: discord.js asks GET /gateway/bot for the websocket URL.
    // discord.js aborts a request after `timeout` ms; said here so the deadline is explicit.
    rest: { ...(config.apiUrl ? { api: config.apiUrl } : {}), timeout: 15_000 },
    allowedMentions: { parse: [] },
  });
  client.rest.setToken(config.token);
  client.rest.on(RESTEvents.RateLimited, (info) =>
    logger.warn(
      { route: info.route, retryAfterMs: info.retryAfter, global: info.global },
      'discord: rate limited, waiting before retrying',
    ),
  );
  client.on(Events.Error, (error) => logger.error({ err: describeError(error) }, 'discord: client error'));
  client.on(Events.Warn, (message) => logger.warn({ message }, 'discord: client warning'));

  const people = { users: new Set(config.approvers), roles: new Set(config.approverRoles) };
  const handler = new InteractionHandler({
    api,
    redact,
    people,
    logger,
    // A command typed inside a thread opens its incident thread in the parent channel.
    channelOf: (interaction: ChatInputCommandInteraction) =>
      interaction.channel?.isThread() && interaction.channel.parentId
        ? interaction.channel.parentId
        : interaction.channelId,
  });
  client.on(Events.InteractionCreate, (interaction) => void handler.handle(interaction));

  if (config.alertChannels.length > 0) {
    const onMessage = createAlertChannelListener({
      api,
      alertChannels: config.alertChannels,
      matchers: config.matchers,
      logger,
      selfId: () => client.user?.id,
    });
    client.on(Events.MessageCreate, (message) => {
      try {
        onMessage(message);
      } catch (error) {
        logger.error({ err: describeError(error), message: message.id }, 'discord: alert-channel message failed');
      }
    });
  }

  const surface = new DiscordSurface(client.rest, redact, people);

  return {
    surface,
    client,
    async start() {
      let timer: NodeJS.Timeout | undefined;
      const ready = new Promise<void>((resolve, reject) => {
        timer = setTimeout(
          () => reject(new Error(`Discord did not become ready within ${READY_TIMEOUT_MS / 1000} s`)),
          READY_TIMEOUT_MS,
        );
        client.once(Events.ClientReady, () => resolve());
      });
      try {
        await client.login(config.token);
        await ready;
      } catch (error) {
        await client.destroy();
        throw new HealbotError(
          'UNAUTHORIZED',
          `could not connect to Discord (${redact(describeError(error))}); check discord.token and that the bot is invited to the server`,
          {
            cause: error,
            userFacing: false,
          },
        );
      } finally {
        clearTimeout(timer);
      }
      await registerSlashCommands(client.rest, config, slashCommandBody(commandDefinitions, api.services()));
      logger.info(
        { guild: config.guildId ?? 'global', user: client.user?.tag },
        'discord: connected, /heal registered',
      );
    },
    async stop() {
      await client.destroy();
    },
  };
}
