import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { LookupFunction } from 'node:net';
import type { Probe, ProbeOutcome } from './probe.js';
import { classifyNetworkError } from './classify.js';

export interface HttpProbeOptions {
  url: string;
  expectStatus?: number | number[];
  expectBody?: string;
  headers?: Record<string, string>;
}

const MAX_BODY = 64 * 1024;

/**
 * GETs a URL; healthy when the status is expected (default below 400) and the body contains
 * `expectBody`. Uses node:http so the probe can resolve names through healbot's own DNS servers.
 */
export class HttpProbe implements Probe {
  readonly kind = 'http' as const;
  constructor(
    readonly name: string,
    private readonly options: HttpProbeOptions,
    readonly timeoutMs: number,
    private readonly lookup?: LookupFunction,
  ) {}

  check(signal: AbortSignal): Promise<ProbeOutcome> {
    const url = new URL(this.options.url);
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest;
    return new Promise((resolve) => {
      let settled = false;
      const finish = (outcome: ProbeOutcome) => {
        if (settled) return;
        settled = true;
        resolve({ ...outcome, host });
      };
      const req = request(
        url,
        { method: 'GET', headers: this.options.headers, signal, lookup: this.lookup, agent: false },
        (res: IncomingMessage) => {
          const status = res.statusCode ?? 0;
          const chunks: Buffer[] = [];
          let size = 0;
          res.on('data', (chunk: Buffer) => {
            if (size < MAX_BODY) chunks.push(chunk);
            size += chunk.length;
          });
          res.on('error', (error) => finish({ ok: false, status, ...this.describe(error, signal) }));
          res.on('end', () => {
            const expected = this.options.expectStatus;
            const statusOk = expected === undefined ? status < 400 : ([] as number[]).concat(expected).includes(status);
            if (!statusOk) return finish({ ok: false, status, error: `HTTP ${status}`, errorKind: 'status' });
            const body = Buffer.concat(chunks).toString('utf8');
            if (this.options.expectBody !== undefined && !body.includes(this.options.expectBody)) {
              return finish({ ok: false, status, error: `body lacks "${this.options.expectBody}"`, errorKind: 'body' });
            }
            finish({ ok: true, status });
          });
        },
      );
      req.on('error', (error) => finish({ ok: false, ...this.describe(error, signal) }));
      req.end();
    });
  }

  private describe(error: unknown, signal: AbortSignal): { error: string; errorKind: ProbeOutcome['errorKind'] } {
    const { kind, message } = classifyNetworkError(signal.aborted ? (signal.reason ?? error) : error);
    return { error: message, errorKind: kind };
  }
}
