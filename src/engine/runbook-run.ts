/**
 * Runs an approved runbook: its steps in order, then its verification, and on a failure its
 * rollback steps in reverse, saying what was undone. Commands run through an injected runner
 * (argv, no shell); built-in actions through the engine's own act.
 */
import type { RunbookPlan, RunbookStep } from './runbook-plan.js';
import type { ActionResult, RunbookReport } from './types.js';

/** What running one argv gave: an exit code (undefined when it could not start), its output, whether it timed out. */
export interface CommandOutcome {
  exitCode?: number;
  output: string;
  timedOut: boolean;
  error?: string;
}

/** Runs an argv array without a shell, under a deadline. Implemented in src/runtimes (execa). */
export type CommandRunner = (argv: readonly string[], options: { timeoutMs: number }) => Promise<CommandOutcome>;

export interface RunbookRunDeps {
  runCommand: CommandRunner;
  /** The engine's act for built-in actions (restart, rollout_undo…), with the step's own timeout. */
  act(step: RunbookStep): Promise<ActionResult>;
  /** The service's own probes, from the inside out; after the runbook's verify commands. */
  verifyProbes(): Promise<{ ok: boolean; stuckAt?: string }>;
  /** Tells the thread a command step starts (built-in actions say so themselves). */
  onStart(step: RunbookStep): void;
  /** Audits a step with its (redacted) output and tells the thread. */
  onStep(phase: 'step' | 'verify' | 'rollback', step: RunbookStep, result: ActionResult): Promise<void>;
  redact(text: string): string;
}

export interface RunbookRun {
  ok: boolean;
  actions: ActionResult[];
  report: RunbookReport;
}

const OUTPUT_LINES = 20;

const lastLines = (text: string) => text.trim().split('\n').slice(-OUTPUT_LINES).join('\n');

/** Runs one step (a command or a built-in action) and returns its result. */
async function runStep(step: RunbookStep, deps: RunbookRunDeps): Promise<ActionResult> {
  if (!step.argv) return { ...(await deps.act(step)), step: step.name };
  deps.onStart(step);
  const started = performance.now();
  const outcome = await deps.runCommand(step.argv, { timeoutMs: step.timeoutMs });
  const output = deps.redact(lastLines(outcome.output));
  const ms = Math.round(performance.now() - started);
  const base = { action: step.plan.action, target: step.plan.target, ms, output, step: step.name };
  if (outcome.exitCode === 0 && !outcome.timedOut) return { ...base, ok: true };
  const why = outcome.timedOut
    ? `timed out after ${Math.round(step.timeoutMs / 1000)} s`
    : outcome.exitCode === undefined
      ? `could not run: ${deps.redact(outcome.error ?? 'unknown error')}`
      : `exited ${outcome.exitCode}`;
  const tail = output.split('\n').filter(Boolean).slice(-2).join(' | ');
  return { ...base, ok: false, error: `${step.name} ${why}${tail ? `: ${tail}` : ''}` };
}

/** Runs the plan's steps, verification and, on failure, rollback. */
export async function runRunbook(plan: RunbookPlan, deps: RunbookRunDeps): Promise<RunbookRun> {
  const actions: ActionResult[] = [];
  const report: RunbookReport = { name: plan.name, completed: [], undone: [], rollbackFailed: [] };
  const run = async (phase: 'step' | 'verify' | 'rollback', step: RunbookStep) => {
    const result = await runStep(step, deps);
    actions.push(result);
    await deps.onStep(phase, step, result);
    return result;
  };

  for (const step of plan.steps) {
    const result = await run('step', step);
    if (!result.ok) {
      report.failedStep = { name: step.name, error: result.error ?? 'failed' };
      break;
    }
    report.completed.push(step.name);
  }
  if (!report.failedStep) {
    for (const step of plan.verify) {
      const result = await run('verify', step);
      if (!result.ok) {
        report.verified = false;
        report.verifyError = result.error;
        break;
      }
    }
    if (report.verified === undefined) {
      const probes = await deps.verifyProbes();
      report.verified = probes.ok;
      if (!probes.ok) report.verifyError = `still unhealthy: ${probes.stuckAt ?? 'its probes fail'}`;
    }
  }
  if (report.verified) return { ok: true, actions, report };

  // Undo in reverse: a rollback step tied to a step runs only if that step completed.
  for (const step of [...plan.rollback].reverse()) {
    if (step.undoes !== undefined && !report.completed.includes(step.undoes)) continue;
    const result = await run('rollback', step);
    const what = step.undoes ? `${step.undoes} (by ${step.name})` : step.name;
    if (result.ok) report.undone.push(what);
    else report.rollbackFailed.push(`${what}: ${result.error}`);
  }
  return { ok: false, actions, report };
}

/** The sentence the thread and the summary use for a runbook run. */
export function describeRunbookRun(report: RunbookReport): string {
  const ran = report.completed.length > 0 ? `ran ${report.completed.join(', ')}` : 'ran no step to completion';
  if (report.verified) return `runbook ${report.name} ${ran}; verified`;
  const why = report.failedStep
    ? `step ${report.failedStep.name} failed (${report.failedStep.error}); verification was not run`
    : `verification failed (${report.verifyError})`;
  const undone = report.undone.length > 0 ? `rolled back ${report.undone.join(', ')}` : 'nothing was rolled back';
  const rollbackFailed =
    report.rollbackFailed.length > 0 ? `; rollback FAILED for ${report.rollbackFailed.join('; ')}` : '';
  return `runbook ${report.name} ${ran}, then ${why}; ${undone}${rollbackFailed}`;
}
