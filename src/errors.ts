/**
 * healbot's error family. Every error has a stable, greppable `code`; user errors carry a
 * message that says what to do, and the original error, when there is one, in `cause`.
 */
export type ErrorCode =
  | 'CONFIG_INVALID'
  | 'USAGE'
  | 'UNKNOWN_SERVICE'
  | 'RUNTIME_FAILED'
  | 'PERMISSION_DENIED'
  | 'APPROVAL_EXPIRED'
  | 'APPROVAL_NOT_FOUND'
  | 'BREAKER_OPEN'
  | 'UNAUTHORIZED'
  | 'BAD_REQUEST'
  | 'STORE_UNUSABLE';

export class HealbotError extends Error {
  readonly code: ErrorCode;
  /** True when the message is meant for the person who caused it, rather than a bug. */
  readonly userFacing: boolean;
  constructor(code: ErrorCode, message: string, options: { cause?: unknown; userFacing?: boolean } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.userFacing = options.userFacing ?? true;
    this.name = new.target.name;
  }
}

/** The configuration is wrong; `path` names the offending field, e.g. `services.api.probes[1].http`. */
export class ConfigError extends HealbotError {
  readonly problems: readonly { path: string; message: string }[];
  constructor(problems: { path: string; message: string }[], source?: string, options: { cause?: unknown } = {}) {
    const where = source ? `${source}: ` : '';
    super(
      'CONFIG_INVALID',
      where + problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; '),
      options,
    );
    this.problems = problems;
  }
}

export class UsageError extends HealbotError {
  constructor(message: string) {
    super('USAGE', message);
  }
}

export class UnknownServiceError extends HealbotError {
  readonly service: string;
  readonly known: readonly string[];
  constructor(service: string, known: readonly string[], suggestions: readonly string[] = []) {
    const hint = suggestions.length > 0 ? ` Did you mean ${suggestions.join(' or ')}?` : '';
    super('UNKNOWN_SERVICE', `unknown service "${service}".${hint} Known services: ${known.join(', ') || '(none)'}`);
    this.service = service;
    this.known = known;
  }
}

/** A runtime (Docker, Kubernetes, a command) could not be read or could not act. */
export class RuntimeError extends HealbotError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('RUNTIME_FAILED', message, { ...options, userFacing: false });
  }
}

export class PermissionDenied extends HealbotError {
  constructor(message: string) {
    super('PERMISSION_DENIED', message);
  }
}

export class ApprovalUnavailable extends HealbotError {
  constructor(code: 'APPROVAL_EXPIRED' | 'APPROVAL_NOT_FOUND', message: string) {
    super(code, message);
  }
}

/**
 * The store cannot be used: the SQLite file at `store.path` (damaged, empty, or from a newer
 * healbot) or the Postgres database at `store.url` (unreachable, refusing healbot, or from a newer
 * healbot; `path` then holds the URL with its password redacted). The message says what to do.
 */
export class StoreError extends HealbotError {
  readonly path: string;
  constructor(
    path: string,
    problem: string,
    todo: string,
    options: { cause?: unknown; field?: 'store.path' | 'store.url' } = {},
  ) {
    super('STORE_UNUSABLE', `${options.field ?? 'store.path'} ${path} ${problem}: ${todo}`, { cause: options.cause });
    this.path = path;
  }
}

/** Turns anything thrown into one line a human can read, never a stack trace. */
export function describeError(error: unknown): string {
  if (error instanceof Error) return error.message.split('\n')[0] || error.name;
  return String(error);
}
