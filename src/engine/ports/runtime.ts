import type { ActionKind, RuntimeState } from '../types.js';

export interface RuntimeAction {
  action: Exclude<ActionKind, 'manual' | 'command' | 'runbook'>;
  params?: Record<string, string | number>;
}

/**
 * What the engine needs from a workload runtime. Implementations are named by technology
 * (`DockerRuntime`, `KubernetesRuntime`, `CommandRuntime`) and bound to one service.
 */
export interface Runtime {
  readonly kind: RuntimeState['runtime'];
  /**
   * Reads the workload's state; never throws: an unreadable runtime returns `{ status: 'unknown', error }`.
   * `memory` asks for the memory in use too, which some runtimes read slowly.
   */
  inspect(options?: { logLines?: number; signal?: AbortSignal; memory?: boolean }): Promise<RuntimeState>;
  /** The actions this runtime can perform. */
  supports(action: RuntimeAction['action']): boolean;
  /** Performs an action; throws RuntimeError with a human message on failure. */
  perform(action: RuntimeAction, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<void>;
  /**
   * Calls `onChange` each time the workload changes (started, died, its health changed) until
   * `signal` aborts, so a verification need not wait out its polling interval; optional.
   */
  watch?(options: { signal: AbortSignal; since?: number }, onChange: () => void): void;
  /**
   * For runtimes whose fix finishes long after the call returns (a CI re-run): waits until the
   * result of the last action is known or `timeoutMs` passes, and returns the state then.
   * Verification uses it instead of polling `inspect`.
   */
  settle?(options: { timeoutMs: number; signal?: AbortSignal }): Promise<RuntimeState>;
  /** Releases connections; optional. */
  close?(): Promise<void>;
}
