/**
 * Chooses the runbook that fits a root cause and turns it into plan steps. Pure: config and
 * diagnosis in, plan out. Placeholders are filled from config (and the name the runtime
 * reported), never from alert text.
 */
import { SAFE_NAME } from '../config/names.js';
import type { Placeholder, RunbookConfig, RunbookStepConfig } from '../config/runbook-schema.js';
import type { Config } from '../config/schema.js';
import type { PlanContext } from './plan.js';
import type { PlanStep, RootCause } from './types.js';

/** One step ready to run: its plan step (what the thread shows) and, for commands, the filled argv. */
export interface RunbookStep {
  name: string;
  plan: PlanStep;
  argv?: string[];
  timeoutMs: number;
  /** Rollback steps: the step this one undoes. */
  undoes?: string;
}

/** A runbook chosen for an incident, planned against one service. */
export interface RunbookPlan {
  name: string;
  /** The service the runbook acts on (the dependency, for dependency_down). */
  target: string;
  steps: RunbookStep[];
  verify: RunbookStep[];
  rollback: RunbookStep[];
  /** The one approval that covers the runbook as planned. */
  approval: PlanStep;
  /** Set when the runbook is offered only as a manual step, and why. */
  manualReason?: string;
}

/** A runbook's recent record on a service, newest first, so one that keeps failing is not run again. */
export type RunHistory = (runbook: string, service: string, limit: number) => { ok: boolean }[];

/** Stable name of a remediation for success rates: `runbook:disk-full` or `action:restart`. */
export const remediationName = (step: { action: PlanStep['action']; params?: PlanStep['params'] }): string =>
  step.action === 'runbook' ? `runbook:${step.params?.runbook}` : `action:${step.action}`;

function causesOf(rc: RootCause): RootCause[] {
  return rc.underlying ? [rc, rc.underlying] : [rc];
}

/** The cause a runbook matches, or undefined: every `when` field given must hold. */
function matchingCause(
  runbook: RunbookConfig,
  rc: RootCause,
  service: string,
  labels: Record<string, string>,
): RootCause | undefined {
  const { when } = runbook;
  if (
    when.labels &&
    !Object.entries(when.labels).every(([key, value]) => Object.hasOwn(labels, key) && labels[key] === value)
  )
    return undefined;
  return causesOf(rc).find(
    (cause) =>
      (!when.kinds || when.kinds.includes(cause.kind)) &&
      (!when.services || when.services.includes(cause.service) || when.services.includes(service)) &&
      (!when.patterns || (cause.pattern !== undefined && when.patterns.includes(cause.pattern.id))),
  );
}

const NEVER_ACT_ON = new Set(['healthy', 'recreating', 'observer_blind', 'unknown']);

/** The first configured runbook that matches the root cause, or undefined (the default plan stays). */
export function chooseRunbook(
  config: Config,
  rc: RootCause,
  service: string,
  labels: Record<string, string> = {},
): { runbook: RunbookConfig; cause: RootCause } | undefined {
  if (NEVER_ACT_ON.has(rc.kind) || rc.confidence < config.healing.confidenceThreshold) return undefined;
  for (const runbook of config.runbooks) {
    const cause = matchingCause(runbook, rc, service, labels);
    if (cause && !NEVER_ACT_ON.has(cause.kind)) return { runbook, cause };
  }
  return undefined;
}

/** Placeholder values for a service, from its config and the container name its runtime reported. */
export function placeholderValues(
  config: Config,
  service: string,
  ctx: Pick<PlanContext, 'diagnosis'>,
): Partial<Record<Placeholder, string>> {
  const settings = config.services[service];
  const values: Partial<Record<Placeholder, string>> = { service };
  const container =
    settings?.docker?.container ?? (settings?.docker ? ctx.diagnosis.runtime[service]?.target : undefined);
  if (container && SAFE_NAME.test(container)) values.container = container;
  if (settings?.kubernetes) {
    values.namespace = settings.kubernetes.namespace;
    values.deployment = settings.kubernetes.deployment;
  }
  return values;
}

/** Fills `{service}`-style placeholders in each argument; throws naming the one that has no value. */
export function fillPlaceholders(args: readonly string[], values: Partial<Record<Placeholder, string>>): string[] {
  return args.map((arg) =>
    arg.replace(/\{(service|container|namespace|deployment)\}/g, (_whole, name: Placeholder) => {
      const value = values[name];
      if (value === undefined) throw new Error(`{${name}} has no value for this service`);
      return value;
    }),
  );
}

const stepName = (step: RunbookStepConfig, index: number): string =>
  step.name ?? step.action ?? step.command?.[0] ?? `step ${index + 1}`;

/**
 * Plans a runbook against `target`: every step, verification and rollback, as the thread will
 * show them, and the one approval that covers it. A runbook that cannot run here (a missing
 * placeholder, an action the runtime lacks) or that failed its last runs is offered as manual.
 */
export function planRunbook(
  runbook: RunbookConfig,
  target: string,
  ctx: PlanContext,
  history?: RunHistory,
): RunbookPlan {
  const values = placeholderValues(ctx.config, target, ctx);
  const problems: string[] = [];
  const build =
    (phase: string) =>
    (step: RunbookStepConfig, index: number, list: RunbookStepConfig[]): RunbookStep => {
      const name = stepName(step, index);
      const timeoutMs = step.timeout ?? ctx.config.healing.actionTimeout;
      const where = `${phase} ${index + 1}/${list.length} (${name})`;
      if (step.action) {
        if (!ctx.supports(target, step.action)) problems.push(`${where}: ${target}'s runtime cannot ${step.action}`);
        return {
          name,
          timeoutMs,
          undoes: step.undoes,
          plan: {
            action: step.action,
            target,
            risk: step.risk,
            reason: `runbook ${runbook.name}, ${where}: ${step.action} ${target}`,
            params: { runbook: runbook.name },
          },
        };
      }
      let argv: string[] = [];
      try {
        argv = fillPlaceholders(step.command ?? [], values);
      } catch (error) {
        problems.push(`${where}: ${(error as Error).message}`);
      }
      return {
        name,
        timeoutMs,
        undoes: step.undoes,
        argv,
        plan: {
          action: 'command',
          target,
          risk: step.risk,
          reason: `runbook ${runbook.name}, ${where}: ${argv.join(' ')}`,
          params: { runbook: runbook.name },
        },
      };
    };
  const steps = runbook.steps.map(build('step'));
  const verify = runbook.verify.map(build('verify'));
  const rollback = runbook.rollback.map(build('rollback'));
  const risky = [...steps, ...verify, ...rollback].some((s) => s.plan.risk === 'risky');
  const outline = [
    steps.map((s, i) => `${i + 1}. ${s.name}`).join(', '),
    verify.length > 0 ? `verify: ${verify.map((s) => s.name).join(', ')}` : undefined,
    rollback.length > 0 ? `on failure roll back: ${rollback.map((s) => s.name).join(', ')}` : undefined,
  ]
    .filter(Boolean)
    .join('; ');
  const approval: PlanStep = {
    action: 'runbook',
    target,
    risk: risky ? 'risky' : 'safe',
    reason: `runbook ${runbook.name}: ${outline}`,
    params: { runbook: runbook.name },
  };
  const plan: RunbookPlan = { name: runbook.name, target, steps, verify, rollback, approval };
  if (problems.length > 0)
    return { ...plan, manualReason: `runbook ${runbook.name} cannot run on ${target}: ${problems.join('; ')}` };
  const recent = history?.(runbook.name, target, runbook.manualAfterFailures) ?? [];
  if (recent.length >= runbook.manualAfterFailures && recent.every((run) => !run.ok)) {
    return {
      ...plan,
      manualReason: `runbook ${runbook.name} failed ${recent.length} of its last ${recent.length} runs on ${target}, so healbot no longer runs it by itself: ${outline}. Run it by hand or fix the runbook`,
    };
  }
  return plan;
}

/** The steps the thread shows: the runbook's steps, its verification and its rollback, or one manual step. */
export function runbookPlanSteps(plan: RunbookPlan): PlanStep[] {
  if (plan.manualReason) return [{ action: 'manual', target: plan.target, risk: 'manual', reason: plan.manualReason }];
  return [...plan.steps, ...plan.verify, ...plan.rollback].map((s) => s.plan);
}

/** The plan with every reason redacted (commands may carry configured secrets); the argv to run stays as it is. */
export function redactReasons(plan: RunbookPlan, redact: (text: string) => string): RunbookPlan {
  const step = (s: RunbookStep): RunbookStep => ({ ...s, plan: { ...s.plan, reason: redact(s.plan.reason) } });
  return {
    ...plan,
    steps: plan.steps.map(step),
    verify: plan.verify.map(step),
    rollback: plan.rollback.map(step),
    approval: { ...plan.approval, reason: redact(plan.approval.reason) },
    ...(plan.manualReason ? { manualReason: redact(plan.manualReason) } : {}),
  };
}
