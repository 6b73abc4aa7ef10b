import type { Probe, ProbeOutcome } from './probe.js';
import { classifyNetworkError } from './classify.js';

export interface HttpProbeOptions {
  url: string;
  expectStatus?: number | number[];
  expectBody?: string;
  headers?: Record<string, string>;
}

/** GETs a URL; healthy when the status is expected (default 2xx/3xx) and the body contains `expectBody`. */
export class HttpProbe implements Probe {
  readonly kind = 'http' as const;
  constructor(
    readonly name: string,
    private readonly options: HttpProbeOptions,
    readonly timeoutMs: number,
  ) {}

  async check(signal: AbortSignal): Promise<ProbeOutcome> {
    const host = new URL(this.options.url).hostname;
    try {
      const response = await fetch(this.options.url, { headers: this.options.headers, signal, redirect: 'manual' });
      const body = this.options.expectBody !== undefined ? await response.text() : (await response.body?.cancel(), '');
      const expected = this.options.expectStatus;
      const statusOk = expected === undefined ? response.status < 400 : ([] as number[]).concat(expected).includes(response.status);
      if (!statusOk) return { ok: false, status: response.status, error: `HTTP ${response.status}`, errorKind: 'status', host };
      if (this.options.expectBody !== undefined && !body.includes(this.options.expectBody)) {
        return { ok: false, status: response.status, error: `body lacks "${this.options.expectBody}"`, errorKind: 'body', host };
      }
      return { ok: true, status: response.status, host };
    } catch (error) {
      const { kind, message } = classifyNetworkError(signal.aborted ? signal.reason ?? error : error);
      return { ok: false, error: message, errorKind: kind, host };
    }
  }
}
