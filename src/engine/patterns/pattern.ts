/**
 * Failure patterns: what a workload's own words (last log lines, health check output, pod
 * waiting messages, events, probe errors) say about why it fails. Pure: text in, match out.
 */

/** A known failure, recognised by a regular expression over one line of what the runtime gives. */
export interface FailurePattern {
  /** Stable id shown in evidence and summaries, e.g. `disk_full`. */
  id: string;
  /** Matched against each line separately; its first capture group, if any, is the subject (a dependency, a key). */
  match: RegExp;
  /** Finds the subject in a matched line when `match` has no capture group for it. */
  subject?: RegExp;
  /** How sure a match makes healbot that this is the cause, 0..1. */
  confidence: number;
  /** What to do instead, phrased for the thread; `{subject}` becomes " <subject>", or nothing when the line names none. */
  advice: string;
  /** Where to look; a probe's own error only tells about the probe's target. @defaultValue every source but probe */
  sources?: readonly LineSource[];
  /** Whether a restart is a fix (it releases descriptors, memory) or only repeats the failure. */
  restartHelps: boolean;
}

/** Where a line came from, so the summary can say "its last logs say" or "a probe says". */
export type LineSource = 'logs' | 'health check' | 'pod status' | 'events' | 'probe';

/** One line of what the runtime or a probe said. */
export interface ObservedLine {
  text: string;
  source: LineSource;
}

/** A pattern that matched, with the line that made it match. */
export interface PatternMatch {
  id: string;
  confidence: number;
  /** The matched line, shortened; it comes from the runtime, which redacts it. */
  line: string;
  source: LineSource;
  advice: string;
  restartHelps: boolean;
  /** The dependency or config key the line names, when the pattern captures one. */
  subject?: string;
}

const MAX_LINE = 200;
const DEFAULT_SOURCES: readonly LineSource[] = ['logs', 'health check', 'pod status', 'events'];

const shorten = (line: string): string => {
  const trimmed = line.trim();
  return trimmed.length > MAX_LINE ? `${trimmed.slice(0, MAX_LINE - 1)}…` : trimmed;
};

/**
 * The best match of `patterns` over `lines`: the highest confidence, and among equals the
 * latest line (the one closest to the failure). Undefined when nothing matches.
 */
export function matchPatterns(
  lines: readonly ObservedLine[],
  patterns: readonly FailurePattern[],
): PatternMatch | undefined {
  let best: PatternMatch | undefined;
  for (let index = lines.length - 1; index >= 0; index--) {
    const { text, source } = lines[index];
    for (const pattern of patterns) {
      if (best && pattern.confidence <= best.confidence) continue;
      if (!(pattern.sources ?? DEFAULT_SOURCES).includes(source)) continue;
      const found = pattern.match.exec(text);
      if (!found) continue;
      const subject =
        found.slice(1).find((group) => group !== undefined) ??
        (pattern.subject ? pattern.subject.exec(text)?.[1] : undefined);
      const advice = pattern.advice.replaceAll('{subject}', subject ? ` ${subject}` : '');
      best = {
        id: pattern.id,
        confidence: pattern.confidence,
        line: shorten(text),
        source,
        advice,
        restartHelps: pattern.restartHelps,
        ...(subject ? { subject } : {}),
      };
    }
  }
  return best;
}
