import { policySchema } from './schema.js';

const isObject = (value: unknown): value is Record<string, unknown> =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Gives every service the top-level `policy`, its own `policy` fields winning one by one, on the
 * raw configuration tree before validation. A top-level policy that is itself invalid is left
 * for validation to report once, at `policy`, rather than again under every service.
 */
export function inheritPolicy(raw: unknown): unknown {
  if (!isObject(raw) || !isObject(raw.policy) || !isObject(raw.services)) return raw;
  if (!policySchema.safeParse(raw.policy).success) return raw;
  const defaults = raw.policy;
  const services = Object.fromEntries(
    Object.entries(raw.services).map(([name, service]) => {
      if (!isObject(service)) return [name, service];
      const own = service.policy === undefined ? {} : service.policy;
      return [name, { ...service, policy: isObject(own) ? { ...defaults, ...own } : own }];
    }),
  );
  return { ...raw, services };
}
