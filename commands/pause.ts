import { z } from 'zod';
import type { Actor, HealbotApi } from '../src/engine/api.js';
import { serviceArg } from './args.js';
import { defineCommand, reply } from './command.js';

/** Pause and resume differ only in what they ask the engine and what they answer. */
const switchHealing = (
  name: 'pause' | 'resume',
  description: string,
  act: (api: HealbotApi, service: string, actor: Actor) => Promise<void>,
  done: (service: string, by: string) => string,
) =>
  defineCommand({
    definition: {
      name,
      description,
      usage: `/heal ${name} <service>`,
      options: [{ name: 'service', description: `The service to ${name}`, required: true, kind: 'service' }],
    },
    args: z.object({ service: serviceArg }),
    async run(api, { service }, invocation) {
      await act(api, service, invocation.actor);
      return reply(done(service, invocation.actor.display ?? invocation.actor.id), 'channel');
    },
  });

export const pauseCommand = switchHealing(
  'pause',
  'Stop automatic healing of a service (diagnosis goes on)',
  (api, service, actor) => api.pause(service, actor),
  (service, by) => `Healing of *${service}* is paused by ${by}. \`/heal resume ${service}\` turns it back on.`,
);

export const resumeCommand = switchHealing(
  'resume',
  'Turn healing of a service back on and reset its breaker',
  (api, service, actor) => api.resume(service, actor),
  (service, by) => `Healing of *${service}* is on again and its breaker is reset, by ${by}.`,
);
