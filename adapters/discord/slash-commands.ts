import {
  ApplicationCommandOptionType,
  ApplicationCommandType,
  Routes,
  type REST,
  type RESTPutAPIApplicationCommandsJSONBody,
  type APIApplicationCommandBasicOption,
  type APIApplicationCommandSubcommandOption,
} from 'discord.js';
import type { CommandDefinition } from '../../commands/index.js';
import { truncate } from './render.js';

/** The one top-level slash command; every healbot command is a subcommand of it. */
export const SLASH_COMMAND = 'heal';

/** Discord allows at most 25 choices per option; beyond that the option is free text. */
const MAX_CHOICES = 25;

const description = (text: string) => truncate(text.trim() || 'healbot', 100);

/**
 * Discord's body for `PUT /applications/{id}/commands`: `/heal` with one subcommand per
 * command definition. Service options offer the configured services as choices when they fit,
 * so people pick rather than type. Discord requires required options before optional ones.
 */
export function slashCommandBody(
  definitions: readonly CommandDefinition[],
  services: readonly string[],
): RESTPutAPIApplicationCommandsJSONBody {
  const choices =
    services.length > 0 && services.length <= MAX_CHOICES ? services.map((s) => ({ name: s, value: s })) : undefined;
  const subcommands: APIApplicationCommandSubcommandOption[] = definitions.map((definition) => ({
    type: ApplicationCommandOptionType.Subcommand,
    name: definition.name,
    description: description(definition.description),
    options: [...definition.options]
      .sort((a, b) => Number(b.required) - Number(a.required))
      .map(
        (option): APIApplicationCommandBasicOption => ({
          type: ApplicationCommandOptionType.String,
          name: option.name,
          description: description(option.description),
          required: option.required,
          ...(option.kind === 'service' && choices ? { choices } : {}),
        }),
      ),
  }));
  return [
    {
      type: ApplicationCommandType.ChatInput,
      name: SLASH_COMMAND,
      description: 'Diagnose and heal services',
      options: subcommands,
    },
  ];
}

/**
 * Registers `/heal`: per guild when a guild is configured (changes show at once, good while
 * iterating), else globally (Discord may take up to an hour to propagate).
 */
export async function registerSlashCommands(
  rest: REST,
  target: { applicationId: string; guildId?: string },
  body: RESTPutAPIApplicationCommandsJSONBody,
): Promise<void> {
  const route = target.guildId
    ? Routes.applicationGuildCommands(target.applicationId, target.guildId)
    : Routes.applicationCommands(target.applicationId);
  await rest.put(route, { body });
}

/**
 * The text `runCommand` parses, from a subcommand and its option values in definition order:
 * `heal api`, `diagnose api`, `approve a1b2`.
 */
export function invocationText(
  definition: CommandDefinition,
  value: (option: string) => string | null | undefined,
): string {
  const values = definition.options.map((option) => value(option.name)?.trim()).filter((v): v is string => !!v);
  return [definition.name, ...values].join(' ');
}
