import { z } from 'zod';
import { defineCommand, reply, type CommandDefinition } from './command.js';

/** Help is built from the registry so it can never drift from the commands that exist. */
export const helpCommandFor = (definitions: () => readonly CommandDefinition[]) =>
  defineCommand({
    definition: { name: 'help', description: 'What healbot can do', usage: '/heal help', options: [] },
    args: z.object({}),
    async run() {
      return reply({
        title: 'healbot',
        text: definitions()
          .map((d) => `\`${d.usage}\` ${d.description}`)
          .join('\n'),
      });
    },
  });
