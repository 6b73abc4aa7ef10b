import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { createRedactor } from '../../src/redact.js';
import { redactingStore } from '../../src/store/redacting-store.js';
import { SCHEMA_VERSION, SqliteStore } from '../../src/store/sqlite-store.js';
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

afterEach(async () => {
  for (const store of opened.splice(0)) {
    try {
      await store.close();
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
  it('keeps everything across a reopen of the same file (creating its directory)', async () => {
    const first = open();
    await first.saveIncident({
      id: 'inc_1',
      service: 'api',
      status: 'open',
      source: 'cli',
      openedAt: '2025-01-01T00:00:00.000Z',
      alertCount: 1,
    });
    await first.updateIncident('inc_1', { status: 'closed', outcome: 'healed', summary: 'restarted api' });
    await first.saveApproval(approval());
    await first.recordHealAttempt('api', 1000, true);
    await first.setBreakerOpen('api', true);
    await first.setPaused('db', true);
    await first.appendAudit({
      at: '2025-01-01T00:00:01.000Z',
      incidentId: 'inc_1',
      service: 'api',
      event: 'action',
      actor: '@ana',
      detail: { ok: true },
    });
    await first.saveThread('inc_1', { platform: 'slack', channel: 'C1', thread: '1.2', statusMessage: '1.2' });
    await first.claimEvent('alert-1', 'inc_1');
    await first.close();

    const second = open();
    expect(await second.getIncident('inc_1')).toMatchObject({
      status: 'closed',
      outcome: 'healed',
      summary: 'restarted api',
      alertCount: 1,
    });
    expect((await second.getApproval('apr_00000001'))?.status).toBe('pending');
    expect(await second.pendingApprovals()).toHaveLength(1);
    expect(await second.healAttemptsSince('api', 0)).toEqual([{ at: 1000, ok: true }]);
    expect(await second.isBreakerOpen('api')).toBe(true);
    expect(await second.isPaused('api')).toBe(false);
    expect(await second.isPaused('db')).toBe(true);
    expect(await second.listAudit({ service: 'api' })).toEqual([
      expect.objectContaining({ event: 'action', actor: '@ana', detail: { ok: true } }),
    ]);
    expect((await second.getThread('inc_1', 'slack'))?.thread).toBe('1.2');
    expect(await second.claimEvent('alert-1')).toBe(false);
    expect(await second.eventIncident('alert-1')).toBe('inc_1');
  });

  it('claimEvent is idempotent: the first claim wins, later ones return false', async () => {
    const store = open();
    expect(await store.claimEvent('k', 'inc_a')).toBe(true);
    expect(await store.claimEvent('k', 'inc_b')).toBe(false);
    expect(await store.claimEvent('k')).toBe(false);
    expect(await store.eventIncident('k')).toBe('inc_a');
    expect(await store.eventIncident('other')).toBeUndefined();
  });

  it('claimEvent is idempotent across two connections to one file', async () => {
    const a = open();
    const b = open();
    expect([await a.claimEvent('shared', 'inc_a'), await b.claimEvent('shared', 'inc_b')]).toEqual([true, false]);
  });

  it('transitionApproval moves a pending approval only once', async () => {
    const store = open();
    await store.saveApproval(approval());
    expect(
      await store.transitionApproval('apr_00000001', 'pending', approval({ status: 'approved', decidedBy: '@ana' })),
    ).toBe(true);
    expect(
      await store.transitionApproval('apr_00000001', 'pending', approval({ status: 'denied', decidedBy: '@bo' })),
    ).toBe(false);
    expect(await store.getApproval('apr_00000001')).toMatchObject({ status: 'approved', decidedBy: '@ana' });
    expect(await store.pendingApprovals()).toEqual([]);
    expect(
      await store.transitionApproval('apr_missing', 'pending', approval({ id: 'apr_missing', status: 'approved' })),
    ).toBe(false);
  });

  it('lists incidents newest first, filtered by service and status, limited', async () => {
    const store = open();
    for (let i = 1; i <= 4; i++) {
      await store.saveIncident({
        id: `inc_${i}`,
        service: i % 2 ? 'api' : 'db',
        status: i === 4 ? 'open' : 'closed',
        source: 'cli',
        openedAt: `2025-01-0${i}T00:00:00.000Z`,
        alertCount: 1,
      });
    }
    expect((await store.listIncidents()).map((r) => r.id)).toEqual(['inc_4', 'inc_3', 'inc_2', 'inc_1']);
    expect((await store.listIncidents({ service: 'api' })).map((r) => r.id)).toEqual(['inc_3', 'inc_1']);
    expect((await store.listIncidents({ status: 'open' })).map((r) => r.id)).toEqual(['inc_4']);
    expect((await store.listIncidents({ limit: 2 })).map((r) => r.id)).toEqual(['inc_4', 'inc_3']);
    expect((await store.openIncidentFor('db'))?.id).toBe('inc_4');
    expect(await store.openIncidentFor('api')).toBeUndefined();
  });

  it('incrementAlertCount counts joined alerts', async () => {
    const store = open();
    await store.saveIncident({
      id: 'inc_1',
      service: 'api',
      status: 'open',
      source: 'alert',
      openedAt: '2025-01-01T00:00:00.000Z',
      alertCount: 1,
    });
    await store.incrementAlertCount('inc_1');
    await store.incrementAlertCount('inc_1');
    expect((await store.getIncident('inc_1'))?.alertCount).toBe(3);
  });

  it('heal attempts are filtered by service and time', async () => {
    const store = open();
    await store.recordHealAttempt('api', 100, true);
    await store.recordHealAttempt('api', 200, false);
    await store.recordHealAttempt('db', 300, true);
    expect(await store.healAttemptsSince('api', 150)).toEqual([{ at: 200, ok: false }]);
    expect(await store.healAttemptsSince('db', 0)).toHaveLength(1);
  });

  it('flags turn off again', async () => {
    const store = open();
    await store.setBreakerOpen('api', true);
    await store.setPaused('api', true);
    await store.setBreakerOpen('api', false);
    expect(await store.isBreakerOpen('api')).toBe(false);
    expect(await store.isPaused('api')).toBe(true);
  });

  it('a breaker reset closes it and remembers when, leaving pause alone', async () => {
    const store = open();
    expect(await store.breakerResetAt('api')).toBeUndefined();
    await store.setBreakerOpen('api', true);
    await store.setPaused('api', true);
    await store.resetBreaker('api', 1234);
    expect(await store.isBreakerOpen('api')).toBe(false);
    expect(await store.breakerResetAt('api')).toBe(1234);
    expect(await store.isPaused('api')).toBe(true);
  });

  it(':memory: works without a file', async () => {
    const store = open(':memory:');
    expect(await store.claimEvent('x')).toBe(true);
  });
});

const incident = (id: string, service = 'api') => ({
  id,
  service,
  status: 'open' as const,
  source: 'cli' as const,
  openedAt: '2025-01-01T00:00:00.000Z',
  alertCount: 1,
});

describe('SqliteStore transactions', () => {
  it('commits every write of the work at once and answers what the work returned', async () => {
    const store = open();
    const result = await store.transaction(async (tx) => {
      await tx.saveIncident(incident('inc_1'));
      await tx.incrementAlertCount('inc_1', 24);
      expect(await tx.claimEvent('alert-1', 'inc_1')).toBe(true);
      return 'done';
    });
    expect(result).toBe('done');
    const other = open();
    expect((await other.getIncident('inc_1'))?.alertCount).toBe(25);
    expect(await other.eventIncident('alert-1')).toBe('inc_1');
  });

  it('rolls every write back and rethrows when the work throws', async () => {
    const store = open();
    await expect(
      store.transaction(async (tx) => {
        await tx.saveIncident(incident('inc_1'));
        expect(await tx.openIncidentId('api')).toBe('inc_1');
        throw new Error('the work failed');
      }),
    ).rejects.toThrow('the work failed');
    expect(await store.getIncident('inc_1')).toBeUndefined();
    // A lookup the rolled-back write answered is not remembered.
    expect(await store.openIncidentId('api')).toBeUndefined();
    // The store takes the next transaction.
    await store.transaction(async (tx) => tx.saveIncident(incident('inc_2')));
    expect(await store.openIncidentId('api')).toBe('inc_2');
  });

  it('makes calls on the store itself wait until the transaction ends: never swept into it, never rolled back with it', async () => {
    const store = open();
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const order: string[] = [];
    const transaction = store
      .transaction(async (tx) => {
        await tx.saveIncident(incident('inc_tx'));
        order.push('tx wrote');
        await held;
        order.push('tx ends');
        throw new Error('rolled back');
      })
      .catch((error: Error) => error.message);
    // Started while the transaction is open: it must neither see nor join it.
    const outside = store.saveIncident(incident('inc_outside', 'db')).then(() => order.push('outside wrote'));
    const read = store.getIncident('inc_tx').then((record) => {
      order.push('outside read');
      return record;
    });
    await new Promise((resolve) => setTimeout(resolve, 20));
    expect(order).toEqual(['tx wrote']);
    release();
    expect(await transaction).toBe('rolled back');
    await outside;
    expect(await read).toBeUndefined();
    expect(order).toEqual(['tx wrote', 'tx ends', 'outside wrote', 'outside read']);
    expect(await open().getIncident('inc_outside')).toMatchObject({ service: 'db' });
  });

  it('runs a transaction started on the transaction inline, and one started on the store after it', async () => {
    const store = open();
    const order: string[] = [];
    const first = store.transaction(async (tx) => {
      await tx.transaction(async (inner) => {
        expect(inner).toBe(tx);
        await inner.saveIncident(incident('inc_inner'));
      });
      order.push('first');
      await new Promise((resolve) => setTimeout(resolve, 10));
      order.push('first ends');
    });
    const second = store.transaction(async (tx) => {
      order.push('second');
      expect(await tx.getIncident('inc_inner')).toMatchObject({ id: 'inc_inner' });
    });
    await Promise.all([first, second]);
    expect(order).toEqual(['first', 'first ends', 'second']);
  });

  it('serialises concurrent read-modify-write transactions: no update is lost', async () => {
    const store = open();
    await store.saveIncident(incident('inc_1'));
    await Promise.all(
      Array.from({ length: 20 }, () =>
        store.transaction(async (tx) => {
          const current = (await tx.getIncident('inc_1'))!;
          await new Promise((resolve) => setImmediate(resolve));
          await tx.updateIncident('inc_1', { alertCount: current.alertCount + 1 });
        }),
      ),
    );
    expect((await store.getIncident('inc_1'))?.alertCount).toBe(21);
  });

  it('a call on a transaction that ended waits like a call on the store', async () => {
    const store = open();
    let kept: import('../../src/store/store.js').Store | undefined;
    await store.transaction(async (tx) => {
      kept = tx;
    });
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const next = store.transaction(async () => held);
    let done = false;
    const late = kept!.claimEvent('late').then(() => (done = true));
    await new Promise((resolve) => setTimeout(resolve, 10));
    expect(done).toBe(false);
    release();
    await Promise.all([next, late]);
    expect(done).toBe(true);
  });

  it('through the redactor, the transaction store redacts its writes too', async () => {
    const raw = open();
    const store = redactingStore(raw, createRedactor(['s3cr3t-token-value']));
    await store.transaction(async (tx) => {
      await tx.saveIncident({ ...incident('inc_1'), summary: 'login with s3cr3t-token-value failed' });
      await tx.appendAudit({ at: '2025-01-01T00:00:00Z', event: 'info', detail: { said: 's3cr3t-token-value' } });
      await tx.enqueueWork('signal', { text: 'token s3cr3t-token-value' });
    });
    const dump = JSON.stringify([await raw.getIncident('inc_1'), await raw.listAudit(), await raw.takeWork(10)]);
    expect(dump).toContain('login with');
    expect(dump).not.toContain('s3cr3t-token-value');
  });
});

describe('SqliteStore work queue', () => {
  it('hands out queued work oldest first, up to the limit, with its payload', async () => {
    const store = open();
    await store.enqueueWork('signal', { service: 'api', n: 1 });
    await store.enqueueWork('decision', { approval: 'apr_1', decision: 'approve' });
    await store.enqueueWork('signal', { service: 'api', n: 3 });
    const first = await store.takeWork(2);
    expect(first.map((w) => [w.kind, w.payload])).toEqual([
      ['signal', { service: 'api', n: 1 }],
      ['decision', { approval: 'apr_1', decision: 'approve' }],
    ]);
    expect(first[0].seq).toBeLessThan(first[1].seq);
    expect(Date.parse(first[0].at)).not.toBeNaN();
    expect((await store.takeWork(10)).map((w) => w.payload)).toEqual([{ service: 'api', n: 3 }]);
    expect(await store.takeWork(10)).toEqual([]);
  });

  it('gives each item to exactly one taker, across two connections to one file, and keeps it across a reopen', async () => {
    const writer = open();
    for (let i = 0; i < 50; i += 1) await writer.enqueueWork('signal', { i });
    await writer.close();
    const [a, b] = [open(), open()];
    const taken: number[] = [];
    await Promise.all(
      [a, b].map(async (store) => {
        for (;;) {
          const batch = await store.takeWork(3);
          if (batch.length === 0) return;
          taken.push(...batch.map((w) => (w.payload as { i: number }).i));
        }
      }),
    );
    expect(taken.sort((x, y) => x - y)).toEqual(Array.from({ length: 50 }, (_, i) => i));
  });

  it('is created by a versioned migration when an older store file is opened', async () => {
    const before = open();
    await before.close();
    const db = new Database(file);
    db.exec('DROP TABLE work_queue');
    db.pragma(`user_version = ${SCHEMA_VERSION - 1}`);
    db.close();
    const upgraded = open();
    await upgraded.enqueueWork('signal', { ok: true });
    expect((await upgraded.takeWork(1))[0].payload).toEqual({ ok: true });
    const check = new Database(file, { readonly: true });
    expect(check.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    check.close();
  });
});
