import type { Config } from '../../config/schema.js';
import { BUILTIN_PATTERNS } from './builtin.js';
import type { FailurePattern } from './pattern.js';

export { BUILTIN_PATTERNS } from './builtin.js';
export { matchPatterns, type FailurePattern, type PatternMatch } from './pattern.js';
export { refineWithPatterns } from './refine.js';

const compiled = new WeakMap<Config, readonly FailurePattern[]>();

/** The user's patterns from config (checked first, so they win ties), then the built-in ones. */
export function patternsFor(config: Config): readonly FailurePattern[] {
  let patterns = compiled.get(config);
  if (!patterns) {
    const own = config.patterns.map((p) => ({
      id: p.id,
      match: new RegExp(p.match, p.ignoreCase ? 'i' : ''),
      confidence: p.confidence,
      advice: p.advice,
      restartHelps: p.restartHelps,
    }));
    patterns = [...own, ...BUILTIN_PATTERNS];
    compiled.set(config, patterns);
  }
  return patterns;
}

/**
 * The configured service a pattern's subject names (`db:5432` → `db`), by service name,
 * container or Kubernetes Deployment/Service name; undefined when it names none.
 */
export function serviceNamedBy(subject: string | undefined, config: Config): string | undefined {
  const host = subject?.replace(/:\d+$/, '');
  if (!host) return undefined;
  if (Object.hasOwn(config.services, host)) return host;
  return Object.entries(config.services).find(
    ([, s]) => s.docker?.container === host || s.kubernetes?.deployment === host || s.kubernetes?.service === host,
  )?.[0];
}
