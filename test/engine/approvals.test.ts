import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Actor } from '../../src/engine/api.js';
import { ApprovalBook } from '../../src/engine/approvals.js';
import type { ApprovalRequest } from '../../src/engine/types.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { ApprovalRecord, Store } from '../../src/store/store.js';

const ana: Actor = { platform: 'slack', id: 'U_ANA', display: '@ana' };
const bo: Actor = { platform: 'slack', id: 'U_BO', display: '@bo' };
const eve: Actor = { platform: 'slack', id: 'U_EVE', display: '@eve' };
const allowed = new Set(['U_ANA', 'U_BO']);
const isAllowed = (actor: Actor) => allowed.has(actor.id);

let dir: string;
let file: string;
const opened: { close(): unknown }[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'healbot-approvals-'));
  file = join(dir, 'healbot.db');
});

afterEach(async () => {
  for (const thing of opened.splice(0)) await thing.close();
  rmSync(dir, { recursive: true, force: true });
});

function book(options: { now?: () => number; store?: Store } = {}) {
  const store = options.store ?? new SqliteStore(file);
  const orphans: ApprovalRecord[] = [];
  const expired: ApprovalRecord[] = [];
  const approvals = new ApprovalBook(
    store,
    isAllowed,
    (r) => orphans.push(r),
    async (r) => void expired.push(r),
    options.now,
  );
  opened.push(approvals, store);
  return { store, approvals, orphans, expired };
}

let counter = 0;
function request(over: Partial<ApprovalRequest> = {}): ApprovalRequest {
  counter++;
  return {
    id: `apr_${counter.toString(16).padStart(8, '0')}`,
    incidentId: `inc_${counter}`,
    service: 'api',
    step: { action: 'restart', target: 'api', risk: 'risky', reason: 'probe times out' },
    approvers: ['@ana', '@bo'],
    requiredApprovals: 1,
    expiresAt: new Date(Date.now() + 60_000).toISOString(),
    ...over,
  };
}

describe('ApprovalBook', () => {
  it('an approval resolves the waiting run and is stored as approved', async () => {
    const { approvals, store } = book();
    const req = request();
    const { decision: waiting } = await approvals.wait(req);
    expect((await store.getApproval(req.id))?.status).toBe('pending');
    const result = await approvals.decide(req.id, ana, 'approve');
    expect(result).toMatchObject({ ok: true, decision: 'approved', by: ['@ana'] });
    await expect(waiting).resolves.toEqual({ decision: 'approved', by: ['@ana'] });
    expect(await store.getApproval(req.id)).toMatchObject({
      status: 'approved',
      approvedBy: ['@ana'],
      decidedBy: '@ana',
    });
  });

  it('deny resolves the run as denied', async () => {
    const { approvals, store } = book();
    const req = request();
    const { decision: waiting } = await approvals.wait(req);
    expect(await approvals.decide(req.id, bo, 'deny')).toMatchObject({ ok: true, decision: 'denied', by: ['@bo'] });
    await expect(waiting).resolves.toEqual({ decision: 'denied', by: ['@bo'] });
    expect((await store.getApproval(req.id))?.status).toBe('denied');
    expect(await approvals.decide(req.id, ana, 'approve')).toMatchObject({ ok: false, reason: 'already_decided' });
  });

  it('expires on its own timer and reports it', async () => {
    const { approvals, store, expired } = book();
    const req = request({ expiresAt: new Date(Date.now() + 50).toISOString() });
    await expect((await approvals.wait(req)).decision).resolves.toEqual({ decision: 'expired', by: [] });
    expect((await store.getApproval(req.id))?.status).toBe('expired');
    expect(expired.map((r) => r.id)).toEqual([req.id]);
    const late = await approvals.decide(req.id, ana, 'approve');
    expect(late).toMatchObject({ ok: false, reason: 'expired' });
    if (!late.ok) expect(late.message).toContain('/heal api');
  });

  it('a decision after the deadline is refused even before the timer fires', async () => {
    let now = Date.now();
    const { approvals, store } = book({ now: () => now });
    const req = request({ expiresAt: new Date(now + 60_000).toISOString() });
    const { decision: waiting } = await approvals.wait(req);
    now += 61_000;
    expect(await approvals.decide(req.id, ana, 'approve')).toMatchObject({ ok: false, reason: 'expired' });
    await expect(waiting).resolves.toMatchObject({ decision: 'expired' });
    expect((await store.getApproval(req.id))?.status).toBe('expired');
  });

  it('an unauthorised actor is refused and the approval stays pending', async () => {
    const { approvals, store } = book();
    const req = request();
    const { decision: waiting } = await approvals.wait(req);
    const refused = await approvals.decide(req.id, eve, 'approve');
    expect(refused).toMatchObject({ ok: false, reason: 'not_allowed' });
    if (!refused.ok) expect(refused.message).toContain('@ana, @bo');
    expect(await approvals.decide(req.id, eve, 'deny')).toMatchObject({ ok: false, reason: 'not_allowed' });
    expect(await store.getApproval(req.id)).toMatchObject({ status: 'pending', approvedBy: [] });
    // It can still be decided by someone allowed.
    await approvals.decide(req.id, ana, 'approve');
    await expect(waiting).resolves.toMatchObject({ decision: 'approved' });
  });

  it('two approvers: the same person twice is refused, a second person completes it', async () => {
    const { approvals, store } = book();
    const req = request({ requiredApprovals: 2 });
    let settled = false;
    const waiting = (await approvals.wait(req)).decision.then((d) => ((settled = true), d));
    expect(await approvals.decide(req.id, ana, 'approve')).toMatchObject({ ok: true, waitingFor: 1, by: ['@ana'] });
    expect(await store.getApproval(req.id)).toMatchObject({ status: 'pending', approvedBy: ['@ana'] });
    expect(await approvals.decide(req.id, ana, 'approve')).toMatchObject({ ok: false, reason: 'same_approver' });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(settled).toBe(false);
    expect(await approvals.decide(req.id, bo, 'approve')).toMatchObject({
      ok: true,
      decision: 'approved',
      by: ['@ana', '@bo'],
    });
    await expect(waiting).resolves.toEqual({ decision: 'approved', by: ['@ana', '@bo'] });
    expect((await store.getApproval(req.id))?.decidedBy).toBe('@ana and @bo');
  });

  it('two approvers clicking at once are both counted: neither overwrites the other', async () => {
    const { approvals, store } = book();
    const req = request({ requiredApprovals: 2 });
    const { decision } = await approvals.wait(req);
    const results = await Promise.all([
      approvals.decide(req.id, ana, 'approve'),
      approvals.decide(req.id, bo, 'approve'),
    ]);
    expect(results).toEqual([
      expect.objectContaining({ ok: true, waitingFor: 1, by: ['@ana'] }),
      expect.objectContaining({ ok: true, decision: 'approved', by: ['@ana', '@bo'] }),
    ]);
    await expect(decision).resolves.toEqual({ decision: 'approved', by: ['@ana', '@bo'] });
    expect(await store.getApproval(req.id)).toMatchObject({ status: 'approved', approvedBy: ['@ana', '@bo'] });
  });

  it('a denial from another connection landing while a first approval is recorded stays a denial', async () => {
    const shared = new SqliteStore(file);
    let deny!: () => void;
    const denied = new Promise<void>((resolve) => (deny = resolve));
    let reads = 0;
    // The approving side reads the approval, then the denial lands before it writes.
    const slow = new Proxy(shared, {
      get(target, property) {
        const value = Reflect.get(target, property, target);
        if (property === 'getApproval')
          return async (id: string) => {
            const record = await target.getApproval(id);
            reads += 1;
            if (reads === 2) await denied;
            return record;
          };
        return typeof value === 'function' ? value.bind(target) : value;
      },
    });
    const first = book({ store: slow });
    const second = book();
    const req = request({ requiredApprovals: 2 });
    await first.approvals.wait(req);
    const approving = first.approvals.decide(req.id, ana, 'approve');
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(await second.approvals.decide(req.id, bo, 'deny')).toMatchObject({ ok: true, decision: 'denied' });
    deny();
    expect(await approving).toMatchObject({ ok: false, reason: 'already_decided' });
    expect(await second.store.getApproval(req.id)).toMatchObject({ status: 'denied', approvedBy: [] });
  });

  it('two concurrent decides from two processes on one file: exactly one wins', async () => {
    const first = book();
    const second = book();
    const req = request();
    const { decision: waiting } = await first.approvals.wait(req);
    const results = await Promise.all([
      Promise.resolve().then(() => first.approvals.decide(req.id, ana, 'approve')),
      Promise.resolve().then(() => second.approvals.decide(req.id, bo, 'deny')),
    ]);
    expect(results.filter((r) => r.ok)).toHaveLength(1);
    expect(results.filter((r) => !r.ok)).toEqual([expect.objectContaining({ reason: 'already_decided' })]);
    const decision = await waiting;
    expect(decision.decision).toBe(results[0].ok ? 'approved' : 'denied');
  });

  it('an approval decided after a restart goes to onOrphanApproved', async () => {
    const before = book();
    const req = request();
    await before.approvals.wait(req);
    before.approvals.close();
    await before.store.close();

    const after = book();
    await after.approvals.restore();
    expect((await after.store.pendingApprovals()).map((r) => r.id)).toEqual([req.id]);
    expect(await after.approvals.decide(req.id, bo, 'approve')).toMatchObject({ ok: true, decision: 'approved' });
    expect(after.orphans).toEqual([
      expect.objectContaining({ id: req.id, status: 'approved', approvedBy: ['@bo'], step: req.step }),
    ]);
  });

  it('a denial after a restart is not an orphan approval', async () => {
    const before = book();
    const req = request();
    await before.approvals.wait(req);
    const after = book();
    expect(await after.approvals.decide(req.id, bo, 'deny')).toMatchObject({ ok: true, decision: 'denied' });
    expect(after.orphans).toEqual([]);
  });

  it('restore expires approvals whose deadline passed while healbot was down', async () => {
    const before = book();
    const req = request({ expiresAt: new Date(Date.now() + 30).toISOString() });
    await before.approvals.wait(req);
    before.approvals.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = book();
    await after.approvals.restore();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect((await after.store.getApproval(req.id))?.status).toBe('expired');
    expect(after.expired.map((r) => r.id)).toEqual([req.id]);
  });

  it('an unknown id is not_found', async () => {
    expect(await book().approvals.decide('apr_deadbeef', ana, 'approve')).toMatchObject({
      ok: false,
      reason: 'not_found',
    });
  });

  it('an approvalTimeout longer than a timer can hold (2^31 ms) expires on time, not when the first timer fires', async () => {
    vi.useFakeTimers();
    try {
      const { approvals, store, expired } = book({ now: () => Date.now() });
      const req = request({ expiresAt: new Date(Date.now() + 2 ** 31 + 60_000).toISOString() });
      await approvals.wait(req);
      await vi.advanceTimersByTimeAsync(2 ** 31);
      expect((await store.getApproval(req.id))?.status).toBe('pending');
      expect(expired).toEqual([]);
      await vi.advanceTimersByTimeAsync(60_000);
      expect((await store.getApproval(req.id))?.status).toBe('expired');
      expect(expired.map((r) => r.id)).toEqual([req.id]);
    } finally {
      vi.useRealTimers();
    }
  });
});
