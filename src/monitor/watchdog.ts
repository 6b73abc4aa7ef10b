/** A loop healbot runs forever, and how long it may go without a tick before it counts as stuck. */
interface WatchedLoop {
  lastTick: number;
  maxSilenceMs: number;
}

export interface LoopHealth {
  name: string;
  ok: boolean;
  /** Milliseconds since the loop last ticked. */
  silentMs: number;
  maxSilenceMs: number;
}

/**
 * Watches healbot's own loops (monitoring, heartbeat): each ticks after every round, and one
 * that has not ticked for longer than it may is stuck, which /readyz reports.
 */
export class Watchdog {
  private readonly loops = new Map<string, WatchedLoop>();

  constructor(private readonly now: () => number = Date.now) {}

  /** Starts watching `name`; it must tick at least every `maxSilenceMs`. */
  watch(name: string, maxSilenceMs: number): void {
    this.loops.set(name, { lastTick: this.now(), maxSilenceMs });
  }

  tick(name: string): void {
    const loop = this.loops.get(name);
    if (loop) loop.lastTick = this.now();
  }

  unwatch(name: string): void {
    this.loops.delete(name);
  }

  report(): LoopHealth[] {
    const now = this.now();
    return [...this.loops].map(([name, loop]) => {
      const silentMs = now - loop.lastTick;
      return { name, ok: silentMs <= loop.maxSilenceMs, silentMs, maxSilenceMs: loop.maxSilenceMs };
    });
  }

  healthy(): boolean {
    return this.report().every((l) => l.ok);
  }
}
