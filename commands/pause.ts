import { z } from 'zod';
import { serviceArg } from './args.js';
import { defineCommand, reply } from './command.js';

export const pauseCommand = defineCommand({
  definition: {
    name: 'pause',
    description: 'Stop automatic healing of a service (diagnosis goes on)',
    usage: '/heal pause <service>',
    options: [{ name: 'service', description: 'The service to pause', required: true, kind: 'service' }],
  },
  args: z.object({ service: serviceArg }),
  async run(api, { service }, invocation) {
    await api.pause(service, invocation.actor);
    return reply(`Healing of *${service}* is paused by ${invocation.actor.display ?? invocation.actor.id}. \`/heal resume ${service}\` turns it back on.`, 'channel');
  },
});

export const resumeCommand = defineCommand({
  definition: {
    name: 'resume',
    description: 'Turn healing of a service back on and reset its breaker',
    usage: '/heal resume <service>',
    options: [{ name: 'service', description: 'The service to resume', required: true, kind: 'service' }],
  },
  args: z.object({ service: serviceArg }),
  async run(api, { service }, invocation) {
    await api.resume(service, invocation.actor);
    return reply(`Healing of *${service}* is on again and its breaker is reset, by ${invocation.actor.display ?? invocation.actor.id}.`, 'channel');
  },
});
