import type { Store, ApprovalRecord } from './ports/store.js';
import type { Actor, DecisionResult } from './api.js';
import { TargetLocks } from './target-locks.js';
import type { ApprovalRequest } from './types.js';

export type ApprovalDecision = { decision: 'approved' | 'denied' | 'expired'; by: string[] };

const actorName = (actor: Actor) => actor.display ?? `${actor.platform}:${actor.id}`;
/** The verified identity behind an actor: the door and the id it verified, never a display name. */
export const identityOf = (actor: Actor) => `${actor.platform}:${actor.id}`;

/**
 * Pending approvals: persisted, expiring, decided once. A decision made after a restart,
 * when no run is waiting, is handed to `onOrphanApproved` so the engine can resume safely.
 */
export class ApprovalBook {
  private readonly waiters = new Map<string, (d: ApprovalDecision) => void>();
  private readonly timers = new Map<string, NodeJS.Timeout>();
  /** Approvals are decided one click at a time each: a second approver never overwrites the first. */
  private readonly deciding = new TargetLocks();

  constructor(
    private readonly store: Store,
    private readonly isAllowed: (actor: Actor, request: ApprovalRequest) => boolean,
    private readonly onOrphanApproved: (record: ApprovalRecord) => void,
    private readonly onExpired: (record: ApprovalRecord) => Promise<void>,
    private readonly now: () => number = Date.now,
    /** Told when an expiry that runs on its own (a timer) fails. */
    private readonly onError: (error: unknown, approvalId: string) => void = () => undefined,
  ) {}

  /** Re-arms expiry timers for approvals persisted by an earlier run. */
  async restore(): Promise<void> {
    for (const record of await this.store.pendingApprovals()) this.arm(record);
  }

  /** Persists the request; resolves once it is stored, with its decision or expiry to come. */
  async wait(request: ApprovalRequest): Promise<{ decision: Promise<ApprovalDecision> }> {
    const record: ApprovalRecord = { ...request, status: 'pending', approvedBy: [] };
    await this.store.saveApproval(record);
    const decision = new Promise<ApprovalDecision>((resolve) => {
      this.waiters.set(request.id, resolve);
      this.arm(record);
    });
    return { decision };
  }

  private arm(record: ApprovalRecord): void {
    const delay = Math.max(0, Date.parse(record.expiresAt) - this.now());
    const timer = setTimeout(
      () => void this.expire(record.id).catch((error: unknown) => this.onError(error, record.id)),
      Math.min(delay, 2 ** 31 - 1),
    );
    timer.unref();
    this.timers.set(record.id, timer);
  }

  /**
   * Expires a pending approval whose time is up, through `store`. The engine's follow-up runs
   * here when a timer expires it, and after it when a decision does (the decision may hold
   * locks, or a transaction, that the follow-up waits for).
   */
  private async expire(id: string, store: Store = this.store, followHere = true): Promise<void> {
    const record = await store.getApproval(id);
    if (!record || record.status !== 'pending') return;
    // A timer holds at most 2^31-1 ms (about 24.8 days); a longer approvalTimeout waits in several legs.
    if (Date.parse(record.expiresAt) > this.now()) return this.arm(record);
    const expired: ApprovalRecord = { ...record, status: 'expired', decidedAt: new Date(this.now()).toISOString() };
    if (!(await store.transitionApproval(id, 'pending', expired))) return;
    this.settle(id, { decision: 'expired', by: [] });
    if (followHere) await this.onExpired(expired);
    else void this.onExpired(expired).catch((error: unknown) => this.onError(error, id));
  }

  private settle(id: string, decision: ApprovalDecision): boolean {
    clearTimeout(this.timers.get(id));
    this.timers.delete(id);
    const waiter = this.waiters.get(id);
    this.waiters.delete(id);
    waiter?.(decision);
    return waiter !== undefined;
  }

  /**
   * Decides an approval through `store` (the book's own, or a transaction of it). Every change
   * is a compare-and-set on the pending status, so a decision racing another (a click on another
   * replica, an expiry, a withdrawal) loses cleanly. In this process, decisions on one approval
   * are also taken one at a time (a second approver never overwrites the first), except through
   * a transaction's store: its holder must not wait for a click that waits for its transaction.
   */
  async decide(
    id: string,
    actor: Actor,
    decision: 'approve' | 'deny',
    store: Store = this.store,
  ): Promise<DecisionResult> {
    if (store !== this.store) return this.decideNow(id, actor, decision, store);
    const held = await this.deciding.acquire([id], identityOf(actor));
    try {
      return await this.decideNow(id, actor, decision, store);
    } finally {
      held.release();
    }
  }

  private async decideNow(
    id: string,
    actor: Actor,
    decision: 'approve' | 'deny',
    store: Store,
  ): Promise<DecisionResult> {
    const record = await store.getApproval(id);
    if (!record) return { ok: false, reason: 'not_found', message: `There is no approval ${id}.` };
    if (record.status === 'pending' && Date.parse(record.expiresAt) <= this.now()) await this.expire(id, store, false);
    const current = (await store.getApproval(id))!;
    if (current.status === 'expired')
      return {
        ok: false,
        reason: 'expired',
        message: `Approval ${id} expired at ${current.expiresAt}; nothing was done. Run /heal ${current.service} again.`,
      };
    if (current.status !== 'pending') {
      return {
        ok: false,
        reason: 'already_decided',
        message: `Approval ${id} was already ${current.status}${current.decidedBy ? ` by ${current.decidedBy}` : ''}.`,
      };
    }
    if (!this.isAllowed(actor, current)) {
      return {
        ok: false,
        reason: 'not_allowed',
        message: `You are not an approver for ${current.service}; ask ${current.approvers.join(', ') || 'a configured approver'}.`,
      };
    }
    const name = actorName(actor);
    const at = new Date(this.now()).toISOString();
    if (decision === 'deny') {
      const denied: ApprovalRecord = { ...current, status: 'denied', decidedBy: name, decidedAt: at };
      if (!(await store.transitionApproval(id, 'pending', denied)))
        return { ok: false, reason: 'already_decided', message: `Approval ${id} was already decided.` };
      this.settle(id, { decision: 'denied', by: [name] });
      return { ok: true, decision: 'denied', request: denied, by: [name], at };
    }
    const identity = identityOf(actor);
    const approverIds = current.approverIds ?? [];
    if (approverIds.includes(identity)) {
      return {
        ok: false,
        reason: 'same_approver',
        message: `${identity} already approved ${id}; it needs a second approver with a different identity.`,
      };
    }
    const approvedBy = [...current.approvedBy, name];
    if (approvedBy.length < current.requiredApprovals) {
      const partial: ApprovalRecord = { ...current, approvedBy, approverIds: [...approverIds, identity] };
      if (!(await store.transitionApproval(id, 'pending', partial)))
        return { ok: false, reason: 'already_decided', message: `Approval ${id} was already decided.` };
      return {
        ok: true,
        decision: 'approved',
        request: current,
        by: approvedBy,
        at,
        waitingFor: current.requiredApprovals - approvedBy.length,
      };
    }
    const approved: ApprovalRecord = {
      ...current,
      status: 'approved',
      approvedBy,
      approverIds: [...approverIds, identity],
      decidedBy: approvedBy.join(' and '),
      decidedAt: at,
    };
    if (!(await store.transitionApproval(id, 'pending', approved)))
      return { ok: false, reason: 'already_decided', message: `Approval ${id} was already decided.` };
    if (!this.settle(id, { decision: 'approved', by: approvedBy })) this.onOrphanApproved(approved);
    return { ok: true, decision: 'approved', request: approved, by: approvedBy, at };
  }

  close(): void {
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
  }
}
