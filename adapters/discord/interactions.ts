import {
  GuildMember,
  MessageFlags,
  type APIEmbed,
  type ButtonInteraction,
  type ChatInputCommandInteraction,
  type Interaction,
  type InteractionEditReplyOptions,
} from 'discord.js';
import { commandDefinitions, runCommand, type CommandReply } from '../../commands/index.js';
import type { Actor, HealbotApi } from '../../src/engine/api.js';
import { describeError } from '../../src/errors.js';
import type { Redactor } from '../../src/redact.js';
import { SLASH_COMMAND, invocationText } from './slash-commands.js';
import {
  linkMentions,
  parseButtonCustomId,
  renderDecided,
  renderMessage,
  type DiscordMessagePayload,
  type DiscordPeople,
} from './render.js';
import type { DiscordLogger } from './logger.js';

/**
 * Subcommands whose answer is for the whole channel, so their deferred reply is public.
 * Everything else (acks, approvals, errors) is deferred ephemeral; when `runCommand` decides
 * otherwise the deferred reply is swapped for a follow-up with the right visibility.
 */
const PUBLIC_SUBCOMMANDS: ReadonlySet<string> = new Set(['status', 'diagnose', 'pause', 'resume', 'approve', 'deny']);

/** Remembers the last `capacity` ids, so a replayed gateway dispatch is handled once. */
export class RecentIds {
  private readonly ids = new Set<string>();
  constructor(private readonly capacity = 1000) {}

  /** True the first time an id is seen. */
  firstTime(id: string): boolean {
    if (this.ids.has(id)) return false;
    this.ids.add(id);
    if (this.ids.size > this.capacity) this.ids.delete(this.ids.values().next().value as string);
    return true;
  }
}

/** Who clicked or typed, with their role ids so the engine can check approver roles. */
export function actorOf(interaction: Interaction): Actor {
  const member = interaction.member;
  let roles: string[] = [];
  // A cached guild gives a GuildMember (roles resolved against the guild's role cache, which
  // the Guilds intent keeps current); an uncached one gives the raw API member with role ids.
  if (member instanceof GuildMember) roles = [...member.roles.cache.keys()].filter((id) => id !== interaction.guildId);
  else if (member && Array.isArray(member.roles)) roles = [...member.roles];
  return { platform: 'discord', id: interaction.user.id, display: `<@${interaction.user.id}>`, roles };
}

/** The rendered payload in discord.js's option names, valid for editReply and followUp alike. */
function toDiscordJs(payload: DiscordMessagePayload): InteractionEditReplyOptions & { content: string } {
  return {
    content: payload.content,
    embeds: payload.embeds,
    components: payload.components,
    allowedMentions: payload.allowed_mentions,
  };
}

export interface InteractionHandlerOptions {
  api: HealbotApi;
  redact: Redactor;
  /** Who healbot may mention: configured approver users and roles. */
  people?: DiscordPeople;
  logger: DiscordLogger;
  /** The origin channel an incident started here belongs to; threads cannot hold threads. */
  channelOf?: (interaction: ChatInputCommandInteraction) => string;
  /** Links an incident's Discord thread, for replies that join an open incident. */
  threadLink?: (incidentId: string) => Promise<string | undefined>;
}

/**
 * The one global interaction handler: `/heal` subcommands and Approve/Deny buttons. It
 * decides nothing: commands go to `runCommand`, clicks to `api.decide`, and the results are
 * rendered back. State lives in the engine (the approval id is in the button's custom_id).
 */
export class InteractionHandler {
  private readonly seen = new RecentIds();

  constructor(private readonly options: InteractionHandlerOptions) {}

  async handle(interaction: Interaction): Promise<void> {
    // Gateway dispatches can be replayed (resume, a duplicate delivery); answer each interaction once.
    if (!this.seen.firstTime(interaction.id)) {
      this.options.logger.debug?.({ interaction: interaction.id }, 'discord: ignoring a replayed interaction');
      return;
    }
    try {
      if (interaction.isChatInputCommand() && interaction.commandName === SLASH_COMMAND)
        await this.command(interaction);
      else if (interaction.isButton() && parseButtonCustomId(interaction.customId)) await this.button(interaction);
    } catch (error) {
      this.options.logger.error(
        { err: describeError(error), interaction: interaction.id },
        'discord: interaction failed',
      );
    }
  }

  private async command(interaction: ChatInputCommandInteraction): Promise<void> {
    const subcommand = interaction.options.getSubcommand(false) ?? '';
    const ephemeral = !PUBLIC_SUBCOMMANDS.has(subcommand);
    // Discord drops an interaction unanswered within 3 seconds: acknowledge before any work.
    await interaction.deferReply(ephemeral ? { flags: MessageFlags.Ephemeral } : {});

    const definition = commandDefinitions.find((d) => d.name === subcommand);
    const text = definition ? invocationText(definition, (name) => interaction.options.getString(name)) : subcommand;
    await this.runAndReply(
      interaction,
      text,
      this.options.channelOf?.(interaction) ?? interaction.channelId,
      ephemeral,
    );
  }

  /** Runs `/heal <text>` as the interaction's user and answers with the right visibility. */
  private async runAndReply(
    interaction: ChatInputCommandInteraction | ButtonInteraction,
    text: string,
    channel: string,
    ephemeral: boolean,
  ): Promise<void> {
    const { api, redact } = this.options;
    let reply: CommandReply;
    try {
      reply = await runCommand(
        api,
        {
          actor: actorOf(interaction),
          text,
          channel,
          origin: { platform: 'discord', channel },
          threadLink: this.options.threadLink,
        },
        (error, errorId) =>
          this.options.logger.error({ err: describeError(error), errorId, text }, 'discord: command failed'),
      );
    } catch (error) {
      // runCommand never throws by contract; if it does, that is a bug: say so without details.
      this.options.logger.error({ err: describeError(error), text }, 'discord: command failed');
      reply = {
        visibility: 'ephemeral',
        message: {
          text: `Something went wrong running \`/heal ${text}\`; the error is in healbot's log.`,
          tone: 'error',
        },
      };
    }

    const payload = toDiscordJs(renderMessage(reply.message, redact, this.options.people));
    if ((reply.visibility === 'ephemeral') === ephemeral) {
      await interaction.editReply(payload);
      return;
    }
    // The deferred reply guessed the visibility wrong: replace it with a follow-up that has the right one.
    await interaction.deleteReply();
    await interaction.followUp({
      ...payload,
      flags: reply.visibility === 'ephemeral' ? MessageFlags.Ephemeral : undefined,
    });
  }

  private async button(interaction: ButtonInteraction): Promise<void> {
    const { api, redact } = this.options;
    const parsed = parseButtonCustomId(interaction.customId)!;
    if (parsed.action === 'command') {
      // A command button (Silence 1h, Expire silence) runs its text as the user who clicked, like typing it.
      await interaction.deferReply({ flags: MessageFlags.Ephemeral });
      await this.runAndReply(interaction, parsed.value, interaction.channelId, true);
      return;
    }
    await interaction.deferUpdate();
    const actor = actorOf(interaction);
    let result: Awaited<ReturnType<HealbotApi['decide']>>;
    try {
      result = await api.decide(parsed.value, actor, parsed.action);
    } catch (error) {
      this.options.logger.error({ err: describeError(error), approval: parsed.value }, 'discord: decision failed');
      await interaction.followUp({
        content: "Something went wrong recording your decision; the error is in healbot's log.",
        flags: MessageFlags.Ephemeral,
        allowedMentions: { parse: [] },
      });
      return;
    }
    if (!result.ok) {
      await interaction.followUp({
        content: linkMentions(redact(result.message), this.options.people ?? { users: new Set(), roles: new Set() })
          .text,
        flags: MessageFlags.Ephemeral,
        allowedMentions: { parse: [] },
      });
      return;
    }
    const message = interaction.message;
    const decided = renderDecided(
      { content: message.content, embeds: message.embeds.map((embed) => embed.toJSON() as APIEmbed) },
      { decision: result.decision, by: actor.display ?? actor.id, at: new Date(), waitingFor: result.waitingFor },
      message.components.map((row) => row.toJSON()) as DiscordMessagePayload['components'],
      redact,
    );
    await interaction.editReply(toDiscordJs(decided));
  }
}
