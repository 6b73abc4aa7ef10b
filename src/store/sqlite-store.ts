import { existsSync, mkdirSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import type { IncidentRecord, RemediationStats } from '../engine/api.js';
import { describeError, StoreError } from '../errors.js';
import type { QueuedWork } from '../engine/ports/store.js';
import type { ApprovalRecord, AuditEntry, Store, StoredThread } from './store.js';

/** The schema healbot started with (user_version 1); files from before versioning have exactly this. */
const SCHEMA_V1 = `
CREATE TABLE IF NOT EXISTS incidents (
  id TEXT PRIMARY KEY, service TEXT NOT NULL, status TEXT NOT NULL, opened_at TEXT NOT NULL,
  closed_at TEXT, dedupe_key TEXT, data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS incidents_service ON incidents(service, status);
CREATE TABLE IF NOT EXISTS events (key TEXT PRIMARY KEY, incident_id TEXT, at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS approvals (id TEXT PRIMARY KEY, status TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS heal_attempts (service TEXT NOT NULL, at INTEGER NOT NULL, ok INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS service_flags (service TEXT PRIMARY KEY, breaker_open INTEGER NOT NULL DEFAULT 0, paused INTEGER NOT NULL DEFAULT 0);
CREATE TABLE IF NOT EXISTS audit (seq INTEGER PRIMARY KEY AUTOINCREMENT, at TEXT NOT NULL, service TEXT, incident_id TEXT, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS threads (incident_id TEXT NOT NULL, platform TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (incident_id, platform));
`;

/**
 * Schema changes, in order: entry i upgrades a file from user_version i+1 to i+2. A file is
 * upgraded in one transaction when healbot opens it; a new change is a new entry, never an edit.
 */
const MIGRATIONS: readonly ((db: Database.Database) => void)[] = [
  (db) => {
    const columns = db.prepare('PRAGMA table_info(service_flags)').all() as { name: string }[];
    if (!columns.some((c) => c.name === 'breaker_reset_at'))
      db.exec('ALTER TABLE service_flags ADD COLUMN breaker_reset_at INTEGER');
  },
  (db) => db.exec('CREATE TABLE IF NOT EXISTS health (probe TEXT PRIMARY KEY, at INTEGER NOT NULL)'),
  (db) =>
    db.exec(`CREATE TABLE IF NOT EXISTS remediations (service TEXT NOT NULL, remediation TEXT NOT NULL, at INTEGER NOT NULL, ok INTEGER NOT NULL);
      CREATE INDEX IF NOT EXISTS remediations_by_name ON remediations(service, remediation, at);`),
  // The alerts still firing on each incident, so the first of many to resolve does not end it.
  (db) =>
    db.exec(
      'CREATE TABLE IF NOT EXISTS firing (incident_id TEXT NOT NULL, fingerprint TEXT NOT NULL, PRIMARY KEY (incident_id, fingerprint))',
    ),
  // Counting an alert rewrites one integer, not the whole incident record.
  (db) => db.exec('ALTER TABLE incidents ADD COLUMN alert_count INTEGER'),
  // Work handed between replicas, oldest first.
  (db) =>
    db.exec(
      'CREATE TABLE IF NOT EXISTS work_queue (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL, payload TEXT NOT NULL, at TEXT NOT NULL)',
    ),
];

/** The schema version this healbot writes. */
export const SCHEMA_VERSION = 1 + MIGRATIONS.length;

const MOVE_ASIDE =
  'stop healbot, move the file aside (keep it: `sqlite3 FILE .recover` can save what is left) and start again for an empty store, or restore a backup';

function openChecked(path: string): Database.Database {
  const file = path === ':memory:' ? undefined : path;
  if (file && existsSync(file) && statSync(file).size === 0 && !existsSync(`${file}-wal`)) {
    // healbot writes its schema as soon as it creates a file; an empty one was made by something else, or truncated.
    throw new StoreError(
      file,
      'is an empty file that healbot did not create (its history, approvals and breakers would be silently gone)',
      `remove it to start with an empty store, or restore the right file`,
    );
  }
  if (file) mkdirSync(dirname(file), { recursive: true });
  let db: Database.Database | undefined;
  try {
    db = new Database(path);
    const problems = (db.pragma('quick_check(5)') as { quick_check: string }[])
      .map((row) => row.quick_check)
      .filter((line) => !line.startsWith('***'));
    if (problems[0] !== 'ok') throw new Error(`integrity check failed: ${problems[0] ?? 'unknown problem'}`);
    return db;
  } catch (error) {
    db?.close();
    if (!file) throw error;
    const lines = (error as Error).message.split('\n');
    const reason = `${lines.find((line) => line.trim() && !line.startsWith('***')) ?? lines[0]}`.trim();
    if (
      (error as { code?: string }).code === 'SQLITE_CANTOPEN' ||
      (error as { code?: string }).code === 'SQLITE_READONLY'
    ) {
      throw new StoreError(
        file,
        `cannot be opened for writing (${reason})`,
        'check that the directory exists and is writable by healbot, or set store.path elsewhere',
        { cause: error },
      );
    }
    throw new StoreError(file, `is damaged (${reason})`, MOVE_ASIDE.replace('FILE', file), { cause: error });
  }
}

type Row = { data: string; alert_count?: number | null };

/** An incident row as a record; the alert count lives in its own column. */
const incidentOf = (row: Row): IncidentRecord => {
  const record = JSON.parse(row.data) as IncidentRecord;
  if (row.alert_count !== undefined && row.alert_count !== null) record.alertCount = row.alert_count;
  return record;
};

/**
 * The embedded SQLite store (`:memory:` for throwaway runs such as the CLI without a store path).
 * better-sqlite3 is synchronous: every method runs at once and resolves committed. A transaction
 * spans awaits (BEGIN IMMEDIATE … COMMIT around its work), so while one is open, calls made on
 * the store itself wait for it to end; only calls on the transaction's own view run inside it.
 */
export class SqliteStore implements Store {
  private readonly db: Database.Database;

  /** Shared with transaction views: settles when the open transaction ends. */
  private readonly gate: { open?: Promise<void> } = {};

  /** True on the view handed to a transaction's work while that transaction is open. */
  private bound = false;

  /**
   * Whether this call must wait for a transaction someone else opened (cheap when none is open).
   * Callers check again after each wait, right before their statement: nothing runs between.
   */
  private waits(): boolean {
    return this.gate.open !== undefined && !this.bound;
  }

  /** Prepared once: the alert path runs these for every alert. */
  private readonly statements = new Map<string, Database.Statement>();

  private statement(sql: string): Database.Statement {
    let statement = this.statements.get(sql);
    if (!statement) this.statements.set(sql, (statement = this.db.prepare(sql)));
    return statement;
  }

  /**
   * Opens (or creates) the store: an integrity check first, then the schema upgraded to this
   * healbot's version. A damaged, foreign-empty or newer file is a StoreError naming the path.
   */
  constructor(private readonly path: string) {
    this.db = openChecked(path);
    try {
      this.db.pragma('journal_mode = WAL');
      // In WAL mode, NORMAL commits survive a killed process (SIGKILL, a crash): the WAL is in the
      // OS before a commit returns. Only an OS crash or power loss can drop the last commits, and
      // FULL would fsync every commit, which caps alert intake at a few hundred commits per second.
      this.db.pragma('synchronous = NORMAL');
      this.db.pragma('busy_timeout = 5000');
      this.migrate();
    } catch (error) {
      this.db.close();
      if (error instanceof StoreError || path === ':memory:') throw error;
      throw new StoreError(path, `could not be prepared (${describeError(error)})`, MOVE_ASIDE.replace('FILE', path), {
        cause: error,
      });
    }
  }

  private migrate(): void {
    const version = this.db.pragma('user_version', { simple: true }) as number;
    if (version > SCHEMA_VERSION) {
      throw new StoreError(
        this.path,
        `was written by a newer healbot (schema ${version}; this one knows up to ${SCHEMA_VERSION})`,
        'upgrade healbot, or point store.path at another file',
      );
    }
    if (version === SCHEMA_VERSION) return;
    this.db.transaction(() => {
      // A file from before versioning (user_version 0) has the first schema, or nothing yet.
      if (version === 0) this.db.exec(SCHEMA_V1);
      for (let next = Math.max(version, 1); next < SCHEMA_VERSION; next += 1) MIGRATIONS[next - 1](this.db);
      this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    })();
  }

  /** Whether a write reaches the file now (for /readyz): false when the disk is full, the file read-only or locked. */
  async writable(): Promise<boolean> {
    while (this.waits()) await this.gate.open;
    try {
      this.db.prepare('INSERT OR REPLACE INTO health (probe, at) VALUES (?, ?)').run('ready', Date.now());
      return true;
    } catch {
      return false;
    }
  }

  /** The newest open incident (not a dry run) per service; every incident write goes through saveIncident, which forgets the service's entry. */
  private readonly openIds = new Map<string, string | undefined>();

  async saveIncident(record: IncidentRecord & { dedupeKey?: string }): Promise<void> {
    while (this.waits()) await this.gate.open;
    this.writeIncident(record);
  }

  private writeIncident(record: IncidentRecord & { dedupeKey?: string }): void {
    this.openIds.delete(record.service);
    this.statement(
      'INSERT OR REPLACE INTO incidents (id, service, status, opened_at, closed_at, dedupe_key, data, alert_count) VALUES (?, ?, ?, ?, ?, ?, ?, ?)',
    ).run(
      record.id,
      record.service,
      record.status,
      record.openedAt,
      record.closedAt ?? null,
      record.dedupeKey ?? null,
      JSON.stringify(record),
      record.alertCount,
    );
  }

  async updateIncident(id: string, patch: Partial<IncidentRecord>): Promise<void> {
    while (this.waits()) await this.gate.open;
    const update = this.db.transaction(() => {
      const current = this.readIncident(id);
      if (!current) return;
      this.writeIncident({ ...current, ...patch });
    });
    update();
  }

  async getIncident(id: string): Promise<IncidentRecord | undefined> {
    while (this.waits()) await this.gate.open;
    return this.readIncident(id);
  }

  private readIncident(id: string): IncidentRecord | undefined {
    const row = this.statement('SELECT data, alert_count FROM incidents WHERE id = ?').get(id) as Row | undefined;
    return row ? incidentOf(row) : undefined;
  }

  async listIncidents(
    filter: { service?: string; limit?: number; status?: 'open' | 'closed' } = {},
  ): Promise<IncidentRecord[]> {
    while (this.waits()) await this.gate.open;
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.service) where.push('service = ?'), args.push(filter.service);
    if (filter.status) where.push('status = ?'), args.push(filter.status);
    const sql = `SELECT data, alert_count FROM incidents ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY opened_at DESC, rowid DESC LIMIT ?`;
    return (this.statement(sql).all(...args, filter.limit ?? 1000) as Row[]).map(incidentOf);
  }

  async openIncidentFor(service: string): Promise<IncidentRecord | undefined> {
    while (this.waits()) await this.gate.open;
    const row = this.db
      .prepare(
        "SELECT data, alert_count FROM incidents WHERE service = ? AND status = 'open' ORDER BY opened_at DESC LIMIT 1",
      )
      .get(service) as Row | undefined;
    return row ? incidentOf(row) : undefined;
  }

  async openIncidentId(service: string): Promise<string | undefined> {
    while (this.waits()) await this.gate.open;
    if (this.openIds.has(service)) return this.openIds.get(service);
    const row = this.statement(
      "SELECT id FROM incidents WHERE service = ? AND status = 'open' AND json_extract(data, '$.dryRun') IS NOT 1 ORDER BY opened_at DESC, rowid DESC LIMIT 1",
    ).get(service) as { id: string } | undefined;
    this.openIds.set(service, row?.id);
    return row?.id;
  }

  async incrementAlertCount(id: string, by = 1): Promise<void> {
    while (this.waits()) await this.gate.open;
    this.statement(
      "UPDATE incidents SET alert_count = COALESCE(alert_count, json_extract(data, '$.alertCount')) + ? WHERE id = ?",
    ).run(by, id);
  }

  async trackFiring(incidentId: string, fingerprint: string): Promise<void> {
    while (this.waits()) await this.gate.open;
    this.statement('INSERT OR IGNORE INTO firing (incident_id, fingerprint) VALUES (?, ?)').run(
      incidentId,
      fingerprint,
    );
  }

  async resolveFiring(incidentId: string, fingerprint: string): Promise<number> {
    while (this.waits()) await this.gate.open;
    this.statement('DELETE FROM firing WHERE incident_id = ? AND fingerprint = ?').run(incidentId, fingerprint);
    return (this.statement('SELECT count(*) AS n FROM firing WHERE incident_id = ?').get(incidentId) as { n: number })
      .n;
  }

  async claimEvent(key: string, incidentId?: string): Promise<boolean> {
    while (this.waits()) await this.gate.open;
    return (
      this.statement('INSERT OR IGNORE INTO events (key, incident_id, at) VALUES (?, ?, ?)').run(
        key,
        incidentId ?? null,
        new Date().toISOString(),
      ).changes === 1
    );
  }

  async eventIncident(key: string): Promise<string | undefined> {
    while (this.waits()) await this.gate.open;
    const row = this.statement('SELECT incident_id FROM events WHERE key = ?').get(key) as
      | { incident_id: string | null }
      | undefined;
    return row?.incident_id ?? undefined;
  }

  async saveApproval(record: ApprovalRecord): Promise<void> {
    while (this.waits()) await this.gate.open;
    this.db
      .prepare('INSERT OR REPLACE INTO approvals (id, status, data) VALUES (?, ?, ?)')
      .run(record.id, record.status, JSON.stringify(record));
  }

  async getApproval(id: string): Promise<ApprovalRecord | undefined> {
    while (this.waits()) await this.gate.open;
    const row = this.db.prepare('SELECT data FROM approvals WHERE id = ?').get(id) as Row | undefined;
    return row ? JSON.parse(row.data) : undefined;
  }

  async transitionApproval(id: string, from: 'pending', to: ApprovalRecord): Promise<boolean> {
    while (this.waits()) await this.gate.open;
    return (
      this.db
        .prepare('UPDATE approvals SET status = ?, data = ? WHERE id = ? AND status = ?')
        .run(to.status, JSON.stringify(to), id, from).changes === 1
    );
  }

  async pendingApprovals(): Promise<ApprovalRecord[]> {
    while (this.waits()) await this.gate.open;
    return (this.statement("SELECT data FROM approvals WHERE status = 'pending'").all() as Row[]).map((r) =>
      JSON.parse(r.data),
    );
  }

  async recordHealAttempt(service: string, at: number, ok: boolean): Promise<void> {
    while (this.waits()) await this.gate.open;
    this.db.prepare('INSERT INTO heal_attempts (service, at, ok) VALUES (?, ?, ?)').run(service, at, ok ? 1 : 0);
  }

  async healAttemptsSince(service: string, since: number): Promise<{ at: number; ok: boolean }[]> {
    while (this.waits()) await this.gate.open;
    return (
      this.db
        .prepare('SELECT at, ok FROM heal_attempts WHERE service = ? AND at >= ? ORDER BY at')
        .all(service, since) as { at: number; ok: number }[]
    ).map((r) => ({ at: r.at, ok: r.ok === 1 }));
  }

  private flag(service: string, column: 'breaker_open' | 'paused'): boolean {
    const row = this.db.prepare(`SELECT ${column} AS value FROM service_flags WHERE service = ?`).get(service) as
      | { value: number }
      | undefined;
    return row?.value === 1;
  }

  private setFlag(service: string, column: 'breaker_open' | 'paused', value: boolean): void {
    this.db
      .prepare(
        `INSERT INTO service_flags (service, ${column}) VALUES (?, ?) ON CONFLICT(service) DO UPDATE SET ${column} = excluded.${column}`,
      )
      .run(service, value ? 1 : 0);
  }

  async isBreakerOpen(service: string): Promise<boolean> {
    while (this.waits()) await this.gate.open;
    return this.flag(service, 'breaker_open');
  }

  async setBreakerOpen(service: string, open: boolean): Promise<void> {
    while (this.waits()) await this.gate.open;
    this.setFlag(service, 'breaker_open', open);
  }

  async resetBreaker(service: string, at: number): Promise<void> {
    while (this.waits()) await this.gate.open;
    this.db
      .prepare(
        'INSERT INTO service_flags (service, breaker_open, breaker_reset_at) VALUES (?, 0, ?) ON CONFLICT(service) DO UPDATE SET breaker_open = 0, breaker_reset_at = excluded.breaker_reset_at',
      )
      .run(service, at);
  }

  async breakerResetAt(service: string): Promise<number | undefined> {
    while (this.waits()) await this.gate.open;
    const row = this.db.prepare('SELECT breaker_reset_at AS at FROM service_flags WHERE service = ?').get(service) as
      | { at: number | null }
      | undefined;
    return row?.at ?? undefined;
  }

  async isPaused(service: string): Promise<boolean> {
    while (this.waits()) await this.gate.open;
    return this.flag(service, 'paused');
  }

  async setPaused(service: string, paused: boolean): Promise<void> {
    while (this.waits()) await this.gate.open;
    this.setFlag(service, 'paused', paused);
  }

  async recordRemediation(service: string, remediation: string, at: number, ok: boolean): Promise<void> {
    while (this.waits()) await this.gate.open;
    this.db
      .prepare('INSERT INTO remediations (service, remediation, at, ok) VALUES (?, ?, ?, ?)')
      .run(service, remediation, at, ok ? 1 : 0);
  }

  async remediationRuns(service: string, remediation: string, limit: number): Promise<{ at: number; ok: boolean }[]> {
    while (this.waits()) await this.gate.open;
    const rows = this.db
      .prepare(
        'SELECT at, ok FROM remediations WHERE service = ? AND remediation = ? ORDER BY at DESC, rowid DESC LIMIT ?',
      )
      .all(service, remediation, limit) as { at: number; ok: number }[];
    return rows.map((r) => ({ at: r.at, ok: r.ok === 1 }));
  }

  async remediationStats(service?: string): Promise<RemediationStats[]> {
    while (this.waits()) await this.gate.open;
    const rows = this.db
      .prepare(
        `SELECT service, remediation, COUNT(*) AS runs, SUM(ok) AS succeeded, MAX(at) AS lastAt,
           (SELECT ok FROM remediations latest WHERE latest.service = r.service AND latest.remediation = r.remediation ORDER BY at DESC, rowid DESC LIMIT 1) AS lastOk
         FROM remediations r ${service ? 'WHERE service = ?' : ''} GROUP BY service, remediation ORDER BY service, remediation`,
      )
      .all(...(service ? [service] : [])) as {
      service: string;
      remediation: string;
      runs: number;
      succeeded: number;
      lastAt: number;
      lastOk: number;
    }[];
    return rows.map((r) => ({ ...r, lastOk: r.lastOk === 1 }));
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    while (this.waits()) await this.gate.open;
    this.db
      .prepare('INSERT INTO audit (at, service, incident_id, data) VALUES (?, ?, ?, ?)')
      .run(entry.at, entry.service ?? null, entry.incidentId ?? null, JSON.stringify(entry));
  }

  async listAudit(filter: { service?: string; since?: string } = {}): Promise<AuditEntry[]> {
    while (this.waits()) await this.gate.open;
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.service) where.push('service = ?'), args.push(filter.service);
    if (filter.since) where.push('at >= ?'), args.push(filter.since);
    const sql = `SELECT data FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq`;
    return (this.db.prepare(sql).all(...args) as Row[]).map((r) => JSON.parse(r.data));
  }

  async saveThread(incidentId: string, thread: StoredThread): Promise<void> {
    while (this.waits()) await this.gate.open;
    this.db
      .prepare('INSERT OR REPLACE INTO threads (incident_id, platform, data) VALUES (?, ?, ?)')
      .run(incidentId, thread.platform, JSON.stringify(thread));
  }

  async getThread(incidentId: string, platform: string): Promise<StoredThread | undefined> {
    while (this.waits()) await this.gate.open;
    const row = this.db
      .prepare('SELECT data FROM threads WHERE incident_id = ? AND platform = ?')
      .get(incidentId, platform) as Row | undefined;
    return row ? JSON.parse(row.data) : undefined;
  }

  async enqueueWork(kind: string, payload: unknown): Promise<void> {
    while (this.waits()) await this.gate.open;
    this.statement('INSERT INTO work_queue (kind, payload, at) VALUES (?, ?, ?)').run(
      kind,
      JSON.stringify(payload ?? null),
      new Date().toISOString(),
    );
  }

  async takeWork(limit: number): Promise<QueuedWork[]> {
    while (this.waits()) await this.gate.open;
    const rows = this.statement(
      'DELETE FROM work_queue WHERE seq IN (SELECT seq FROM work_queue ORDER BY seq LIMIT ?) RETURNING seq, kind, payload, at',
    ).all(limit) as { seq: number; kind: string; payload: string; at: string }[];
    return rows.sort((a, b) => a.seq - b.seq).map((row) => ({ ...row, payload: JSON.parse(row.payload) }));
  }

  async transaction<T>(work: (tx: Store) => Promise<T>): Promise<T> {
    if (this.bound) return work(this);
    while (this.gate.open) await this.gate.open;
    let end!: () => void;
    this.gate.open = new Promise((resolve) => (end = resolve));
    // A view of this store whose calls run inside the transaction at once, until it ends.
    const tx = Object.create(this) as SqliteStore;
    tx.bound = true;
    try {
      this.db.exec('BEGIN IMMEDIATE');
      try {
        const result = await work(tx);
        this.db.exec('COMMIT');
        return result;
      } catch (error) {
        if (this.db.inTransaction) this.db.exec('ROLLBACK');
        // A rolled-back write may have been remembered.
        this.openIds.clear();
        throw error;
      }
    } finally {
      tx.bound = false;
      this.gate.open = undefined;
      end();
    }
  }

  async close(): Promise<void> {
    while (this.waits()) await this.gate.open;
    this.db.close();
  }
}
