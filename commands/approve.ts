import { z } from 'zod';
import type { DecisionResult } from '../src/engine/api.js';
import { approvalIdArg } from './args.js';
import { defineCommand, reply, type CommandReply } from './command.js';
import { decisionMessage } from './present.js';

/** Renders an approval decision the same way for buttons and typed commands. */
export function decisionReply(result: DecisionResult): CommandReply {
  if (!result.ok) return reply({ text: result.message, tone: 'error' });
  if (result.waitingFor)
    return reply(
      {
        text: `Approval recorded; waiting for ${result.waitingFor} more approver${result.waitingFor > 1 ? 's' : ''}.`,
        tone: 'info',
      },
      'channel',
    );
  return reply(decisionMessage(result.request, result.decision, result.by, new Date(result.at)), 'channel');
}

const decide = (decision: 'approve' | 'deny') =>
  defineCommand({
    definition: {
      name: decision,
      description:
        decision === 'approve'
          ? 'Approve a pending action (like the Approve button)'
          : 'Deny a pending action (like the Deny button)',
      usage: `/heal ${decision} <approval-id>`,
      options: [{ name: 'id', description: 'The approval id shown on the request', required: true, kind: 'id' }],
    },
    args: z.object({ id: approvalIdArg }),
    async run(api, { id }, invocation) {
      return decisionReply(await api.decide(id, invocation.actor, decision));
    },
  });

export const approveCommand = decide('approve');
export const denyCommand = decide('deny');
