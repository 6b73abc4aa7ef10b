/**
 * Posting discipline for one Slack workspace: per channel, new messages leave at most one per
 * `minIntervalMs` (Slack allows about one message per second per channel), status updates to
 * the same message coalesce so only the latest pending one is sent, and a rate-limited call
 * waits for its `Retry-After` before one retry instead of being hammered.
 */

export interface PostQueueOptions {
  /** Minimum gap between two new messages in one channel. @defaultValue 1000 */
  minIntervalMs?: number;
  /** Retries of one call after rate limiting. @defaultValue 3 */
  maxRateLimitRetries?: number;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  /** Called when Slack answered 429, with the delay it asked for. */
  onRateLimited?: (retryAfterMs: number, attempt: number) => void;
}

export const POST_QUEUE_DEFAULTS = {
  minIntervalMs: 1000,
  maxRateLimitRetries: 3,
} as const satisfies Pick<Required<PostQueueOptions>, 'minIntervalMs' | 'maxRateLimitRetries'>;

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * The delay a rate-limited Web API error asks for, in ms, or undefined for any other error.
 * With `rejectRateLimitedCalls`, @slack/web-api throws `slack_webapi_rate_limited_error` with
 * `retryAfter` in seconds (from the `Retry-After` header).
 */
export function rateLimitDelayMs(error: unknown): number | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const { code, retryAfter } = error as { code?: unknown; retryAfter?: unknown };
  if (code !== 'slack_webapi_rate_limited_error') return undefined;
  return typeof retryAfter === 'number' && Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : 1000;
}

/** Runs `call`, and after a rate-limit error waits the asked delay and tries again, up to `maxRetries` times. */
export async function withRateLimitRetry<T>(
  call: () => Promise<T>,
  options: {
    maxRetries?: number;
    sleep?: (ms: number) => Promise<void>;
    onRateLimited?: (ms: number, attempt: number) => void;
  } = {},
): Promise<T> {
  const maxRetries = options.maxRetries ?? POST_QUEUE_DEFAULTS.maxRateLimitRetries;
  const sleep = options.sleep ?? defaultSleep;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await call();
    } catch (error) {
      const delay = rateLimitDelayMs(error);
      if (delay === undefined || attempt > maxRetries) throw error;
      options.onRateLimited?.(delay, attempt);
      await sleep(delay);
    }
  }
}

interface Job {
  kind: 'post' | 'update';
  /** For updates: the message being edited; a newer update with the same key replaces this one's call. */
  key?: string;
  call: () => Promise<unknown>;
  waiters: { resolve: (value: unknown) => void; reject: (error: unknown) => void }[];
}

interface Lane {
  jobs: Job[];
  running: boolean;
  lastPostAt: number;
}

export class ChannelPostQueue {
  readonly #lanes = new Map<string, Lane>();
  readonly #minIntervalMs: number;
  readonly #maxRetries: number;
  readonly #sleep: (ms: number) => Promise<void>;
  readonly #now: () => number;
  readonly #onRateLimited?: (ms: number, attempt: number) => void;
  #idle: (() => void)[] = [];

  constructor(options: PostQueueOptions = {}) {
    this.#minIntervalMs = options.minIntervalMs ?? POST_QUEUE_DEFAULTS.minIntervalMs;
    this.#maxRetries = options.maxRateLimitRetries ?? POST_QUEUE_DEFAULTS.maxRateLimitRetries;
    this.#sleep = options.sleep ?? defaultSleep;
    this.#now = options.now ?? Date.now;
    this.#onRateLimited = options.onRateLimited;
  }

  /** Queues a new message for `channel`; resolves with the call's result once sent. */
  post<T>(channel: string, call: () => Promise<T>): Promise<T> {
    return this.#enqueue(channel, { kind: 'post', call, waiters: [] }) as Promise<T>;
  }

  /**
   * Queues an edit of message `key` in `channel`. If an edit of the same message is still
   * waiting, it is replaced by this one (both callers resolve when the latest is sent).
   */
  update(channel: string, key: string, call: () => Promise<unknown>): Promise<void> {
    const lane = this.#lane(channel);
    const pending = lane.jobs.find((job) => job.kind === 'update' && job.key === key);
    if (pending) {
      pending.call = call;
      return new Promise<void>((resolve, reject) => pending.waiters.push({ resolve: () => resolve(), reject }));
    }
    return this.#enqueue(channel, { kind: 'update', key, call, waiters: [] }).then(() => undefined);
  }

  /** Runs a call outside the per-channel spacing (ephemeral replies, reads), with the same 429 handling. */
  direct<T>(call: () => Promise<T>): Promise<T> {
    return withRateLimitRetry(call, {
      maxRetries: this.#maxRetries,
      sleep: this.#sleep,
      onRateLimited: this.#onRateLimited,
    });
  }

  /** Resolves when every queued call has been sent or failed. */
  drain(): Promise<void> {
    if ([...this.#lanes.values()].every((lane) => !lane.running && lane.jobs.length === 0)) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #lane(channel: string): Lane {
    let lane = this.#lanes.get(channel);
    if (!lane) {
      lane = { jobs: [], running: false, lastPostAt: Number.NEGATIVE_INFINITY };
      this.#lanes.set(channel, lane);
    }
    return lane;
  }

  #enqueue(channel: string, job: Job): Promise<unknown> {
    const lane = this.#lane(channel);
    const done = new Promise<unknown>((resolve, reject) => job.waiters.push({ resolve, reject }));
    lane.jobs.push(job);
    if (!lane.running) void this.#run(lane);
    return done;
  }

  async #run(lane: Lane): Promise<void> {
    lane.running = true;
    while (lane.jobs.length > 0) {
      const job = lane.jobs[0];
      if (job.kind === 'post') {
        const wait = lane.lastPostAt + this.#minIntervalMs - this.#now();
        if (wait > 0) await this.#sleep(wait);
      }
      // Taken off the queue only now, so an update arriving while we waited still coalesces into it.
      lane.jobs.shift();
      try {
        const result = await this.direct(job.call);
        for (const waiter of job.waiters) waiter.resolve(result);
      } catch (error) {
        for (const waiter of job.waiters) waiter.reject(error);
      } finally {
        if (job.kind === 'post') lane.lastPostAt = this.#now();
      }
    }
    lane.running = false;
    if ([...this.#lanes.values()].every((l) => !l.running && l.jobs.length === 0)) {
      const idle = this.#idle;
      this.#idle = [];
      for (const resolve of idle) resolve();
    }
  }
}
