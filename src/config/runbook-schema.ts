import { z } from 'zod';
import { ROOT_CAUSE_KINDS } from '../engine/types.js';
import { duration } from './duration.js';
import { argv, safeName } from './names.js';

/** The only placeholders a runbook command may use; they are filled from config, never from alert text. */
export const PLACEHOLDERS = ['service', 'container', 'namespace', 'deployment'] as const;
export type Placeholder = (typeof PLACEHOLDERS)[number];

const commandArgv = argv.superRefine((args, ctx) => {
  args.forEach((arg, i) => {
    for (const [, name] of arg.matchAll(/\{([^}]*)\}/g)) {
      if (!(PLACEHOLDERS as readonly string[]).includes(name)) {
        ctx.addIssue({
          code: 'custom',
          path: [i],
          message: `unknown placeholder {${name}}; use ${PLACEHOLDERS.map((p) => `{${p}}`).join(', ')}`,
        });
      }
    }
  });
});

/** Built-in actions a runbook step may take on its service. */
export const RUNBOOK_ACTIONS = ['restart', 'start', 'unpause', 'rollout_restart', 'rollout_undo'] as const;

export const runbookStepSchema = z
  .strictObject({
    name: z.string().min(1).max(80).optional(),
    action: z.enum(RUNBOOK_ACTIONS).optional(),
    command: commandArgv.optional(),
    /** `safe` steps run without approval when the whole runbook is safe. */
    risk: z.enum(['safe', 'risky']).default('risky'),
    timeout: duration.optional(),
    /** Rollback steps only: the step this one undoes; it runs only if that step ran. */
    undoes: z.string().min(1).optional(),
  })
  .refine(
    (step) => (step.action === undefined) !== (step.command === undefined),
    'needs exactly one of action or command',
  );

export const runbookSchema = z.strictObject({
  name: safeName('runbook name'),
  when: z
    .strictObject({
      kinds: z.array(z.enum(ROOT_CAUSE_KINDS)).optional(),
      services: z.array(safeName('service name')).optional(),
      patterns: z.array(z.string().min(1)).optional(),
      /** Labels the triggering alert must carry (exact values). */
      labels: z.record(z.string(), z.string()).optional(),
    })
    .prefault({}),
  steps: z.array(runbookStepSchema).min(1, 'needs at least one step'),
  /** Commands that must exit 0 after the steps, besides the service's own probes. */
  verify: z.array(runbookStepSchema).default([]),
  /** Run in reverse when a step or verification fails. */
  rollback: z.array(runbookStepSchema).default([]),
  /** After this many failed runs in a row, the runbook is offered only as a manual step. */
  manualAfterFailures: z.number().int().min(1).default(3),
});

export const patternSchema = z
  .strictObject({
    id: safeName('pattern id'),
    /** A regular expression matched against each log line (and pod message, event, probe error). */
    match: z.string().min(1),
    ignoreCase: z.boolean().default(true),
    confidence: z.number().min(0).max(1).default(0.8),
    advice: z.string().min(1),
    restartHelps: z.boolean().default(false),
  })
  .superRefine((pattern, ctx) => {
    try {
      new RegExp(pattern.match);
    } catch (error) {
      ctx.addIssue({
        code: 'custom',
        path: ['match'],
        message: `is not a regular expression: ${(error as Error).message}`,
      });
    }
  });

export type RunbookConfig = z.infer<typeof runbookSchema>;
export type RunbookStepConfig = z.infer<typeof runbookStepSchema>;
