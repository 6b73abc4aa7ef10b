/** The Runtime port lives with the engine that needs it; implementations live here. */
export type { RuntimeAction, Runtime } from '../engine/ports/runtime.js';
