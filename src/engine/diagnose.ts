import type { Config, ProbeConfig } from '../config/schema.js';
import { hasService } from '../config/own.js';
import type { Probe } from './ports/probe.js';
import type { Runtime } from './ports/runtime.js';
import { probeTarget } from './probe-target.js';
import type { Observations, ServiceObservation } from './observation.js';
import { patternsFor } from './patterns/index.js';
import { determineRootCause } from './root-cause.js';
import { hopsFrom } from './report.js';
import type { Diagnosis, ProbeResult, RuntimeState } from './types.js';

export interface ProbeSet {
  config: ProbeConfig;
  probe: Probe;
}

export interface Sensors {
  config: Config;
  probes: Record<string, ProbeSet[]>;
  runtimes: Record<string, Runtime | undefined>;
  canaries: Probe[];
}

const RUNTIME_TIMEOUT_MS = 10_000;

/** Runs one probe under its own timeout; a probe that ignores its signal is cut off all the same. */
export async function runProbe(service: string, probe: Probe): Promise<ProbeResult> {
  const started = performance.now();
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException('probe timed out', 'TimeoutError')),
    probe.timeoutMs,
  );
  let hardStop: NodeJS.Timeout | undefined;
  const cutoff = new Promise<{ ok: false; error: string; errorKind: 'timeout' }>((resolve) => {
    hardStop = setTimeout(
      () => resolve({ ok: false, error: 'timed out', errorKind: 'timeout' }),
      probe.timeoutMs + 250,
    );
  });
  try {
    const outcome = await Promise.race([probe.check(controller.signal), cutoff]);
    return { service, name: probe.name, ...outcome, ms: Math.round(performance.now() - started) };
  } catch (error) {
    return {
      service,
      name: probe.name,
      ok: false,
      error: (error as Error).message,
      errorKind: 'other',
      ms: Math.round(performance.now() - started),
    };
  } finally {
    clearTimeout(timer);
    clearTimeout(hardStop);
  }
}

export async function inspectRuntime(runtime: Runtime, logLines = 80): Promise<RuntimeState> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<RuntimeState>((resolve) => {
    timer = setTimeout(
      () =>
        resolve({
          runtime: runtime.kind,
          target: '?',
          status: 'unknown',
          error: `runtime did not answer within ${RUNTIME_TIMEOUT_MS / 1000} s`,
        }),
      RUNTIME_TIMEOUT_MS,
    );
  });
  try {
    return await Promise.race([runtime.inspect({ logLines }), timeout]);
  } catch (error) {
    return { runtime: runtime.kind, target: '?', status: 'unknown', error: (error as Error).message };
  } finally {
    clearTimeout(timer);
  }
}

/** The service and every service it depends on, transitively. */
export function dependencyClosure(config: Config, service: string): string[] {
  const seen: string[] = [];
  const visit = (name: string) => {
    if (seen.includes(name) || !hasService(config, name)) return;
    seen.push(name);
    config.services[name].dependsOn.forEach(visit);
  };
  visit(service);
  return seen;
}

/** The service, every service it depends on (transitively), and the owners of its layers. */
export function servicesInvolved(config: Config, service: string): string[] {
  const seen = new Set<string>();
  const visit = (name: string) => {
    if (seen.has(name) || !hasService(config, name)) return;
    seen.add(name);
    for (const dep of config.services[name].dependsOn) visit(dep);
    for (const probe of config.services[name].probes) if (probe.service) visit(probe.service);
  };
  visit(service);
  return [...seen];
}

/**
 * Probes every layer of the service, its dependencies and its layer owners, and reads their
 * runtimes, all at once: a diagnosis takes about as long as its slowest probe.
 */
export async function diagnose(
  sensors: Sensors,
  service: string,
  hooks: { onProbe?: (r: ProbeResult) => void; onRuntime?: (service: string, state: RuntimeState) => void } = {},
): Promise<Diagnosis> {
  const startedAt = new Date();
  const started = performance.now();
  const involved = servicesInvolved(sensors.config, service);
  const probeRuns = involved.map((name) =>
    Promise.all(
      (sensors.probes[name] ?? []).map(async (set) => {
        const result = await runProbe(name, set.probe);
        hooks.onProbe?.(result);
        return { config: set.config, target: probeTarget(set.config), result };
      }),
    ),
  );
  const runtimeRuns = involved.map(async (name) => {
    const runtime = sensors.runtimes[name];
    if (!runtime) return undefined;
    const state = await inspectRuntime(runtime);
    hooks.onRuntime?.(name, state);
    return state;
  });
  const canaryRuns = Promise.all(sensors.canaries.map((c) => runProbe('healbot', c)));
  const [probeResults, runtimeStates, canaries] = await Promise.all([
    Promise.all(probeRuns),
    Promise.all(runtimeRuns),
    canaryRuns,
  ]);

  const services: Record<string, ServiceObservation> = {};
  const runtime: Record<string, RuntimeState | undefined> = {};
  involved.forEach((name, i) => {
    services[name] = {
      service: name,
      probes: probeResults[i],
      runtime: runtimeStates[i],
      dependsOn: sensors.config.services[name].dependsOn,
    };
    runtime[name] = runtimeStates[i];
  });
  const observations: Observations = {
    services,
    canaries,
    observerNetwork: sensors.config.observer.network,
    patterns: patternsFor(sensors.config),
  };
  const rootCause = determineRootCause(service, observations);
  const probes = involved.flatMap((name) => services[name].probes.map((p) => p.result));
  const onPath = dependencyClosure(sensors.config, service);
  const path = hopsFrom(probes.filter((p) => onPath.includes(p.service)));
  return {
    service,
    probes: [...probes, ...canaries],
    path,
    runtime,
    rootCause,
    startedAt: startedAt.toISOString(),
    ms: Math.round(performance.now() - started),
  };
}
