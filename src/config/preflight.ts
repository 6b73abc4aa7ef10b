import { accessSync, constants, existsSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { UsageError } from '../errors.js';
import type { Config } from './schema.js';

type Problem = { path: string; message: string };

/**
 * Splits `host:port` or `[v6]:port` and checks the port is one a server can bind (0 picks a free one).
 * `where` names the setting in the message: `server.listen` or `--listen`.
 */
export function parseListen(listen: string, where = 'server.listen'): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(listen.trim());
  if (!match) throw new UsageError(`${where} must be host:port (e.g. 127.0.0.1:8080 or [::1]:8080), got "${listen}"`);
  const port = Number(match[3]);
  if (port > 65535) throw new UsageError(`${where} port ${port} is out of range: use 1-65535 (or 0 for any free port)`);
  return { host: match[1] ?? (match[2] || '127.0.0.1'), port };
}

function patternProblems(matchers: readonly { pattern: string }[], where: string): Problem[] {
  return matchers.flatMap((matcher, i) => {
    try {
      new RegExp(matcher.pattern, 'i');
      return [];
    } catch (error) {
      return [
        { path: `${where}[${i}].pattern`, message: `is not a valid regular expression: ${(error as Error).message}` },
      ];
    }
  });
}

function storeProblems(path: string): Problem[] {
  if (path === ':memory:') return [];
  let dir = dirname(path);
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  if (!statSync(dir).isDirectory())
    return [{ path: 'store.path', message: `${path}: ${dir} is a file, not a directory; choose another path` }];
  try {
    accessSync(dir, constants.W_OK);
  } catch {
    return [
      {
        path: 'store.path',
        message: `${path}: the directory ${dir} is not writable by healbot; make it writable or choose another path`,
      },
    ];
  }
  if (!existsSync(path)) return [];
  if (statSync(path).isDirectory())
    return [{ path: 'store.path', message: `${path} is a directory; name a file inside it, e.g. ${path}/healbot.db` }];
  if (statSync(path).size === 0)
    return existsSync(`${path}-wal`)
      ? []
      : [
          {
            path: 'store.path',
            message: `${path} is an empty file healbot did not create; remove it to start with an empty store`,
          },
        ];
  let db: Database.Database | undefined;
  try {
    db = new Database(path, { readonly: true, fileMustExist: true });
    const first = (db.pragma('quick_check(1)') as { quick_check: string }[])[0]?.quick_check;
    if (first !== 'ok')
      return [
        {
          path: 'store.path',
          message: `${path} is damaged (integrity check: ${first}); move it aside and start with an empty store, or restore a backup`,
        },
      ];
    return [];
  } catch (error) {
    return [
      {
        path: 'store.path',
        message: `${path} is damaged (${(error as Error).message.split('\n')[0]}); move it aside and start with an empty store, or restore a backup`,
      },
    ];
  } finally {
    db?.close();
  }
}

/**
 * What `healbot serve` would refuse that the schema cannot see: the chat adapters' required
 * fields, matcher patterns, the listen address, and a store path that can be written. `check`
 * runs it so a config it calls ok also starts.
 */
export function preflightProblems(config: Config, options: { storePath?: string; store?: boolean } = {}): Problem[] {
  const problems: Problem[] = [];
  if (config.slack?.mode === 'socket' && !config.slack.appToken) {
    problems.push({
      path: 'slack.appToken',
      message:
        'is required in socket mode: create an app-level token with connections:write (Basic Information → App-Level Tokens), or set slack.mode: http',
    });
  }
  if (config.slack?.mode === 'http' && !config.slack.signingSecret) {
    problems.push({
      path: 'slack.signingSecret',
      message: 'is required in http mode: copy it from Basic Information → App Credentials',
    });
  }
  if (config.slack?.mode === 'http' && !config.server) {
    problems.push({
      path: 'server',
      message: 'is required with slack.mode http: Slack posts to /slack/events on server.listen',
    });
  }
  problems.push(
    ...patternProblems(config.slack?.matchers ?? [], 'slack.matchers'),
    ...patternProblems(config.discord?.matchers ?? [], 'discord.matchers'),
  );
  if (config.server) {
    try {
      parseListen(config.server.listen);
    } catch (error) {
      problems.push({ path: 'server.listen', message: (error as Error).message.replace(/^server\.listen /, '') });
    }
  }
  if (options.store !== false) problems.push(...storeProblems(options.storePath ?? config.store.path));
  return problems;
}
