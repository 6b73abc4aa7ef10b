import { z } from 'zod';
import { parseDuration } from '../src/config/duration.js';
import { defineCommand, reply } from './command.js';

const incidentArg = z
  .string({ error: 'name an incident id' })
  .regex(/^inc_[a-f0-9]{8}$/, 'is not an incident id (like inc_1a2b3c4d)');
const durationArg = z.string({ error: 'say how long, e.g. 1h, 4h or 24h' }).transform((value, ctx) => {
  const ms = parseDuration(value);
  if (ms === undefined || !/[a-z]$/.test(value)) {
    ctx.addIssue({ code: 'custom', message: 'is not a duration (use e.g. 1h, 4h or 24h)' });
    return z.NEVER;
  }
  return ms;
});

/** `/heal silence <incident> <duration>`: an Alertmanager silence for exactly the incident's alert. */
export const silenceCommand = defineCommand({
  definition: {
    name: 'silence',
    description: 'Silence the Alertmanager alert behind an incident (approvers only)',
    usage: '/heal silence <incident> <duration>',
    options: [
      { name: 'incident', description: 'The incident id, e.g. inc_1a2b3c4d', required: true, kind: 'id' },
      { name: 'duration', description: 'How long: 1h, 4h or 24h', required: true, kind: 'string' },
    ],
  },
  args: z.object({ incident: incidentArg, duration: durationArg }),
  async run(api, { incident, duration }, invocation) {
    const silence = await api.silence(incident, duration, invocation.actor);
    return reply(
      {
        text: `Silenced by ${silence.by} until ${silence.until.slice(0, 16).replace('T', ' ')} UTC (Alertmanager silence \`${silence.id}\`).`,
        tone: 'ok',
        buttons: [{ action: 'command', value: `unsilence ${incident}`, label: 'Expire silence' }],
      },
      'channel',
    );
  },
});

/** `/heal unsilence <incident>`: expires the silence, like the "Expire silence" button. */
export const unsilenceCommand = defineCommand({
  definition: {
    name: 'unsilence',
    description: 'Expire the silence healbot created for an incident (like the Expire silence button)',
    usage: '/heal unsilence <incident>',
    options: [{ name: 'incident', description: 'The incident id', required: true, kind: 'id' }],
  },
  args: z.object({ incident: incidentArg }),
  async run(api, { incident }, invocation) {
    const silence = await api.expireSilence(incident, invocation.actor);
    return reply(
      {
        text: `Silence \`${silence.id}\` expired by ${invocation.actor.display ?? invocation.actor.id}; the alert notifies again.`,
        tone: 'ok',
      },
      'channel',
    );
  },
});
