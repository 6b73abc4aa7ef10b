import type { Config } from './schema.js';
import { hasService } from './own.js';

/** Problems in `runbooks` the schema cannot see: unknown services, rollback steps that undo no step. */
export function runbookProblems(config: Config): { path: string; message: string }[] {
  const problems: { path: string; message: string }[] = [];
  const services = Object.keys(config.services);
  const names = new Map<string, number>();
  config.runbooks.forEach((runbook, r) => {
    const first = names.get(runbook.name);
    if (first !== undefined)
      problems.push({
        path: `runbooks[${r}].name`,
        message: `duplicate runbook name "${runbook.name}" (also runbooks[${first}])`,
      });
    else names.set(runbook.name, r);
    runbook.when.services?.forEach((service, i) => {
      if (!hasService(config, service))
        problems.push({
          path: `runbooks[${r}].when.services[${i}]`,
          message: `unknown service "${service}" (known: ${services.join(', ')})`,
        });
    });
    const stepNames = runbook.steps.map((step) => step.name ?? step.action ?? step.command?.[0]);
    runbook.rollback.forEach((step, i) => {
      if (step.undoes !== undefined && !stepNames.includes(step.undoes)) {
        problems.push({
          path: `runbooks[${r}].rollback[${i}].undoes`,
          message: `names no step of runbook ${runbook.name} (steps: ${stepNames.join(', ')})`,
        });
      }
    });
  });
  return problems;
}
