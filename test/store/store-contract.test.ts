/**
 * The Store port's contract, run against every backend: the embedded SQLite file and a real
 * PostgreSQL (test/support/postgres.ts). Whatever one backend does, the other must do too.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterAll, afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { IncidentRecord } from '../../src/engine/api.js';
import { POSTGRES_SCHEMA_VERSION } from '../../src/store/postgres-migrations.js';
import { PostgresStore } from '../../src/store/postgres-store.js';
import { SCHEMA_VERSION, SqliteStore } from '../../src/store/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { requireOrSkip } from '../support/docker-engine.js';
import { postgresUnavailableReason, startPostgres } from '../support/postgres.js';
import { approvalRecord, incidentRecord } from '../support/store-records.js';

/** A place a store lives (a file, a database), opened as many times as a test likes. */
interface Backend {
  name: string;
  skip: boolean;
  /** A new, empty place for one test. */
  fresh(): Promise<string>;
  open(location: string): Promise<Store>;
  /** The schema version written in the place and how many times each version was recorded. */
  schema(location: string): Promise<{ version: number; expected: number; recordedOnce: boolean }>;
  /** What a restart of the machinery under the store looks like (a server restart for Postgres). */
  restart(): Promise<void>;
  cleanup(): Promise<void>;
}

const sqliteDir = mkdtempSync(join(tmpdir(), 'healbot-store-contract-'));
let sqliteFiles = 0;
const sqlite: Backend = {
  name: 'SQLite',
  skip: false,
  async fresh() {
    sqliteFiles += 1;
    return join(sqliteDir, `store-${sqliteFiles}.db`);
  },
  async open(location) {
    return new SqliteStore(location);
  },
  async schema(location) {
    const db = new Database(location, { readonly: true });
    try {
      return {
        version: db.pragma('user_version', { simple: true }) as number,
        expected: SCHEMA_VERSION,
        recordedOnce: true,
      };
    } finally {
      db.close();
    }
  },
  async restart() {},
  async cleanup() {
    rmSync(sqliteDir, { recursive: true, force: true });
  },
};

const server = await startPostgres();
const postgresSkip = !server && requireOrSkip(postgresUnavailableReason());
let databases = 0;
const postgres: Backend = {
  name: 'Postgres',
  skip: postgresSkip,
  async fresh() {
    databases += 1;
    return (server as NonNullable<typeof server>).createDatabase(`contract_${databases}`);
  },
  open: (location) => PostgresStore.open(location),
  async schema(location) {
    const client = new pg.Client({ connectionString: location });
    await client.connect();
    try {
      const { rows } = await client.query<{ version: number; n: number; distinct_n: number }>(
        'SELECT max(version) AS version, count(*)::integer AS n, count(DISTINCT version)::integer AS distinct_n FROM schema_migrations',
      );
      return {
        version: rows[0].version,
        expected: POSTGRES_SCHEMA_VERSION,
        recordedOnce: rows[0].n === rows[0].distinct_n,
      };
    } finally {
      await client.end();
    }
  },
  async restart() {
    await server?.restart();
  },
  async cleanup() {
    await server?.stop();
  },
};

afterAll(async () => {
  await sqlite.cleanup();
  await postgres.cleanup();
});

const incident = incidentRecord;
const approval = approvalRecord;

/** Millisecond timestamps of today's size: beyond 32 bits, as the store must keep them. */
const T0 = 1_764_000_000_000;

describe.each([sqlite, postgres])('Store contract: $name', (backend) => {
  let location: string;
  let store: Store;
  const opened: Store[] = [];
  const open = async () => {
    const another = await backend.open(location);
    opened.push(another);
    return another;
  };

  beforeEach(async (context) => {
    if (backend.skip) context.skip();
    location = await backend.fresh();
    store = await open();
  });

  afterEach(async () => {
    for (const each of opened.splice(0)) {
      try {
        await each.close();
      } catch {
        // closed by the test
      }
    }
  });

  describe('incidents', () => {
    it('saves an incident with its origin, labels and context, and reads back exactly what was saved', async () => {
      const saved = {
        ...incident({
          id: 'inc_1',
          requestedBy: 'slack:U1',
          context: {
            summary: 'p99 > 2s',
            links: [{ label: 'runbook', url: 'https://runbooks.example/api' }],
            labels: { alertname: 'HighLatency' },
            source: 'alertmanager',
          },
        }),
        dedupeKey: 'am:api:HighLatency',
        origin: { platform: 'slack', channel: 'C1', thread: '1700.1' },
        labels: { alertname: 'HighLatency', severity: 'page' },
      } as IncidentRecord;
      await store.saveIncident(saved);
      expect(await store.getIncident('inc_1')).toEqual(saved);
      expect(await store.getIncident('inc_404')).toBeUndefined();
    });

    it('updates by merging the patch into the stored record, and ignores an unknown id', async () => {
      await store.saveIncident(incident({ id: 'inc_1', summary: 'looking' }));
      await store.updateIncident('inc_1', {
        status: 'closed',
        closedAt: '2025-01-01T00:05:00.000Z',
        outcome: 'healed',
        summary: 'restarted api',
      });
      expect(await store.getIncident('inc_1')).toMatchObject({
        id: 'inc_1',
        source: 'alert',
        status: 'closed',
        closedAt: '2025-01-01T00:05:00.000Z',
        outcome: 'healed',
        summary: 'restarted api',
      });
      await store.updateIncident('inc_404', { status: 'closed' });
      expect(await store.getIncident('inc_404')).toBeUndefined();
    });

    it('lists newest opened first, the latest saved first on a tie, filtered by service and status, up to a limit', async () => {
      await store.saveIncident(incident({ id: 'inc_a', openedAt: '2025-01-01T00:00:00.000Z' }));
      await store.saveIncident(incident({ id: 'inc_c', openedAt: '2025-01-03T00:00:00.000Z', service: 'db' }));
      await store.saveIncident(incident({ id: 'inc_b', openedAt: '2025-01-02T00:00:00.000Z', status: 'closed' }));
      await store.saveIncident(incident({ id: 'inc_b2', openedAt: '2025-01-02T00:00:00.000Z' }));
      const ids = (list: IncidentRecord[]) => list.map((i) => i.id);
      expect(ids(await store.listIncidents())).toEqual(['inc_c', 'inc_b2', 'inc_b', 'inc_a']);
      await store.updateIncident('inc_b', { summary: 'saved again' });
      expect(ids(await store.listIncidents())).toEqual(['inc_c', 'inc_b', 'inc_b2', 'inc_a']);
      expect(ids(await store.listIncidents({ service: 'api' }))).toEqual(['inc_b', 'inc_b2', 'inc_a']);
      expect(ids(await store.listIncidents({ status: 'closed' }))).toEqual(['inc_b']);
      expect(ids(await store.listIncidents({ service: 'api', status: 'open' }))).toEqual(['inc_b2', 'inc_a']);
      expect(ids(await store.listIncidents({ limit: 2 }))).toEqual(['inc_c', 'inc_b']);
      expect(await store.listIncidents({ service: 'nothing' })).toEqual([]);
    });

    it('finds the newest open incident; its id leaves out dry runs and closed incidents', async () => {
      expect(await store.openIncidentFor('api')).toBeUndefined();
      expect(await store.openIncidentId('api')).toBeUndefined();
      await store.saveIncident(incident({ id: 'inc_old', openedAt: '2025-01-01T00:00:00.000Z' }));
      await store.saveIncident(incident({ id: 'inc_dry', openedAt: '2025-01-03T00:00:00.000Z', dryRun: true }));
      await store.saveIncident(incident({ id: 'inc_db', openedAt: '2025-01-04T00:00:00.000Z', service: 'db' }));
      expect(await store.openIncidentId('api')).toBe('inc_old');
      expect((await store.openIncidentFor('api'))?.id).toBe('inc_dry');
      await store.saveIncident(incident({ id: 'inc_new', openedAt: '2025-01-02T00:00:00.000Z' }));
      expect(await store.openIncidentId('api')).toBe('inc_new');
      await store.updateIncident('inc_new', { status: 'closed' });
      expect(await store.openIncidentId('api')).toBe('inc_old');
      await store.updateIncident('inc_old', { status: 'closed' });
      expect(await store.openIncidentId('api')).toBeUndefined();
      expect(await store.openIncidentId('db')).toBe('inc_db');
    });

    it('counts alerts without rewriting the record, and an update keeps the count', async () => {
      await store.saveIncident(incident({ id: 'inc_1', alertCount: 1 }));
      await store.incrementAlertCount('inc_1');
      await store.incrementAlertCount('inc_1', 5);
      expect((await store.getIncident('inc_1'))?.alertCount).toBe(7);
      expect((await store.listIncidents())[0].alertCount).toBe(7);
      await store.updateIncident('inc_1', { summary: 'still firing' });
      expect(await store.getIncident('inc_1')).toMatchObject({ alertCount: 7, summary: 'still firing' });
      await store.incrementAlertCount('inc_404', 3);
      expect(await store.getIncident('inc_404')).toBeUndefined();
    });

    it('counts the alerts still firing per incident', async () => {
      await store.trackFiring('inc_1', 'fp_a');
      await store.trackFiring('inc_1', 'fp_a');
      await store.trackFiring('inc_1', 'fp_b');
      await store.trackFiring('inc_2', 'fp_a');
      expect(await store.resolveFiring('inc_1', 'fp_unknown')).toBe(2);
      expect(await store.resolveFiring('inc_1', 'fp_a')).toBe(1);
      expect(await store.resolveFiring('inc_1', 'fp_a')).toBe(1);
      expect(await store.resolveFiring('inc_1', 'fp_b')).toBe(0);
      expect(await store.resolveFiring('inc_2', 'fp_b')).toBe(1);
    });
  });

  describe('events', () => {
    it('claims an event key once and remembers its incident', async () => {
      expect(await store.claimEvent('am:1', 'inc_1')).toBe(true);
      expect(await store.claimEvent('am:1', 'inc_2')).toBe(false);
      expect(await store.eventIncident('am:1')).toBe('inc_1');
      expect(await store.claimEvent('am:2')).toBe(true);
      expect(await store.eventIncident('am:2')).toBeUndefined();
      expect(await store.eventIncident('am:404')).toBeUndefined();
    });

    it('gives a key claimed by two stores at once to exactly one of them', async () => {
      const other = await open();
      for (let round = 0; round < 5; round++) {
        const claims = await Promise.all([
          store.claimEvent(`race:${round}`, 'inc_a'),
          other.claimEvent(`race:${round}`, 'inc_b'),
        ]);
        expect(claims.filter(Boolean)).toHaveLength(1);
        expect(await store.eventIncident(`race:${round}`)).toBe(claims[0] ? 'inc_a' : 'inc_b');
      }
    });
  });

  describe('approvals', () => {
    it('saves, reads, lists pending in the order saved, and moves a pending approval on once', async () => {
      await store.saveApproval(approval({ id: 'apr_1' }));
      await store.saveApproval(approval({ id: 'apr_2', service: 'db' }));
      await store.saveApproval(approval({ id: 'apr_3' }));
      expect(await store.getApproval('apr_2')).toEqual(approval({ id: 'apr_2', service: 'db' }));
      expect(await store.getApproval('apr_404')).toBeUndefined();
      expect((await store.pendingApprovals()).map((a) => a.id)).toEqual(['apr_1', 'apr_2', 'apr_3']);

      const approved = approval({
        id: 'apr_2',
        service: 'db',
        status: 'approved',
        approvedBy: ['@ana'],
        approverIds: ['slack:U1'],
        decidedBy: '@ana',
        decidedAt: '2025-01-01T00:01:00.000Z',
      });
      expect(await store.transitionApproval('apr_2', 'pending', approved)).toBe(true);
      expect(await store.transitionApproval('apr_2', 'pending', { ...approved, status: 'denied' })).toBe(false);
      expect(await store.transitionApproval('apr_404', 'pending', approved)).toBe(false);
      expect(await store.getApproval('apr_2')).toEqual(approved);
      expect((await store.pendingApprovals()).map((a) => a.id)).toEqual(['apr_1', 'apr_3']);
    });

    it('lets exactly one of ten concurrent decisions, from two stores, move an approval on', async () => {
      const other = await open();
      await store.saveApproval(approval({ id: 'apr_race' }));
      const decisions = Array.from({ length: 10 }, (_, i) =>
        approval({
          id: 'apr_race',
          status: i % 2 ? 'denied' : 'approved',
          approvedBy: [`@user${i}`],
          decidedBy: `@user${i}`,
        }),
      );
      const results = await Promise.all(
        decisions.map((decision, i) => (i % 2 ? other : store).transitionApproval('apr_race', 'pending', decision)),
      );
      expect(results.filter(Boolean)).toHaveLength(1);
      const winner = decisions[results.indexOf(true)];
      expect(await other.getApproval('apr_race')).toEqual(winner);
      expect(await store.pendingApprovals()).toEqual([]);
    });
  });

  describe('breakers, pauses and heal attempts', () => {
    it('keeps breaker and pause per service, and a reset closes the breaker and remembers when', async () => {
      expect(await store.isBreakerOpen('api')).toBe(false);
      expect(await store.isPaused('api')).toBe(false);
      expect(await store.breakerResetAt('api')).toBeUndefined();
      await store.setBreakerOpen('api', true);
      await store.setPaused('db', true);
      expect(await store.isBreakerOpen('api')).toBe(true);
      expect(await store.isPaused('api')).toBe(false);
      expect(await store.isBreakerOpen('db')).toBe(false);
      expect(await store.isPaused('db')).toBe(true);
      await store.setPaused('api', true);
      await store.resetBreaker('api', T0 + 5);
      expect(await store.isBreakerOpen('api')).toBe(false);
      expect(await store.isPaused('api')).toBe(true);
      expect(await store.breakerResetAt('api')).toBe(T0 + 5);
      await store.resetBreaker('web', T0 + 9);
      expect(await store.breakerResetAt('web')).toBe(T0 + 9);
      await store.setPaused('db', false);
      await store.setBreakerOpen('api', true);
      expect(await store.isPaused('db')).toBe(false);
      expect(await store.breakerResetAt('api')).toBe(T0 + 5);
    });

    it('lists heal attempts since a time, oldest first, per service', async () => {
      await store.recordHealAttempt('api', T0 + 300, false);
      await store.recordHealAttempt('api', T0 + 100, true);
      await store.recordHealAttempt('api', T0 + 200, true);
      await store.recordHealAttempt('db', T0 + 250, true);
      expect(await store.healAttemptsSince('api', T0 + 200)).toEqual([
        { at: T0 + 200, ok: true },
        { at: T0 + 300, ok: false },
      ]);
      expect(await store.healAttemptsSince('api', 0)).toHaveLength(3);
      expect(await store.healAttemptsSince('web', 0)).toEqual([]);
    });
  });

  describe('remediations', () => {
    it('lists runs newest first and counts successes per service and remediation', async () => {
      await store.recordRemediation('api', 'action:restart', T0 + 1, true);
      await store.recordRemediation('api', 'action:restart', T0 + 3, false);
      await store.recordRemediation('api', 'action:restart', T0 + 2, true);
      await store.recordRemediation('api', 'runbook:free-disk', T0 + 4, true);
      await store.recordRemediation('Zeta', 'action:restart', T0 + 5, false);
      await store.recordRemediation('db', 'action:restart', T0 + 6, true);
      expect(await store.remediationRuns('api', 'action:restart', 2)).toEqual([
        { at: T0 + 3, ok: false },
        { at: T0 + 2, ok: true },
      ]);
      expect(await store.remediationRuns('api', 'action:scale', 5)).toEqual([]);
      const stats = await store.remediationStats();
      // Byte order, as SQLite sorts: upper case before lower case.
      expect(stats.map((s) => `${s.service}/${s.remediation}`)).toEqual([
        'Zeta/action:restart',
        'api/action:restart',
        'api/runbook:free-disk',
        'db/action:restart',
      ]);
      expect(await store.remediationStats('api')).toEqual([
        { service: 'api', remediation: 'action:restart', runs: 3, succeeded: 2, lastAt: T0 + 3, lastOk: false },
        { service: 'api', remediation: 'runbook:free-disk', runs: 1, succeeded: 1, lastAt: T0 + 4, lastOk: true },
      ]);
      expect(await store.remediationStats('web')).toEqual([]);
    });
  });

  describe('audit and threads', () => {
    it('returns the audit log in the order written, filtered by service and time', async () => {
      const entries = [
        {
          at: '2025-01-01T00:00:03.000Z',
          service: 'api',
          incidentId: 'inc_1',
          event: 'requested',
          actor: '@ana',
          detail: { text: 'heal api' },
        },
        { at: '2025-01-01T00:00:01.000Z', service: 'db', event: 'paused', detail: {} },
        {
          at: '2025-01-01T00:00:02.000Z',
          service: 'api',
          event: 'action',
          detail: { step: { action: 'restart' }, ok: true },
        },
        { at: '2025-01-01T00:00:04.000Z', event: 'approved', actor: '@bo', detail: { approvalId: 'apr_1' } },
      ];
      for (const entry of entries) await store.appendAudit(entry);
      expect(await store.listAudit()).toEqual(entries);
      expect(await store.listAudit({ service: 'api' })).toEqual([entries[0], entries[2]]);
      expect(await store.listAudit({ since: '2025-01-01T00:00:02.000Z' })).toEqual([
        entries[0],
        entries[2],
        entries[3],
      ]);
      expect(await store.listAudit({ service: 'api', since: '2025-01-01T00:00:02.500Z' })).toEqual([entries[0]]);
    });

    it('keeps one chat thread per incident and platform', async () => {
      const slack = { platform: 'slack', channel: 'C1', thread: '1700.1', statusMessage: '1700.2' };
      await store.saveThread('inc_1', slack);
      await store.saveThread('inc_1', { platform: 'discord', channel: '42', thread: '43', statusMessage: '44' });
      expect(await store.getThread('inc_1', 'slack')).toEqual(slack);
      await store.saveThread('inc_1', { ...slack, statusMessage: '1700.9' });
      expect(await store.getThread('inc_1', 'slack')).toEqual({ ...slack, statusMessage: '1700.9' });
      expect((await store.getThread('inc_1', 'discord'))?.thread).toBe('43');
      expect(await store.getThread('inc_2', 'slack')).toBeUndefined();
    });
  });

  describe('work queue', () => {
    it('hands out queued work oldest first, each item once', async () => {
      expect(await store.takeWork(5)).toEqual([]);
      await store.enqueueWork('signal', { service: 'api', fingerprint: 'fp_1' });
      await store.enqueueWork('decision', { approvalId: 'apr_1', decision: 'approved', by: 'slack:U1' });
      await store.enqueueWork('signal', { service: 'db' });
      const first = await store.takeWork(2);
      expect(first.map((w) => [w.kind, w.payload])).toEqual([
        ['signal', { service: 'api', fingerprint: 'fp_1' }],
        ['decision', { approvalId: 'apr_1', decision: 'approved', by: 'slack:U1' }],
      ]);
      expect(first[0].seq).toBeLessThan(first[1].seq);
      expect(Number.isNaN(Date.parse(first[0].at))).toBe(false);
      expect((await store.takeWork(5)).map((w) => w.payload)).toEqual([{ service: 'db' }]);
      expect(await store.takeWork(5)).toEqual([]);
    });

    it('never hands the same item to two stores taking at once', async () => {
      const other = await open();
      for (let i = 0; i < 30; i++) await store.enqueueWork('signal', { n: i });
      const taken: number[] = [];
      for (let round = 0; round < 10; round++) {
        const [mine, theirs] = await Promise.all([store.takeWork(2), other.takeWork(2)]);
        taken.push(...[...mine, ...theirs].map((w) => (w.payload as { n: number }).n));
      }
      expect(new Set(taken).size).toBe(taken.length);
      expect([...taken].sort((a, b) => a - b)).toEqual(Array.from({ length: 30 }, (_, i) => i));
    });
  });

  describe('transactions', () => {
    it('commits every write made through the transaction at once and returns its result', async () => {
      const result = await store.transaction(async (tx) => {
        await tx.saveIncident(incident({ id: 'inc_tx' }));
        await tx.incrementAlertCount('inc_tx', 2);
        await tx.appendAudit({ at: '2025-01-01T00:00:00.000Z', service: 'api', event: 'requested', detail: {} });
        expect((await tx.getIncident('inc_tx'))?.alertCount).toBe(3);
        return 'done';
      });
      expect(result).toBe('done');
      expect((await store.getIncident('inc_tx'))?.alertCount).toBe(3);
      expect(await store.listAudit()).toHaveLength(1);
    });

    it('leaves nothing behind when the work throws, and rethrows what it threw', async () => {
      const failure = new Error('the alert batch was malformed');
      await expect(
        store.transaction(async (tx) => {
          await tx.saveIncident(incident({ id: 'inc_gone' }));
          await tx.claimEvent('am:gone', 'inc_gone');
          await tx.saveApproval(approval({ id: 'apr_gone' }));
          await tx.enqueueWork('signal', { lost: true });
          throw failure;
        }),
      ).rejects.toBe(failure);
      expect(await store.getIncident('inc_gone')).toBeUndefined();
      expect(await store.openIncidentId('api')).toBeUndefined();
      expect(await store.claimEvent('am:gone')).toBe(true);
      expect(await store.getApproval('apr_gone')).toBeUndefined();
      expect(await store.takeWork(5)).toEqual([]);
    });

    it('keeps a write made on the store itself during a transaction that rolls back', async () => {
      let outside: Promise<boolean> | undefined;
      await expect(
        store.transaction(async (tx) => {
          await tx.claimEvent('inside');
          outside = Promise.resolve(store.claimEvent('outside'));
          throw new Error('roll back');
        }),
      ).rejects.toThrow('roll back');
      expect(await outside).toBe(true);
      expect(await store.claimEvent('outside')).toBe(false);
      expect(await store.claimEvent('inside')).toBe(true);
    });
  });

  describe('durability and schema', () => {
    it('answers writable while it can write, and not once closed', async () => {
      expect(await store.writable()).toBe(true);
      await store.close();
      expect(await store.writable()).toBe(false);
    });

    it('keeps everything when reopened, even after a restart', async () => {
      await store.saveIncident(incident({ id: 'inc_1', dryRun: true }));
      await store.saveIncident(incident({ id: 'inc_2', openedAt: '2025-01-01T00:00:01.000Z' }));
      await store.incrementAlertCount('inc_2', 4);
      await store.trackFiring('inc_2', 'fp_a');
      await store.claimEvent('am:1', 'inc_2');
      await store.saveApproval(approval({ id: 'apr_1' }));
      await store.setBreakerOpen('api', true);
      await store.setPaused('db', true);
      await store.resetBreaker('web', T0);
      await store.recordHealAttempt('api', T0, false);
      await store.recordRemediation('api', 'action:restart', T0, true);
      await store.appendAudit({ at: '2025-01-01T00:00:00.000Z', service: 'api', event: 'requested', detail: { a: 1 } });
      await store.saveThread('inc_2', { platform: 'slack', channel: 'C1', thread: 't', statusMessage: 's' });
      await store.enqueueWork('decision', { approvalId: 'apr_1' });
      await store.close();
      await backend.restart();

      const reopened = await open();
      expect((await reopened.listIncidents()).map((i) => i.id)).toEqual(['inc_2', 'inc_1']);
      expect(await reopened.openIncidentId('api')).toBe('inc_2');
      expect((await reopened.getIncident('inc_2'))?.alertCount).toBe(5);
      expect(await reopened.resolveFiring('inc_2', 'fp_other')).toBe(1);
      expect(await reopened.claimEvent('am:1')).toBe(false);
      expect(await reopened.eventIncident('am:1')).toBe('inc_2');
      expect((await reopened.pendingApprovals()).map((a) => a.id)).toEqual(['apr_1']);
      expect(await reopened.isBreakerOpen('api')).toBe(true);
      expect(await reopened.isPaused('db')).toBe(true);
      expect(await reopened.breakerResetAt('web')).toBe(T0);
      expect(await reopened.healAttemptsSince('api', 0)).toEqual([{ at: T0, ok: false }]);
      expect(await reopened.remediationRuns('api', 'action:restart', 5)).toEqual([{ at: T0, ok: true }]);
      expect((await reopened.listAudit())[0].detail).toEqual({ a: 1 });
      expect((await reopened.getThread('inc_2', 'slack'))?.statusMessage).toBe('s');
      expect((await reopened.takeWork(5)).map((w) => w.payload)).toEqual([{ approvalId: 'apr_1' }]);
      expect(await reopened.writable()).toBe(true);
    });

    it('writes its schema version once, however often and however concurrently it is opened', async () => {
      await store.saveIncident(incident({ id: 'inc_1' }));
      await store.close();
      const again = await Promise.all([open(), open(), open()]);
      expect((await again[2].getIncident('inc_1'))?.id).toBe('inc_1');
      const schema = await backend.schema(location);
      expect(schema.version).toBe(schema.expected);
      expect(schema.recordedOnce).toBe(true);
    });

    it('upgrades an empty place by itself when several stores open it at once', async () => {
      const fresh = await backend.fresh();
      const stores = await Promise.all([0, 1, 2].map(() => backend.open(fresh)));
      opened.push(...stores);
      await stores[0].claimEvent('first');
      expect(await stores[1].claimEvent('first')).toBe(false);
      expect((await backend.schema(fresh)).version).toBe((await backend.schema(fresh)).expected);
    });
  });
});
