import type { Config } from '../config/schema.js';
import { hasService } from '../config/own.js';
import { inspectRuntime, runProbe, servicesInvolved, type Sensors } from './diagnose.js';
import type { Diagnosis, ProbeResult, RuntimeState } from './types.js';

/** Services in the order to verify them: dependencies and layer owners before their dependents. */
export function insideOutOrder(config: Config, service: string): string[] {
  const order: string[] = [];
  const visit = (name: string, seen: Set<string>) => {
    if (order.includes(name) || seen.has(name) || !hasService(config, name)) return;
    seen.add(name);
    for (const dep of config.services[name].dependsOn) visit(dep, seen);
    for (const probe of config.services[name].probes)
      if (probe.service && probe.service !== name) visit(probe.service, seen);
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
  /** Set when verification ended before its timeout because the failure was clearly unchanged. */
  unchanged?: string;
  /** What a runtime that settles (a CI re-run) ended in. */
  settled?: RuntimeState;
}

export interface VerifyOptions {
  /** The diagnosis before the action: a probe failing the same way again counts as unchanged. */
  before?: Pick<Diagnosis, 'probes'>;
  /** How many consecutive unchanged checks end the verification early. @defaultValue 3 */
  unchangedChecks?: number;
  /** When the first action started (epoch ms): a workload that dies or fails its health check after it is down again. */
  actedAt?: number;
}

/** Resolves a wait early when the runtime reports a change; a change between waits ends the next wait at once. */
class Wakeup {
  private pending = false;
  private wakeNow?: () => void;

  wake(): void {
    this.pending = true;
    this.wakeNow?.();
  }

  wait(ms: number): Promise<void> {
    if (this.pending) {
      this.pending = false;
      return Promise.resolve();
    }
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakeNow = undefined;
        this.pending = false;
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakeNow = done;
    });
  }
}

const isUp = (state: RuntimeState) =>
  state.status === 'running' && state.health !== 'unhealthy' && state.health !== 'starting' && !state.error;

/** Down again since the action: it died after it, or it was (re)started by it and then failed its own health check. */
function downAgain(state: RuntimeState, actedAt: number | undefined): string | undefined {
  if (actedAt === undefined) return undefined;
  const after = (iso?: string) => iso !== undefined && Date.parse(iso) >= actedAt;
  if ((state.status === 'exited' || state.status === 'dead') && after(state.finishedAt))
    return `it stopped again (${state.status}${state.exitCode !== undefined ? `, exit ${state.exitCode}` : ''})`;
  if (state.status === 'running' && state.health === 'unhealthy' && after(state.startedAt))
    return `its health check fails again${state.healthLog?.length ? ` (${state.healthLog.at(-1)})` : ''}`;
  return undefined;
}

/** The same failure as before the action: same layer, same kind of error, same status. A refusal while the workload may still be starting is not. */
function sameFailure(result: ProbeResult, before: Pick<Diagnosis, 'probes'> | undefined): boolean {
  if (result.ok || result.errorKind === 'refused') return false;
  const earlier = before?.probes.find((p) => p.service === result.service && p.name === result.name);
  return (
    earlier !== undefined && !earlier.ok && earlier.errorKind === result.errorKind && earlier.status === result.status
  );
}

/**
 * Re-probes from the inside out: each service's innermost layer first, each layer checked again
 * whenever its runtime reports a change (Docker's events) and with backoff, until it is healthy,
 * the deadline passes, or the failure is clearly unchanged: the workload went down again after
 * the action, or a probe failed exactly as before on `unchangedChecks` consecutive checks while
 * the workload ran. A service without probes is verified by its runtime reporting it running
 * and, when it has a health check, healthy.
 */
export async function verifyInsideOut(
  sensors: Sensors,
  service: string,
  timeoutMs: number,
  onProbe?: (r: ProbeResult) => void,
  options: VerifyOptions = {},
): Promise<Verification> {
  const started = performance.now();
  const deadline = Date.now() + timeoutMs;
  const results: ProbeResult[] = [];
  const order = insideOutOrder(sensors.config, service);
  const needed = options.unchangedChecks ?? 3;
  const wakeup = new Wakeup();
  const watching = new AbortController();
  for (const name of order)
    sensors.runtimes[name]?.watch?.({ signal: watching.signal, since: options.actedAt }, () => wakeup.wake());
  const ms = () => Math.round(performance.now() - started);
  let settled: RuntimeState | undefined;
  try {
    for (const name of order) {
      const layers = [...(sensors.probes[name] ?? [])].reverse();
      const runtime = sensors.runtimes[name];
      if (layers.length === 0) {
        if (!runtime) continue;
        if (runtime.settle) {
          settled = await runtime.settle({ timeoutMs: Math.max(deadline - Date.now(), 0) });
          if (isUp(settled)) continue;
          return {
            ok: false,
            probes: results,
            ms: ms(),
            stuckAt: `${name} (${settled.status}${settled.note ? `: ${settled.note}` : ''})`,
            settled,
          };
        }
        let delay = 250;
        for (;;) {
          const state = await inspectRuntime(runtime, 0);
          if (isUp(state)) break;
          const again = downAgain(state, options.actedAt);
          if (again)
            return {
              ok: false,
              probes: results,
              ms: ms(),
              stuckAt: `${name} (${state.status}): ${again}`,
              unchanged: again,
            };
          if (Date.now() + delay > deadline)
            return { ok: false, probes: results, ms: ms(), stuckAt: `${name} (${state.status})` };
          await wakeup.wait(delay);
          delay = Math.min(delay * 2, 2000);
        }
        continue;
      }
      for (const layer of layers) {
        let delay = 250;
        let unchanged = 0;
        for (;;) {
          const result = await runProbe(name, layer.probe);
          onProbe?.(result);
          if (result.ok) {
            results.push(result);
            break;
          }
          const stuckAt = `${name}/${layer.config.name}`;
          const state = runtime ? await inspectRuntime(runtime, 0) : undefined;
          const again = state && downAgain(state, options.actedAt);
          if (again) {
            results.push(result);
            return { ok: false, probes: results, ms: ms(), stuckAt: `${stuckAt}: ${name} ${again}`, unchanged: again };
          }
          const settled = !state || (state.status === 'running' && state.health !== 'starting');
          unchanged = sameFailure(result, options.before) && settled ? unchanged + 1 : 0;
          if (unchanged >= needed) {
            results.push(result);
            const why = `${layer.config.name} failed ${unchanged} times in a row exactly as before the fix (${result.status ?? result.error})`;
            return { ok: false, probes: results, ms: ms(), stuckAt: `${stuckAt}: ${why}`, unchanged: why };
          }
          if (Date.now() + delay > deadline) {
            results.push(result);
            return { ok: false, probes: results, ms: ms(), stuckAt };
          }
          await wakeup.wait(delay);
          delay = Math.min(delay * 2, 2000);
        }
      }
    }
    return { ok: true, probes: results, ms: ms(), settled };
  } finally {
    watching.abort();
  }
}
