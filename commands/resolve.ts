import { z } from 'zod';
import { incidentIdArg } from './args.js';
import { defineCommand, reply } from './command.js';

/** `/heal resolve <incident-id>`: an approver closes an open incident whose failure is over. */
export const resolveCommand = defineCommand({
  definition: {
    name: 'resolve',
    description: 'Close an open incident (an escalated one stays open until its service is healthy again)',
    usage: '/heal resolve <incident-id>',
    options: [{ name: 'id', description: 'The incident id', required: true, kind: 'id' }],
  },
  args: z.object({ id: incidentIdArg }),
  async run(api, { id }, invocation) {
    const view = await api.resolveIncident(id, invocation.actor);
    return reply(
      `Incident \`${view.id}\` for *${view.service}* is ${view.state}, by ${invocation.actor.display ?? invocation.actor.id}.`,
      'channel',
    );
  },
});
