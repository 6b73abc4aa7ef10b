import type { EngineLogger } from '../engine/engine.js';
import type { Watchdog } from './watchdog.js';

export interface HeartbeatOptions {
  url: string;
  intervalMs: number;
  watchdog: Watchdog;
  logger?: EngineLogger;
  /** Longest wait for the heartbeat endpoint. @defaultValue 10000 */
  timeoutMs?: number;
}

export const HEARTBEAT_LOOP = 'heartbeat';

/**
 * A dead man's switch: calls `heartbeat.url` on its interval while healbot's own loops are
 * healthy, so an outside monitor (healthchecks.io, Uptime Kuma) notices when healbot dies or
 * hangs. A stuck loop withholds the beat on purpose.
 */
export class Heartbeat {
  private timer?: NodeJS.Timeout;
  private stopped = true;
  private inflight?: Promise<void>;
  /** Beats sent and accepted (2xx). */
  sent = 0;

  constructor(private readonly options: HeartbeatOptions) {}

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.options.watchdog.watch(HEARTBEAT_LOOP, 3 * this.options.intervalMs + (this.options.timeoutMs ?? 10_000));
    this.schedule(0);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.inflight = this.beat().finally(() => this.schedule(this.options.intervalMs));
    }, delay);
    this.timer.unref();
  }

  /** Sends one beat unless another loop is stuck. */
  async beat(): Promise<void> {
    const { watchdog, logger, url } = this.options;
    watchdog.tick(HEARTBEAT_LOOP);
    const stuck = watchdog.report().filter((l) => !l.ok);
    if (stuck.length > 0) {
      logger?.warn({ stuck: stuck.map((l) => l.name) }, 'heartbeat withheld: a healbot loop is stuck');
      return;
    }
    try {
      const res = await fetch(url, { method: 'GET', signal: AbortSignal.timeout(this.options.timeoutMs ?? 10_000) });
      await res.body?.cancel();
      if (res.ok) this.sent += 1;
      else logger?.warn({ status: res.status }, 'heartbeat endpoint refused the beat');
    } catch (error) {
      logger?.warn({ err: (error as Error).message }, 'heartbeat failed');
    }
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.timer);
    this.options.watchdog.unwatch(HEARTBEAT_LOOP);
    await this.inflight;
  }
}
