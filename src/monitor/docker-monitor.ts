import type Dockerode from 'dockerode';
import { own } from '../config/own.js';
import type { Config } from '../config/schema.js';
import type { Engine, EngineLogger } from '../engine/engine.js';
import { dockerClientFor } from '../runtimes/docker.js';
import { watchDockerEvents, type DockerContainerEvent } from '../runtimes/docker-events.js';
import type { Store } from '../store/store.js';

export interface DockerMonitorOptions {
  config: Config;
  engine: Pick<Engine, 'heal' | 'openIncidents' | 'note' | 'subscribe'>;
  store: Store;
  logger?: EngineLogger;
  /** Builds the Docker client for a configured host (`undefined`: DOCKER_HOST or the default socket). */
  clientFor?: (host?: string) => Dockerode;
  /** How long after healbot's own action the container's events are attributed to healbot. @defaultValue 15000 */
  ownActionGraceMs?: number;
  now?: () => number;
}

/** The events that open an incident; the others (start, restart…) are only reported. */
const ALARMS = new Set<DockerContainerEvent['action']>(['die', 'oom', 'health_status: unhealthy']);
const REPORTED = new Set<DockerContainerEvent['action']>(['start', 'restart']);

function describe(event: DockerContainerEvent): string {
  switch (event.action) {
    case 'die':
      return `container ${event.container} died${event.exitCode !== undefined ? ` (exit ${event.exitCode}${event.exitCode === 137 ? ', killed' : ''})` : ''}`;
    case 'oom':
      return `container ${event.container} ran out of memory (OOM kill)`;
    case 'health_status: unhealthy':
      return `container ${event.container} turned unhealthy (its Docker health check fails)`;
    default:
      return `container ${event.container}: ${event.action}`;
  }
}

/**
 * Event-driven detection: follows the Docker event stream of every configured Docker host and
 * opens an incident (source 'event') the moment a service's container dies, is OOM-killed or
 * turns unhealthy, without polling. Restarts and deaths healbot did not cause are reported on
 * the service's running incident, or in the audit log when there is none. Events that follow
 * healbot's own actions are healbot's doing and open nothing.
 */
export class DockerMonitor {
  private readonly controller = new AbortController();
  private readonly watchers: Promise<void>[] = [];
  /** Until when a service's container events are healbot's own doing. */
  private readonly acting = new Map<string, number>();
  private readonly labelCache = new Map<string, Promise<Record<string, string> | undefined>>();
  private unsubscribe?: () => void;
  private readonly now: () => number;

  constructor(private readonly options: DockerMonitorOptions) {
    this.now = options.now ?? Date.now;
  }

  /** Services with a Docker runtime, grouped by Docker host. */
  private hosts(): Map<string | undefined, string[]> {
    const hosts = new Map<string | undefined, string[]>();
    for (const [name, service] of Object.entries(this.options.config.services)) {
      if (!service.docker) continue;
      const list = hosts.get(service.docker.host) ?? [];
      list.push(name);
      hosts.set(service.docker.host, list);
    }
    return hosts;
  }

  /** True when there is at least one Docker service to watch. */
  get enabled(): boolean {
    return this.options.config.monitor.dockerEvents && this.hosts().size > 0;
  }

  start(): void {
    if (!this.enabled) return;
    const grace = this.options.ownActionGraceMs ?? 15_000;
    this.unsubscribe = this.options.engine.subscribe((event) => {
      if (event.type === 'action_started') this.acting.set(event.step.target, Number.POSITIVE_INFINITY);
      if (event.type === 'action_finished') this.acting.set(event.step.target, this.now() + grace);
    });
    const clientFor = this.options.clientFor ?? dockerClientFor;
    for (const [host, services] of this.hosts()) {
      const docker = clientFor(host);
      this.watchers.push(
        watchDockerEvents(docker, (event) => void this.handle(docker, services, event), {
          signal: this.controller.signal,
          onError: (error) => this.options.logger?.warn({ err: (error as Error).message, host: host ?? 'default' }, 'Docker event stream interrupted; reconnecting'),
        }),
      );
    }
  }

  async stop(): Promise<void> {
    this.controller.abort();
    this.unsubscribe?.();
    await Promise.allSettled(this.watchers);
  }

  /** The configured service an event's container belongs to: by container name, else by labels. */
  private async serviceOf(docker: Dockerode, candidates: string[], container: string): Promise<string | undefined> {
    const services = this.options.config.services;
    const byName = candidates.find((s) => services[s].docker?.container === container);
    if (byName) return byName;
    const labelled = candidates.filter((s) => services[s].docker?.labels);
    if (labelled.length === 0) return undefined;
    let labels = this.labelCache.get(container);
    if (!labels) {
      labels = docker
        .getContainer(container)
        .inspect()
        .then(
          (info) => info.Config?.Labels ?? {},
          () => undefined,
        );
      this.labelCache.set(container, labels);
    }
    const found = await labels;
    if (!found) this.labelCache.delete(container);
    return labelled.find((s) => Object.entries(services[s].docker!.labels!).every(([k, v]) => found?.[k] === v));
  }

  private async handle(docker: Dockerode, candidates: string[], event: DockerContainerEvent): Promise<void> {
    const { engine, store, logger } = this.options;
    try {
      if (!ALARMS.has(event.action) && !REPORTED.has(event.action)) return;
      const service = await this.serviceOf(docker, candidates, event.container);
      if (!service) return;
      if ((this.acting.get(service) ?? 0) > this.now()) {
        logger?.info({ service, container: event.container, action: event.action }, 'container event follows healbot’s own action');
        return;
      }
      const what = describe(event);
      const running = own(engine.openIncidents(), service);
      if (ALARMS.has(event.action)) {
        logger?.info({ service, container: event.container, action: event.action, exitCode: event.exitCode }, 'Docker event: opening an incident');
        const report = engine.heal({ service, source: 'event', summary: `${what} (not caused by healbot)`, dedupeKey: `docker:${event.container}:${event.action}:${event.time}` });
        report.catch((error: unknown) => logger?.error({ err: error, service }, 'heal from a Docker event failed'));
        if (running) engine.note(running, `${what}; healbot did not cause it.`, { container: event.container, action: event.action });
        return;
      }
      const message = `${what}; healbot did not cause it.`;
      // Told in the service's thread: the running incident's, else the latest one's.
      const thread = running ?? store.listIncidents({ service, limit: 1 })[0]?.id;
      if (thread) engine.note(thread, message, { container: event.container, action: event.action });
      else store.appendAudit({ at: new Date(this.now()).toISOString(), service, event: 'info', detail: { message, container: event.container, action: event.action } });
      logger?.info({ service, container: event.container, action: event.action }, message);
    } catch (error) {
      logger?.error({ err: error, container: event.container }, 'Docker event could not be handled');
    }
  }
}
