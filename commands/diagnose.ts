import { z } from 'zod';
import { serviceArg } from './args.js';
import { defineCommand, reply } from './command.js';
import { diagnosisMessage } from './present.js';

export const diagnoseCommand = defineCommand({
  definition: {
    name: 'diagnose',
    description: 'Probe every layer of a service and name the root cause, changing nothing',
    usage: '/heal diagnose <service>',
    options: [{ name: 'service', description: 'The service to diagnose', required: true, kind: 'service' }],
  },
  args: z.object({ service: serviceArg }),
  async run(api, { service }) {
    return reply(diagnosisMessage(await api.diagnose(service)), 'channel');
  },
});
