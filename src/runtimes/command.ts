import { execa } from 'execa';
import type { RuntimeState } from '../engine/types.js';
import { RuntimeError } from '../errors.js';
import { redactLines, type Redactor } from '../redact.js';
import type { Runtime, RuntimeAction } from './runtime.js';

export interface CommandRuntimeConfig {
  restart: string[];
  status?: string[];
  start?: string[];
  logs?: string[];
  timeoutMs: number;
}

/**
 * A runtime made of configured argv arrays, for systemd or compose hosts: `status` exiting 0
 * means running. Arguments come only from the config file; nothing goes through a shell.
 */
export class CommandRuntime implements Runtime {
  readonly kind = 'command' as const;

  constructor(
    private readonly service: string,
    private readonly config: CommandRuntimeConfig,
    private readonly redact: Redactor,
  ) {}

  private async run(argv: string[], timeoutMs: number, signal?: AbortSignal) {
    const [file, ...args] = argv;
    return execa(file, args, {
      timeout: timeoutMs,
      cancelSignal: signal,
      reject: false,
      stdin: 'ignore',
      all: true,
      forceKillAfterDelay: 2000,
    });
  }

  async inspect(options: { logLines?: number; signal?: AbortSignal } = {}): Promise<RuntimeState> {
    const target = this.config.restart.join(' ');
    const base = { runtime: 'command' as const, target: this.service };
    let status: RuntimeState['status'] = 'unknown';
    let error: string | undefined;
    if (this.config.status) {
      const result = await this.run(this.config.status, 15_000, options.signal);
      if (result.exitCode === undefined)
        error = `status command could not run: ${this.redact(result.originalMessage ?? 'unknown error')}`;
      else status = result.exitCode === 0 ? 'running' : 'exited';
    }
    let logs: string[] | undefined;
    if (this.config.logs && (options.logLines ?? 80) > 0) {
      const result = await this.run(this.config.logs, 15_000, options.signal);
      logs = redactLines(result.all ?? '', this.redact)
        .filter(Boolean)
        .slice(-(options.logLines ?? 80));
    }
    return {
      ...base,
      status,
      logs,
      ...(error ? { error } : {}),
      ...(status === 'unknown' && !error ? { target: `${this.service} (${target})` } : {}),
    };
  }

  supports(action: RuntimeAction['action']): boolean {
    return action === 'restart' || action === 'start';
  }

  async perform(action: RuntimeAction, options: { timeoutMs?: number; signal?: AbortSignal } = {}): Promise<void> {
    if (!this.supports(action.action))
      throw new RuntimeError(`the command runtime of ${this.service} cannot ${action.action}`);
    const argv = action.action === 'start' ? (this.config.start ?? this.config.restart) : this.config.restart;
    const result = await this.run(
      argv,
      Math.min(options.timeoutMs ?? this.config.timeoutMs, this.config.timeoutMs),
      options.signal,
    );
    if (result.timedOut) throw new RuntimeError(`${action.action} of ${this.service} timed out`);
    if (result.exitCode !== 0) {
      const tail = redactLines((result.all ?? '').trim(), this.redact)
        .slice(-3)
        .join(' | ');
      throw new RuntimeError(
        `${action.action} of ${this.service} exited ${result.exitCode ?? '(could not run)'}${tail ? `: ${tail}` : ''}`,
      );
    }
  }
}
