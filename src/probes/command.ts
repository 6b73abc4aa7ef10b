import { execa } from 'execa';
import { redact } from '../redact.js';
import type { Probe, ProbeOutcome } from './probe.js';

/** Runs an argv array (never a shell); healthy when it exits 0. */
export class CommandProbe implements Probe {
  readonly kind = 'command' as const;
  constructor(
    readonly name: string,
    private readonly argv: readonly string[],
    readonly timeoutMs: number,
  ) {}

  async check(signal: AbortSignal): Promise<ProbeOutcome> {
    const [file, ...args] = this.argv;
    const result = await execa(file, args, {
      cancelSignal: signal,
      reject: false,
      stdin: 'ignore',
      all: true,
      forceKillAfterDelay: 1000,
    });
    if (result.isCanceled || result.timedOut) return { ok: false, error: 'timed out', errorKind: 'timeout' };
    if (result.exitCode === 0) return { ok: true };
    // Redacted as a whole first: the last line alone may be the tail of a key block.
    const lastLine =
      redact((result.all ?? '').trim())
        .split('\n')
        .pop() ?? '';
    const reason =
      result.exitCode === undefined ? (result.originalMessage ?? 'could not run') : `exit ${result.exitCode}`;
    return { ok: false, error: lastLine ? `${reason}: ${lastLine.slice(0, 200)}` : reason, errorKind: 'exit' };
  }
}
