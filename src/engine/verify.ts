import type { Config } from '../config/schema.js';
import { hasService } from '../config/own.js';
import { inspectRuntime, runProbe, servicesInvolved, type Sensors } from './diagnose.js';
import type { ProbeResult } from './types.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Services in the order to verify them: dependencies and layer owners before their dependents. */
export function insideOutOrder(config: Config, service: string): string[] {
  const order: string[] = [];
  const visit = (name: string, seen: Set<string>) => {
    if (order.includes(name) || seen.has(name) || !hasService(config, name)) return;
    seen.add(name);
    for (const dep of config.services[name].dependsOn) visit(dep, seen);
    for (const probe of config.services[name].probes) if (probe.service && probe.service !== name) visit(probe.service, seen);
    order.push(name);
  };
  visit(service, new Set());
  return order.filter((name) => servicesInvolved(config, service).includes(name));
}

export interface Verification {
  ok: boolean;
  probes: ProbeResult[];
  ms: number;
  /** The layer that never became healthy, when not ok. */
  stuckAt?: string;
}

/**
 * Re-probes from the inside out: each service's innermost layer first, each layer polled
 * with backoff until it is healthy or the deadline passes. A service without probes is
 * verified by its runtime reporting it running and not unhealthy.
 */
export async function verifyInsideOut(sensors: Sensors, service: string, timeoutMs: number, onProbe?: (r: ProbeResult) => void): Promise<Verification> {
  const started = performance.now();
  const deadline = Date.now() + timeoutMs;
  const results: ProbeResult[] = [];
  for (const name of insideOutOrder(sensors.config, service)) {
    const layers = [...(sensors.probes[name] ?? [])].reverse();
    if (layers.length === 0) {
      const runtime = sensors.runtimes[name];
      if (!runtime) continue;
      let delay = 250;
      for (;;) {
        const state = await inspectRuntime(runtime, 0);
        if (state.status === 'running' && state.health !== 'unhealthy' && !state.error) break;
        if (Date.now() + delay > deadline) return { ok: false, probes: results, ms: Math.round(performance.now() - started), stuckAt: `${name} (${state.status})` };
        await sleep(delay);
        delay = Math.min(delay * 2, 2000);
      }
      continue;
    }
    for (const layer of layers) {
      let delay = 250;
      for (;;) {
        const result = await runProbe(name, layer.probe);
        onProbe?.(result);
        if (result.ok) {
          results.push(result);
          break;
        }
        if (Date.now() + delay > deadline) {
          results.push(result);
          return { ok: false, probes: results, ms: Math.round(performance.now() - started), stuckAt: `${name}/${layer.config.name}` };
        }
        await sleep(delay);
        delay = Math.min(delay * 2, 2000);
      }
    }
  }
  return { ok: true, probes: results, ms: Math.round(performance.now() - started) };
}
