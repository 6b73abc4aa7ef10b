/**
 * Lets at most `perWindow` log lines of one kind through per window; the first line of the next
 * window that gets through says how many were held back. A flood of malformed requests then
 * writes a handful of lines, not one per request.
 */
export class LogLimiter {
  private windowStart = -Infinity;
  private used = 0;
  private suppressed = 0;

  constructor(
    private readonly perWindow = 10,
    private readonly windowMs = 60_000,
    private readonly now: () => number = Date.now,
  ) {}

  /** Calls `write` with the count of lines held back since the last one, or does nothing when over the limit. */
  run(write: (suppressed: number) => void): void {
    const now = this.now();
    if (now - this.windowStart >= this.windowMs) {
      this.windowStart = now;
      this.used = 0;
    }
    if (this.used >= this.perWindow) {
      this.suppressed += 1;
      return;
    }
    this.used += 1;
    const held = this.suppressed;
    this.suppressed = 0;
    write(held);
  }
}
