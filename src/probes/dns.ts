import { lookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import { resolveWith } from './resolver.js';
import type { Probe, ProbeOutcome } from './probe.js';
import { classifyNetworkError } from './classify.js';

/** Resolves a name the way the system resolver does (so /etc/hosts and container DNS count), or through healbot's configured DNS servers. */
export class DnsProbe implements Probe {
  readonly kind = 'dns' as const;
  constructor(
    readonly name: string,
    private readonly host: string,
    readonly timeoutMs: number,
    private readonly customLookup?: LookupFunction,
  ) {}

  async check(signal: AbortSignal): Promise<ProbeOutcome> {
    const aborted = new Promise<ProbeOutcome>((resolve) =>
      signal.addEventListener(
        'abort',
        () => resolve({ ok: false, error: 'timed out', errorKind: 'timeout', host: this.host }),
        { once: true },
      ),
    );
    const resolved = (this.customLookup ? resolveWith(this.customLookup, this.host) : lookup(this.host)).then(
      (): ProbeOutcome => ({ ok: true, host: this.host }),
      (error): ProbeOutcome => {
        const { kind, message } = classifyNetworkError(Object.assign(error, { hostname: this.host }));
        return { ok: false, error: message, errorKind: kind, host: this.host };
      },
    );
    return Promise.race([resolved, aborted]);
  }
}
