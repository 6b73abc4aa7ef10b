import type { FailurePattern } from './pattern.js';

const NO_RESTART = 'a restart will not help';
const MIGRATION_MESSAGES = [
  'Target database is not up to date', // Alembic
  'Following migrations? ha(?:ve|s) not yet been applied', // Prisma migrate
  'does not exist in the current database', // Prisma P2021 at run time
  'You have \\d+ unapplied migration', // Django
  'PendingMigrationError|Migrations are pending', // Rails
  'FlywayValidateException|resolved migrations? not applied to database|Migrations have failed validation', // Flyway
];

/**
 * The built-in failure patterns, in the words the software itself uses. Ids are stable: runbooks
 * match on them (`when.patterns`).
 */
export const BUILTIN_PATTERNS: readonly FailurePattern[] = [
  {
    id: 'disk_full',
    match: /No space left on device|\bENOSPC\b|Disk quota exceeded/i,
    confidence: 0.9,
    advice: `free disk space (prune unused images and volumes, rotate logs) or grow the volume; ${NO_RESTART}`,
    restartHelps: false,
  },
  {
    id: 'address_in_use',
    match: /address already in use|\bEADDRINUSE\b/i,
    subject: /(?:EADDRINUSE|listen tcp)[^\d\n]*?(\[?[\w.:]*:\d+)/i,
    confidence: 0.85,
    advice: `another process already holds the port{subject}: stop it or move one of them; ${NO_RESTART} while it does`,
    restartHelps: false,
  },
  {
    id: 'too_many_open_files',
    match: /too many open files|\bEMFILE\b|\bENFILE\b/i,
    confidence: 0.85,
    advice: 'raise its open-file limit (nofile) or fix the descriptor leak; a restart frees them only for a while',
    restartHelps: true,
  },
  {
    id: 'permission_denied',
    match: /permission denied|\bEACCES\b|operation not permitted|\bEPERM\b/i,
    confidence: 0.75,
    advice: `fix the ownership or mode of what it names, or the user it runs as; ${NO_RESTART}`,
    restartHelps: false,
  },
  {
    id: 'connection_refused',
    match: /connection refused|\bECONNREFUSED\b/i,
    subject: /(?:ECONNREFUSED|dial tcp|connecting to|to server at|host=|connect to)\s*["']?([A-Za-z0-9_.-]+(?::\d+)?)/i,
    confidence: 0.8,
    advice: `its dependency{subject} refuses connections: heal the dependency, not this service; ${NO_RESTART}`,
    restartHelps: false,
  },
  {
    id: 'dns_failure',
    match:
      /\bENOTFOUND\b|\bEAI_AGAIN\b|no such host|Name or service not known|could not translate host name|Temporary failure in name resolution|Could not resolve host|Name does not resolve/i,
    subject: /(?:ENOTFOUND|EAI_AGAIN|lookup|host name|resolve host:?)\s+["']?([A-Za-z0-9_-][A-Za-z0-9_.-]*)/i,
    confidence: 0.8,
    advice: `the dependency name{subject} does not resolve: check that the dependency exists and shares its network; ${NO_RESTART}`,
    restartHelps: false,
  },
  {
    id: 'tls_certificate_expired',
    match: /certificate (?:has )?expired|\bCERT_HAS_EXPIRED\b|certificate is not yet valid/i,
    confidence: 0.9,
    advice: `renew the TLS certificate (or fix the clock); ${NO_RESTART}`,
    sources: ['logs', 'health check', 'pod status', 'events', 'probe'],
    restartHelps: false,
  },
  {
    id: 'missing_config',
    match:
      /(?:environment variable|env var|config(?:uration)? key|setting)\s+["'`]?([A-Za-z_][A-Za-z0-9_.]*)["'`]?\s+(?:is\s+)?(?:not set|missing|required|undefined|not defined|must be set)/i,
    confidence: 0.85,
    advice: `set the missing setting{subject} in its environment or config file; ${NO_RESTART} until it is set`,
    restartHelps: false,
  },
  {
    id: 'missing_config',
    match:
      /missing (?:required )?(?:environment variables?|env vars?|config(?:uration)? (?:keys?|values?)|settings?):?\s+["'`]?([A-Za-z_][A-Za-z0-9_.]*)|couldn't find key ([A-Za-z0-9_.-]+) in (?:ConfigMap|Secret)/i,
    confidence: 0.85,
    advice: `set the missing setting{subject} in its environment or config file; ${NO_RESTART} until it is set`,
    restartHelps: false,
  },
  {
    id: 'pending_migration',
    match: new RegExp(MIGRATION_MESSAGES.join('|'), 'i'),
    confidence: 0.9,
    advice: `the database schema is behind the code: run the pending migrations, then restart; ${NO_RESTART} on its own`,
    restartHelps: false,
  },
  {
    id: 'js_heap_oom',
    match: /JavaScript heap out of memory|Reached heap limit Allocation failed/,
    confidence: 0.9,
    advice: 'raise --max-old-space-size and the memory limit, or fix the leak; a restart only buys time',
    restartHelps: true,
  },
  {
    id: 'java_heap_oom',
    match: /java\.lang\.OutOfMemoryError/,
    confidence: 0.9,
    advice: 'raise -Xmx (and the memory limit), or fix the leak; a restart only buys time',
    restartHelps: true,
  },
  {
    id: 'python_memory_error',
    match: /(?:^|[\s:])MemoryError\b/,
    confidence: 0.85,
    advice: 'give it more memory or make it use less; a restart only buys time',
    restartHelps: true,
  },
];
