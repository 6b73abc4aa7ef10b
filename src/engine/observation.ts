import type { ProbeConfig } from '../config/schema.js';
import type { FailurePattern } from './patterns/pattern.js';
import type { ProbeResult, RuntimeState } from './types.js';

/** What one diagnosis saw of one service: its probes in path order (outermost first) and its runtime. */
export interface ServiceObservation {
  service: string;
  probes: { config: ProbeConfig; target: string; result: ProbeResult }[];
  /** Undefined when the service has no runtime configured. */
  runtime?: RuntimeState;
  dependsOn: string[];
}

export interface Observations {
  services: Record<string, ServiceObservation>;
  /** Results of the observer's canary names, which must always resolve. */
  canaries: ProbeResult[];
  observerNetwork?: string;
  /** Failure patterns to refine a root cause with; the built-in ones when absent. */
  patterns?: readonly FailurePattern[];
}
