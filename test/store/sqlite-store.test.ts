import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { ApprovalRecord } from '../../src/store/store.js';

let dir: string;
let file: string;
const opened: SqliteStore[] = [];
const open = (path = file) => {
  const store = new SqliteStore(path);
  opened.push(store);
  return store;
};

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'healbot-store-'));
  file = join(dir, 'nested', 'healbot.db');
});

afterEach(() => {
  for (const store of opened.splice(0)) {
    try {
      store.close();
    } catch {
      // already closed by the test
    }
  }
  rmSync(dir, { recursive: true, force: true });
});

const approval = (over: Partial<ApprovalRecord> = {}): ApprovalRecord => ({
  id: 'apr_00000001',
  incidentId: 'inc_1',
  service: 'api',
  step: { action: 'restart', target: 'api', risk: 'risky', reason: 'x' },
  approvers: ['@ana'],
  requiredApprovals: 1,
  expiresAt: '2030-01-01T00:00:00.000Z',
  status: 'pending',
  approvedBy: [],
  ...over,
});

describe('SqliteStore', () => {
  it('keeps everything across a reopen of the same file (creating its directory)', () => {
    const first = open();
    first.saveIncident({
      id: 'inc_1',
      service: 'api',
      status: 'open',
      source: 'cli',
      openedAt: '2025-01-01T00:00:00.000Z',
      alertCount: 1,
    });
    first.updateIncident('inc_1', { status: 'closed', outcome: 'healed', summary: 'restarted api' });
    first.saveApproval(approval());
    first.recordHealAttempt('api', 1000, true);
    first.setBreakerOpen('api', true);
    first.setPaused('db', true);
    first.appendAudit({
      at: '2025-01-01T00:00:01.000Z',
      incidentId: 'inc_1',
      service: 'api',
      event: 'action',
      actor: '@ana',
      detail: { ok: true },
    });
    first.saveThread('inc_1', { platform: 'slack', channel: 'C1', thread: '1.2', statusMessage: '1.2' });
    first.claimEvent('alert-1', 'inc_1');
    first.close();

    const second = open();
    expect(second.getIncident('inc_1')).toMatchObject({
      status: 'closed',
      outcome: 'healed',
      summary: 'restarted api',
      alertCount: 1,
    });
    expect(second.getApproval('apr_00000001')?.status).toBe('pending');
    expect(second.pendingApprovals()).toHaveLength(1);
    expect(second.healAttemptsSince('api', 0)).toEqual([{ at: 1000, ok: true }]);
    expect(second.isBreakerOpen('api')).toBe(true);
    expect(second.isPaused('api')).toBe(false);
    expect(second.isPaused('db')).toBe(true);
    expect(second.listAudit({ service: 'api' })).toEqual([
      expect.objectContaining({ event: 'action', actor: '@ana', detail: { ok: true } }),
    ]);
    expect(second.getThread('inc_1', 'slack')?.thread).toBe('1.2');
    expect(second.claimEvent('alert-1')).toBe(false);
    expect(second.eventIncident('alert-1')).toBe('inc_1');
  });

  it('claimEvent is idempotent: the first claim wins, later ones return false', () => {
    const store = open();
    expect(store.claimEvent('k', 'inc_a')).toBe(true);
    expect(store.claimEvent('k', 'inc_b')).toBe(false);
    expect(store.claimEvent('k')).toBe(false);
    expect(store.eventIncident('k')).toBe('inc_a');
    expect(store.eventIncident('other')).toBeUndefined();
  });

  it('claimEvent is idempotent across two connections to one file', () => {
    const a = open();
    const b = open();
    expect([a.claimEvent('shared', 'inc_a'), b.claimEvent('shared', 'inc_b')]).toEqual([true, false]);
  });

  it('transitionApproval moves a pending approval only once', () => {
    const store = open();
    store.saveApproval(approval());
    expect(
      store.transitionApproval('apr_00000001', 'pending', approval({ status: 'approved', decidedBy: '@ana' })),
    ).toBe(true);
    expect(store.transitionApproval('apr_00000001', 'pending', approval({ status: 'denied', decidedBy: '@bo' }))).toBe(
      false,
    );
    expect(store.getApproval('apr_00000001')).toMatchObject({ status: 'approved', decidedBy: '@ana' });
    expect(store.pendingApprovals()).toEqual([]);
    expect(
      store.transitionApproval('apr_missing', 'pending', approval({ id: 'apr_missing', status: 'approved' })),
    ).toBe(false);
  });

  it('lists incidents newest first, filtered by service and status, limited', () => {
    const store = open();
    for (let i = 1; i <= 4; i++) {
      store.saveIncident({
        id: `inc_${i}`,
        service: i % 2 ? 'api' : 'db',
        status: i === 4 ? 'open' : 'closed',
        source: 'cli',
        openedAt: `2025-01-0${i}T00:00:00.000Z`,
        alertCount: 1,
      });
    }
    expect(store.listIncidents().map((r) => r.id)).toEqual(['inc_4', 'inc_3', 'inc_2', 'inc_1']);
    expect(store.listIncidents({ service: 'api' }).map((r) => r.id)).toEqual(['inc_3', 'inc_1']);
    expect(store.listIncidents({ status: 'open' }).map((r) => r.id)).toEqual(['inc_4']);
    expect(store.listIncidents({ limit: 2 }).map((r) => r.id)).toEqual(['inc_4', 'inc_3']);
    expect(store.openIncidentFor('db')?.id).toBe('inc_4');
    expect(store.openIncidentFor('api')).toBeUndefined();
  });

  it('incrementAlertCount counts joined alerts', () => {
    const store = open();
    store.saveIncident({
      id: 'inc_1',
      service: 'api',
      status: 'open',
      source: 'alert',
      openedAt: '2025-01-01T00:00:00.000Z',
      alertCount: 1,
    });
    store.incrementAlertCount('inc_1');
    store.incrementAlertCount('inc_1');
    expect(store.getIncident('inc_1')?.alertCount).toBe(3);
  });

  it('heal attempts are filtered by service and time', () => {
    const store = open();
    store.recordHealAttempt('api', 100, true);
    store.recordHealAttempt('api', 200, false);
    store.recordHealAttempt('db', 300, true);
    expect(store.healAttemptsSince('api', 150)).toEqual([{ at: 200, ok: false }]);
    expect(store.healAttemptsSince('db', 0)).toHaveLength(1);
  });

  it('flags turn off again', () => {
    const store = open();
    store.setBreakerOpen('api', true);
    store.setPaused('api', true);
    store.setBreakerOpen('api', false);
    expect(store.isBreakerOpen('api')).toBe(false);
    expect(store.isPaused('api')).toBe(true);
  });

  it('a breaker reset closes it and remembers when, leaving pause alone', () => {
    const store = open();
    expect(store.breakerResetAt('api')).toBeUndefined();
    store.setBreakerOpen('api', true);
    store.setPaused('api', true);
    store.resetBreaker('api', 1234);
    expect(store.isBreakerOpen('api')).toBe(false);
    expect(store.breakerResetAt('api')).toBe(1234);
    expect(store.isPaused('api')).toBe(true);
  });

  it(':memory: works without a file', () => {
    const store = open(':memory:');
    expect(store.claimEvent('x')).toBe(true);
  });
});
