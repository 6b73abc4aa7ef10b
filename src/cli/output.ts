import { hopLine } from '../engine/report.js';
import type { Diagnosis, HealReport, ProgressEvent } from '../engine/types.js';

/** The `--json` contract other tools depend on. */
export function diagnosisJson(diagnosis: Diagnosis, plan: HealReport['plan'], report?: HealReport) {
  const { kind, layer, summary, confidence, evidence, pattern } = report?.rootCause ?? diagnosis.rootCause;
  return {
    service: diagnosis.service,
    // Stable keys: a root cause without a layer says so with null rather than leaving the key out.
    rootCause: { kind, layer: layer ?? null, summary, confidence, evidence, pattern: pattern ?? null },
    probes: diagnosis.probes.map(({ service, name, ok, status, error, ms }) => ({
      service,
      name,
      ok,
      status,
      error,
      ms,
    })),
    runtime: Object.fromEntries(
      Object.entries(diagnosis.runtime)
        .filter(([, state]) => state !== undefined)
        .map(([service, state]) => [
          service,
          {
            status: state!.status,
            target: state!.target,
            exitCode: state!.exitCode,
            oomKilled: state!.oomKilled,
            restartCount: state!.restartCount,
            health: state!.health,
            error: state!.error,
            logs: state!.logs,
          },
        ]),
    ),
    plan: plan.map(({ action, target, risk, reason, params }) => ({
      action,
      target,
      risk,
      reason,
      ...(params ? { params } : {}),
    })),
    ...(report
      ? {
          actions: report.actions.map(({ action, target, ok, ms, error }) => ({
            action,
            target,
            ok,
            ms,
            ...(error ? { error } : {}),
          })),
          outcome: report.outcome,
          summary: report.summary,
          incidentId: report.incidentId,
          ...(report.timeToHealMs !== undefined ? { timeToHealMs: report.timeToHealMs } : {}),
          ...(report.approvedBy.length ? { approvedBy: report.approvedBy } : {}),
          ...(report.runbook ? { runbook: report.runbook } : {}),
        }
      : {}),
  };
}

/** One human line per progress event that matters on a terminal. */
export function progressLine(event: ProgressEvent): string | undefined {
  switch (event.type) {
    case 'finding': {
      const hops = event.diagnosis.path;
      const blind = Object.entries(event.diagnosis.runtime)
        .filter(([, state]) => state?.error)
        .map(([service, state]) => `\nruntime of ${service} could not be read: ${state!.error}`)
        .join('');
      return `${hops.length ? `path: ${hopLine(hops)}\n` : ''}root cause: ${event.rootCause.kind}${event.rootCause.layer ? ` (${event.rootCause.layer})` : ''}, confidence ${event.rootCause.confidence.toFixed(2)}: ${event.rootCause.summary}${blind}`;
    }
    case 'plan':
      if (event.steps.length === 0) return event.blockedBy ? `plan: nothing (${event.blockedBy})` : undefined;
      return `plan:\n${event.steps.map((s) => `  - [${s.risk}] ${s.action} ${s.target}: ${s.reason}`).join('\n')}${event.blockedBy ? `\nnot acting: ${event.blockedBy}` : ''}`;
    case 'action_started':
      return `acting: ${event.step.action} ${event.step.target}…`;
    case 'action_finished':
      return event.result.ok
        ? `done: ${event.step.action} ${event.step.target} in ${(event.result.ms / 1000).toFixed(1)} s`
        : `failed: ${event.step.action} ${event.step.target}: ${event.result.error}`;
    case 'verified':
      return `verified: ${event.ok ? 'healthy from the inside out' : 'still unhealthy'} (${(event.ms / 1000).toFixed(1)} s)`;
    case 'info':
      return event.message;
    case 'done':
      return `\n${event.report.outcome}: ${event.report.summary}${event.report.escalation && event.report.outcome !== 'healed' ? `\nescalation: ${event.report.escalation}` : ''}`;
    default:
      return undefined;
  }
}
