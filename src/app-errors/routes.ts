import { z } from 'zod';
import { ERROR_CATEGORIES, type ErrorClassification } from '../classify/error-classifier.js';

/** What healbot does with a routed error. */
export const ROUTE_ACTIONS = ['heal', 'dispatch', 'issue', 'alert', 'block'] as const;
export type RouteAction = (typeof ROUTE_ACTIONS)[number];

const category = z.enum(ERROR_CATEGORIES);

export const routeSchema = z.strictObject({
  when: z
    .strictObject({
      /** One category or several; absent matches any. */
      category: z.union([category, z.array(category).min(1)]).optional(),
      /** The classification's confidence must be at least this. */
      minConfidence: z.number().min(0).max(1).optional(),
      /** Only errors of these configured services. */
      services: z.array(z.string().min(1)).min(1).optional(),
    })
    .prefault({}),
  do: z.enum(ROUTE_ACTIONS),
});
export type Route = z.infer<typeof routeSchema>;

/** The confidence from which a code error is handed to an automated fix. */
export const HIGH_CONFIDENCE = 0.85;

/**
 * The design's matrix, consulted after the configured routes: a security issue alerts and
 * blocks automation, a timeout only alerts, a dependency that is down is healed, an unknown
 * error and a medium-confidence one become a GitHub issue, a high-confidence code error
 * triggers the fix workflow.
 */
export const DEFAULT_ROUTES: readonly Route[] = [
  { when: { category: 'security' }, do: 'block' },
  { when: { category: 'timeout' }, do: 'alert' },
  { when: { category: 'infrastructure' }, do: 'heal' },
  { when: { category: 'unknown' }, do: 'issue' },
  { when: { minConfidence: HIGH_CONFIDENCE }, do: 'dispatch' },
  { when: {}, do: 'issue' },
];

/** The first route whose conditions all hold; configured routes first, then the defaults. */
export function chooseRoute(
  classification: ErrorClassification,
  service: string | undefined,
  routes: readonly Route[] = [],
): { route: Route; index: number; fromDefaults: boolean } {
  const all = [...routes, ...DEFAULT_ROUTES];
  const index = all.findIndex(({ when }) => {
    if (when.category !== undefined && ![when.category].flat().includes(classification.category)) return false;
    if (when.minConfidence !== undefined && classification.confidence < when.minConfidence) return false;
    if (when.services !== undefined && (service === undefined || !when.services.includes(service))) return false;
    return true;
  });
  return { route: all[index], index, fromDefaults: index >= routes.length };
}

/** Config problems of the routing matrix and the project maps: unknown services, GitHub routes without GitHub. */
export function routingProblems(config: {
  services: Record<string, unknown>;
  routes: readonly Route[];
  github?: unknown;
  sentry?: { projects: Record<string, string> };
  logfire?: { projects: Record<string, string> };
}): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const known = Object.keys(config.services);
  const check = (path: string, service: string) => {
    if (!Object.hasOwn(config.services, service))
      problems.push({ path, message: `unknown service "${service}" (known: ${known.join(', ')})` });
  };
  config.routes.forEach((route, i) => {
    route.when.services?.forEach((service, j) => check(`routes[${i}].when.services[${j}]`, service));
    if ((route.do === 'dispatch' || route.do === 'issue') && !config.github)
      problems.push({ path: `routes[${i}].do`, message: `${route.do} needs github: { repo, token } to be configured` });
  });
  for (const source of ['sentry', 'logfire'] as const) {
    for (const [project, service] of Object.entries(config[source]?.projects ?? {}))
      check(`${source}.projects.${project}`, service);
  }
  return problems;
}
