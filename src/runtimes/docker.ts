/**
 * The Docker runtime: reads a container's state (status, exit code, OOM, health, memory, the
 * last log lines) and restarts, starts or unpauses it, through dockerode.
 */
import { stat } from 'node:fs/promises';
import Dockerode from 'dockerode';
import { ConfigError, RuntimeError, describeError } from '../errors.js';
import type { RuntimeState } from '../engine/types.js';
import { readDockerEvents, signalNumber, watchDockerEvents, type DockerContainerEvent } from './docker-events.js';
import { SIGTERM, stopOnPurpose, type StopOnPurpose } from './docker-intent.js';
import type { Runtime, RuntimeAction } from './runtime.js';
import { redactLines } from '../redact.js';

/** How the Docker runtime finds its container and its daemon (the `docker` section of a service). */
export interface DockerRuntimeConfig {
  /** The container's name or id. */
  container?: string;
  /** Labels the container carries (e.g. compose's `com.docker.compose.service`), when the name changes. */
  labels?: Record<string, string>;
  /** `unix:///var/run/docker.sock` or `tcp://127.0.0.1:2375`; defaults to DOCKER_HOST, then the default socket. */
  host?: string;
  /** Files the container reads at start (an env file, a mounted config), checked for changes since it started. */
  configFiles?: string[];
}

export interface DockerRuntimeOptions {
  /** Applied to every log line and health output before it leaves this module. */
  redact: (text: string) => string;
  /** An injected client; by default the shared one for `config.host`. */
  docker?: Dockerode;
}

/** Defaults in one place. */
export const DOCKER_RUNTIME_DEFAULTS = {
  /** @defaultValue 80 */
  logLines: 80,
  /** How long `inspect` waits for the daemon before reporting `unknown`. @defaultValue 10000 */
  inspectTimeoutMs: 10_000,
  /** How long one-shot stats may take; memory usage is left out when slower. @defaultValue 750 */
  statsTimeoutMs: 750,
  /** Memory usage read less than this long ago is reused rather than read again. @defaultValue 10000 */
  statsReuseMs: 10_000,
  /** How long reading Docker's recent events (who stopped the container) may take. @defaultValue 1000 */
  historyTimeoutMs: 1_000,
  /** @defaultValue 60000 */
  actionTimeoutMs: 60_000,
  /** Seconds Docker waits for the container to stop before killing it on restart. @defaultValue 10 */
  stopGraceSeconds: 10,
  /** Health check outputs kept in the state. @defaultValue 5 */
  healthLogEntries: 5,
} as const;

const SUPPORTED_ACTIONS: ReadonlySet<RuntimeAction['action']> = new Set(['restart', 'start', 'unpause']);

const KNOWN_STATUSES: ReadonlySet<string> = new Set(['running', 'exited', 'restarting', 'paused', 'created', 'dead']);

/** Docker's zero time, which it reports for "never". */
const NEVER = '0001-01-01T00:00:00Z';

/**
 * Turns a Docker host string into dockerode connection options. Accepts `unix:///path`,
 * a bare socket path, `tcp://host:port`, `http://` and `https://`.
 */
export function parseDockerHost(host: string): Dockerode.DockerOptions {
  const trimmed = host.trim();
  if (trimmed.startsWith('/')) return { socketPath: trimmed };
  if (trimmed.startsWith('unix://')) {
    const socketPath = trimmed.slice('unix://'.length);
    if (!socketPath.startsWith('/')) throw invalidHost(host);
    return { socketPath };
  }
  let url: URL;
  try {
    url = new URL(trimmed);
  } catch (cause) {
    throw invalidHost(host, cause);
  }
  if (!url.hostname) throw invalidHost(host);
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  switch (url.protocol) {
    case 'tcp:':
    case 'http:':
      return { host: hostname, port: url.port ? Number(url.port) : 2375, protocol: 'http' };
    case 'https:':
      return { host: hostname, port: url.port ? Number(url.port) : 2376, protocol: 'https' };
    default:
      throw invalidHost(host);
  }
}

function invalidHost(host: string, cause?: unknown): ConfigError {
  return new ConfigError(
    [
      {
        path: 'docker.host',
        message: `"${host}" is not a Docker host; use unix:///var/run/docker.sock or tcp://127.0.0.1:2375`,
      },
    ],
    undefined,
    { cause },
  );
}

const clients = new Map<string, Dockerode>();

/** One shared Dockerode per host (`undefined`: DOCKER_HOST or the default socket), so services share connections. */
export function dockerClientFor(host?: string): Dockerode {
  const key = host?.trim() ?? '';
  let client = clients.get(key);
  if (!client) {
    client = key === '' ? new Dockerode() : new Dockerode(parseDockerHost(key));
    clients.set(key, client);
  }
  return client;
}

/**
 * Splits Docker's multiplexed log stream (used when the container has no TTY) into text.
 * Each frame is an 8-byte header — stream type, three zero bytes, a big-endian payload size —
 * then the payload. A TTY container's logs are raw text and are returned as they are.
 */
export function demultiplexDockerLogs(data: Buffer, tty: boolean): string {
  if (tty || !looksMultiplexed(data)) return data.toString('utf8');
  const parts: Buffer[] = [];
  let offset = 0;
  while (offset + 8 <= data.length) {
    const size = data.readUInt32BE(offset + 4);
    const start = offset + 8;
    const end = Math.min(start + size, data.length);
    parts.push(data.subarray(start, end));
    offset = end;
  }
  return Buffer.concat(parts).toString('utf8');
}

function looksMultiplexed(data: Buffer): boolean {
  if (data.length < 8) return false;
  return data[0] <= 2 && data[1] === 0 && data[2] === 0 && data[3] === 0;
}

interface ResolvedContainer {
  container: Dockerode.Container;
  name: string;
  /** Said when the labels matched more than one container. */
  note?: string;
}

/** A Docker container bound to one service. */
export class DockerRuntime implements Runtime {
  readonly kind = 'docker' as const;
  readonly #config: DockerRuntimeConfig;
  readonly #redact: (text: string) => string;
  readonly #docker: Dockerode;
  #lastUsage?: { at: number; bytes: number | undefined };
  /** When this runtime's own actions ran: the stops they cause are healbot's, not a person's. */
  #ownActions: { from: number; to: number }[] = [];

  constructor(config: DockerRuntimeConfig, options: DockerRuntimeOptions) {
    if ((config.container === undefined) === (config.labels === undefined)) {
      throw new ConfigError([{ path: 'docker', message: 'needs exactly one of container or labels' }]);
    }
    this.#config = config;
    this.#redact = options.redact;
    this.#docker = options.docker ?? dockerClientFor(config.host);
  }

  /** What this runtime is bound to, for messages: a container name or a label selector. */
  get target(): string {
    if (this.#config.container !== undefined) return this.#config.container;
    return `container labelled ${describeLabels(this.#config.labels ?? {})}`;
  }

  /**
   * Reads the container from `inspect` and its last log lines. Memory usage (a stats read, which
   * costs up to a second on some engines) only when asked with `memory`, or when memory is the
   * likely cause (the container was OOM-killed): once, under a short deadline, reused for
   * `statsReuseMs`. For a stopped or paused container, Docker's recent events say whether a
   * person did it (`stoppedOnPurpose`).
   */
  async inspect(options: { logLines?: number; signal?: AbortSignal; memory?: boolean } = {}): Promise<RuntimeState> {
    const signal = withTimeout(options.signal, DOCKER_RUNTIME_DEFAULTS.inspectTimeoutMs);
    let resolved: ResolvedContainer | undefined;
    try {
      resolved = await this.#resolve(signal);
      if (!resolved) return { runtime: 'docker', target: this.target, status: 'missing' };
      const info = await resolved.container.inspect({ abortSignal: signal });
      const state = this.#stateFrom(info, resolved);
      const wantsMemory = state.status === 'running' && (options.memory === true || state.oomKilled === true);
      const stopped = state.status === 'exited' || state.status === 'dead' || state.status === 'paused';
      const [usageBytes, logs, onPurpose] = await Promise.all([
        wantsMemory ? this.#memoryUsage(resolved.container, signal) : Promise.resolve(undefined),
        this.#logs(
          resolved.container,
          info.Config?.Tty === true,
          options.logLines ?? DOCKER_RUNTIME_DEFAULTS.logLines,
          signal,
        ),
        stopped ? this.#stopOnPurpose(info, signal) : Promise.resolve(undefined),
      ]);
      if (usageBytes !== undefined) state.memory = { ...state.memory, usageBytes };
      if (logs !== undefined) state.logs = logs;
      if (onPurpose) state.stoppedOnPurpose = { how: onPurpose.how, at: new Date(onPurpose.at).toISOString() };
      if (state.status === 'running' && state.startedAt) {
        const changed = await changedSince(Date.parse(state.startedAt), [
          ...(this.#config.configFiles ?? []),
          ...(this.#local() ? readOnlyFileMounts(info) : []),
        ]);
        if (changed.length > 0) state.changedFiles = changed;
      }
      return state;
    } catch (error) {
      // The container vanished between listing and inspecting it.
      if (statusCodeOf(error) === 404)
        return { runtime: 'docker', target: resolved?.name ?? this.target, status: 'missing' };
      return {
        runtime: 'docker',
        target: resolved?.name ?? this.target,
        status: 'unknown',
        error: this.#redact(`cannot read ${this.#describeTarget()} from ${this.#daemon()}: ${explain(error, signal)}`),
      };
    }
  }

  watch(options: { signal: AbortSignal; since?: number }, onChange: () => void): void {
    const filters: Record<string, string[]> =
      this.#config.container !== undefined
        ? { container: [this.#config.container] }
        : { label: Object.entries(this.#config.labels ?? {}).map(([k, v]) => `${k}=${v}`) };
    void watchDockerEvents(this.#docker, () => onChange(), { signal: options.signal, since: options.since, filters });
  }

  supports(action: RuntimeAction['action']): boolean {
    return SUPPORTED_ACTIONS.has(action);
  }

  async perform(action: RuntimeAction, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    if (!this.supports(action.action)) {
      throw new RuntimeError(
        `the Docker runtime cannot ${action.action} ${this.#describeTarget()}; it can restart, start or unpause`,
      );
    }
    const signal = withTimeout(options.signal, options.timeoutMs ?? DOCKER_RUNTIME_DEFAULTS.actionTimeoutMs);
    let resolved: ResolvedContainer | undefined;
    try {
      resolved = await this.#resolve(signal);
      if (!resolved)
        throw new RuntimeError(
          `cannot ${action.action} ${this.#describeTarget()}: no such container on ${this.#daemon()}`,
        );
      const from = Date.now();
      try {
        await raceAbort(this.#act(resolved.container, action, signal), signal);
      } finally {
        this.#ownActions = [...this.#ownActions.slice(-9), { from, to: Date.now() }];
      }
    } catch (error) {
      if (error instanceof RuntimeError) throw error;
      const what = resolved ? `container "${resolved.name}"` : this.#describeTarget();
      throw new RuntimeError(`docker ${action.action} of ${what} failed: ${explain(error, signal)}`, { cause: error });
    }
  }

  async #act(container: Dockerode.Container, action: RuntimeAction, signal: AbortSignal): Promise<void> {
    try {
      switch (action.action) {
        case 'restart': {
          const t =
            typeof action.params?.stopGraceSeconds === 'number'
              ? action.params.stopGraceSeconds
              : DOCKER_RUNTIME_DEFAULTS.stopGraceSeconds;
          await container.restart({ t, abortSignal: signal });
          return;
        }
        case 'start':
          await container.start({ abortSignal: signal });
          return;
        case 'unpause':
          await container.unpause({ abortSignal: signal });
          return;
      }
    } catch (error) {
      // 304: the container was already started, which is what "start" wanted.
      if (action.action === 'start' && statusCodeOf(error) === 304) return;
      throw error;
    }
  }

  async #resolve(signal: AbortSignal): Promise<ResolvedContainer | undefined> {
    if (this.#config.container !== undefined) {
      return { container: this.#docker.getContainer(this.#config.container), name: this.#config.container };
    }
    const labels = this.#config.labels ?? {};
    const found = await this.#docker.listContainers({
      all: true,
      filters: { label: Object.entries(labels).map(([k, v]) => `${k}=${v}`) },
      abortSignal: signal,
    } as Dockerode.ContainerListOptions);
    if (found.length === 0) return undefined;
    const running = found.filter((c) => c.State === 'running');
    const pool = running.length > 0 ? running : found;
    const chosen = [...pool].sort((a, b) => b.Created - a.Created)[0];
    const name = containerName(chosen);
    let note: string | undefined;
    if (found.length > 1) {
      const why =
        running.length > 0
          ? running.length > 1
            ? 'the newest running one'
            : 'the running one'
          : 'the newest one (none is running)';
      note = `${found.length} containers match ${describeLabels(labels)}; chose ${why}, "${name}" (others: ${found
        .filter((c) => c !== chosen)
        .map(containerName)
        .join(', ')})`;
    }
    return { container: this.#docker.getContainer(chosen.Id), name, note };
  }

  #stateFrom(info: Dockerode.ContainerInspectInfo, resolved: ResolvedContainer): RuntimeState {
    const raw = info.State;
    const status = KNOWN_STATUSES.has(raw.Status)
      ? (raw.Status as RuntimeState['status'])
      : raw.Status === 'removing'
        ? 'dead'
        : 'unknown';
    const state: RuntimeState = {
      runtime: 'docker',
      target: info.Name ? info.Name.replace(/^\//, '') : resolved.name,
      status,
      oomKilled: raw.OOMKilled,
      restartCount: info.RestartCount,
      health: healthOf(raw.Health?.Status),
    };
    if (status === 'exited' || status === 'dead' || status === 'restarting') state.exitCode = raw.ExitCode;
    const log = raw.Health?.Log;
    if (log && log.length > 0) {
      state.healthLog = log
        .slice(-DOCKER_RUNTIME_DEFAULTS.healthLogEntries)
        .map((entry) =>
          this.#redact(`exit ${entry.ExitCode}: ${entry.Output.trim().replace(/\s*\n\s*/g, ' | ')}`.trim()),
        );
    }
    if (raw.StartedAt && raw.StartedAt !== NEVER) state.startedAt = raw.StartedAt;
    if (raw.FinishedAt && raw.FinishedAt !== NEVER) state.finishedAt = raw.FinishedAt;
    const networks = Object.keys(info.NetworkSettings?.Networks ?? {});
    if (networks.length > 0) state.networks = networks;
    const limit = info.HostConfig?.Memory;
    if (typeof limit === 'number' && limit > 0) state.memory = { limitBytes: limit };
    if (resolved.note) state.note = resolved.note;
    return state;
  }

  /**
   * Whether a person stopped or paused the container, from the events Docker still holds since
   * it last started. Best effort: Docker keeps only its last 256 events, so an old stop may be
   * gone (then it counts as a crash, as without this check).
   */
  async #stopOnPurpose(info: Dockerode.ContainerInspectInfo, signal: AbortSignal): Promise<StopOnPurpose | undefined> {
    const started = Date.parse(info.State.StartedAt);
    const finished = Date.parse(info.State.FinishedAt);
    const now = Date.now();
    const since =
      Number.isFinite(started) && info.State.StartedAt !== NEVER
        ? started
        : (Number.isFinite(finished) ? finished : now) - 60_000;
    try {
      const events = await readDockerEvents(this.#docker, {
        since: Math.min(since, now - 1),
        until: now,
        filters: { container: [info.Id] },
        signal: withTimeout(signal, DOCKER_RUNTIME_DEFAULTS.historyTimeoutMs),
      });
      // Not in @types/dockerode's Config, though Docker sends it when the image or container sets one.
      const configured = (info.Config as { StopSignal?: string } | undefined)?.StopSignal;
      const stopSignal = configured ? signalNumber(configured) : undefined;
      // The kill and stop of healbot's own restart are not a person's stop (its die and start stay: they tell what happened next).
      const byHealbot = (event: DockerContainerEvent) =>
        (event.action === 'kill' || event.action === 'stop') &&
        this.#ownActions.some((a) => event.time >= a.from - 100 && event.time <= a.to + 100);
      return stopOnPurpose(
        events.filter((event) => !byHealbot(event)),
        stopSignal ?? SIGTERM,
      );
    } catch {
      return undefined;
    }
  }

  /** Memory in use as `docker stats` shows it: usage less the page cache. Best effort, never twice in a row. */
  async #memoryUsage(container: Dockerode.Container, signal: AbortSignal): Promise<number | undefined> {
    const last = this.#lastUsage;
    if (last && Date.now() - last.at < DOCKER_RUNTIME_DEFAULTS.statsReuseMs) return last.bytes;
    const bytes = await this.#readMemoryUsage(container, signal);
    this.#lastUsage = { at: Date.now(), bytes };
    return bytes;
  }

  async #readMemoryUsage(container: Dockerode.Container, signal: AbortSignal): Promise<number | undefined> {
    try {
      const statsSignal = withTimeout(signal, DOCKER_RUNTIME_DEFAULTS.statsTimeoutMs);
      // one-shot (API 1.41+) skips the second CPU sample, which otherwise costs a second.
      const options = { stream: false, 'one-shot': true, abortSignal: statsSignal } as {
        stream: false;
        'one-shot': boolean;
      };
      const stats = await raceAbort(container.stats(options), statsSignal);
      const memory = stats.memory_stats as { usage?: number; stats?: Record<string, number> } | undefined;
      if (typeof memory?.usage !== 'number') return undefined;
      const cache = memory.stats?.total_inactive_file ?? memory.stats?.inactive_file ?? memory.stats?.cache ?? 0;
      return Math.max(0, memory.usage - (cache < memory.usage ? cache : 0));
    } catch {
      return undefined;
    }
  }

  async #logs(
    container: Dockerode.Container,
    tty: boolean,
    lines: number,
    signal: AbortSignal,
  ): Promise<string[] | undefined> {
    if (lines <= 0) return [];
    try {
      const data: unknown = await container.logs({
        stdout: true,
        stderr: true,
        follow: false,
        tail: lines,
        abortSignal: signal,
      } as Dockerode.ContainerLogsOptions & {
        follow: false;
      });
      const buffer = Buffer.isBuffer(data) ? data : Buffer.from(String(data ?? ''), 'utf8');
      const text = demultiplexDockerLogs(buffer, tty);
      const all = redactLines(text, this.#redact);
      if (all.length > 0 && all[all.length - 1] === '') all.pop();
      return all.slice(-lines);
    } catch (error) {
      if (statusCodeOf(error) === 404) throw error;
      // Logs are a courtesy (a logging driver without read support answers 501): the state stands without them.
      return undefined;
    }
  }

  /** Whether the daemon runs on this machine, so the host paths of its bind mounts are ours to read. */
  #local(): boolean {
    const host = this.#config.host ?? process.env.DOCKER_HOST ?? '';
    return host === '' || host.startsWith('unix://') || host.startsWith('/');
  }

  #describeTarget(): string {
    return this.#config.container !== undefined ? `container "${this.#config.container}"` : this.target;
  }

  #daemon(): string {
    return this.#config.host ?? process.env.DOCKER_HOST ?? 'the default Docker socket';
  }
}

/** Host paths of read-only bind mounts: config the container read when it started. */
function readOnlyFileMounts(info: Dockerode.ContainerInspectInfo): string[] {
  return (info.Mounts ?? []).filter((m) => m.Type === 'bind' && m.RW === false && m.Source).map((m) => m.Source);
}

/** Regular files among `paths` modified after `startedMs`; a file healbot cannot read is left out. */
async function changedSince(startedMs: number, paths: string[]): Promise<{ path: string; modifiedAt: string }[]> {
  const checked = await Promise.all(
    [...new Set(paths)].map(async (path) => {
      const info = await stat(path).catch(() => undefined);
      return info?.isFile() && info.mtimeMs > startedMs ? { path, modifiedAt: info.mtime.toISOString() } : undefined;
    }),
  );
  return checked.filter((c) => c !== undefined);
}

function healthOf(status: string | undefined): RuntimeState['health'] {
  return status === 'healthy' || status === 'unhealthy' || status === 'starting' ? status : 'none';
}

function containerName(info: Dockerode.ContainerInfo): string {
  return info.Names?.[0]?.replace(/^\//, '') ?? info.Id.slice(0, 12);
}

function describeLabels(labels: Record<string, string>): string {
  return Object.entries(labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(', ');
}

function statusCodeOf(error: unknown): number | undefined {
  const code = (error as { statusCode?: unknown } | null)?.statusCode;
  return typeof code === 'number' ? code : undefined;
}

/** A short human reason: Docker's own message for API errors, the socket error otherwise. */
function explain(error: unknown, signal: AbortSignal): string {
  if (signal.aborted) {
    const reason: unknown = signal.reason;
    if (reason instanceof Error && reason.name === 'TimeoutError') return 'timed out waiting for the Docker daemon';
    return 'cancelled';
  }
  const json = (error as { json?: { message?: unknown } } | null)?.json;
  if (json && typeof json.message === 'string') return json.message;
  const code = (error as { code?: unknown } | null)?.code;
  const message = describeError(error);
  if (code === 'ENOENT' || code === 'ECONNREFUSED' || code === 'EACCES')
    return `the Docker daemon is not reachable (${message})`;
  return message.replace(/^\(HTTP code \d+\) [a-z ]+ - /, '');
}

/** The caller's signal (if any) and a timeout, as one signal. */
function withTimeout(signal: AbortSignal | undefined, ms: number): AbortSignal {
  const timeout = AbortSignal.timeout(ms);
  return signal ? AbortSignal.any([signal, timeout]) : timeout;
}

/** Settles with the promise, or rejects as soon as the signal aborts, should the client not honour it. */
function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}
