import pg from 'pg';
import type { IncidentRecord, RemediationStats } from '../engine/api.js';
import type { QueuedWork } from '../engine/ports/store.js';
import { describeError, StoreError } from '../errors.js';
import { POSTGRES_MIGRATIONS, POSTGRES_SCHEMA_VERSION } from './postgres-migrations.js';
import type { ApprovalRecord, AuditEntry, Store, StoredThread } from './store.js';

export interface PostgresStoreOptions {
  /** How long to wait for a connection (from the pool, or a new one from the server). @defaultValue 10_000 */
  connectTimeoutMs?: number;
  /** How long one statement may run, enforced by the server and, a little later, by the client. @defaultValue 15_000 */
  statementTimeoutMs?: number;
  /** Connections this replica keeps at most. @defaultValue 10 */
  maxConnections?: number;
}

export const POSTGRES_STORE_DEFAULTS = {
  connectTimeoutMs: 10_000,
  statementTimeoutMs: 15_000,
  maxConnections: 10,
} as const satisfies Required<PostgresStoreOptions>;

/**
 * Serialises schema migrations between replicas that start together (a transaction-scoped
 * advisory lock; any other lock healbot takes uses another key).
 */
const MIGRATION_LOCK = 0x6865616c;

const SECRET_PARAM = /pass|secret|token|key/i;

/** `url` with its password (and any secret-looking query parameter) replaced by `***`, for messages. */
export function redactStoreUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = '***';
    for (const name of [...parsed.searchParams.keys()])
      if (SECRET_PARAM.test(name)) parsed.searchParams.set(name, '***');
    return parsed.toString();
  } catch {
    return `${url.split(':')[0]}://(an unparsable URL)`;
  }
}

/** Something queries can be sent to: the pool, or the one client of a transaction. */
interface Queryable {
  query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>>;
}

/** What every store bound to one pool shares. */
interface Session {
  readonly pool: pg.Pool;
  /** The URL, password redacted. */
  readonly url: string;
  /** Secret parts of the URL, never to appear in a message. */
  readonly secrets: readonly string[];
  readonly statementTimeoutMs: number;
  closed: boolean;
}

/** A StoreError naming the store's URL (password redacted) and what to do; `error` is kept as its cause. */
function storeFailure(session: Session, error: unknown): StoreError {
  if (error instanceof StoreError) return error;
  let reason = describeError(error);
  for (const secret of session.secrets) reason = reason.split(secret).join('***');
  const code = (error as { code?: string }).code ?? '';
  const fail = (problem: string, todo: string) =>
    new StoreError(session.url, `${problem} (${reason})`, todo, { cause: error, field: 'store.url' });
  if (code === '28P01' || code === '28000')
    return fail("refused healbot's login", 'check the user and password in store.url and the server’s pg_hba.conf');
  if (code === '3D000')
    return fail('names a database that does not exist', 'create it (CREATE DATABASE) or fix store.url');
  if (code === '42501')
    return fail(
      'does not let healbot create or use its tables',
      'grant the user of store.url CREATE on the database, or let its owner run healbot once',
    );
  if (code === '57014' || /timeout/i.test(reason))
    return fail(
      `did not answer within ${session.statementTimeoutMs} ms`,
      'check the database server’s load and locks; healbot retries on the next call',
    );
  if (/^E[A-Z]+$/.test(code) || /terminat|connect|closed|end on the pool/i.test(reason))
    return fail(
      'cannot be reached',
      'check store.url and that Postgres is running and accepts connections from healbot',
    );
  return fail('failed', 'see the Postgres server log');
}

type DataRow = { data: string };
type IncidentRow = DataRow & { alert_count: number | null };
type RunRow = { at: string; ok: boolean };

const incidentOf = (row: IncidentRow): IncidentRecord => {
  const record = JSON.parse(row.data) as IncidentRecord;
  if (row.alert_count !== null) record.alertCount = row.alert_count;
  return record;
};
const runOf = (row: RunRow) => ({ at: Number(row.at), ok: row.ok });
/** LIMIT for a caller's count: a negative one means no limit, as in SQLite. */
const limitOf = (limit: number) => (limit < 0 ? null : limit);

/**
 * The store in PostgreSQL, shared by several healbot replicas (`store.url`). Every statement is
 * parameterised and has a deadline; the schema is upgraded by versioned migrations when it opens.
 * The semantics are SqliteStore's, with the atomic steps (claiming an event, moving an approval
 * on, taking queued work) atomic across replicas.
 */
export class PostgresStore implements Store {
  private constructor(
    private readonly session: Session,
    private readonly db: Queryable,
    /** Set when this store is bound to one transaction's client. */
    private readonly tx?: { savepoints: number },
  ) {}

  /**
   * Connects to `url` (postgres:// or postgresql://) and upgrades the schema to this healbot's
   * version. An unreachable or refusing server, or a schema from a newer healbot, is a StoreError
   * naming the URL with its password redacted.
   */
  static async open(url: string, options: PostgresStoreOptions = {}): Promise<PostgresStore> {
    const settings = { ...POSTGRES_STORE_DEFAULTS, ...options };
    const secrets: string[] = [];
    try {
      const parsed = new URL(url);
      if (parsed.password) secrets.push(parsed.password, decodeURIComponent(parsed.password));
      for (const [name, value] of parsed.searchParams) if (SECRET_PARAM.test(name) && value) secrets.push(value);
    } catch {
      throw new StoreError(
        redactStoreUrl(url),
        'is not a URL',
        'write it as postgres://USER:PASSWORD@HOST:PORT/DATABASE',
        {
          field: 'store.url',
        },
      );
    }
    const pool = new pg.Pool({
      connectionString: url,
      max: settings.maxConnections,
      connectionTimeoutMillis: settings.connectTimeoutMs,
      statement_timeout: settings.statementTimeoutMs,
      query_timeout: settings.statementTimeoutMs + 5_000,
      idle_in_transaction_session_timeout: settings.statementTimeoutMs * 4,
      application_name: 'healbot',
      keepAlive: true,
    });
    // An idle connection that drops (a server restart) is replaced by the pool; the next query tells.
    pool.on('error', () => undefined);
    const session: Session = {
      pool,
      url: redactStoreUrl(url),
      secrets: secrets.filter((secret) => secret.length > 0),
      statementTimeoutMs: settings.statementTimeoutMs,
      closed: false,
    };
    const store = new PostgresStore(session, pool);
    try {
      await store.transaction((tx) => (tx as PostgresStore).migrate());
    } catch (error) {
      await store.close().catch(() => undefined);
      throw storeFailure(session, error);
    }
    return store;
  }

  private async migrate(): Promise<void> {
    await this.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK]);
    await this.query(
      'CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now())',
    );
    const { rows } = await this.query<{ version: number }>(
      'SELECT COALESCE(max(version), 0) AS version FROM schema_migrations',
    );
    const version = rows[0].version;
    if (version > POSTGRES_SCHEMA_VERSION)
      throw new StoreError(
        this.session.url,
        `was written by a newer healbot (schema ${version}; this one knows up to ${POSTGRES_SCHEMA_VERSION})`,
        'upgrade healbot, or point store.url at another database',
        { field: 'store.url' },
      );
    for (let next = version + 1; next <= POSTGRES_SCHEMA_VERSION; next += 1) {
      await this.query(POSTGRES_MIGRATIONS[next - 1]);
      await this.query('INSERT INTO schema_migrations (version) VALUES ($1)', [next]);
    }
  }

  private async query<R extends pg.QueryResultRow>(text: string, values?: unknown[]): Promise<pg.QueryResult<R>> {
    try {
      return await this.db.query<R>(text, values);
    } catch (error) {
      throw storeFailure(this.session, error);
    }
  }

  async writable(): Promise<boolean> {
    try {
      await this.transaction((tx) =>
        (tx as PostgresStore).query(
          'INSERT INTO health (probe, at) VALUES ($1, $2) ON CONFLICT (probe) DO UPDATE SET at = excluded.at',
          ['ready', Date.now()],
        ),
      );
      return true;
    } catch {
      return false;
    }
  }

  async saveIncident(record: IncidentRecord & { dedupeKey?: string; dryRun?: boolean }): Promise<void> {
    await this.query(
      `INSERT INTO incidents (id, service, status, opened_at, closed_at, dedupe_key, dry_run, alert_count, data)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (id) DO UPDATE SET service = excluded.service, status = excluded.status,
         opened_at = excluded.opened_at, closed_at = excluded.closed_at, dedupe_key = excluded.dedupe_key,
         dry_run = excluded.dry_run, alert_count = excluded.alert_count, data = excluded.data,
         seq = nextval('write_seq')`,
      [
        record.id,
        record.service,
        record.status,
        record.openedAt,
        record.closedAt ?? null,
        record.dedupeKey ?? null,
        record.dryRun === true,
        record.alertCount ?? null,
        JSON.stringify(record),
      ],
    );
  }

  async updateIncident(id: string, patch: Partial<IncidentRecord>): Promise<void> {
    await this.transaction(async (tx) => {
      const { rows } = await (tx as PostgresStore).query<IncidentRow>(
        'SELECT data, alert_count FROM incidents WHERE id = $1 FOR UPDATE',
        [id],
      );
      if (rows.length === 0) return;
      await tx.saveIncident({ ...incidentOf(rows[0]), ...patch });
    });
  }

  async getIncident(id: string): Promise<IncidentRecord | undefined> {
    const { rows } = await this.query<IncidentRow>('SELECT data, alert_count FROM incidents WHERE id = $1', [id]);
    return rows.length > 0 ? incidentOf(rows[0]) : undefined;
  }

  async listIncidents(
    filter: { service?: string; limit?: number; status?: 'open' | 'closed' } = {},
  ): Promise<IncidentRecord[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.service) args.push(filter.service), where.push(`service = $${args.length}`);
    if (filter.status) args.push(filter.status), where.push(`status = $${args.length}`);
    args.push(limitOf(filter.limit ?? 1000));
    const { rows } = await this.query<IncidentRow>(
      `SELECT data, alert_count FROM incidents ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
       ORDER BY opened_at DESC, seq DESC LIMIT $${args.length}`,
      args,
    );
    return rows.map(incidentOf);
  }

  async openIncidentFor(service: string): Promise<IncidentRecord | undefined> {
    const { rows } = await this.query<IncidentRow>(
      "SELECT data, alert_count FROM incidents WHERE service = $1 AND status = 'open' ORDER BY opened_at DESC, seq DESC LIMIT 1",
      [service],
    );
    return rows.length > 0 ? incidentOf(rows[0]) : undefined;
  }

  async openIncidentId(service: string): Promise<string | undefined> {
    const { rows } = await this.query<{ id: string }>(
      "SELECT id FROM incidents WHERE service = $1 AND status = 'open' AND NOT dry_run ORDER BY opened_at DESC, seq DESC LIMIT 1",
      [service],
    );
    return rows[0]?.id;
  }

  async incrementAlertCount(id: string, by = 1): Promise<void> {
    await this.query('UPDATE incidents SET alert_count = alert_count + $1 WHERE id = $2', [by, id]);
  }

  async trackFiring(incidentId: string, fingerprint: string): Promise<void> {
    await this.query('INSERT INTO firing (incident_id, fingerprint) VALUES ($1, $2) ON CONFLICT DO NOTHING', [
      incidentId,
      fingerprint,
    ]);
  }

  async resolveFiring(incidentId: string, fingerprint: string): Promise<number> {
    // The DELETE's effect is invisible to the same statement's SELECT, so the count leaves the fingerprint out itself.
    const { rows } = await this.query<{ n: number }>(
      `WITH gone AS (DELETE FROM firing WHERE incident_id = $1 AND fingerprint = $2)
       SELECT count(*)::integer AS n FROM firing WHERE incident_id = $1 AND fingerprint <> $2`,
      [incidentId, fingerprint],
    );
    return rows[0].n;
  }

  async claimEvent(key: string, incidentId?: string): Promise<boolean> {
    const { rowCount } = await this.query(
      'INSERT INTO events (key, incident_id, at) VALUES ($1, $2, $3) ON CONFLICT (key) DO NOTHING RETURNING key',
      [key, incidentId ?? null, new Date().toISOString()],
    );
    return rowCount === 1;
  }

  async eventIncident(key: string): Promise<string | undefined> {
    const { rows } = await this.query<{ incident_id: string | null }>('SELECT incident_id FROM events WHERE key = $1', [
      key,
    ]);
    return rows[0]?.incident_id ?? undefined;
  }

  async saveApproval(record: ApprovalRecord): Promise<void> {
    await this.query(
      `INSERT INTO approvals (id, status, data) VALUES ($1, $2, $3)
       ON CONFLICT (id) DO UPDATE SET status = excluded.status, data = excluded.data, seq = nextval('write_seq')`,
      [record.id, record.status, JSON.stringify(record)],
    );
  }

  async getApproval(id: string): Promise<ApprovalRecord | undefined> {
    const { rows } = await this.query<DataRow>('SELECT data FROM approvals WHERE id = $1', [id]);
    return rows.length > 0 ? JSON.parse(rows[0].data) : undefined;
  }

  async transitionApproval(id: string, from: 'pending', to: ApprovalRecord): Promise<boolean> {
    // A concurrent UPDATE of the same row waits for this one, then re-checks the status and finds it moved on.
    const { rowCount } = await this.query(
      'UPDATE approvals SET status = $1, data = $2 WHERE id = $3 AND status = $4 RETURNING id',
      [to.status, JSON.stringify(to), id, from],
    );
    return rowCount === 1;
  }

  async pendingApprovals(): Promise<ApprovalRecord[]> {
    const { rows } = await this.query<DataRow>("SELECT data FROM approvals WHERE status = 'pending' ORDER BY seq");
    return rows.map((row) => JSON.parse(row.data));
  }

  async recordHealAttempt(service: string, at: number, ok: boolean): Promise<void> {
    await this.query('INSERT INTO heal_attempts (service, at, ok) VALUES ($1, $2, $3)', [service, at, ok]);
  }

  async healAttemptsSince(service: string, since: number): Promise<{ at: number; ok: boolean }[]> {
    const { rows } = await this.query<RunRow>(
      'SELECT at, ok FROM heal_attempts WHERE service = $1 AND at >= $2 ORDER BY at, seq',
      [service, since],
    );
    return rows.map(runOf);
  }

  private async flag(service: string, column: 'breaker_open' | 'paused'): Promise<boolean> {
    const { rows } = await this.query<{ value: boolean }>(
      `SELECT ${column} AS value FROM service_flags WHERE service = $1`,
      [service],
    );
    return rows[0]?.value === true;
  }

  private async setFlag(service: string, column: 'breaker_open' | 'paused', value: boolean): Promise<void> {
    await this.query(
      `INSERT INTO service_flags (service, ${column}) VALUES ($1, $2)
       ON CONFLICT (service) DO UPDATE SET ${column} = excluded.${column}`,
      [service, value],
    );
  }

  isBreakerOpen(service: string): Promise<boolean> {
    return this.flag(service, 'breaker_open');
  }

  setBreakerOpen(service: string, open: boolean): Promise<void> {
    return this.setFlag(service, 'breaker_open', open);
  }

  async resetBreaker(service: string, at: number): Promise<void> {
    await this.query(
      `INSERT INTO service_flags (service, breaker_open, breaker_reset_at) VALUES ($1, false, $2)
       ON CONFLICT (service) DO UPDATE SET breaker_open = false, breaker_reset_at = excluded.breaker_reset_at`,
      [service, at],
    );
  }

  async breakerResetAt(service: string): Promise<number | undefined> {
    const { rows } = await this.query<{ at: string | null }>(
      'SELECT breaker_reset_at AS at FROM service_flags WHERE service = $1',
      [service],
    );
    const at = rows[0]?.at;
    return at === undefined || at === null ? undefined : Number(at);
  }

  isPaused(service: string): Promise<boolean> {
    return this.flag(service, 'paused');
  }

  setPaused(service: string, paused: boolean): Promise<void> {
    return this.setFlag(service, 'paused', paused);
  }

  async recordRemediation(service: string, remediation: string, at: number, ok: boolean): Promise<void> {
    await this.query('INSERT INTO remediations (service, remediation, at, ok) VALUES ($1, $2, $3, $4)', [
      service,
      remediation,
      at,
      ok,
    ]);
  }

  async remediationRuns(service: string, remediation: string, limit: number): Promise<{ at: number; ok: boolean }[]> {
    const { rows } = await this.query<RunRow>(
      'SELECT at, ok FROM remediations WHERE service = $1 AND remediation = $2 ORDER BY at DESC, seq DESC LIMIT $3',
      [service, remediation, limitOf(limit)],
    );
    return rows.map(runOf);
  }

  async remediationStats(service?: string): Promise<RemediationStats[]> {
    const { rows } = await this.query<{
      service: string;
      remediation: string;
      runs: number;
      succeeded: number;
      last_at: string;
      last_ok: boolean;
    }>(
      `SELECT service, remediation, count(*)::integer AS runs, count(*) FILTER (WHERE ok)::integer AS succeeded,
         max(at) AS last_at,
         (SELECT ok FROM remediations latest WHERE latest.service = r.service AND latest.remediation = r.remediation
          ORDER BY at DESC, seq DESC LIMIT 1) AS last_ok
       FROM remediations r ${service ? 'WHERE service = $1' : ''}
       GROUP BY service, remediation ORDER BY service, remediation`,
      service ? [service] : [],
    );
    return rows.map((row) => ({
      service: row.service,
      remediation: row.remediation,
      runs: row.runs,
      succeeded: row.succeeded,
      lastAt: Number(row.last_at),
      lastOk: row.last_ok,
    }));
  }

  async appendAudit(entry: AuditEntry): Promise<void> {
    await this.query('INSERT INTO audit (at, service, incident_id, data) VALUES ($1, $2, $3, $4)', [
      entry.at,
      entry.service ?? null,
      entry.incidentId ?? null,
      JSON.stringify(entry),
    ]);
  }

  async listAudit(filter: { service?: string; since?: string } = {}): Promise<AuditEntry[]> {
    const where: string[] = [];
    const args: unknown[] = [];
    if (filter.service) args.push(filter.service), where.push(`service = $${args.length}`);
    if (filter.since) args.push(filter.since), where.push(`at >= $${args.length}`);
    const { rows } = await this.query<DataRow>(
      `SELECT data FROM audit ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY seq`,
      args,
    );
    return rows.map((row) => JSON.parse(row.data));
  }

  async saveThread(incidentId: string, thread: StoredThread): Promise<void> {
    await this.query(
      `INSERT INTO threads (incident_id, platform, data) VALUES ($1, $2, $3)
       ON CONFLICT (incident_id, platform) DO UPDATE SET data = excluded.data`,
      [incidentId, thread.platform, JSON.stringify(thread)],
    );
  }

  async getThread(incidentId: string, platform: string): Promise<StoredThread | undefined> {
    const { rows } = await this.query<DataRow>('SELECT data FROM threads WHERE incident_id = $1 AND platform = $2', [
      incidentId,
      platform,
    ]);
    return rows.length > 0 ? JSON.parse(rows[0].data) : undefined;
  }

  async enqueueWork(kind: string, payload: unknown): Promise<void> {
    await this.query('INSERT INTO work_queue (kind, payload, at) VALUES ($1, $2, $3)', [
      kind,
      JSON.stringify(payload ?? null),
      new Date().toISOString(),
    ]);
  }

  async takeWork(limit: number): Promise<QueuedWork[]> {
    if (limit <= 0) return [];
    // SKIP LOCKED: rows another replica is taking right now are left to it, never handed out twice.
    const { rows } = await this.query<{ seq: string; kind: string; payload: string; at: string }>(
      `DELETE FROM work_queue WHERE seq IN (SELECT seq FROM work_queue ORDER BY seq LIMIT $1 FOR UPDATE SKIP LOCKED)
       RETURNING seq, kind, payload, at`,
      [limit],
    );
    return rows
      .map((row) => ({ seq: Number(row.seq), kind: row.kind, payload: JSON.parse(row.payload), at: row.at }))
      .sort((a, b) => a.seq - b.seq);
  }

  async transaction<T>(work: (tx: Store) => Promise<T>): Promise<T> {
    if (this.tx) return this.savepoint(work);
    let client: pg.PoolClient;
    try {
      client = await this.session.pool.connect();
    } catch (error) {
      throw storeFailure(this.session, error);
    }
    let finished = false;
    let broken: unknown;
    // A connection that drops while checked out (a server restart) emits 'error' on the client, which
    // the pool only listens for while the client is idle: unheard, it would crash the process. The
    // next query on it fails and tells; the client is then released as broken.
    const onError = (error: Error) => (broken = error);
    client.on('error', onError);
    // Calls on the transaction's store after it ended must not reach a client the pool has handed on.
    const bound: Queryable = {
      query: (text, values) =>
        finished
          ? Promise.reject(new Error('the transaction this store belonged to has ended'))
          : client.query(text, values),
    };
    const tx = new PostgresStore(this.session, bound, { savepoints: 0 });
    try {
      await tx.query('BEGIN');
      const result = await work(tx);
      // COMMIT of a transaction in which a statement failed (and `work` caught it) rolls back instead.
      const commit = await tx.query('COMMIT');
      if (commit.command === 'ROLLBACK')
        throw storeFailure(this.session, new Error('rolled the transaction back: a statement in it had failed'));
      return result;
    } catch (error) {
      await client.query('ROLLBACK').catch((rollbackError: unknown) => {
        broken = rollbackError;
      });
      throw error;
    } finally {
      finished = true;
      client.removeListener('error', onError);
      client.release(broken instanceof Error ? broken : undefined);
    }
  }

  private async savepoint<T>(work: (tx: Store) => Promise<T>): Promise<T> {
    const name = `healbot_${(this.tx as { savepoints: number }).savepoints++}`;
    await this.query(`SAVEPOINT ${name}`);
    try {
      const result = await work(this);
      await this.query(`RELEASE SAVEPOINT ${name}`);
      return result;
    } catch (error) {
      await this.query(`ROLLBACK TO SAVEPOINT ${name}`).catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    if (this.tx || this.session.closed) return;
    this.session.closed = true;
    await this.session.pool.end();
  }
}
