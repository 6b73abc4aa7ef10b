/** The Probe port lives with the engine that needs it; implementations live here. */
export type { Probe, ProbeOutcome } from '../engine/ports/probe.js';
