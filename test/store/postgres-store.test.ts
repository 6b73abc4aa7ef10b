/**
 * What only the Postgres store does, against a real PostgreSQL (test/support/postgres.ts): its
 * errors name store.url without the password, its calls have deadlines, it survives a server
 * restart, and store.url is configured and opened. The shared behaviour is in store-contract.test.ts.
 */
import pg from 'pg';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config/load.js';
import { configSecrets } from '../../src/config/secrets.js';
import { ConfigError, StoreError } from '../../src/errors.js';
import { freePort } from '../../src/free-port.js';
import { openStore } from '../../src/store/open-store.js';
import { POSTGRES_SCHEMA_VERSION } from '../../src/store/postgres-migrations.js';
import { PostgresStore, redactStoreUrl } from '../../src/store/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
import { requireOrSkip } from '../support/docker-engine.js';
import { postgresUnavailableReason, startPostgres } from '../support/postgres.js';
import { approvalRecord } from '../support/store-records.js';

const server = await startPostgres();
const skip = !server && requireOrSkip(postgresUnavailableReason());
const PASSWORD = 'hunter2-never-printed';

afterAll(async () => {
  await server?.stop();
});

let databases = 0;
const freshUrl = () => (server as NonNullable<typeof server>).createDatabase(`pgstore_${++databases}`);
/** The same URL with a password in it (the test server trusts loopback, so any password works). */
const withPassword = (url: string) => url.replace('postgres@', `postgres:${PASSWORD}@`);

const opened: Store[] = [];
afterEach(async () => {
  for (const store of opened.splice(0)) await store.close();
});
const open = async (url: string, options?: Parameters<typeof PostgresStore.open>[1]) => {
  const store = await PostgresStore.open(url, options);
  opened.push(store);
  return store;
};

/** The error a promise rejects with. */
async function failure(promise: Promise<unknown>): Promise<StoreError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(StoreError);
  const storeError = error as StoreError;
  expect(storeError.code).toBe('STORE_UNUSABLE');
  expect(storeError.message).not.toContain(PASSWORD);
  expect(storeError.message.split('\n')).toHaveLength(1);
  return storeError;
}

describe.skipIf(skip)('PostgresStore', () => {
  it('says in one line that a server cannot be reached, naming store.url without its password', async () => {
    const port = await freePort();
    const error = await failure(
      PostgresStore.open(`postgres://healbot:${PASSWORD}@127.0.0.1:${port}/healbot`, { connectTimeoutMs: 3_000 }),
    );
    expect(error.message).toMatch(
      new RegExp(`^store\\.url postgres://healbot:\\*\\*\\*@127\\.0\\.0\\.1:${port}/healbot cannot be reached \\(`),
    );
    expect(error.message).toContain('check store.url and that Postgres is running');
  });

  it('says which database does not exist', async () => {
    const url = withPassword(await freshUrl()).replace(/\/pgstore_\d+$/, '/no_such_database');
    const error = await failure(PostgresStore.open(url));
    expect(error.message).toMatch(/^store\.url postgres:\/\/postgres:\*\*\*@127\.0\.0\.1:\d+\/no_such_database/);
    expect(error.message).toContain('names a database that does not exist');
  });

  it('refuses a database written by a newer healbot and leaves it as it was', async () => {
    const url = await freshUrl();
    await (await open(url)).claimEvent('kept');
    const client = new pg.Client({ connectionString: url });
    await client.connect();
    try {
      await client.query('INSERT INTO schema_migrations (version) VALUES ($1)', [POSTGRES_SCHEMA_VERSION + 1]);
      const error = await failure(PostgresStore.open(withPassword(url)));
      expect(error.message).toContain(
        `was written by a newer healbot (schema ${POSTGRES_SCHEMA_VERSION + 1}; this one knows up to ${POSTGRES_SCHEMA_VERSION})`,
      );
      const { rows } = await client.query('SELECT key FROM events');
      expect(rows).toEqual([{ key: 'kept' }]);
    } finally {
      await client.end();
    }
  });

  it('gives up on a statement that waits past its deadline, and works again once the lock is gone', async () => {
    const url = await freshUrl();
    const store = await open(withPassword(url), { statementTimeoutMs: 300 });
    await store.saveApproval(approvalRecord({ id: 'apr_1' }));
    const decided = { ...(await store.getApproval('apr_1')), status: 'approved' } as Parameters<
      Store['transitionApproval']
    >[2];
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query("SELECT * FROM approvals WHERE id = 'apr_1' FOR UPDATE");
      const error = await failure(store.transitionApproval('apr_1', 'pending', decided));
      expect(error.message).toMatch(/^store\.url postgres:\/\/postgres:\*\*\*@.* did not answer within 300 ms/);
      await holder.query('ROLLBACK');
    } finally {
      await holder.end();
    }
    expect(await store.transitionApproval('apr_1', 'pending', decided)).toBe(true);
  });

  it('does not report a commit when a statement inside the transaction failed and the work went on', async () => {
    const store = await open(await freshUrl());
    const error = await failure(
      store.transaction(async (tx) => {
        await tx.claimEvent('before');
        await tx.incrementAlertCount('inc_1', 'many' as unknown as number).catch(() => undefined);
        await tx.claimEvent('after').catch(() => undefined);
      }),
    );
    expect(error.message).toContain('rolled the transaction back');
    expect(await store.claimEvent('before')).toBe(true);
  });

  it('rolls back a nested transaction alone, and refuses calls on a transaction that has ended', async () => {
    const store = await open(await freshUrl());
    let ended: Store | undefined;
    await store.transaction(async (tx) => {
      ended = tx;
      await tx.claimEvent('outer');
      await expect(
        tx.transaction(async (inner) => {
          await inner.claimEvent('inner');
          throw new Error('inner fails');
        }),
      ).rejects.toThrow('inner fails');
      await tx.claimEvent('outer, after');
    });
    expect(await store.claimEvent('outer')).toBe(false);
    expect(await store.claimEvent('outer, after')).toBe(false);
    expect(await store.claimEvent('inner')).toBe(true);
    await expect(ended?.claimEvent('late')).rejects.toThrow(/transaction this store belonged to has ended/);
  });

  it('carries on after the server restarts under it', async () => {
    const store = await open(await freshUrl());
    await store.claimEvent('before');
    await server?.restart();
    expect(await store.claimEvent('before')).toBe(false);
    expect(await store.claimEvent('after')).toBe(true);
    expect(await store.writable()).toBe(true);
  });

  it('is what openStore opens when store.url is set, and SQLite otherwise', async () => {
    const url = await freshUrl();
    const config = parseConfig({ services: { api: { docker: { container: 'api' } } }, store: { url } });
    const store = await openStore(config.store);
    opened.push(store);
    expect(store).toBeInstanceOf(PostgresStore);
    expect(await store.claimEvent('via openStore')).toBe(true);
    const embedded = await openStore(parseConfig({ services: { api: { docker: { container: 'api' } } } }).store);
    opened.push(embedded);
    expect(embedded).toBeInstanceOf(SqliteStore);
  });
});

describe('store.url', () => {
  const withStore = (store: unknown) => parseConfig({ services: { api: { docker: { container: 'api' } } }, store });

  it('takes a postgres:// or postgresql:// URL whose password is a secret', () => {
    const url = `postgresql://healbot:${PASSWORD}@db.internal:5432/healbot?sslmode=require`;
    expect(withStore({ url }).store.url).toBe(url);
    expect(withStore({ url: 'postgres://db/healbot' }).store).toEqual({
      path: ':memory:',
      url: 'postgres://db/healbot',
      leader: { name: 'healbot', leaseDuration: 15_000 },
    });
    expect(configSecrets(withStore({ url }))).toContain(PASSWORD);
  });

  it('names store.url when it is not a Postgres URL, without echoing it', () => {
    const bad = `mysql://healbot:${PASSWORD}@db/healbot`;
    expect(() => withStore({ url: bad })).toThrow(ConfigError);
    expect(() => withStore({ url: bad })).toThrow(/store\.url: must be a postgres:\/\/ or postgresql:\/\/ URL/);
    expect(() => withStore({ url: bad })).not.toThrow(new RegExp(PASSWORD));
  });

  it('is shown with its password and secret parameters redacted', () => {
    expect(
      redactStoreUrl(`postgres://healbot:${PASSWORD}@db:5432/healbot?sslpassword=${PASSWORD}&sslmode=verify-full`),
    ).toBe('postgres://healbot:***@db:5432/healbot?sslpassword=***&sslmode=verify-full');
    expect(redactStoreUrl('postgres://db/healbot')).toBe('postgres://db/healbot');
  });
});
