import type { Engine, EngineLogger } from '../engine/engine.js';
import type { QueuedWork, Store } from '../engine/ports/store.js';
import { describeError } from '../errors.js';
import type { StandbyWork } from './standby-api.js';

/** How many queued items one round takes. */
const BATCH = 100;

/**
 * The leader's side of the work queue: takes what standbys recorded (alerts, heal requests,
 * approval decisions) and hands it to the engine, as if it had come through this replica's own
 * doors. Items are taken inside a transaction that commits only once the engine has accepted
 * them, so a leader killed half way leaves them for the next one; the engine's own keys make a
 * second delivery a duplicate. Only for a store shared between processes (Postgres): the
 * engine writes through the store itself while the transaction is open.
 */
export class WorkDrain {
  private timer: NodeJS.Timeout | undefined;
  private running = false;
  private current: Promise<unknown> = Promise.resolve();

  constructor(
    private readonly options: {
      store: Store;
      engine: Pick<Engine, 'accept' | 'open' | 'decide'>;
      logger: EngineLogger;
      /** @defaultValue 250 */
      intervalMs?: number;
    },
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.schedule(0);
  }

  async stop(): Promise<void> {
    this.running = false;
    if (this.timer) clearTimeout(this.timer);
    await this.current;
  }

  /** Takes and hands on one batch; resolves with how many items it took. */
  drainOnce(): Promise<number> {
    const round = this.options.store.transaction(async (tx) => {
      const items = await tx.takeWork(BATCH);
      for (const item of items) await this.dispatch(item);
      return items.length;
    });
    this.current = round.catch(() => undefined);
    return round;
  }

  private schedule(delay: number): void {
    this.timer = setTimeout(() => {
      this.drainOnce().then(
        (taken) => this.running && this.schedule(taken === BATCH ? 0 : (this.options.intervalMs ?? 250)),
        (error: unknown) => {
          this.options.logger.error({ err: describeError(error) }, 'could not take the work standbys recorded');
          if (this.running) this.schedule(this.options.intervalMs ?? 250);
        },
      );
    }, delay);
    this.timer.unref();
  }

  private async dispatch(item: QueuedWork): Promise<void> {
    const { engine, logger } = this.options;
    try {
      if (item.kind === 'signals') {
        const decisions = await engine.accept(item.payload as StandbyWork['signals']);
        for (const decision of decisions) decision.report?.catch(() => undefined);
      } else if (item.kind === 'heal') {
        (await engine.open(item.payload as StandbyWork['heal'])).report?.catch(() => undefined);
      } else if (item.kind === 'decision') {
        const { approvalId, actor, decision } = item.payload as StandbyWork['decision'];
        const result = await engine.decide(approvalId, actor, decision);
        if (!result.ok)
          logger.warn({ approvalId, reason: result.reason }, `a decision recorded by a standby: ${result.message}`);
      } else logger.warn({ kind: item.kind, seq: item.seq }, 'unknown work in the queue: skipped');
    } catch (error) {
      // One bad item must not hold the queue: it is logged and dropped, the rest go on.
      logger.error({ err: describeError(error), kind: item.kind, seq: item.seq }, 'queued work failed');
    }
  }
}
