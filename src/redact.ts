/**
 * Secret redaction for everything healbot posts or logs. Patterns cover credentials in URLs,
 * bearer tokens, well-known token formats and `key=value` pairs whose key names a secret.
 */
const REPLACEMENT = '[REDACTED]';

const PATTERNS: readonly RegExp[] = [
  // user:password@ in URLs
  /(?<=[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+(?=@)/gi,
  /\b(?:Bearer|Basic|Bot)\s+[A-Za-z0-9._~+/=-]{8,}/g,
  /\bxox[abposr]-[A-Za-z0-9-]{8,}/g,
  /\bxapp-[A-Za-z0-9-]{8,}/g,
  /\bgh[pousr]_[A-Za-z0-9]{20,}/g,
  /\bgithub_pat_[A-Za-z0-9_]{20,}/g,
  /\bAKIA[0-9A-Z]{16}\b/g,
  /\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}/g,
  /-----BEGIN [A-Z ]*PRIVATE KEY-----[\s\S]*?-----END [A-Z ]*PRIVATE KEY-----/g,
  /\b[MN][A-Za-z\d_-]{23,25}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,}/g,
];

// An auth scheme word (`Authorization: Token abc`) is part of the value, or the credential after it would survive.
const KEY_VALUE =
  /\b([A-Za-z0-9_.-]*(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|authorization|auth(?![a-z]))[A-Za-z0-9_.-]*)(["']?\s*[:=]\s*["']?)((?:(?:Bearer|Basic|Token|Bot)\s+)?[^\s"',;&]+)/gi;

/**
 * Replaces every secret in `text` with `[REDACTED]`. `known` lists exact values (configured
 * tokens) that are always removed, whatever they look like.
 */
export function redact(text: string, known: readonly string[] = []): string {
  let out = text;
  for (const value of known) {
    if (value && value.length >= 4) out = out.split(value).join(REPLACEMENT);
  }
  for (const pattern of PATTERNS) out = out.replace(pattern, (m) => (m.startsWith('Bearer') || m.startsWith('Basic') || m.startsWith('Bot') ? `${m.split(/\s+/)[0]} ${REPLACEMENT}` : REPLACEMENT));
  out = out.replace(KEY_VALUE, (_m, key: string, sep: string, value: string) => (value === REPLACEMENT ? `${key}${sep}${value}` : `${key}${sep}${REPLACEMENT}`));
  return out;
}

/** A redactor bound to the configured secret values. */
export type Redactor = (text: string) => string;

export function createRedactor(known: readonly string[] = []): Redactor {
  const values = [...new Set(known.filter((v) => v && v.length >= 4))].sort((a, b) => b.length - a.length);
  return (text) => redact(text, values);
}
