import { z } from 'zod';
import { defineCommand, reply } from './command.js';
import { statusMessage } from './present.js';

export const statusCommand = defineCommand({
  definition: { name: 'status', description: 'Every service at a glance', usage: '/heal status', options: [] },
  args: z.object({}),
  async run(api) {
    return reply(statusMessage(await api.status()), 'channel');
  },
});
