import { connect, type LookupFunction } from 'node:net';
import type { Probe, ProbeOutcome } from './probe.js';
import { classifyNetworkError } from './classify.js';

/** Splits `host:port` and `[::1]:port`. */
export function splitHostPort(target: string): { host: string; port: number } {
  const match = /^(?:\[([^\]]+)\]|([^:]+)):(\d+)$/.exec(target);
  if (!match) throw new Error(`"${target}" is not host:port`);
  return { host: match[1] ?? match[2], port: Number(match[3]) };
}

/** Opens a TCP connection; healthy when it connects. */
export class TcpProbe implements Probe {
  readonly kind = 'tcp' as const;
  private readonly host: string;
  private readonly port: number;
  constructor(
    readonly name: string,
    target: string,
    readonly timeoutMs: number,
    private readonly lookup?: LookupFunction,
  ) {
    ({ host: this.host, port: this.port } = splitHostPort(target));
  }

  check(signal: AbortSignal): Promise<ProbeOutcome> {
    return new Promise((resolve) => {
      const socket = connect({ host: this.host, port: this.port, lookup: this.lookup });
      const finish = (outcome: ProbeOutcome) => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        resolve({ ...outcome, host: this.host });
      };
      const onAbort = () => finish({ ok: false, error: 'timed out', errorKind: 'timeout' });
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => finish({ ok: true }));
      socket.once('error', (error) => {
        const { kind, message } = classifyNetworkError(error);
        finish({ ok: false, error: message, errorKind: kind });
      });
    });
  }
}
