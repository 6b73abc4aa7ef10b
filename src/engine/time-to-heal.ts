import type { Diagnosis, Incident } from './types.js';

/**
 * Milliseconds from the first failure signal to now: the event or failing probe that opened the
 * incident when the door knew it, else the start of the diagnosis that found the failure.
 */
export function timeSinceFailure(
  incident: Pick<Incident, 'failingSince' | 'openedAt'>,
  diagnosis: Pick<Diagnosis, 'startedAt'>,
  now = Date.now(),
): number {
  const candidates = [incident.failingSince, diagnosis.startedAt]
    .map((iso) => (iso ? Date.parse(iso) : Number.NaN))
    .filter(Number.isFinite);
  const since = Math.min(...candidates);
  return Number.isFinite(since) ? Math.max(0, Math.round(now - since)) : 0;
}
