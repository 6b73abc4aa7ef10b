import type { Config } from '../config/schema.js';
import { dependencyClosure, runProbe, type Sensors } from '../engine/diagnose.js';
import type { EngineLogger } from '../engine/engine.js';
import type { HealbotApi } from '../engine/api.js';
import type { Signal } from '../engine/intake.js';
import type { ProbeResult } from '../engine/types.js';
import type { Watchdog } from './watchdog.js';

export interface ProbeMonitorOptions {
  config: Config;
  sensors: Sensors;
  engine: Pick<HealbotApi, 'accept'>;
  watchdog?: Watchdog;
  logger?: EngineLogger;
  /** Told every probe result (for the probe latency histogram). */
  onProbe?: (result: ProbeResult) => void;
  now?: () => number;
}

/** What the monitor remembers per service: input for its signals, not decisions. */
interface ServiceWatch {
  /** When the probes started failing, for time to heal. */
  failingSince?: number;
  /** A person stopped it on purpose: no signals for it until it was healthy again. */
  leftAlone?: boolean;
}

export const PROBE_MONITOR_LOOP = 'monitor';

/**
 * Probes every service on `monitor.interval` and tells the engine's intake what it saw: a
 * failing service is a firing signal (source 'monitor'), a healthy one a resolved signal. The
 * intake decides whether that opens, joins or closes an incident. A service whose dependency
 * is failing is left to the dependency's incident, so one outage opens one incident; one a
 * person stopped on purpose is left alone until it was healthy again.
 */
export class ProbeMonitor {
  private readonly state = new Map<string, ServiceWatch>();
  private timer?: NodeJS.Timeout;
  private stopped = true;
  private round?: Promise<void>;
  private readonly now: () => number;

  constructor(private readonly options: ProbeMonitorOptions) {
    this.now = options.now ?? Date.now;
  }

  private get interval(): number {
    return this.options.config.monitor.interval;
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const slowestProbe = Math.max(
      0,
      ...Object.values(this.options.config.services).flatMap((s) => s.probes.map((p) => p.timeoutMs)),
    );
    this.options.watchdog?.watch(PROBE_MONITOR_LOOP, 3 * this.interval + slowestProbe + 5000);
    this.schedule(0);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.round = this.tick()
        .then(() => undefined)
        .catch((error: unknown) => this.options.logger?.error({ err: error }, 'monitoring round failed'))
        .finally(() => this.schedule(this.interval));
    }, delay);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.options.watchdog?.unwatch(PROBE_MONITOR_LOOP);
    await this.round;
  }

  /** Forgets what was seen of the service: its container was just recreated, its failure starts over. */
  forget(service: string): void {
    this.state.delete(service);
    // The failure the open incident is about ended with the old container: the next one is new.
    this.options.engine
      .accept([{ source: 'event', service, status: 'resolved', text: 'its container was started again' }])
      .catch((error: unknown) => this.options.logger?.error({ err: error, service }, 'signal could not be handled'));
  }

  /** A person stopped the service on purpose and that was told: no signals for it until it was healthy again. */
  leaveAlone(service: string): void {
    this.state.set(service, { leftAlone: true });
  }

  /** One round: probe everything and hand what was seen to the intake. Returns the failing services. */
  async tick(): Promise<string[]> {
    const { config, sensors, engine } = this.options;
    const services = Object.keys(config.services).filter((s) => (sensors.probes[s]?.length ?? 0) > 0);
    const results = await Promise.all(
      services.map(async (service) => {
        const probes = await Promise.all(sensors.probes[service].map((set) => runProbe(service, set.probe)));
        for (const result of probes) this.options.onProbe?.(result);
        return [service, probes] as const;
      }),
    );
    const failing = new Set(results.filter(([, probes]) => probes.some((p) => !p.ok)).map(([service]) => service));
    const at = new Date(this.now()).toISOString();
    const signals: Signal[] = [];
    const now = this.now();
    for (const [service, probes] of results) {
      const watch = this.state.get(service) ?? {};
      this.state.set(service, watch);
      if (!failing.has(service)) {
        this.state.delete(service);
        signals.push({ source: 'monitor', service, status: 'resolved', at });
        continue;
      }
      if (watch.leftAlone) continue;
      watch.failingSince ??= now;
      if (dependencyClosure(config, service).some((dependency) => dependency !== service && failing.has(dependency)))
        continue;
      const failed = probes
        .filter((p) => !p.ok)
        .map((p) => `${p.name} ${p.status ?? p.errorKind ?? ''} ${p.error ?? ''}`.replace(/\s+/g, ' ').trim());
      signals.push({
        source: 'monitor',
        service,
        status: 'firing',
        text: `monitoring: ${failed.join('; ')}`,
        at,
        failingSince: watch.failingSince,
      });
    }
    for (const decision of await engine.accept(signals)) {
      if (decision.result !== 'opened') continue;
      this.options.logger?.info(
        { service: decision.service, incidentId: decision.incidentId },
        'monitoring found a failing service',
      );
      const service = decision.service!;
      decision.report
        ?.then((report) => {
          if (report.leftAlone) this.state.set(service, { ...this.state.get(service), leftAlone: true });
        })
        .catch((error: unknown) => this.options.logger?.error({ err: error, service }, 'heal from monitoring failed'));
    }
    this.options.watchdog?.tick(PROBE_MONITOR_LOOP);
    return [...failing];
  }
}
