import type { ApprovalRequest, Outcome, PlanStep } from './types.js';

/** Where an incident stands. */
export type Phase =
  | { kind: 'diagnosing' }
  | { kind: 'awaiting_approval'; request: ApprovalRequest }
  | { kind: 'approved' }
  | { kind: 'acting'; step: PlanStep }
  | { kind: 'verifying' }
  | { kind: 'escalated'; summary?: string }
  | { kind: 'closed'; outcome?: Outcome; summary?: string };

const verb = (action: string) => action.replace('_', ' ');

/** The phase in words, e.g. "waiting for approval to start api". */
export function describePhase(phase: Phase): string {
  switch (phase.kind) {
    case 'diagnosing':
      return 'diagnosing';
    case 'awaiting_approval':
      return `waiting for approval to ${verb(phase.request.step.action)} ${phase.request.step.target}`;
    case 'approved':
      return 'approved, about to act';
    case 'acting':
      return `acting: ${verb(phase.step.action)} ${phase.step.target}`;
    case 'verifying':
      return 'verifying';
    case 'escalated':
      return phase.summary ? `escalated, waiting for a person: ${phase.summary}` : 'escalated, waiting for a person';
    case 'closed':
      return `closed${phase.outcome ? ` (${phase.outcome.replace('_', ' ')})` : ''}`;
  }
}
