import { runbookProblems } from './runbook-checks.js';
import { routingProblems } from '../app-errors/routes.js';
import type { Config } from './schema.js';
import { SAFE_NAME } from './schema.js';
import { hasService } from './own.js';

/** Finds one dependency cycle among services, as the list of names around it, or undefined. */
export function findCycle(edges: Record<string, readonly string[]>): string[] | undefined {
  const state = new Map<string, 'visiting' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): string[] | undefined => {
    if (state.get(node) === 'done') return undefined;
    if (state.get(node) === 'visiting') return [...stack.slice(stack.indexOf(node)), node];
    state.set(node, 'visiting');
    stack.push(node);
    for (const next of edges[node] ?? []) {
      const cycle = visit(next);
      if (cycle) return cycle;
    }
    stack.pop();
    state.set(node, 'done');
    return undefined;
  };
  for (const node of Object.keys(edges)) {
    const cycle = visit(node);
    if (cycle) return cycle;
  }
  return undefined;
}

/**
 * Problems schema validation cannot see: service names, unknown dependencies, cycles (a
 * health gate that waits on something that only starts after it), duplicate probe names,
 * and probes that name a layer owner that does not exist.
 */
export function topologyProblems(config: Config): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const names = Object.keys(config.services);
  const edges: Record<string, string[]> = {};
  for (const [name, service] of Object.entries(config.services)) {
    if (!SAFE_NAME.test(name)) {
      problems.push({
        path: `services.${name}`,
        message: 'service name must start with a letter or digit and use only letters, digits, ".", "_" or "-"',
      });
    }
    if (service.github && !config.github)
      problems.push({
        path: `services.${name}.github`,
        message:
          'needs a top-level github: { token } (actions read/write, issues write) to read and re-run its workflows',
      });
    edges[name] = [...service.dependsOn];
    service.dependsOn.forEach((dep, i) => {
      if (!hasService(config, dep))
        problems.push({
          path: `services.${name}.dependsOn[${i}]`,
          message: `unknown service "${dep}" (known: ${names.join(', ')})`,
        });
      if (dep === name)
        problems.push({ path: `services.${name}.dependsOn[${i}]`, message: 'a service cannot depend on itself' });
    });
    const seen = new Map<string, number>();
    service.probes.forEach((probe, i) => {
      const first = seen.get(probe.name);
      if (first !== undefined)
        problems.push({
          path: `services.${name}.probes[${i}].name`,
          message: `duplicate probe name "${probe.name}" (also probes[${first}])`,
        });
      else seen.set(probe.name, i);
      if (probe.service !== undefined) {
        if (!hasService(config, probe.service))
          problems.push({
            path: `services.${name}.probes[${i}].service`,
            message: `unknown service "${probe.service}" (known: ${names.join(', ')})`,
          });
      }
    });
  }
  problems.push(...runbookProblems(config));
  problems.push(...routingProblems(config));
  if (problems.length === 0) {
    const cycle = findCycle(edges);
    if (cycle)
      problems.push({ path: `services.${cycle[0]}.dependsOn`, message: `dependency cycle: ${cycle.join(' → ')}` });
  }
  return problems;
}
