/**
 * The Postgres store's schema, as versioned migrations: entry i takes a database from version i
 * to i+1. Applied in order, in one transaction, when healbot opens the store; a new change is a
 * new entry, never an edit. Text columns that are compared or sorted use the "C" collation, so
 * ISO timestamps and names order byte by byte, as in SQLite, whatever the database's locale.
 */
export const POSTGRES_MIGRATIONS: readonly string[] = [
  `
CREATE SEQUENCE write_seq;
CREATE TABLE incidents (
  id text PRIMARY KEY, service text NOT NULL, status text NOT NULL, opened_at text COLLATE "C" NOT NULL,
  closed_at text, dedupe_key text, dry_run boolean NOT NULL DEFAULT false, alert_count integer,
  data text NOT NULL, seq bigint NOT NULL DEFAULT nextval('write_seq')
);
CREATE INDEX incidents_service ON incidents (service, status, opened_at);
CREATE INDEX incidents_opened ON incidents (opened_at, seq);
CREATE TABLE events (key text PRIMARY KEY, incident_id text, at text NOT NULL);
CREATE TABLE approvals (
  id text PRIMARY KEY, status text NOT NULL, data text NOT NULL, seq bigint NOT NULL DEFAULT nextval('write_seq')
);
CREATE INDEX approvals_status ON approvals (status, seq);
CREATE TABLE heal_attempts (seq bigserial PRIMARY KEY, service text NOT NULL, at bigint NOT NULL, ok boolean NOT NULL);
CREATE INDEX heal_attempts_service ON heal_attempts (service, at);
CREATE TABLE service_flags (
  service text PRIMARY KEY, breaker_open boolean NOT NULL DEFAULT false, paused boolean NOT NULL DEFAULT false,
  breaker_reset_at bigint
);
CREATE TABLE audit (
  seq bigserial PRIMARY KEY, at text COLLATE "C" NOT NULL, service text, incident_id text, data text NOT NULL
);
CREATE INDEX audit_service ON audit (service, seq);
CREATE TABLE threads (
  incident_id text NOT NULL, platform text NOT NULL, data text NOT NULL, PRIMARY KEY (incident_id, platform)
);
CREATE TABLE health (probe text PRIMARY KEY, at bigint NOT NULL);
CREATE TABLE remediations (
  seq bigserial PRIMARY KEY, service text COLLATE "C" NOT NULL, remediation text COLLATE "C" NOT NULL,
  at bigint NOT NULL, ok boolean NOT NULL
);
CREATE INDEX remediations_by_name ON remediations (service, remediation, at);
CREATE TABLE firing (incident_id text NOT NULL, fingerprint text NOT NULL, PRIMARY KEY (incident_id, fingerprint));
CREATE TABLE work_queue (seq bigserial PRIMARY KEY, kind text NOT NULL, payload text NOT NULL, at text NOT NULL);
`,
];

/** The schema version this healbot writes to Postgres. */
export const POSTGRES_SCHEMA_VERSION = POSTGRES_MIGRATIONS.length;
