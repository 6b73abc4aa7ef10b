import type { z } from 'zod';
import type { Actor, HealbotApi } from '../src/engine/api.js';
import type { Incident } from '../src/engine/types.js';
import type { ChatMessage } from './chat.js';

export interface CommandInvocation {
  actor: Actor;
  /** Everything after `/heal`, e.g. `api`, `diagnose api`, `approve apr_1a2b`. */
  text: string;
  channel?: string;
  origin?: Incident['origin'];
}

export interface CommandReply {
  message: ChatMessage;
  visibility: 'ephemeral' | 'channel';
}

export interface CommandOption {
  name: string;
  description: string;
  required: boolean;
  kind: 'service' | 'string' | 'id';
}

export interface CommandDefinition {
  name: string;
  description: string;
  usage: string;
  options: CommandOption[];
}

/** A chat command: a definition for registration and help, a zod schema for its arguments, and what it does. */
export interface Command<Args> {
  definition: CommandDefinition;
  args: z.ZodType<Args>;
  run(api: HealbotApi, args: Args, invocation: CommandInvocation): Promise<CommandReply>;
}

/** Declares a command with its argument types inferred from the schema. */
export const defineCommand = <S extends z.ZodType>(command: {
  definition: CommandDefinition;
  args: S;
  run(api: HealbotApi, args: z.infer<S>, invocation: CommandInvocation): Promise<CommandReply>;
}): Command<z.infer<S>> => command as Command<z.infer<S>>;

export const reply = (
  message: ChatMessage | string,
  visibility: CommandReply['visibility'] = 'ephemeral',
): CommandReply => ({
  message: typeof message === 'string' ? { text: message } : message,
  visibility,
});
