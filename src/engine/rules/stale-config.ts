import type { RootCause, RuntimeState } from '../types.js';

/**
 * A workload that runs, but on configuration that changed after it started (an edited `.env`,
 * a mounted config file): it serves the old settings until restarted. Pure.
 */
export function staleConfigCause(rc: RootCause, state: RuntimeState | undefined): RootCause {
  const changed = state?.changedFiles ?? [];
  if (changed.length === 0 || state?.status !== 'running' || (rc.kind !== 'healthy' && rc.kind !== 'service_unhealthy'))
    return rc;
  const files = changed.map((f) => f.path).join(', ');
  return {
    kind: 'stale_config',
    service: rc.service,
    layer: rc.layer,
    summary: `${rc.service} (${state.target}) runs on stale configuration: ${files} changed after it started at ${state.startedAt}; a restart loads the change`,
    confidence: rc.kind === 'healthy' ? 0.8 : 0.85,
    evidence: [
      ...rc.evidence,
      ...changed.map((f) => ({
        source: 'runtime' as const,
        detail: `${f.path} modified ${f.modifiedAt}, after ${state.target} started at ${state.startedAt}`,
      })),
    ],
  };
}
