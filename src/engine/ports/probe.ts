import type { ProbeErrorKind } from '../types.js';

export interface ProbeOutcome {
  ok: boolean;
  status?: number;
  error?: string;
  errorKind?: ProbeErrorKind;
  host?: string;
}

/** One check of one layer. Never throws: every failure is an outcome. */
export interface Probe {
  readonly name: string;
  readonly kind: 'http' | 'tcp' | 'dns' | 'command';
  readonly timeoutMs: number;
  check(signal: AbortSignal): Promise<ProbeOutcome>;
}
