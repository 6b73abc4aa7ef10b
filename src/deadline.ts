import { RuntimeError } from './errors.js';

/** A call out of the process got no answer in time. */
export class DeadlineExceeded extends RuntimeError {
  readonly timeoutMs: number;
  constructor(what: string, timeoutMs: number) {
    super(`${what} did not answer within ${formatSeconds(timeoutMs)}`);
    this.timeoutMs = timeoutMs;
  }
}

/** `30 s`, `1.5 s`: how deadlines are said in messages. */
export function formatSeconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(ms < 10_000 ? 1 : 0))} s`;
}

/**
 * Runs `work` with a signal that aborts after `timeoutMs` (or with `parent`), and settles no
 * later than that even when the client ignores the signal: it then rejects with
 * DeadlineExceeded naming `what` ("Kubernetes API did not answer within 30 s").
 */
export function withDeadline<T>(
  what: string,
  timeoutMs: number,
  work: (signal: AbortSignal) => Promise<T>,
  parent?: AbortSignal,
): Promise<T> {
  const controller = new AbortController();
  const onParentAbort = () => controller.abort(parent?.reason);
  parent?.addEventListener('abort', onParentAbort, { once: true });
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const error = new DeadlineExceeded(what, timeoutMs);
      controller.abort(error);
      reject(error);
    }, timeoutMs);
    const done = () => {
      clearTimeout(timer);
      parent?.removeEventListener('abort', onParentAbort);
    };
    if (parent?.aborted) onParentAbort();
    work(controller.signal).then(
      (value) => (done(), resolve(value)),
      (error: unknown) => (
        done(), reject(controller.signal.reason instanceof DeadlineExceeded ? controller.signal.reason : error)
      ),
    );
  });
}
