import { closeSync, openSync, readFileSync, statSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { SCHEMA_VERSION, SqliteStore } from '../../src/store/sqlite-store.js';
import { configDir, runCli } from '../support/cli.js';
import { json } from '../support/http.js';
import { startTestBot } from '../serve/harness.js';

/** A store file with a few incidents, written by healbot itself and closed cleanly. */
async function healthyStoreFile(path: string): Promise<void> {
  const store = new SqliteStore(path);
  for (let i = 0; i < 200; i += 1) {
    await store.saveIncident({
      id: `inc_${i}`,
      service: 'api',
      status: 'closed',
      source: 'cli',
      openedAt: new Date(0).toISOString(),
      alertCount: 1,
      summary: 'x'.repeat(500),
    });
  }
  await store.close();
}

describe('a damaged store is named, not guessed', () => {
  const dir = configDir();
  afterAll(() => dir.cleanup());

  const configFor = (name: string, storePath: string) =>
    dir.write(`${name}.yml`, {
      services: { api: {} },
      store: { path: storePath },
      server: { listen: '127.0.0.1:0', token: 'damaged-store-token-0123456789' },
    });

  const expectNamed = (result: { exitCode: number; stderr: string }, path: string, problem: RegExp) => {
    expect(result.exitCode).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toContain(`store.path ${path}`);
    expect(result.stderr).toMatch(problem);
    expect(result.stderr).not.toMatch(/internal error|at .*\.js:\d+/);
  };

  it('refuses random bytes in the middle of the file at start: exit 2, one line naming the path and what to do', async () => {
    const path = dir.path('garbled.db');
    await healthyStoreFile(path);
    const size = statSync(path).size;
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0xa5), 0, 4096, Math.floor(size / 2 / 4096) * 4096);
    closeSync(fd);
    const result = await runCli(['serve', '--config', configFor('garbled', path)], { timeoutMs: 30_000 });
    expectNamed(result, path, /is damaged .*move the file aside/);
  });

  it('refuses a truncated file the same way', async () => {
    const path = dir.path('truncated.db');
    await healthyStoreFile(path);
    truncateSync(path, Math.floor(statSync(path).size / 3));
    // diagnose never opens the store (it changes nothing); heal does.
    const result = await runCli(['heal', 'api', '--dry-run', '--config', configFor('truncated', path)], {
      timeoutMs: 30_000,
    });
    expectNamed(result, path, /is damaged/);
  });

  it('refuses a 0-byte file healbot did not create, instead of starting empty', async () => {
    const path = dir.path('empty.db');
    writeFileSync(path, '');
    const result = await runCli(['serve', '--config', configFor('empty', path)], { timeoutMs: 30_000 });
    expectNamed(result, path, /empty file that healbot did not create/);
    expect(readFileSync(path).length).toBe(0);
  });

  it('upgrades a store from before schema versions, keeping its incidents', async () => {
    const path = dir.path('old.db');
    const old = new Database(path);
    old.exec(`
      CREATE TABLE incidents (id TEXT PRIMARY KEY, service TEXT NOT NULL, status TEXT NOT NULL, opened_at TEXT NOT NULL, closed_at TEXT, dedupe_key TEXT, data TEXT NOT NULL);
      CREATE TABLE events (key TEXT PRIMARY KEY, incident_id TEXT, at TEXT NOT NULL);
      CREATE TABLE approvals (id TEXT PRIMARY KEY, status TEXT NOT NULL, data TEXT NOT NULL);
      CREATE TABLE heal_attempts (service TEXT NOT NULL, at INTEGER NOT NULL, ok INTEGER NOT NULL);
      CREATE TABLE service_flags (service TEXT PRIMARY KEY, breaker_open INTEGER NOT NULL DEFAULT 0, paused INTEGER NOT NULL DEFAULT 0);
      CREATE TABLE audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, service TEXT, incident_id TEXT, data TEXT NOT NULL);
      CREATE TABLE threads (incident_id TEXT NOT NULL, platform TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (incident_id, platform));
    `);
    const record = {
      id: 'inc_old',
      service: 'api',
      status: 'closed',
      source: 'cli',
      openedAt: '2025-01-01T00:00:00.000Z',
      alertCount: 1,
      summary: 'from the old schema',
    };
    old
      .prepare('INSERT INTO incidents (id, service, status, opened_at, data) VALUES (?, ?, ?, ?, ?)')
      .run(record.id, record.service, record.status, record.openedAt, JSON.stringify(record));
    old.prepare('INSERT INTO service_flags (service, breaker_open) VALUES (?, 1)').run('api');
    old.close();

    const bot = await startTestBot({ services: { api: {} } }, { storePath: path });
    try {
      const incidents = await json(await bot.call('/api/incidents'));
      expect(incidents.map((i: { id: string }) => i.id)).toEqual(['inc_old']);
      expect(await bot.bot.store.isBreakerOpen('api')).toBe(true);
      // Resetting the breaker writes a column the old schema did not have.
      await bot.bot.engine.resume('api', { platform: 'cli', id: 'ana' });
      expect(await bot.bot.store.isBreakerOpen('api')).toBe(false);
      expect(await bot.bot.store.breakerResetAt('api')).toBeGreaterThan(0);
      expect((await bot.call('/readyz')).status).toBe(200);
    } finally {
      await bot.close();
    }
    const reopened = new Database(path, { readonly: true });
    expect(reopened.pragma('user_version', { simple: true })).toBe(SCHEMA_VERSION);
    reopened.close();
  });

  it('refuses a store written by a newer healbot', async () => {
    const path = dir.path('newer.db');
    await healthyStoreFile(path);
    const db = new Database(path);
    db.pragma(`user_version = ${SCHEMA_VERSION + 1}`);
    db.close();
    const result = await runCli(['serve', '--config', configFor('newer', path)], { timeoutMs: 30_000 });
    expectNamed(result, path, /newer healbot/);
  });

  it('answers /readyz 503 while the store cannot be written', async () => {
    const path = dir.path('locked.db');
    const bot = await startTestBot({ services: { api: {} } }, { storePath: path });
    const other = new Database(path);
    try {
      expect((await bot.call('/readyz')).status).toBe(200);
      // Another process holds the write lock: healbot's writes wait out their busy timeout and fail.
      other.exec('BEGIN EXCLUSIVE');
      const res = await bot.call('/readyz');
      expect(res.status).toBe(503);
      expect((await json(res)).store).toBe('cannot be written');
      other.exec('ROLLBACK');
      expect((await bot.call('/readyz')).status).toBe(200);
    } finally {
      other.close();
      await bot.close();
    }
  });
});
