import type { Config } from '../config/schema.js';
import { dependencyClosure, runProbe, type Sensors } from '../engine/diagnose.js';
import type { Engine, EngineLogger } from '../engine/engine.js';
import type { ProbeResult } from '../engine/types.js';
import type { Watchdog } from './watchdog.js';

export interface ProbeMonitorOptions {
  config: Config;
  sensors: Sensors;
  engine: Pick<Engine, 'heal' | 'openIncidents'>;
  watchdog?: Watchdog;
  logger?: EngineLogger;
  /** Told every probe result (for the probe latency histogram). */
  onProbe?: (result: ProbeResult) => void;
  now?: () => number;
}

interface ServiceWatch {
  /** An incident was opened since the service was last seen healthy. */
  reported: boolean;
  lastOpenedAt: number;
  /** When the probes started failing, for time to heal. */
  failingSince?: number;
  /** A person stopped it on purpose: no new incident until it was healthy again. */
  leftAlone?: boolean;
}

export const PROBE_MONITOR_LOOP = 'monitor';

/**
 * Probes every service on `monitor.interval` and opens an incident (source 'monitor') when one
 * starts failing. A service that stays down is not reopened every round: only once it was
 * healthy again, or after `monitor.groupWindow`; one a person stopped on purpose only once it was
 * healthy again. A service whose dependency is failing is left
 * to the dependency's incident, so one outage opens one incident.
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

  /** Forgets what was reported for the service: its next failure opens an incident at once (its container was just recreated). */
  forget(service: string): void {
    this.state.delete(service);
  }

  /** A person stopped the service on purpose and that was told: no incident for it until it was healthy again. */
  leaveAlone(service: string): void {
    this.state.set(service, { reported: true, lastOpenedAt: this.now(), leftAlone: true });
  }

  /** One round: probe everything, open incidents for services that started failing. Returns the failing services. */
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
    const running = engine.openIncidents();
    const now = this.now();
    for (const [service, probes] of results) {
      const watch = this.state.get(service) ?? { reported: false, lastOpenedAt: 0 };
      this.state.set(service, watch);
      if (!failing.has(service)) {
        watch.reported = false;
        watch.failingSince = undefined;
        watch.leftAlone = false;
        continue;
      }
      if (watch.leftAlone) continue;
      watch.failingSince ??= now;
      if (dependencyClosure(config, service).some((dependency) => dependency !== service && failing.has(dependency)))
        continue;
      if (running[service]) continue;
      if (watch.reported && now - watch.lastOpenedAt < config.monitor.groupWindow) continue;
      const failed = probes
        .filter((p) => !p.ok)
        .map((p) => `${p.name} ${p.status ?? p.errorKind ?? ''} ${p.error ?? ''}`.replace(/\s+/g, ' ').trim());
      watch.reported = true;
      watch.lastOpenedAt = now;
      this.options.logger?.info({ service, failed }, 'monitoring found a failing service');
      engine
        .heal({
          service,
          source: 'monitor',
          summary: `monitoring: ${failed.join('; ')}`,
          failingSince: watch.failingSince,
        })
        .then((report) => {
          if (report.leftAlone) watch.leftAlone = true;
        })
        .catch((error: unknown) => this.options.logger?.error({ err: error, service }, 'heal from monitoring failed'));
    }
    this.options.watchdog?.tick(PROBE_MONITOR_LOOP);
    return [...failing];
  }
}
