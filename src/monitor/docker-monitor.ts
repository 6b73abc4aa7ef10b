import type Dockerode from 'dockerode';
import { own } from '../config/own.js';
import type { Config } from '../config/schema.js';
import type { Engine, EngineLogger } from '../engine/engine.js';
import { dockerModule } from '../runtimes/load.js';
import type { ProgressEvent } from '../engine/types.js';
import { watchDockerEvents, type DockerContainerEvent } from '../runtimes/docker-events.js';
import { awaitingStopEvent, stopOnPurpose } from '../runtimes/docker-intent.js';
import type { Store } from '../store/store.js';

export interface DockerMonitorOptions {
  config: Config;
  engine: Pick<Engine, 'heal' | 'openIncidents' | 'note' | 'subscribe'>;
  store: Store;
  logger?: EngineLogger;
  /** Builds the Docker client for a configured host (`undefined`: DOCKER_HOST or the default socket). */
  clientFor?: (host?: string) => Dockerode;
  /** Told when a service's container starts without healbot (e.g. it was created after serve started). */
  onStarted?: (service: string) => void;
  /** Told when a person stopped a service's container on purpose (already reported). */
  onStoppedOnPurpose?: (service: string) => void;
  /** How long a `die` after an unclean stop through the API waits for Docker's `stop` event. @defaultValue 2000 */
  stopEventWaitMs?: number;
  now?: () => number;
}

/** The events that open an incident; the others (start, restart…) are only reported. */
const ALARMS = new Set<DockerContainerEvent['action']>(['die', 'oom', 'health_status: unhealthy']);
const REPORTED = new Set<DockerContainerEvent['action']>(['start', 'restart', 'unpause']);
const ON_PURPOSE = new Set<DockerContainerEvent['action']>(['stop', 'pause', 'destroy']);

/** The events healbot's own actions make Docker write: these are healbot's doing, not news. */
const OWN_EVENTS: Record<string, Partial<Record<DockerContainerEvent['action'], number>>> = {
  restart: { kill: 2, die: 1, stop: 1, start: 1, restart: 1 },
  start: { start: 1 },
  unpause: { unpause: 1 },
};
/** How long after an action its expected events may still arrive. */
const OWN_EVENTS_WINDOW_MS = 5_000;
/** Events kept per container: enough to judge the last stop. */
const HISTORY_LIMIT = 32;

const clock = (ms: number) => `${new Date(ms).toISOString().slice(11, 19)} UTC`;

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
 * opens an incident (source 'event') the moment a service's container crashes, is OOM-killed or
 * turns unhealthy, without polling. A container a person stopped, paused or removed through the
 * Docker API is reported in the service's thread and left alone (see ../runtimes/docker-intent.ts).
 * The events healbot's own actions cause are recognised as such; a failure after healbot's
 * action joins the open incident as evidence, and when that incident does not end healed the
 * next attempt (or, past the breaker, the escalation) follows at once.
 */
export class DockerMonitor {
  private readonly controller = new AbortController();
  private readonly watchers: Promise<void>[] = [];
  /** Events each service's running or just finished action is still expected to cause. */
  private readonly ownEvents = new Map<
    string,
    { left: Partial<Record<DockerContainerEvent['action'], number>>; until: number }
  >();
  /** Services healbot acted on in their open incident, with that incident's id. */
  private readonly actedIn = new Map<string, string>();
  /** A failure seen after healbot's action, replayed as the next attempt unless the incident ends healed. */
  private readonly relapses = new Map<string, DockerContainerEvent>();
  /** Each container's events since it last started, to tell a stop on purpose from a crash. */
  private readonly history = new Map<string, DockerContainerEvent[]>();
  /** Containers whose stop on purpose was already told, by the time of the telling event. */
  private readonly told = new Map<string, number>();
  private readonly pendingDies = new Map<string, { timer: NodeJS.Timeout; fire: () => void }>();
  private readonly labelCache = new Map<string, Promise<Record<string, string> | undefined>>();
  private unsubscribe?: () => void;
  /** Set once stopping: nothing may reach the engine (its store closes next). */
  private stopped = false;
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
    this.unsubscribe = this.options.engine.subscribe((event) => this.observe(event));
    const clientFor = this.options.clientFor ?? dockerModule().dockerClientFor;
    for (const [host, services] of this.hosts()) {
      const docker = clientFor(host);
      this.watchers.push(
        watchDockerEvents(docker, (event) => void this.handle(docker, services, event), {
          signal: this.controller.signal,
          onError: (error) =>
            this.options.logger?.warn(
              { err: (error as Error).message, host: host ?? 'default' },
              'Docker event stream interrupted; reconnecting',
            ),
        }),
      );
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.controller.abort();
    this.unsubscribe?.();
    for (const pending of this.pendingDies.values()) clearTimeout(pending.timer);
    this.pendingDies.clear();
    await Promise.allSettled(this.watchers);
  }

  /** Follows healbot's own actions, so their events are not news and what comes after them is evidence. */
  private observe(event: ProgressEvent): void {
    if (event.type === 'action_started') {
      this.ownEvents.set(event.step.target, {
        left: { ...(OWN_EVENTS[event.step.action] ?? {}) },
        until: Number.POSITIVE_INFINITY,
      });
    } else if (event.type === 'action_finished') {
      const own = this.ownEvents.get(event.step.target);
      if (own) own.until = this.now() + OWN_EVENTS_WINDOW_MS;
      this.actedIn.set(event.step.target, event.incidentId);
    } else if (event.type === 'done') {
      for (const [service, incidentId] of this.actedIn) {
        if (incidentId !== event.incidentId) continue;
        this.actedIn.delete(service);
        const relapse = this.relapses.get(service);
        this.relapses.delete(service);
        // The engine forgets the incident right after 'done': open the next one once it has.
        if (relapse && event.report.outcome !== 'healed')
          setImmediate(
            () =>
              !this.stopped &&
              this.alarm(
                service,
                relapse,
                `${describe(relapse)} again after healbot's ${event.report.actions.at(-1)?.action ?? 'action'}`,
              ),
          );
      }
    }
  }

  /** True when the event is one healbot's own action on the service was expected to cause (and counts it). */
  private isOwn(service: string, event: DockerContainerEvent): boolean {
    const own = this.ownEvents.get(service);
    if (!own) return false;
    if (own.until < this.now()) {
      this.ownEvents.delete(service);
      return false;
    }
    const left = own.left[event.action] ?? 0;
    if (left <= 0) return false;
    own.left[event.action] = left - 1;
    return true;
  }

  private remember(event: DockerContainerEvent): DockerContainerEvent[] {
    const fresh = event.action === 'start' || event.action === 'restart';
    const events = fresh ? [] : (this.history.get(event.container) ?? []);
    events.push(event);
    if (events.length > HISTORY_LIMIT) events.splice(0, events.length - HISTORY_LIMIT);
    this.history.set(event.container, events);
    if (fresh) this.told.delete(event.container);
    return events;
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
    const { logger } = this.options;
    try {
      if (
        !ALARMS.has(event.action) &&
        !REPORTED.has(event.action) &&
        !ON_PURPOSE.has(event.action) &&
        event.action !== 'kill'
      )
        return;
      const service = await this.serviceOf(docker, candidates, event.container);
      if (!service || this.stopped) return;
      const events = this.remember(event);
      if (this.isOwn(service, event)) {
        logger?.info(
          { service, container: event.container, action: event.action },
          'container event follows healbot’s own action',
        );
        return;
      }
      if (event.action === 'kill') return;
      if (ON_PURPOSE.has(event.action) || (event.action === 'die' && stopOnPurpose(events))) {
        this.settlePendingDie(event.container, false);
        this.tellStopOnPurpose(service, event, events);
        return;
      }
      if (event.action === 'die' && awaitingStopEvent(events)) {
        // `docker stop` fell back on SIGKILL: the `stop` event that follows at once says so.
        const fire = () => this.alarmOrEvidence(service, event);
        const timer = setTimeout(
          () => this.settlePendingDie(event.container, true),
          this.options.stopEventWaitMs ?? 2_000,
        );
        this.pendingDies.set(event.container, { timer, fire });
        return;
      }
      if (ALARMS.has(event.action)) {
        this.alarmOrEvidence(service, event);
        return;
      }
      await this.report(service, event, `${describe(event)}; healbot did not cause it.`);
      if (event.action === 'start' || event.action === 'restart') this.options.onStarted?.(service);
    } catch (error) {
      logger?.error({ err: error, container: event.container }, 'Docker event could not be handled');
    }
  }

  private settlePendingDie(container: string, crashed: boolean): void {
    const pending = this.pendingDies.get(container);
    if (!pending) return;
    clearTimeout(pending.timer);
    this.pendingDies.delete(container);
    if (crashed && !this.stopped) pending.fire();
  }

  private tellStopOnPurpose(service: string, event: DockerContainerEvent, events: DockerContainerEvent[]): void {
    if (this.told.has(event.container)) return;
    const stop = stopOnPurpose(events) ?? { how: `docker ${event.action}`, at: event.time };
    this.told.set(event.container, event.time);
    const verb = stop.how === 'docker pause' ? 'paused' : stop.how === 'docker rm' ? 'removed' : 'stopped';
    const undo = verb === 'paused' ? 'unpause' : 'start';
    const message =
      verb === 'removed'
        ? `container ${event.container} was removed through the Docker API (docker rm at ${clock(stop.at)}); healbot will not recreate it.`
        : `container ${event.container} was ${verb} through the Docker API (${stop.how} at ${clock(stop.at)}); healbot will not ${undo} it unasked (/heal ${service} offers to, with an approval).`;
    const { engine, logger } = this.options;
    const running = own(engine.openIncidents(), service);
    logger?.info({ service, container: event.container, how: stop.how }, message);
    this.options.onStoppedOnPurpose?.(service);
    if (running) {
      this.inBackground(
        engine.note(running, message, { container: event.container, action: event.action, kind: 'stopped_on_purpose' }),
        service,
        'telling a stop on purpose failed',
      );
      return;
    }
    // A thread of its own that diagnoses and reports, and acts on nothing.
    engine
      .heal({
        service,
        source: 'event',
        summary: message,
        leaveAlone: message.replace(/\.$/, ''),
        dedupeKey: `docker:${event.container}:on-purpose:${stop.at}`,
      })
      .catch((error: unknown) => logger?.error({ err: error, service }, 'reporting a stop on purpose failed'));
  }

  /** A failure after healbot's action in the open incident is evidence there; otherwise it opens an incident. */
  private alarmOrEvidence(service: string, event: DockerContainerEvent): void {
    const incident = this.actedIn.get(service);
    if (incident && own(this.options.engine.openIncidents(), service) === incident) {
      this.relapses.set(service, event);
      this.inBackground(
        this.options.engine.note(incident, `${describe(event)} after healbot's action: the fix did not hold.`, {
          container: event.container,
          action: event.action,
          exitCode: event.exitCode,
        }),
        service,
        'telling a relapse failed',
      );
      return;
    }
    this.alarm(service, event, `${describe(event)} (not caused by healbot)`);
  }

  private alarm(service: string, event: DockerContainerEvent, summary: string): void {
    const { engine, logger } = this.options;
    const running = own(engine.openIncidents(), service);
    logger?.info(
      { service, container: event.container, action: event.action, exitCode: event.exitCode },
      'Docker event: opening an incident',
    );
    const report = engine.heal({
      service,
      source: 'event',
      summary,
      dedupeKey: `docker:${event.container}:${event.action}:${event.time}`,
      failingSince: event.time,
    });
    report.catch((error: unknown) => logger?.error({ err: error, service }, 'heal from a Docker event failed'));
    if (running)
      this.inBackground(
        engine.note(running, `${describe(event)}; healbot did not cause it.`, {
          container: event.container,
          action: event.action,
        }),
        service,
        'telling a Docker event failed',
      );
  }

  /** Lets `work` finish on its own; a failure is logged, never lost. */
  private inBackground(work: Promise<unknown>, service: string, what: string): void {
    work.catch((error: unknown) => this.options.logger?.error({ err: error, service }, what));
  }

  /** Told in the service's thread: the running incident's, else the latest one's, else the audit log. */
  private async report(service: string, event: DockerContainerEvent, message: string): Promise<void> {
    const { engine, store, logger } = this.options;
    const thread = own(engine.openIncidents(), service) ?? (await store.listIncidents({ service, limit: 1 }))[0]?.id;
    const detail = { container: event.container, action: event.action };
    if (thread) await engine.note(thread, message, detail);
    else
      await store.appendAudit({
        at: new Date(this.now()).toISOString(),
        service,
        event: 'info',
        detail: { message, ...detail },
      });
    logger?.info({ service, container: event.container, action: event.action }, message);
  }
}
