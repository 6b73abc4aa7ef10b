import type { ProbeConfig } from '../config/schema.js';

/** Describes what a probe checks, e.g. `http://api:8000/ready`, for messages and advice. */
export function probeTarget(config: ProbeConfig): string {
  if (config.http !== undefined) return typeof config.http === 'string' ? config.http : config.http.url;
  if (config.tcp !== undefined) return config.tcp;
  if (config.dns !== undefined) return config.dns;
  return (config.command ?? []).join(' ');
}
