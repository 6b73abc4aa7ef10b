import { createHash, timingSafeEqual } from 'node:crypto';

/** One application error as Sentry or Logfire reported it, before it is classified and routed. */
export interface AppError {
  source: 'sentry' | 'logfire';
  /** This occurrence (Sentry's event id, Logfire's trace id): the same id is never routed twice. */
  id: string;
  /** Groups occurrences of one error (Sentry's issue id, else type + message + culprit). */
  fingerprint: string;
  /** The service named by the sender (a tag or attribute), when it named one. */
  service?: string;
  /** The sender's project (Sentry project slug or id, Logfire project), mapped to a service in config. */
  project?: string;
  title: string;
  type?: string;
  message: string;
  /** Sentry's `platform` (python, javascript, node, go, java…), a hint for the classifier. */
  platform?: string;
  file?: string;
  line?: number;
  culprit?: string;
  traceId?: string;
  /** Back to the error in Sentry or Logfire. */
  link?: string;
  /** What matched: tags, the alert rule, the level. */
  labels: Record<string, string>;
}

/** A delivery that does not have the documented shape; the message names the first bad field. */
export class AppErrorPayloadError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'AppErrorPayloadError';
  }
}

/** A short stable hash for fingerprints built from text. */
export function textFingerprint(...parts: (string | undefined)[]): string {
  return createHash('sha256')
    .update(parts.map((p) => p ?? '').join('\u0000'))
    .digest('hex')
    .slice(0, 16);
}

/** Constant-time comparison of two strings (signatures, shared secrets). */
export function sameSecret(given: string, expected: string): boolean {
  const a = Buffer.from(given);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}
