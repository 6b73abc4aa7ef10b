/**
 * Watches Docker's event stream for container deaths, OOM kills, failing health checks and
 * (re)starts, so healbot can open an incident without waiting for a probe.
 */
import { constants as osConstants } from 'node:os';
import type Dockerode from 'dockerode';

export type DockerEventAction =
  | 'die'
  | 'oom'
  | 'health_status: unhealthy'
  | 'health_status: healthy'
  | 'start'
  | 'restart'
  | 'stop'
  | 'kill'
  | 'pause'
  | 'unpause'
  | 'destroy';

export interface DockerContainerEvent {
  /** The container's name (without Docker's leading slash), or its id when it has none. */
  container: string;
  action: DockerEventAction;
  /** For `die`: the exit code. */
  exitCode?: number;
  /** For `kill`: the signal number Docker sent. */
  signal?: number;
  /** Epoch milliseconds, from Docker's clock. */
  time: number;
}

export interface WatchDockerEventsOptions {
  signal: AbortSignal;
  /** Told each time the stream fails or ends and a reconnection is scheduled. */
  onError?: (error: unknown) => void;
  /** More Docker event filters, e.g. `{ container: [name] }`. */
  filters?: Record<string, string[]>;
  /** Epoch milliseconds to replay events from on the first connection. */
  since?: number;
}

/** Defaults in one place. */
export const DOCKER_EVENTS_DEFAULTS = {
  /** First wait before reconnecting. @defaultValue 250 */
  initialBackoffMs: 250,
  /** Longest wait between reconnections. @defaultValue 30000 */
  maxBackoffMs: 30_000,
} as const;

const ACTIONS: ReadonlySet<string> = new Set<DockerEventAction>([
  'die',
  'oom',
  'health_status: unhealthy',
  'health_status: healthy',
  'start',
  'restart',
  'stop',
  'kill',
  'pause',
  'unpause',
  'destroy',
]);

/** Docker filters `health_status` by prefix, so it covers every health status; the rest are exact. */
const EVENT_FILTER = ['die', 'oom', 'health_status', 'start', 'restart', 'stop', 'kill', 'pause', 'unpause', 'destroy'];

interface RawDockerEvent {
  Type?: string;
  Action?: string;
  status?: string;
  id?: string;
  Actor?: { ID?: string; Attributes?: Record<string, string> };
  time?: number;
  timeNano?: number;
}

/**
 * Calls `onEvent` for each container event of interest until `signal` aborts. When the stream
 * ends or fails (the daemon restarted, the socket went away) it reconnects with exponential
 * backoff, resuming from the last event seen so nothing in between is lost or repeated.
 * Resolves once aborted; never rejects.
 */
export async function watchDockerEvents(
  docker: Dockerode,
  onEvent: (event: DockerContainerEvent) => void,
  opts: WatchDockerEventsOptions,
): Promise<void> {
  const { signal } = opts;
  let backoff: number = DOCKER_EVENTS_DEFAULTS.initialBackoffMs;
  /** Nanoseconds of the newest event delivered: resuming from it replays it, so it is skipped. */
  let lastNano: bigint | undefined;
  /** When the stream was last known to be connected, for resuming when no event came yet. */
  let connectedAtSeconds: string | undefined = opts.since !== undefined ? (opts.since / 1000).toFixed(3) : undefined;

  while (!signal.aborted) {
    let received = false;
    try {
      const since = lastNano !== undefined ? nanoToSince(lastNano) : connectedAtSeconds;
      const stream = (await docker.getEvents({
        filters: { type: ['container'], event: EVENT_FILTER, ...opts.filters },
        ...(since !== undefined ? { since } : {}),
        abortSignal: signal,
      } as unknown as Dockerode.GetEventsOptions)) as NodeJS.ReadableStream;
      connectedAtSeconds ??= String(Math.floor(Date.now() / 1000));
      await readLines(stream, signal, (line) => {
        received = true;
        const raw = parseLine(line);
        if (!raw) return;
        const nano = eventNano(line, raw);
        if (lastNano !== undefined && nano !== undefined && nano <= lastNano) return;
        if (nano !== undefined) lastNano = nano;
        const event = toContainerEvent(raw);
        if (event) onEvent(event);
      });
      if (!signal.aborted) opts.onError?.(new Error('the Docker event stream ended; reconnecting'));
    } catch (error) {
      if (signal.aborted) break;
      opts.onError?.(error);
    }
    if (received) backoff = DOCKER_EVENTS_DEFAULTS.initialBackoffMs;
    if (signal.aborted) break;
    await sleep(backoff, signal);
    backoff = Math.min(backoff * 2, DOCKER_EVENTS_DEFAULTS.maxBackoffMs);
  }
}

/** Turns one decoded Docker event into healbot's shape, or undefined when it is not one we watch. */
export function toContainerEvent(raw: RawDockerEvent): DockerContainerEvent | undefined {
  if (raw.Type !== undefined && raw.Type !== 'container') return undefined;
  const action = raw.Action ?? raw.status;
  if (action === undefined || !ACTIONS.has(action)) return undefined;
  const attributes = raw.Actor?.Attributes ?? {};
  const id = raw.Actor?.ID ?? raw.id ?? '';
  const event: DockerContainerEvent = {
    container: attributes.name?.replace(/^\//, '') || id.slice(0, 12),
    action: action as DockerEventAction,
    time: raw.timeNano !== undefined ? Math.floor(raw.timeNano / 1e6) : (raw.time ?? 0) * 1000,
  };
  if (action === 'die' && attributes.exitCode !== undefined) {
    const code = Number(attributes.exitCode);
    if (Number.isInteger(code)) event.exitCode = code;
  }
  if (action === 'kill' && attributes.signal !== undefined) {
    const signal = signalNumber(attributes.signal);
    if (signal !== undefined) event.signal = signal;
  }
  return event;
}

/** A signal as Docker writes it ("15", "SIGTERM" or "TERM") as its number on Linux. */
export function signalNumber(signal: string): number | undefined {
  const trimmed = signal.trim().toUpperCase();
  if (/^\d+$/.test(trimmed)) return Number(trimmed);
  const name = (trimmed.startsWith('SIG') ? trimmed : `SIG${trimmed}`) as keyof typeof osConstants.signals;
  return Object.hasOwn(osConstants.signals, name) ? osConstants.signals[name] : undefined;
}

/**
 * The container events Docker still holds (its last 256, in memory) between `since` and
 * `until` (epoch ms), oldest first. Bounded: `until` ends the stream and `signal` cuts it off.
 */
export async function readDockerEvents(
  docker: Dockerode,
  options: { since: number; until: number; filters: Record<string, string[]>; signal: AbortSignal },
): Promise<DockerContainerEvent[]> {
  const stream = (await docker.getEvents({
    since: (options.since / 1000).toFixed(3),
    until: (options.until / 1000).toFixed(3),
    filters: { type: ['container'], event: EVENT_FILTER, ...options.filters },
    abortSignal: options.signal,
  } as unknown as Dockerode.GetEventsOptions)) as NodeJS.ReadableStream;
  const events: DockerContainerEvent[] = [];
  await readLines(stream, options.signal, (line) => {
    const raw = parseLine(line);
    const event = raw && toContainerEvent(raw);
    if (event) events.push(event);
  });
  if (options.signal.aborted) throw options.signal.reason;
  return events;
}

function parseLine(line: string): RawDockerEvent | undefined {
  try {
    const value: unknown = JSON.parse(line);
    return value && typeof value === 'object' ? (value as RawDockerEvent) : undefined;
  } catch {
    return undefined;
  }
}

/** The event's time in nanoseconds, read from the text: as a JSON number it exceeds a double's precision. */
function eventNano(line: string, raw: RawDockerEvent): bigint | undefined {
  const exact = /"timeNano"\s*:\s*(\d+)/.exec(line);
  if (exact) return BigInt(exact[1]);
  if (typeof raw.time === 'number') return BigInt(raw.time) * 1_000_000_000n;
  return undefined;
}

/** Docker's `since` takes `seconds.nanoseconds`; a string keeps the nanoseconds a double would round. */
function nanoToSince(nano: bigint): string {
  const seconds = nano / 1_000_000_000n;
  const rest = nano % 1_000_000_000n;
  return `${seconds}.${rest.toString().padStart(9, '0')}`;
}

/**
 * Calls `onLine` for each newline-terminated JSON document. Docker writes one event per line,
 * but a chunk may hold several or part of one. Resolves when the stream ends or the signal aborts.
 */
function readLines(stream: NodeJS.ReadableStream, signal: AbortSignal, onLine: (line: string) => void): Promise<void> {
  return new Promise((resolve, reject) => {
    let buffered = '';
    const decoder = new TextDecoder();
    const finish = (error?: unknown) => {
      stream.removeListener('data', onData);
      stream.removeListener('end', onEnd);
      stream.removeListener('close', onEnd);
      stream.removeListener('error', onFail);
      signal.removeEventListener('abort', onAbort);
      if (error !== undefined && !signal.aborted) reject(error);
      else resolve();
    };
    const onData = (chunk: Buffer | string) => {
      buffered += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
      let newline = buffered.indexOf('\n');
      while (newline >= 0) {
        const line = buffered.slice(0, newline).trim();
        buffered = buffered.slice(newline + 1);
        if (line) onLine(line);
        newline = buffered.indexOf('\n');
      }
    };
    const onEnd = () => {
      const rest = buffered.trim();
      buffered = '';
      if (rest) onLine(rest);
      finish();
    };
    const onFail = (error: unknown) => finish(error);
    const onAbort = () => {
      (stream as NodeJS.ReadableStream & { destroy?: () => void }).destroy?.();
      finish();
    };
    stream.on('data', onData);
    stream.once('end', onEnd);
    stream.once('close', onEnd);
    stream.once('error', onFail);
    if (signal.aborted) onAbort();
    else signal.addEventListener('abort', onAbort, { once: true });
  });
}

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    }
    signal.addEventListener('abort', done, { once: true });
  });
}
