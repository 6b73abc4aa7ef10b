import { ZodError } from 'zod';
import type { HealbotApi } from '../src/engine/api.js';
import { describeError, HealbotError } from '../src/errors.js';
import { approveCommand, denyCommand } from './approve.js';
import type { Command, CommandDefinition, CommandInvocation, CommandReply } from './command.js';
import { reply } from './command.js';
import { diagnoseCommand } from './diagnose.js';
import { healCommand } from './heal.js';
import { helpCommandFor } from './help.js';
import { historyCommand } from './history.js';
import { pauseCommand, resumeCommand } from './pause.js';
import { resolveCommand } from './resolve.js';
import { silenceCommand, unsilenceCommand } from './silence.js';
import { statusCommand } from './status.js';

export type { CommandDefinition, CommandInvocation, CommandReply, CommandOption } from './command.js';
export { decisionReply } from './approve.js';

const helpCommand = helpCommandFor(() => commandDefinitions);

/** Every chat command, listed explicitly. `heal` is also what a bare `/heal <service>` runs. */
export const commands: readonly Command<any>[] = [
  healCommand,
  diagnoseCommand,
  statusCommand,
  historyCommand,
  pauseCommand,
  resumeCommand,
  resolveCommand,
  approveCommand,
  denyCommand,
  silenceCommand,
  unsilenceCommand,
  helpCommand,
];

export const commandDefinitions: readonly CommandDefinition[] = commands.map((c) => c.definition);

/** Splits `/heal` text into a command and its arguments (pure). */
export function parseInvocation(text: string): { command: Command<any>; args: Record<string, string> } {
  const tokens = text.trim().split(/\s+/).filter(Boolean);
  // `/heal heal api` (Discord's explicit subcommand) is `/heal api`; a lone `heal` stays a service name.
  const named = commands.find(
    (c) => c.definition.name === tokens[0]?.toLowerCase() && (c !== healCommand || tokens.length > 1),
  );
  const command = tokens.length === 0 ? helpCommand : (named ?? healCommand);
  const rest = named || tokens.length === 0 ? tokens.slice(1) : tokens;
  const args: Record<string, string> = {};
  command.definition.options.forEach((option, i) => {
    if (rest[i] !== undefined) args[option.name] = rest[i];
  });
  return { command, args };
}

/**
 * Runs a chat command for any platform. Never throws: a user's mistake becomes an
 * ephemeral reply saying what to do; a bug becomes a reply with an error id to quote.
 */
export async function runCommand(
  api: HealbotApi,
  invocation: CommandInvocation,
  onBug?: (error: unknown, errorId: string) => void,
): Promise<CommandReply> {
  try {
    const { command, args } = parseInvocation(invocation.text);
    const parsed = command.args.safeParse(args);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      const field = issue.path.join('.') || 'argument';
      const message =
        issue.code === 'invalid_type' ? `${issue.message}` : `${field} "${args[field] ?? ''}" ${issue.message}`;
      return reply({ text: `${message}. Usage: \`${command.definition.usage}\``, tone: 'error' });
    }
    return await command.run(api, parsed.data, invocation);
  } catch (error) {
    if (error instanceof HealbotError && error.userFacing) return reply({ text: error.message, tone: 'error' });
    if (error instanceof ZodError) return reply({ text: describeError(error), tone: 'error' });
    const errorId = `err_${Date.now().toString(36)}`;
    onBug?.(error, errorId);
    return reply({ text: `Something went wrong on healbot's side (error ${errorId}); it is logged.`, tone: 'error' });
  }
}
