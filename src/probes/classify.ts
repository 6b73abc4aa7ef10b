import type { ProbeErrorKind } from '../engine/types.js';

const DNS_CODES = new Set(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL', 'EAI_NONAME', 'EAI_NODATA']);

/** Maps a Node network error (possibly wrapped in `cause`, as fetch does) to a probe error kind. */
export function classifyNetworkError(error: unknown): { kind: ProbeErrorKind; message: string } {
  let current: unknown = error;
  for (let depth = 0; depth < 4 && current; depth++) {
    const code = (current as { code?: string }).code;
    const name = (current as { name?: string }).name;
    if (
      name === 'AbortError' ||
      name === 'TimeoutError' ||
      code === 'ETIMEDOUT' ||
      code === 'UND_ERR_CONNECT_TIMEOUT' ||
      code === 'UND_ERR_HEADERS_TIMEOUT'
    ) {
      return { kind: 'timeout', message: 'timed out' };
    }
    if (code && DNS_CODES.has(code)) {
      const host = (current as { hostname?: string }).hostname;
      return { kind: 'dns', message: `cannot resolve ${host ?? 'host'} (${code})` };
    }
    if (code === 'ECONNREFUSED') return { kind: 'refused', message: 'connection refused' };
    if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'UND_ERR_SOCKET')
      return { kind: 'reset', message: 'connection reset' };
    if (code && /^(ERR_TLS|CERT_|DEPTH_ZERO|SELF_SIGNED|UNABLE_TO)/.test(code))
      return { kind: 'tls', message: `TLS error (${code})` };
    if (code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return { kind: 'refused', message: `unreachable (${code})` };
    current = (current as { cause?: unknown }).cause;
  }
  const message = error instanceof Error ? error.message : String(error);
  return { kind: 'other', message };
}
