/**
 * Remembers the last `capacity` deliveries so a redelivered event (Events API retry with
 * `X-Slack-Retry-Num`, a Socket Mode envelope sent again after a reconnect) is dropped. The
 * engine's dedupeKey is the second guard, for restarts that forget this memory.
 */
export class DeliveryDedupe {
  readonly #seen = new Map<string, true>();
  readonly #capacity: number;

  constructor(capacity = 5000) {
    this.#capacity = capacity;
  }

  /** Records `key`; returns false when it was already seen. */
  firstTime(key: string): boolean {
    if (this.#seen.has(key)) {
      this.#seen.delete(key);
      this.#seen.set(key, true);
      return false;
    }
    this.#seen.set(key, true);
    if (this.#seen.size > this.#capacity) {
      const oldest = this.#seen.keys().next().value;
      if (oldest !== undefined) this.#seen.delete(oldest);
    }
    return true;
  }

  get size(): number {
    return this.#seen.size;
  }
}

/**
 * The identity of one delivery: `event_id` for Events API payloads (stable across retries and
 * redeliveries), `trigger_id` for slash commands and button clicks, else the Socket Mode
 * envelope id.
 */
export function deliveryKey(body: Record<string, unknown>, envelopeId?: string): string | undefined {
  if (typeof body.event_id === 'string') return `event:${body.event_id}`;
  if (typeof body.trigger_id === 'string') return `trigger:${body.trigger_id}`;
  if (envelopeId) return `envelope:${envelopeId}`;
  return undefined;
}
