/**
 * The cost failure patterns add to a diagnosis: refining a root cause over 80 log lines (the
 * Docker runtime's default), a Kubernetes state's events and waiting messages, with the
 * built-in patterns and 20 user patterns. Pure CPU, no I/O: figures per refinement.
 */
import { parseConfig } from '../src/config/load.js';
import { patternsFor, refineWithPatterns } from '../src/engine/patterns/index.js';
import type { RootCause, RuntimeState } from '../src/engine/types.js';

const ROUNDS = 2_000;

function logs(count: number, last?: string): string[] {
  const lines = Array.from(
    { length: count },
    (_, i) =>
      `2026-11-30T12:00:${String(i % 60).padStart(2, '0')}Z INFO request ${i} GET /api/items/${i} 200 ${i % 17} ms user=u${i}`,
  );
  if (last) lines[lines.length - 1] = last;
  return lines;
}

function time(run: () => unknown): number {
  for (let i = 0; i < 100; i++) run();
  const started = performance.now();
  for (let i = 0; i < ROUNDS; i++) run();
  return ((performance.now() - started) * 1000) / ROUNDS;
}

export async function benchPatterns(): Promise<Record<string, number | string>> {
  const config = parseConfig({
    services: { api: { command: { restart: ['true'] } } },
    patterns: Array.from({ length: 20 }, (_, i) => ({
      id: `custom_${i}`,
      match: `custom failure number ${i}\\b`,
      advice: 'fix it',
    })),
  });
  const builtin = patternsFor(parseConfig({ services: { api: { command: { restart: ['true'] } } } }));
  const withUser = patternsFor(config);
  const rc: RootCause = {
    kind: 'crash_loop',
    service: 'api',
    summary: 'api keeps crashing',
    confidence: 0.9,
    evidence: [],
  };
  const quiet: RuntimeState = { runtime: 'docker', target: 'api', status: 'restarting', logs: logs(80) };
  const failing: RuntimeState = {
    ...quiet,
    logs: logs(80, 'FATAL: could not write to file "pg_wal/xlogtemp.27": No space left on device'),
  };
  const noMatch = time(() => refineWithPatterns(rc, quiet, [], builtin));
  const match = time(() => refineWithPatterns(rc, failing, [], builtin));
  const user = time(() => refineWithPatterns(rc, quiet, [], withUser));
  return {
    'refine, 80 lines, no match (µs)': noMatch.toFixed(1),
    'refine, 80 lines, disk_full (µs)': match.toFixed(1),
    'refine, +20 user patterns (µs)': user.toFixed(1),
    'user patterns / built-in only': (user / noMatch).toFixed(2),
  };
}
