import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import type { Actor } from '../../src/engine/api.js';
import { ApprovalBook } from '../../src/engine/approvals.js';
import type { ApprovalRequest } from '../../src/engine/types.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { ApprovalRecord } from '../../src/store/store.js';

const ana: Actor = { platform: 'slack', id: 'U_ANA', display: '@ana' };
const bo: Actor = { platform: 'slack', id: 'U_BO', display: '@bo' };
const eve: Actor = { platform: 'slack', id: 'U_EVE', display: '@eve' };
const allowed = new Set(['U_ANA', 'U_BO']);
const isAllowed = (actor: Actor) => allowed.has(actor.id);

let dir: string;
let file: string;
const opened: { close(): void }[] = [];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'healbot-approvals-'));
  file = join(dir, 'healbot.db');
});

afterEach(() => {
  for (const thing of opened.splice(0)) thing.close();
  rmSync(dir, { recursive: true, force: true });
});

function book(options: { now?: () => number; store?: SqliteStore } = {}) {
  const store = options.store ?? new SqliteStore(file);
  const orphans: ApprovalRecord[] = [];
  const expired: ApprovalRecord[] = [];
  const approvals = new ApprovalBook(
    store,
    isAllowed,
    (r) => orphans.push(r),
    (r) => expired.push(r),
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
    const waiting = approvals.wait(req);
    expect(store.getApproval(req.id)?.status).toBe('pending');
    const result = approvals.decide(req.id, ana, 'approve');
    expect(result).toMatchObject({ ok: true, decision: 'approved', by: ['@ana'] });
    await expect(waiting).resolves.toEqual({ decision: 'approved', by: ['@ana'] });
    expect(store.getApproval(req.id)).toMatchObject({ status: 'approved', approvedBy: ['@ana'], decidedBy: '@ana' });
  });

  it('deny resolves the run as denied', async () => {
    const { approvals, store } = book();
    const req = request();
    const waiting = approvals.wait(req);
    expect(approvals.decide(req.id, bo, 'deny')).toMatchObject({ ok: true, decision: 'denied', by: ['@bo'] });
    await expect(waiting).resolves.toEqual({ decision: 'denied', by: ['@bo'] });
    expect(store.getApproval(req.id)?.status).toBe('denied');
    expect(approvals.decide(req.id, ana, 'approve')).toMatchObject({ ok: false, reason: 'already_decided' });
  });

  it('expires on its own timer and reports it', async () => {
    const { approvals, store, expired } = book();
    const req = request({ expiresAt: new Date(Date.now() + 50).toISOString() });
    await expect(approvals.wait(req)).resolves.toEqual({ decision: 'expired', by: [] });
    expect(store.getApproval(req.id)?.status).toBe('expired');
    expect(expired.map((r) => r.id)).toEqual([req.id]);
    const late = approvals.decide(req.id, ana, 'approve');
    expect(late).toMatchObject({ ok: false, reason: 'expired' });
    if (!late.ok) expect(late.message).toContain('/heal api');
  });

  it('a decision after the deadline is refused even before the timer fires', async () => {
    let now = Date.now();
    const { approvals, store } = book({ now: () => now });
    const req = request({ expiresAt: new Date(now + 60_000).toISOString() });
    const waiting = approvals.wait(req);
    now += 61_000;
    expect(approvals.decide(req.id, ana, 'approve')).toMatchObject({ ok: false, reason: 'expired' });
    await expect(waiting).resolves.toMatchObject({ decision: 'expired' });
    expect(store.getApproval(req.id)?.status).toBe('expired');
  });

  it('an unauthorised actor is refused and the approval stays pending', async () => {
    const { approvals, store } = book();
    const req = request();
    const waiting = approvals.wait(req);
    const refused = approvals.decide(req.id, eve, 'approve');
    expect(refused).toMatchObject({ ok: false, reason: 'not_allowed' });
    if (!refused.ok) expect(refused.message).toContain('@ana, @bo');
    expect(approvals.decide(req.id, eve, 'deny')).toMatchObject({ ok: false, reason: 'not_allowed' });
    expect(store.getApproval(req.id)).toMatchObject({ status: 'pending', approvedBy: [] });
    // It can still be decided by someone allowed.
    approvals.decide(req.id, ana, 'approve');
    await expect(waiting).resolves.toMatchObject({ decision: 'approved' });
  });

  it('two approvers: the same person twice is refused, a second person completes it', async () => {
    const { approvals, store } = book();
    const req = request({ requiredApprovals: 2 });
    let settled = false;
    const waiting = approvals.wait(req).then((d) => ((settled = true), d));
    expect(approvals.decide(req.id, ana, 'approve')).toMatchObject({ ok: true, waitingFor: 1, by: ['@ana'] });
    expect(store.getApproval(req.id)).toMatchObject({ status: 'pending', approvedBy: ['@ana'] });
    expect(approvals.decide(req.id, ana, 'approve')).toMatchObject({ ok: false, reason: 'same_approver' });
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(settled).toBe(false);
    expect(approvals.decide(req.id, bo, 'approve')).toMatchObject({
      ok: true,
      decision: 'approved',
      by: ['@ana', '@bo'],
    });
    await expect(waiting).resolves.toEqual({ decision: 'approved', by: ['@ana', '@bo'] });
    expect(store.getApproval(req.id)?.decidedBy).toBe('@ana and @bo');
  });

  it('two concurrent decides from two processes on one file: exactly one wins', async () => {
    const first = book();
    const second = book();
    const req = request();
    const waiting = first.approvals.wait(req);
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
    void before.approvals.wait(req);
    before.approvals.close();
    before.store.close();

    const after = book();
    after.approvals.restore();
    expect(after.store.pendingApprovals().map((r) => r.id)).toEqual([req.id]);
    expect(after.approvals.decide(req.id, bo, 'approve')).toMatchObject({ ok: true, decision: 'approved' });
    expect(after.orphans).toEqual([
      expect.objectContaining({ id: req.id, status: 'approved', approvedBy: ['@bo'], step: req.step }),
    ]);
  });

  it('a denial after a restart is not an orphan approval', () => {
    const before = book();
    const req = request();
    void before.approvals.wait(req);
    const after = book();
    expect(after.approvals.decide(req.id, bo, 'deny')).toMatchObject({ ok: true, decision: 'denied' });
    expect(after.orphans).toEqual([]);
  });

  it('restore expires approvals whose deadline passed while healbot was down', async () => {
    const before = book();
    const req = request({ expiresAt: new Date(Date.now() + 30).toISOString() });
    void before.approvals.wait(req);
    before.approvals.close();
    await new Promise((resolve) => setTimeout(resolve, 50));
    const after = book();
    after.approvals.restore();
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(after.store.getApproval(req.id)?.status).toBe('expired');
    expect(after.expired.map((r) => r.id)).toEqual([req.id]);
  });

  it('an unknown id is not_found', () => {
    expect(book().approvals.decide('apr_deadbeef', ana, 'approve')).toMatchObject({ ok: false, reason: 'not_found' });
  });

  it('an approvalTimeout longer than a timer can hold (2^31 ms) expires on time, not when the first timer fires', async () => {
    vi.useFakeTimers();
    try {
      const { approvals, store, expired } = book({ now: () => Date.now() });
      const req = request({ expiresAt: new Date(Date.now() + 2 ** 31 + 60_000).toISOString() });
      void approvals.wait(req);
      await vi.advanceTimersByTimeAsync(2 ** 31);
      expect(store.getApproval(req.id)?.status).toBe('pending');
      expect(expired).toEqual([]);
      await vi.advanceTimersByTimeAsync(60_000);
      expect(store.getApproval(req.id)?.status).toBe('expired');
      expect(expired.map((r) => r.id)).toEqual([req.id]);
    } finally {
      vi.useRealTimers();
    }
  });
});
