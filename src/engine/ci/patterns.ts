/**
 * Why a CI job failed, read from its log in the tools' own words. Pure: lines in, a match out.
 * Kept apart from the runtime pattern library so the two can merge later; the shape follows it
 * (an id, a regular expression per line, a confidence, what to do).
 */

/** What kind of failure a CI pattern names; the plan is chosen by category. */
export type CiFailureCategory =
  | 'network'
  | 'registry_unavailable'
  | 'cache_corrupt'
  | 'lockfile'
  | 'disk_full'
  | 'test_failure';

export interface CiFailurePattern {
  /** Stable id shown in evidence and summaries, e.g. `npm_network`. */
  id: string;
  category: CiFailureCategory;
  /** Matched against each log line separately. */
  match: RegExp;
  confidence: number;
  /** A short description for the summary; `{code}`, `{host}` and `{what}` are filled from the line. */
  describe: string;
}

/** A pattern that matched, with the line that made it match (already redacted by the caller). */
export interface CiFailureMatch {
  id: string;
  category: CiFailureCategory;
  confidence: number;
  /** e.g. `npm ETIMEDOUT fetching registry metadata`. */
  description: string;
  line: string;
}

const NETWORK_CODE = /\b(ETIMEDOUT|ECONNRESET|EAI_AGAIN|ESOCKETTIMEDOUT|ENETUNREACH|EPIPE)\b/;

/**
 * The built-in CI patterns. Order matters only between equal confidences: the more specific
 * failure (failing tests, a corrupt cache, a stale lockfile) wins over the network noise it may cause.
 */
export const CI_PATTERNS: readonly CiFailurePattern[] = [
  // First: a failing test suite is the code's fault even when a test also printed a network error.
  {
    id: 'test_failure',
    category: 'test_failure',
    match:
      /^\s*(?:FAIL\s+\S+\.(?:test|spec)\.|Tests?:?\s+\d+ failed|Test Files\s+\d+ failed|\d+ failing\b|=+ .*\d+ failed.* in [\d.]+s|FAILED \S+::|--- FAIL: |AssertionError|expect\(received\))/i,
    confidence: 0.9,
    describe: 'tests failed ({what})',
  },
  {
    id: 'npm_integrity',
    category: 'cache_corrupt',
    match:
      /\bEINTEGRITY\b|integrity checksum failed|tarball data for .* seems to be corrupted|ERR_PNPM_TARBALL_INTEGRITY|Incorrect integrity when fetching from the cache/i,
    confidence: 0.9,
    describe: 'npm integrity checksum failed (a corrupted cache)',
  },
  {
    id: 'cache_tar',
    category: 'cache_corrupt',
    match:
      /(?:\/usr\/bin\/)?tar: (?:Unexpected EOF in archive|Error is not recoverable|.*: Cannot open: File exists|Damaged tar archive)|zstd: .*(?:premature end|Read error)|Failed to restore: .*(?:tar|zstd|corrupt)/i,
    confidence: 0.9,
    describe: 'tar failed restoring the cache (a corrupted cache)',
  },
  {
    id: 'npm_lockfile',
    category: 'lockfile',
    match:
      /lock file's .* does not satisfy|can only install packages when your package\.json and package-lock\.json (?:or npm-shrinkwrap\.json )?are in sync|Missing: .* from lock file|\bEUSAGE\b/i,
    confidence: 0.95,
    describe: 'package-lock.json is out of date (npm ci: {what})',
  },
  {
    id: 'lockfile_frozen',
    category: 'lockfile',
    match:
      /Your lockfile needs to be updated, but yarn was run with `--frozen-lockfile`|YN0028: The lockfile would have been modified|ERR_PNPM_OUTDATED_LOCKFILE|poetry\.lock (?:is not consistent|was last generated)|changed significantly since poetry\.lock|lock file .* needs to be updated but --locked was passed/i,
    confidence: 0.95,
    describe: 'the lockfile is out of date',
  },
  {
    id: 'lockfile_corrupt',
    category: 'lockfile',
    match:
      /\bEJSONPARSE\b.*package-lock\.json|package-lock\.json.*\bEJSONPARSE\b|Failed to parse (?:yarn\.lock|package-lock\.json|pnpm-lock\.yaml)/i,
    confidence: 0.9,
    describe: 'the lockfile is corrupt (it does not parse)',
  },
  {
    id: 'runner_disk_full',
    category: 'disk_full',
    match: /No space left on device|\bENOSPC\b|You are running out of disk space/i,
    confidence: 0.9,
    describe: 'the runner ran out of disk space',
  },
  {
    id: 'registry_5xx',
    category: 'registry_unavailable',
    match:
      /\bE50[0-4]\b|\b50[0-4] (?:Internal Server Error|Bad Gateway|Service Unavailable|Gateway Time-?out)\b|received unexpected HTTP status: 5\d\d|HTTP error 5\d\d|status code 5\d\d/i,
    confidence: 0.85,
    describe: 'the registry answered {code} {host}',
  },
  {
    id: 'npm_network',
    category: 'network',
    match: /npm (?:ERR!|error) .*(?:ETIMEDOUT|ECONNRESET|EAI_AGAIN|ESOCKETTIMEDOUT|network request to)/i,
    confidence: 0.9,
    describe: 'npm {code} fetching {what}',
  },
  {
    id: 'pip_network',
    category: 'network',
    match:
      /ReadTimeoutError|Read timed out\.|ConnectTimeoutError|Connection broken: .*(?:ConnectionResetError|IncompleteRead)|Temporary failure in name resolution/i,
    confidence: 0.85,
    describe: 'pip timed out reading from {host}',
  },
  {
    id: 'docker_pull_timeout',
    category: 'network',
    match:
      /Client\.Timeout exceeded while awaiting headers|TLS handshake timeout|(?:dial tcp|lookup) .*i\/o timeout|net\/http: request canceled while waiting for connection/i,
    confidence: 0.85,
    describe: 'docker pull timed out reaching {host}',
  },
  {
    id: 'network_reset',
    category: 'network',
    match:
      /Connection reset by peer|Could not resolve host|Failed to connect to .* (?:Connection timed out|Timed out)|\b(?:ETIMEDOUT|ECONNRESET|EAI_AGAIN)\b/i,
    confidence: 0.8,
    describe: 'a network {code} reaching {host}',
  },
];

const hostOf = (line: string): string | undefined =>
  /https?:\/\/([A-Za-z0-9.-]+)/.exec(line)?.[1] ??
  /host='([A-Za-z0-9.-]+)'/.exec(line)?.[1] ??
  /(?:lookup|resolve host:?|connect to)\s+([A-Za-z0-9.-]+\.[A-Za-z]{2,})/i.exec(line)?.[1];

const telling = (line: string) => hostOf(line) !== undefined || /does not satisfy|Missing: /.test(line);

function describe(pattern: CiFailurePattern, line: string): string {
  const code = NETWORK_CODE.exec(line)?.[1] ?? /\b(E?5\d\d)\b/.exec(line)?.[1] ?? 'error';
  const host = hostOf(line);
  let what = '';
  if (pattern.category === 'network')
    what = /\.tgz\b/.test(line)
      ? 'a package tarball'
      : /registry/i.test(line) || host?.includes('registry')
        ? 'registry metadata'
        : (host ?? 'the network');
  else if (pattern.category === 'lockfile')
    what = /does not satisfy|Missing: /.test(line)
      ? line.replace(/^.*?(?=lock file's|Missing: )/, '').trim()
      : /\bEUSAGE\b/.test(line)
        ? 'EUSAGE'
        : 'refused it';
  else if (pattern.category === 'test_failure') what = line.trim().slice(0, 80);
  return pattern.describe
    .replace('{code}', code)
    .replace(' {host}', host ? ` (${host})` : '')
    .replace('{host}', host ?? 'the network')
    .replace('{what}', what);
}

/** The patterns' verdict on a log: the most confident match, the earlier pattern on a tie. */
export function classifyCiLog(
  lines: readonly string[],
  patterns: readonly CiFailurePattern[] = CI_PATTERNS,
): CiFailureMatch | undefined {
  let best: { pattern: CiFailurePattern; line: string; rank: number } | undefined;
  for (const line of lines) {
    patterns.forEach((pattern, rank) => {
      if (!pattern.match.test(line)) return;
      const better =
        !best ||
        pattern.confidence > best.pattern.confidence ||
        (pattern.confidence === best.pattern.confidence && rank < best.rank);
      // The same pattern again: keep the line that names what went wrong (a host, the package).
      const moreTelling = best?.pattern === pattern && !telling(best.line) && telling(line);
      if (better || moreTelling) best = { pattern, line, rank };
    });
  }
  if (!best) return undefined;
  return {
    id: best.pattern.id,
    category: best.pattern.category,
    confidence: best.pattern.confidence,
    description: describe(best.pattern, best.line),
    line: best.line.trim(),
  };
}

/** GitHub's job log lines without their leading timestamps and `##[group]` markers. */
export function logLinesOf(text: string): string[] {
  return text
    .split(/\r?\n/)
    .map((line) => line.replace(/^\d{4}-\d\d-\d\dT[\d:.]+Z ?/, ''))
    .filter((line) => line.length > 0 && !/^##\[(?:group|endgroup)\]/.test(line));
}

/** The cache keys a job restored, from actions/cache's and setup-*'s "Cache restored from key: …" lines. */
export function restoredCacheKeys(lines: readonly string[]): string[] {
  const keys = lines
    .map((line) => /Cache (?:restored from key|hit for(?: restore-key)?):\s*(\S+)/i.exec(line)?.[1])
    .filter((k): k is string => Boolean(k));
  return [...new Set(keys)];
}
