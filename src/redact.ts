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
  // A key block, also one cut off before its END line or whose BEGIN line fell before a log tail.
  /-----BEGIN [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----[\s\S]*?(?:-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----|$)/g,
  /\bhttps:\/\/hooks\.slack\.com\/(?:services|workflows|triggers)\/[A-Za-z0-9_/-]+/g,
  /\bhttps:\/\/(?:[a-z]+\.)?discord(?:app)?\.com\/api\/webhooks\/\d+\/[A-Za-z0-9_-]+/g,
  /\b[sr]k_(?:live|test)_[A-Za-z0-9]{10,}/g,
  /\bAIza[0-9A-Za-z_-]{30,}/g,
  /\bglpat-[A-Za-z0-9_-]{20,}/g,
  /\bnpm_[A-Za-z0-9]{30,}/g,
  /\b[MN][A-Za-z\d_-]{23,25}\.[A-Za-z\d_-]{6}\.[A-Za-z\d_-]{27,}/g,
];

// Bounded around the keyword: an unbounded prefix makes every word boundary of `a.a.a.…` rescan the rest (quadratic).
const SECRET_KEY = String.raw`[A-Za-z0-9_.-]{0,40}(?:password|passwd|pwd|secret|token|api[_-]?key|apikey|access[_-]?key|private[_-]?key|credentials?|authorization|auth(?![a-z]))[A-Za-z0-9_.-]{0,40}`;

// A quoted value may hold spaces (`password = "correct horse battery"`): all of it goes, not its first word.
const QUOTED_VALUE = new RegExp(String.raw`\b(${SECRET_KEY})(["']?\s*[:=]\s*)(\\?["'])((?:(?!\3).){1,500}?)\3`, 'gi');

// A cookie header's value is all credentials: every pair until the end of the line.
const COOKIE = /\b((?:set-)?cookie\s*[:=]\s*)([^\r\n"\\]+)/gi;

// An auth scheme word (`Authorization: Token abc`) is part of the value, or the credential after it would survive.
const KEY_VALUE = new RegExp(
  String.raw`\b(${SECRET_KEY})(["']?\s*[:=]\s*["']?)((?:(?:Bearer|Basic|Token|Bot)\s+)?[^\s"',;&]+)`,
  'gi',
);

/**
 * Replaces every secret in `text` with `[REDACTED]`. `known` lists exact values (configured
 * tokens) that are always removed, whatever they look like.
 */
export function redact(text: string, known: readonly string[] = []): string {
  let out = text;
  for (const value of known) {
    if (value && value.length >= 4) out = out.split(value).join(REPLACEMENT);
  }
  for (const pattern of PATTERNS)
    out = out.replace(pattern, (m) =>
      m.startsWith('Bearer') || m.startsWith('Basic') || m.startsWith('Bot')
        ? `${m.split(/\s+/)[0]} ${REPLACEMENT}`
        : REPLACEMENT,
    );
  out = redactKeyTails(out);
  out = out.replace(COOKIE, (_m, key: string) => `${key}${REPLACEMENT}`);
  out = out.replace(
    QUOTED_VALUE,
    (_m, key: string, sep: string, quote: string) => `${key}${sep}${quote}${REPLACEMENT}${quote}`,
  );
  out = out.replace(KEY_VALUE, (_m, key: string, sep: string, value: string) =>
    value === REPLACEMENT ? `${key}${sep}${value}` : `${key}${sep}${REPLACEMENT}`,
  );
  return out;
}

const KEY_END = /-----END [A-Z0-9 ]*PRIVATE KEY(?: BLOCK)?-----/g;
const BASE64_CHAR = /[A-Za-z0-9+/=]/;
const SEPARATOR_CHAR = /[\s|]/;

/**
 * The end of a key block whose BEGIN line is not in the text (a log tail cut it off): the
 * base64 lines before the END line go with it. Walks back from each END line character by
 * character, so the cost stays linear in the text (a regex for this backtracks on long words).
 */
function redactKeyTails(text: string): string {
  if (!text.includes('-----END ')) return text;
  let out = '';
  let last = 0;
  for (const match of text.matchAll(KEY_END)) {
    const offset = match.index;
    let start = offset;
    for (;;) {
      let j = start;
      while (j > last && SEPARATOR_CHAR.test(text[j - 1])) j -= 1;
      let k = j;
      while (k > last && BASE64_CHAR.test(text[k - 1])) k -= 1;
      if (j - k < 16 || (k > last && !SEPARATOR_CHAR.test(text[k - 1]))) break;
      start = k;
    }
    if (start === offset) continue;
    out += text.slice(last, start) + REPLACEMENT;
    last = offset + match[0].length;
  }
  return out + text.slice(last);
}

/** A redactor bound to the configured secret values. */
export type Redactor = (text: string) => string;

export function createRedactor(known: readonly string[] = []): Redactor {
  const values = [...new Set(known.filter((v) => v && v.length >= 4))].sort((a, b) => b.length - a.length);
  return (text) => redact(text, values);
}

/** Redacts a block of text as a whole, then splits it into lines: a key block spanning lines goes whole. */
export function redactLines(text: string, redactor: Redactor): string[] {
  return redactor(text).split(/\r?\n/);
}

/**
 * Redacts every string in a JSON-like value (object keys stay), for data on its way into the
 * store or out through the API. Each string is redacted whole, so a key block inside one goes
 * whole. Values nested deeper than `maxDepth` are replaced rather than walked.
 */
export function redactDeep<T>(value: T, redactor: Redactor, maxDepth = 64): T {
  const walk = (v: unknown, depth: number): unknown => {
    if (typeof v === 'string') return redactor(v);
    // Errors keep their class for the log serializer; their text is redacted where the line is written.
    if (v === null || typeof v !== 'object' || v instanceof Error) return v;
    if (depth >= maxDepth) return '[too deep]';
    if (Array.isArray(v)) return v.map((item) => walk(item, depth + 1));
    const out: Record<string, unknown> = {};
    for (const [k, item] of Object.entries(v)) {
      if (item !== undefined)
        Object.defineProperty(out, k, {
          value: walk(item, depth + 1),
          enumerable: true,
          writable: true,
          configurable: true,
        });
    }
    return out;
  };
  return walk(value, 0) as T;
}
