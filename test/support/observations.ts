import type { Config } from '../../src/config/schema.js';
import type { ServiceObservation } from '../../src/engine/observation.js';
import type { ProbeResult, RuntimeState } from '../../src/engine/types.js';
import { probeTarget } from '../../src/probes/index.js';

/** Builders of synthetic observations, for tests of the pure rules and the planner. */
export type ProbeOutcome = Partial<ProbeResult> & { ok: boolean };

export const OK: ProbeOutcome = { ok: true, status: 200 };
export const REFUSED: ProbeOutcome = { ok: false, error: 'connection refused', errorKind: 'refused' };
export const TIMEOUT: ProbeOutcome = { ok: false, error: 'timed out', errorKind: 'timeout' };
export const status = (code: number): ProbeOutcome => ({
  ok: false,
  status: code,
  error: `HTTP ${code}`,
  errorKind: 'status',
});
export const dnsFail = (host: string): ProbeOutcome => ({
  ok: false,
  error: `cannot resolve ${host} (ENOTFOUND)`,
  errorKind: 'dns',
  host,
});

export const running = (target: string, over: Partial<RuntimeState> = {}): RuntimeState => ({
  runtime: 'docker',
  target,
  status: 'running',
  networks: ['portfolio_default'],
  ...over,
});

/** What a diagnosis would have seen of `service`: its configured probes, in order, with these outcomes. */
export function observe(
  config: Config,
  service: string,
  outcomes: ProbeOutcome[],
  runtime?: RuntimeState,
): ServiceObservation {
  const probes = config.services[service].probes.map((probeConfig, i) => ({
    config: probeConfig,
    target: probeTarget(probeConfig),
    result: { service, name: probeConfig.name, ms: 12, ...outcomes[i] } as ProbeResult,
  }));
  return { service, probes, runtime, dependsOn: config.services[service].dependsOn };
}
