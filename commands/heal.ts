import { z } from 'zod';
import { UnknownServiceError } from '../src/errors.js';
import { closestNames } from '../src/engine/suggest.js';
import { serviceArg } from './args.js';
import { defineCommand, reply } from './command.js';

export const healCommand = defineCommand({
  definition: {
    name: 'heal',
    description: 'Diagnose a service, propose a fix, ask for approval, act and verify',
    usage: '/heal <service>',
    options: [{ name: 'service', description: 'The service to heal', required: true, kind: 'service' }],
  },
  args: z.object({ service: serviceArg }),
  async run(api, { service }, invocation) {
    if (!api.services().includes(service))
      throw new UnknownServiceError(service, api.services(), closestNames(service, api.services()));
    const origin =
      invocation.origin ??
      (invocation.channel ? { platform: invocation.actor.platform, channel: invocation.channel } : undefined);
    // The incident runs on; its progress reaches chat through the conversation, not this reply.
    api.heal({ service, source: 'chat', requestedBy: invocation.actor, origin }).catch(() => undefined);
    return reply(`Healing *${service}*: diagnosing every layer now; follow the thread.`);
  },
});
