/**
 * Leader election through a Postgres session-level advisory lock, for replicas that share a
 * Postgres store without a Kubernetes Lease (Docker-only installs get HA too). The lock lives
 * as long as the session that took it: a leader that is killed loses its connection and with
 * it the lock, at once; a leader that cannot reach Postgres stops acting after half the lease
 * duration, before Postgres' keepalives (a third of the lease duration) free the lock for
 * another replica.
 */
import { createHash } from 'node:crypto';
import pg from 'pg';
import { formatSeconds } from '../deadline.js';
import { describeError } from '../errors.js';
import { redactStoreUrl } from '../store/postgres-store.js';
import type { Elector } from './elector.js';

export interface PostgresElectorOptions {
  url: string;
  /** The lock's name; replicas with the same name elect one leader. @defaultValue 'healbot' */
  name?: string;
  /** This replica's identity, shown to the others as the connection's application_name. */
  identity: string;
  /** How long a leader may go without confirming its session before it stops acting. @defaultValue 15000 */
  leaseDurationMs?: number;
  onChange?: (leader: boolean) => void;
  /** Where problems go (unreachable, refused); they never stop the loop. */
  onError?: (message: string) => void;
  now?: () => number;
}

/** The 64-bit advisory lock key for a name (stable across replicas and versions). */
export function advisoryLockKey(name: string): string {
  return createHash('sha256').update(`healbot:leader:${name}`).digest().readBigInt64BE(0).toString();
}

/** Campaigns for the advisory lock and confirms its session while it leads. */
export class PostgresElector implements Elector {
  private readonly name: string;
  private readonly key: string;
  private readonly durationMs: number;
  private readonly retryMs: number;
  private readonly now: () => number;
  private client: pg.Client | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private leading = false;
  private confirmedAt = 0;
  private holder: string | undefined;
  private lost: string | undefined;
  private lastError: string | undefined;
  private current: Promise<void> = Promise.resolve();

  constructor(private readonly options: PostgresElectorOptions) {
    this.name = options.name ?? 'healbot';
    this.key = advisoryLockKey(this.name);
    this.durationMs = options.leaseDurationMs ?? 15_000;
    this.retryMs = Math.max(100, Math.floor(this.durationMs / 3));
    this.now = options.now ?? Date.now;
  }

  notLeadingBecause(): string | undefined {
    if (this.isLeader()) return undefined;
    if (this.lost) return this.lost;
    if (this.lastError) return `cannot campaign for the Postgres leader lock "${this.name}": ${this.lastError}`;
    return `this replica does not hold the Postgres leader lock "${this.name}" (held by ${this.holder ?? 'nobody'})`;
  }

  isLeader(): boolean {
    return this.leading && this.now() - this.confirmedAt < this.durationMs / 2;
  }

  leader(): string | undefined {
    return this.holder;
  }

  async start(): Promise<void> {
    if (this.running) return;
    this.running = true;
    await this.tick();
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.current;
    // Closing the session releases the lock: another replica takes over at its next attempt.
    await this.disconnect();
    this.setLeading(false);
  }

  private tick(): Promise<void> {
    this.current = this.attempt()
      .catch((error: unknown) => this.failed(describeError(error)))
      .finally(() => {
        if (this.running) {
          this.timer = setTimeout(() => void this.tick(), this.retryMs);
          this.timer.unref();
        }
      });
    return this.current;
  }

  private async attempt(): Promise<void> {
    const client = await this.connect();
    this.lastError = undefined;
    if (this.leading) {
      await client.query('SELECT 1');
      this.confirmedAt = this.now();
      this.holder = this.options.identity;
      return;
    }
    const { rows } = await client.query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1::bigint) AS locked', [
      this.key,
    ]);
    if (rows[0]?.locked) {
      this.confirmedAt = this.now();
      this.holder = this.options.identity;
      this.lost = undefined;
      this.setLeading(true);
      return;
    }
    this.holder = await this.currentHolder(client);
  }

  /** Who holds the lock, by the application_name of the session that has it. */
  private async currentHolder(client: pg.Client): Promise<string | undefined> {
    const key = BigInt(this.key);
    const { rows } = await client.query<{ holder: string }>(
      `SELECT a.application_name AS holder FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
       WHERE l.locktype = 'advisory' AND l.granted AND l.classid = $1 AND l.objid = $2 AND l.objsubid = 1`,
      [Number((key >> 32n) & 0xffffffffn), Number(key & 0xffffffffn)],
    );
    return rows[0]?.holder || undefined;
  }

  private failed(message: string): void {
    const where = redactStoreUrl(this.options.url);
    this.lastError = message;
    this.options.onError?.(`Postgres leader lock at ${where}: ${message}`);
    if (this.leading) {
      this.lost = `could not confirm the Postgres leader lock "${this.name}" within ${formatSeconds(this.durationMs / 2)}: ${message}`;
      this.setLeading(false);
    }
    // A new session next time: the old one (and any lock it held) is gone or going.
    void this.disconnect();
  }

  private async connect(): Promise<pg.Client> {
    if (this.client) return this.client;
    const keepAliveS = Math.max(1, Math.floor(this.durationMs / 3000));
    const deadline = Math.max(1000, Math.floor(this.durationMs / 2));
    const client = new pg.Client({
      connectionString: this.options.url,
      application_name: this.options.identity.slice(0, 63),
      // Every round trip ends within half the lease: a leader that cannot confirm by then steps down.
      connectionTimeoutMillis: deadline,
      query_timeout: deadline,
      keepAlive: true,
      keepAliveInitialDelayMillis: keepAliveS * 1000,
    });
    client.on('error', (error) => this.failed(describeError(error)));
    this.client = client;
    try {
      await client.connect();
      // The server drops a vanished leader's session (and its lock) within about a third of the lease.
      await client.query(
        `SET tcp_keepalives_idle = ${keepAliveS}; SET tcp_keepalives_interval = 1; SET tcp_keepalives_count = 3`,
      );
    } catch (error) {
      this.client = undefined;
      await endWithin(client, deadline);
      throw error;
    }
    return client;
  }

  private async disconnect(): Promise<void> {
    const client = this.client;
    this.client = undefined;
    if (client) await endWithin(client, Math.max(1000, Math.floor(this.durationMs / 2)));
  }

  private setLeading(leading: boolean): void {
    if (this.leading === leading) return;
    this.leading = leading;
    this.options.onChange?.(leading);
  }
}

/** Closes a session, waiting at most `ms` for a server that may not answer (the socket is let go then). */
async function endWithin(client: pg.Client, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([
    client.end().catch(() => undefined),
    new Promise<void>((resolve) => {
      timer = setTimeout(resolve, ms);
      timer.unref();
    }),
  ]);
  clearTimeout(timer);
}
