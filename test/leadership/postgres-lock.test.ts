import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { advisoryLockKey, PostgresElector } from '../../src/leadership/postgres-lock.js';
import { requireOrSkip } from '../support/docker-engine.js';
import { postgresUnavailableReason, startPostgres } from '../support/postgres.js';
import { waitFor } from '../support/wait.js';

const postgres = await startPostgres();
const skip = !postgres && requireOrSkip(postgresUnavailableReason());

describe('advisoryLockKey', () => {
  it('is a stable signed 64-bit key per name, different for different names', () => {
    expect(advisoryLockKey('healbot')).toBe(advisoryLockKey('healbot'));
    expect(advisoryLockKey('healbot')).not.toBe(advisoryLockKey('healbot-staging'));
    const key = BigInt(advisoryLockKey('healbot'));
    expect(key >= -(2n ** 63n) && key < 2n ** 63n).toBe(true);
  });
});

describe.skipIf(skip)('the Postgres leader lock', () => {
  const electors: PostgresElector[] = [];
  afterAll(async () => {
    await Promise.allSettled(electors.map((e) => e.stop()));
    await postgres?.stop();
  });

  const elector = (url: string, identity: string, changes: boolean[] = []) => {
    const made = new PostgresElector({
      url,
      identity,
      name: 'lock-test',
      leaseDurationMs: 1500,
      onChange: (leader) => changes.push(leader),
    });
    electors.push(made);
    return made;
  };

  it('lets exactly one of two replicas lead, names it to the other, and hands over when it stops', async () => {
    const url = await postgres!.createDatabase('lock_handover');
    const aChanges: boolean[] = [];
    const a = elector(url, 'replica-a', aChanges);
    const b = elector(url, 'replica-b');
    await a.start();
    await b.start();
    expect(a.isLeader()).toBe(true);
    expect(b.isLeader()).toBe(false);
    expect(b.leader()).toBe('replica-a');
    expect(b.notLeadingBecause()).toMatch(/does not hold the Postgres leader lock "lock-test" \(held by replica-a\)/);
    expect(a.notLeadingBecause()).toBeUndefined();
    await a.stop();
    expect(aChanges).toEqual([true, false]);
    await waitFor(() => b.isLeader(), 'replica-b to lead');
    expect(a.isLeader()).toBe(false);
  });

  it('says why it cannot campaign when Postgres cannot be reached, naming no password', async () => {
    const { freePort } = await import('../../src/free-port.js');
    const nowhere = elector(`postgres://healbot:hunter2-secret@127.0.0.1:${await freePort()}/healbot`, 'lonely');
    await nowhere.start();
    expect(nowhere.isLeader()).toBe(false);
    expect(nowhere.leader()).toBeUndefined();
    expect(nowhere.notLeadingBecause()).toMatch(
      /^cannot campaign for the Postgres leader lock "lock-test": .*ECONNREFUSED/,
    );
    expect(nowhere.notLeadingBecause()).not.toContain('hunter2-secret');
  });

  it('loses the lead when its session is killed, and exactly one replica leads again', async () => {
    // A password in the URL (trust auth ignores it) must never reach a log line.
    const plain = new URL(await postgres!.createDatabase('lock_killed'));
    plain.password = 'hunter2-secret';
    const url = plain.toString();
    const changes: boolean[] = [];
    const errors: string[] = [];
    const a = new PostgresElector({
      url,
      identity: 'doomed',
      name: 'lock-test',
      leaseDurationMs: 1500,
      onChange: (leader) => changes.push(leader),
      onError: (message) => errors.push(message),
    });
    electors.push(a);
    const b = elector(url, 'heir');
    await a.start();
    await b.start();
    expect(a.isLeader()).toBe(true);
    const admin = new pg.Client({ connectionString: url });
    await admin.connect();
    try {
      await admin.query(`SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'doomed'`);
    } finally {
      await admin.end();
    }
    await waitFor(() => changes.includes(false), 'the old leader to step down');
    expect(errors.join('\n')).toMatch(/Postgres leader lock at postgres:\/\//);
    // Whoever locks first next (the heir, or the old leader on a new session) leads, and only one.
    await waitFor(() => a.isLeader() !== b.isLeader(), 'one replica to lead again');
    expect([a, b].filter((e) => e.isLeader())).toHaveLength(1);
    expect(errors.join('\n')).not.toContain('hunter2-secret');
  });
});
