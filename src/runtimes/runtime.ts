import type { ActionKind, RuntimeState } from '../engine/types.js';

export interface RuntimeAction {
  action: Exclude<ActionKind, 'manual'>;
  params?: Record<string, string | number>;
}

/**
 * What the engine needs from a workload runtime. Implementations are named by technology
 * (`DockerRuntime`, `KubernetesRuntime`, `CommandRuntime`) and bound to one service.
 */
export interface Runtime {
  readonly kind: RuntimeState['runtime'];
  /** Reads the workload's state; never throws: an unreadable runtime returns `{ status: 'unknown', error }`. */
  inspect(options?: { logLines?: number; signal?: AbortSignal }): Promise<RuntimeState>;
  /** The actions this runtime can perform. */
  supports(action: RuntimeAction['action']): boolean;
  /** Performs an action; throws RuntimeError with a human message on failure. */
  perform(action: RuntimeAction, options?: { timeoutMs?: number; signal?: AbortSignal }): Promise<void>;
  /** Releases connections; optional. */
  close?(): Promise<void>;
}
