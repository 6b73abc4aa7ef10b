import { z } from 'zod';
import type { HealbotApi } from '../src/engine/api.js';
import type { IntakeDecision } from '../src/engine/intake.js';
import { serviceArg } from './args.js';
import type { ChatMessage } from './chat.js';
import { defineCommand, reply, type CommandInvocation } from './command.js';
import { approvalMessage } from './present.js';

/**
 * What to say when a request joined an open incident: which one, where it stands, where its
 * thread is, and the Approve/Deny buttons when it waits for an approval this caller may give.
 */
export async function joinedMessage(
  api: HealbotApi,
  decision: IntakeDecision,
  invocation: Pick<CommandInvocation, 'actor' | 'threadLink'>,
): Promise<ChatMessage> {
  const view = (await decision.incident!())!;
  const link = await invocation.threadLink?.(view.id);
  const where = link ? `Follow it in its thread: ${link}` : 'Its thread is in the alert channel.';
  const text = decision.rerun
    ? `*${view.service}* already has an open incident \`${view.id}\` that was escalated; diagnosing it again now. ${where}`
    : `*${view.service}* already has an open incident \`${view.id}\`: ${view.state}. ${where}`;
  const approval = view.approval;
  if (approval && api.mayApprove(invocation.actor, approval.service)) {
    return { ...approvalMessage(approval), text: `${text}\n${approvalMessage(approval).text}` };
  }
  return { text, tone: 'info' };
}

export const healCommand = defineCommand({
  definition: {
    name: 'heal',
    description: 'Diagnose a service, propose a fix, ask for approval, act and verify',
    usage: '/heal <service>',
    options: [{ name: 'service', description: 'The service to heal', required: true, kind: 'service' }],
  },
  args: z.object({ service: serviceArg }),
  async run(api, { service }, invocation) {
    const origin =
      invocation.origin ??
      (invocation.channel ? { platform: invocation.actor.platform, channel: invocation.channel } : undefined);
    // The incident runs on; its progress reaches chat through the conversation, not this reply.
    const decision = await api.open({ service, source: 'chat', requestedBy: invocation.actor, origin });
    decision.report?.catch(() => undefined);
    if (decision.result === 'joined' && (await decision.incident?.()))
      return reply(await joinedMessage(api, decision, invocation));
    return reply(`Healing *${service}*: diagnosing every layer now; follow the thread.`);
  },
});
