import { z } from 'zod';
import { serviceArg } from './args.js';
import { defineCommand, reply } from './command.js';
import { historyMessage } from './present.js';

export const historyCommand = defineCommand({
  definition: {
    name: 'history',
    description: 'Recent incidents, for one service or all',
    usage: '/heal history [service]',
    options: [{ name: 'service', description: 'Only this service', required: false, kind: 'service' }],
  },
  args: z.object({ service: serviceArg.optional() }),
  async run(api, { service }) {
    const [records, rates] = await Promise.all([api.history(service, 10), api.remediationStats(service)]);
    return reply(historyMessage(records, service, rates));
  },
});
