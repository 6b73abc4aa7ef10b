/**
 * Never against the operator's intent: a workload a person stopped, paused or scaled to zero
 * through its runtime's API is left as it is when healbot was not asked; when a person asks
 * (`/heal`, the CLI, the API), bringing it back is offered as a step that always needs approval.
 */
import type { Diagnosis, IncidentSource, PlanStep, RuntimeState } from './types.js';

/** Doors where a person asked for the heal; the others (monitoring, events, alerts, webhooks) are automatic. */
const ASKED_BY_A_PERSON: ReadonlySet<IncidentSource> = new Set<IncidentSource>(['cli', 'chat', 'api']);

const API_NAME: Record<RuntimeState['runtime'], string> = {
  docker: 'the Docker API',
  kubernetes: 'the Kubernetes API',
  command: 'its command',
  process: 'its process manager',
  github: 'the GitHub API',
};

const stoppedVerb = (state: RuntimeState) =>
  state.status === 'paused' ? 'paused' : state.runtime === 'kubernetes' ? 'scaled to zero' : 'stopped';

/** `10:42:05 UTC`, from an ISO time. */
const clock = (iso: string) => `${iso.slice(11, 19)} UTC`;

/** "stopped through the Docker API (docker stop at 10:42:05 UTC)", for root-cause summaries. */
export function describeStopOnPurpose(state: RuntimeState): string | undefined {
  const stop = state.stoppedOnPurpose;
  if (!stop) return undefined;
  return `${stoppedVerb(state)} through ${API_NAME[state.runtime]} (${stop.how} at ${clock(stop.at)})`;
}

export interface RespectedPlan {
  plan: PlanStep[];
  /** Set when healbot left a workload alone because a person stopped it: what to tell the thread. */
  leftAlone?: string;
}

/**
 * Applies the intent rule to a plan: steps that would undo a stop on purpose are dropped when
 * nobody asked, and need an approval (whatever `policy.auto` says) when someone did.
 */
export function respectIntent(
  plan: PlanStep[],
  diagnosis: Pick<Diagnosis, 'runtime'>,
  request: { service: string; source: IncidentSource },
): RespectedPlan {
  const asked = ASKED_BY_A_PERSON.has(request.source);
  const kept: PlanStep[] = [];
  const leftAlone: string[] = [];
  for (const step of plan) {
    const state = diagnosis.runtime[step.target];
    const stop = state && step.action !== 'manual' ? describeStopOnPurpose(state) : undefined;
    if (!state || !stop) {
      kept.push(step);
      continue;
    }
    if (asked) {
      kept.push({
        ...step,
        risk: 'risky',
        askFirst: true,
        reason: `${step.reason}; ${state.target} was ${stop}, so this needs an approval`,
      });
      continue;
    }
    const undo = step.action === 'unpause' ? 'unpause it' : step.action === 'scale' ? 'scale it back up' : 'start it';
    leftAlone.push(
      `a person ${stoppedVerb(state).replace(' to zero', ' down')} ${state.target} on purpose: healbot will not ${undo} unasked (/heal ${step.target} offers to, with an approval)`,
    );
  }
  return leftAlone.length > 0 ? { plan: kept, leftAlone: leftAlone.join('; ') } : { plan: kept };
}
