/**
 * Tells a container a person stopped through the Docker API from one that crashed, by the
 * events Docker wrote since the container last started. The rule (see the README):
 *
 * - a `stop` event (`docker stop`, `docker compose stop` or `down`) is a stop on purpose;
 * - so is a `kill` with the container's stop signal (SIGTERM unless it set another) followed by
 *   a clean exit (0, or 128 + that signal);
 * - a `pause` not undone by an `unpause`, and a `destroy` (`docker rm`, `compose down`), too;
 * - anything else (a `die` on its own, `docker kill` with SIGKILL, a non-zero exit) is a crash.
 */
import type { DockerContainerEvent } from './docker-events.js';

export const SIGTERM = 15;

export interface StopOnPurpose {
  /** `docker stop`, `docker kill --signal 15`, `docker pause`, `docker rm`. */
  how: string;
  /** Epoch milliseconds of the event that settled it. */
  at: number;
}

/**
 * The stop on purpose that `events` (one container's, oldest first) end with, if any. Events
 * before the container's last `start` do not count: it has run since.
 */
export function stopOnPurpose(
  events: readonly DockerContainerEvent[],
  stopSignal = SIGTERM,
): StopOnPurpose | undefined {
  let askedToStop: DockerContainerEvent | undefined;
  let verdict: StopOnPurpose | undefined;
  for (const event of events) {
    switch (event.action) {
      case 'start':
      case 'restart':
      case 'unpause':
        askedToStop = undefined;
        verdict = undefined;
        break;
      case 'kill':
        if (event.signal === stopSignal) askedToStop = event;
        break;
      case 'die': {
        const clean = event.exitCode === 0 || event.exitCode === 128 + stopSignal;
        verdict = askedToStop && clean ? { how: `docker kill --signal ${stopSignal}`, at: event.time } : undefined;
        break;
      }
      case 'stop':
        verdict = { how: 'docker stop', at: event.time };
        break;
      case 'pause':
        verdict = { how: 'docker pause', at: event.time };
        break;
      case 'destroy':
        verdict = { how: 'docker rm', at: event.time };
        break;
      default:
        break;
    }
  }
  return verdict;
}

/**
 * True while a `die` cannot be judged yet: the container was asked to stop through the API
 * but did not exit cleanly (a `docker stop` that had to fall back on SIGKILL), so the `stop`
 * event Docker writes right after the `die` decides.
 */
export function awaitingStopEvent(events: readonly DockerContainerEvent[], stopSignal = SIGTERM): boolean {
  const last = events.at(-1);
  if (last?.action !== 'die' || stopOnPurpose(events, stopSignal)) return false;
  const sinceStart = events.slice(events.findLastIndex((e) => e.action === 'start' || e.action === 'restart') + 1);
  return sinceStart.some((e) => e.action === 'kill' && e.signal === stopSignal);
}
