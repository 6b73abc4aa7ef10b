import { parseDuration } from '../config/duration.js';
import { UsageError } from '../errors.js';
import type { AuditEntry, Store } from '../store/store.js';

/**
 * Reads `--since`: an ISO time (`2025-01-31T10:00:00Z`) or a duration back from now (`1h`, `7d`).
 * Returns the ISO time the audit log is filtered from.
 */
export function parseSince(value: string, now: number = Date.now()): string {
  const back = parseDuration(value);
  if (back !== undefined && /[a-z]$/i.test(value.trim())) return new Date(now - back).toISOString();
  const at = Date.parse(value);
  if (Number.isNaN(at))
    throw new UsageError(
      `--since "${value}" is neither a time (2025-01-31T10:00:00Z) nor a duration back from now (30m, 1h, 7d)`,
    );
  return new Date(at).toISOString();
}

/** The audit log, oldest first, filtered by service and start time. */
export function auditEntries(store: Store, filter: { service?: string; since?: string } = {}): Promise<AuditEntry[]> {
  return store.listAudit({ service: filter.service, since: filter.since });
}

/** One JSON document per line, for `healbot audit --json` and log shippers. */
export function auditJsonLines(entries: AuditEntry[]): string {
  return entries.map((e) => JSON.stringify(e)).join('\n') + (entries.length > 0 ? '\n' : '');
}

/** One readable line per entry. */
export function auditText(entries: AuditEntry[]): string {
  return (
    entries
      .map((e) =>
        [
          e.at,
          e.service ?? '-',
          e.incidentId ?? '-',
          e.event,
          e.actor ? `by ${e.actor}` : '',
          Object.keys(e.detail).length > 0 ? JSON.stringify(e.detail) : '',
        ]
          .filter(Boolean)
          .join('  '),
      )
      .join('\n') + (entries.length > 0 ? '\n' : '')
  );
}
