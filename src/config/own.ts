import type { Config, ServiceConfig } from './schema.js';

/**
 * Own-property lookups for names that come from outside (a request body, an alert label, a
 * chat argument). A plain `record[name]` finds `constructor`, `__proto__` or `toString` on
 * every object; these never do.
 */
export function own<T>(record: Readonly<Record<string, T>>, key: string): T | undefined {
  return Object.hasOwn(record, key) ? record[key] : undefined;
}

/** Whether `name` is a configured service (never a built-in property name). */
export function hasService(config: Pick<Config, 'services'>, name: string): boolean {
  return Object.hasOwn(config.services, name);
}

/** The configuration of service `name`, or undefined when it is not configured. */
export function serviceConfig(config: Pick<Config, 'services'>, name: string): ServiceConfig | undefined {
  return own(config.services, name);
}
