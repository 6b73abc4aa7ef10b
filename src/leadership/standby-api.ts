import { hasService } from '../config/own.js';
import type { Config } from '../config/schema.js';
import type { DecisionResult, HealRequest } from '../engine/api.js';
import type { Engine } from '../engine/engine.js';
import { approverPolicy } from '../engine/approver-policy.js';
import { serviceOfSignal, unmatched, type IntakeDecision, type Signal } from '../engine/intake.js';
import type { ApprovalRequest } from '../engine/types.js';
import type { Store } from '../engine/ports/store.js';
import { closestNames } from '../engine/suggest.js';
import { UnknownServiceError } from '../errors.js';

/** A decision a standby recorded for the leader to make. */
export interface QueuedDecision {
  ok: 'queued';
  decision: 'approved' | 'denied';
  request: ApprovalRequest;
}

/** The part of the engine the HTTP server serves: the engine itself, or a standby's queue. */
export type ServedApi = Pick<Engine, 'accept' | 'open' | 'subscribe' | 'services'> & {
  decide(...args: Parameters<Engine['decide']>): Promise<DecisionResult | QueuedDecision>;
};

/** The kinds of work a standby records for the leader, and their payloads. */
export interface StandbyWork {
  signals: Signal[];
  heal: HealRequest;
  decision: { approvalId: string; actor: Parameters<Engine['decide']>[1]; decision: 'approve' | 'deny' };
}

/**
 * What a replica that does not lead serves, on a store it shares with the leader: requests are
 * checked (credentials at the door, service names, the approval still pending) and recorded in
 * the store's work queue; the leader takes them from there and acts. Nothing is decided here.
 */
export function standbyApi(config: Config, store: Store): ServedApi {
  const services = () => Object.keys(config.services);
  const { mayApprove } = approverPolicy(config);
  const record = <K extends keyof StandbyWork>(kind: K, payload: StandbyWork[K]) => store.enqueueWork(kind, payload);
  return {
    services,
    subscribe: () => () => undefined,
    async accept(signals: readonly Signal[]): Promise<IntakeDecision[]> {
      const matches = signals.map((signal) => serviceOfSignal(config, signal));
      const matched = signals.filter((_, i) => matches[i] !== undefined);
      if (matched.length > 0) await record('signals', matched);
      return signals.map((signal, i) => {
        const service = matches[i];
        return service ? { result: 'queued', service } : unmatched(signal);
      });
    },
    async open(request: HealRequest): Promise<IntakeDecision> {
      if (!hasService(config, request.service))
        throw new UnknownServiceError(request.service, services(), closestNames(request.service, services()));
      await record('heal', request);
      return { result: 'queued', service: request.service };
    },
    async decide(approvalId, actor, decision): Promise<DecisionResult | QueuedDecision> {
      const approval = await store.getApproval(approvalId);
      if (!approval) return { ok: false, reason: 'not_found', message: `there is no approval ${approvalId}` };
      if (approval.status !== 'pending')
        return {
          ok: false,
          reason: 'already_decided',
          message: `approval ${approvalId} was already ${approval.status}`,
        };
      if (!mayApprove(actor, approval.service))
        return {
          ok: false,
          reason: 'not_allowed',
          message: `${actor.display ?? `${actor.platform}:${actor.id}`} may not decide on ${approval.service}`,
        };
      await record('decision', { approvalId, actor, decision });
      return { ok: 'queued', decision: decision === 'approve' ? 'approved' : 'denied', request: approval };
    },
  };
}
