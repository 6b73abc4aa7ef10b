/**
 * A real, throwaway PostgreSQL for tests: Debian's `postgresql` binaries (install with
 * .ci/install-postgres.sh), `initdb` and `pg_ctl` run as the `postgres` OS user when the tests
 * run as root, a data directory under /tmp, listening on 127.0.0.1 on a free port and on a unix
 * socket in that directory, trusting loopback connections only. `fsync` is off: the server is
 * thrown away, and a clean shutdown (as in `restart()`) still writes everything out.
 *
 *   const postgres = await startPostgres();
 *   const skip = !postgres && requireOrSkip(postgresUnavailableReason());
 *   describe.skipIf(skip)('…', () => { … });
 */
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { execa } from 'execa';
import pg from 'pg';
import { freePort } from '../../src/free-port.js';

const POSTGRES_LIB = '/usr/lib/postgresql';
const SERVER_USER = 'postgres';
/** Long enough for initdb and a cold start on a loaded 2-core machine. */
const START_TIMEOUT_S = 90;

export interface PostgresServer {
  /** A superuser URL to the `postgres` database over loopback TCP. */
  url: string;
  /** The directory holding the server's unix socket (and its data). */
  socketDir: string;
  /** Creates an empty database and returns its URL. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server cleanly and starts it again on the same port (everything committed survives). */
  restart(): Promise<void>;
  /** What the server logged, for failure messages. */
  log(): Promise<string>;
  /** Stops the server and removes its directory. */
  stop(): Promise<void>;
}

let unavailableReason = 'PostgreSQL was not started';

/** Why the last `startPostgres()` returned undefined. */
export function postgresUnavailableReason(): string {
  return unavailableReason;
}

/** The newest installed PostgreSQL's bin directory (the version is Debian's to choose). */
export function postgresBinDir(): string | undefined {
  if (!existsSync(POSTGRES_LIB)) return undefined;
  const versions = readdirSync(POSTGRES_LIB)
    .filter((name) => existsSync(join(POSTGRES_LIB, name, 'bin', 'initdb')))
    .sort((a, b) => Number.parseFloat(b) - Number.parseFloat(a));
  return versions[0] === undefined ? undefined : join(POSTGRES_LIB, versions[0], 'bin');
}

const runningAsRoot = () => typeof process.getuid === 'function' && process.getuid() === 0;

/** Why PostgreSQL cannot run here at all, found without starting it; undefined when it may. */
export function postgresUnavailable(): string | undefined {
  if (!postgresBinDir())
    return `PostgreSQL is not installed (no ${POSTGRES_LIB}/<version>/bin/initdb; run .ci/install-postgres.sh)`;
  if (runningAsRoot() && !existsSync('/usr/sbin/runuser') && !existsSync('/sbin/runuser'))
    return 'runuser is missing: PostgreSQL refuses to run as root and cannot be started as the postgres user';
  return undefined;
}

/** Runs a PostgreSQL program, as the `postgres` user when we are root (the server refuses root). */
function runServerProgram(bin: string, program: string, args: string[]) {
  const file = join(bin, program);
  const [command, argv] = runningAsRoot() ? ['runuser', ['-u', SERVER_USER, '--', file, ...args]] : [file, args];
  return execa(command, argv, { timeout: START_TIMEOUT_S * 1000, stdin: 'ignore' });
}

/** Starts a server, or returns undefined (see `postgresUnavailableReason()`) when it cannot run here. */
export async function startPostgres(): Promise<PostgresServer | undefined> {
  const blocked = postgresUnavailable();
  if (blocked) {
    unavailableReason = blocked;
    return undefined;
  }
  const bin = postgresBinDir() as string;
  const dir = mkdtempSync('/tmp/healbot-postgres-');
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const port = await freePort();
  if (runningAsRoot()) {
    const { stdout } = await execa('id', ['-u', SERVER_USER]);
    const { stdout: group } = await execa('id', ['-g', SERVER_USER]);
    chownSync(dir, Number(stdout), Number(group));
  }
  const ctl = (args: string[]) => runServerProgram(bin, 'pg_ctl', ['-D', data, ...args]);
  const start = () => ctl(['start', '-w', '-t', String(START_TIMEOUT_S), '-l', logFile]);
  try {
    await runServerProgram(bin, 'initdb', [
      '-D',
      data,
      '--username=postgres',
      '--auth=trust',
      '--encoding=UTF8',
      '--no-locale',
      '--no-sync',
    ]);
    // Loopback only: no other address is listened on, and only loopback and the socket are trusted.
    writeFileSync(
      join(data, 'pg_hba.conf'),
      ['local all all trust', 'host all all 127.0.0.1/32 trust', 'host all all ::1/128 trust', ''].join('\n'),
    );
    writeFileSync(
      join(data, 'postgresql.auto.conf'),
      [
        `listen_addresses = '127.0.0.1'`,
        `port = ${port}`,
        `unix_socket_directories = '${dir}'`,
        'fsync = off',
        'synchronous_commit = off',
        'full_page_writes = off',
        'max_connections = 100',
        '',
      ].join('\n'),
    );
    await start();
  } catch (error) {
    unavailableReason = `PostgreSQL could not start in ${dir}: ${(error as Error).message.split('\n')[0]}`;
    await ctl(['stop', '-m', 'immediate', '-w']).catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
    return undefined;
  }

  const url = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let stopped = false;
  return {
    url,
    socketDir: dir,
    async createDatabase(name) {
      if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`not a plain database name: ${name}`);
      const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000, query_timeout: 30_000 });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${name}`);
      } finally {
        await client.end();
      }
      return `postgres://postgres@127.0.0.1:${port}/${name}`;
    },
    async restart() {
      await ctl(['stop', '-m', 'fast', '-w']);
      await start();
    },
    async log() {
      return readFile(logFile, 'utf8').catch(() => '');
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await ctl(['stop', '-m', 'immediate', '-w']).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
