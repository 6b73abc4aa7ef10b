import type { Config } from '../config/schema.js';
import { inspectRuntime, type Sensors } from '../engine/diagnose.js';
import type { Engine, EngineLogger } from '../engine/engine.js';

export interface ConfigWatchOptions {
  config: Config;
  sensors: Sensors;
  engine: Pick<Engine, 'heal' | 'openIncidents'>;
  logger?: EngineLogger;
}

/**
 * Checks, on `monitor.interval`, the containers with `docker.configFiles` for files changed
 * since they started, and opens an incident (source 'monitor') once per change: a changed
 * `.env` does not wait for someone to notice. The incident's diagnosis names it stale_config.
 */
export class ConfigWatch {
  /** Per service, the change already reported (paths and times), so one change opens one incident. */
  private readonly reported = new Map<string, string>();
  private timer?: NodeJS.Timeout;
  private round?: Promise<void>;
  private stopped = true;

  constructor(private readonly options: ConfigWatchOptions) {}

  /** Services whose configuration files are watched. */
  get services(): string[] {
    return Object.entries(this.options.config.services)
      .filter(([, service]) => (service.docker?.configFiles?.length ?? 0) > 0)
      .map(([name]) => name);
  }

  start(): void {
    if (!this.stopped || this.services.length === 0) return;
    this.stopped = false;
    this.schedule();
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.round = this.tick()
        .then(() => undefined)
        .catch((error: unknown) => this.options.logger?.error({ err: error }, 'config watch round failed'))
        .finally(() => this.schedule());
    }, this.options.config.monitor.interval);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    await this.round;
  }

  /** One round; returns the services it opened incidents for. */
  async tick(): Promise<string[]> {
    const { sensors, engine } = this.options;
    const opened: string[] = [];
    await Promise.all(
      this.services.map(async (service) => {
        const runtime = sensors.runtimes[service];
        if (!runtime || engine.openIncidents()[service]) return;
        const changed = (await inspectRuntime(runtime, 0)).changedFiles ?? [];
        if (changed.length === 0) {
          this.reported.delete(service);
          return;
        }
        const change = changed.map((f) => `${f.path}@${f.modifiedAt}`).join(',');
        if (this.reported.get(service) === change) return;
        this.reported.set(service, change);
        opened.push(service);
        const summary = `configuration changed after the container started: ${changed.map((f) => f.path).join(', ')}`;
        this.options.logger?.info({ service, changed }, 'configuration changed');
        engine
          .heal({ service, source: 'monitor', summary })
          .catch((error: unknown) =>
            this.options.logger?.error({ err: error, service }, 'heal of stale configuration failed'),
          );
      }),
    );
    return opened;
  }
}
