import type { ProbeResult, RootCause, RootCauseKind, RuntimeState } from '../types.js';
import { BUILTIN_PATTERNS } from './builtin.js';
import {
  matchPatterns,
  type FailurePattern,
  type LineSource,
  type ObservedLine,
  type PatternMatch,
} from './pattern.js';

/** Root causes a workload's own words can explain; the others (a broken layer, blindness) are not about its process. */
const REFINABLE: ReadonlySet<RootCauseKind> = new Set([
  'service_down',
  'service_unhealthy',
  'crash_loop',
  'oom_killed',
]);

/** Log lines looked at: the latest ones say why it stopped. */
const LOG_LINES = 40;

/** Everything the runtime and the probes said about one service, line by line, oldest first. */
export function observedLines(state: RuntimeState | undefined, probes: readonly ProbeResult[]): ObservedLine[] {
  const lines: ObservedLine[] = [];
  const add = (source: LineSource, texts: readonly (string | undefined)[]) => {
    for (const text of texts) if (text) lines.push({ text, source });
  };
  add(
    'probe',
    probes.filter((p) => !p.ok).map((p) => p.error),
  );
  add('events', state?.kubernetes?.events.map((e) => e.message) ?? []);
  add('pod status', state?.kubernetes?.pods.flatMap((pod) => pod.containers.map((c) => c.waitingMessage)) ?? []);
  add('health check', state?.healthLog ?? []);
  add('logs', (state?.logs ?? []).slice(-LOG_LINES));
  return lines;
}

const SAYS: Record<LineSource, string> = {
  logs: 'its last logs say',
  'health check': 'its health check says',
  'pod status': 'Kubernetes says',
  events: 'an event says',
  probe: 'a probe says',
};

/** Evidence line and summary clause for a match, e.g. `its last logs say '…' (pattern disk_full, confidence 0.9)`. */
export function describeMatch(match: PatternMatch): string {
  return `${SAYS[match.source]} '${match.line}' (pattern ${match.id}, confidence ${match.confidence})`;
}

/**
 * Refines a root cause with the best pattern match over what the service said: the match joins
 * the evidence and the summary, and its advice says whether a restart helps. The kind stays.
 */
export function refineWithPatterns(
  rc: RootCause,
  state: RuntimeState | undefined,
  probes: readonly ProbeResult[],
  patterns: readonly FailurePattern[] = BUILTIN_PATTERNS,
): RootCause {
  if (!REFINABLE.has(rc.kind) || state?.status === 'paused') return rc;
  const match = matchPatterns(observedLines(state, probes), patterns);
  if (!match) return rc;
  const clause = describeMatch(match);
  return {
    ...rc,
    summary: `${rc.summary.replace(/\.$/, '')}: ${clause}; ${match.advice}`,
    evidence: [...rc.evidence, { source: 'runtime', detail: clause }],
    pattern: match,
  };
}
