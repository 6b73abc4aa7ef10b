import { ciSummary } from './ci/rules.js';
import { describeRunbookRun } from './runbook-run.js';
import type {
  ActionResult,
  Hop,
  HealReport,
  PlanStep,
  ProbeResult,
  RootCause,
  RunbookReport,
  RuntimeState,
} from './types.js';

export const hopsFrom = (probes: ProbeResult[]): Hop[] =>
  probes.map(({ service, name, ok, status, error, ms }) => ({ service, name, ok, status, error, ms }));

/** `public ✗ 502 (41 ms) → proxy ✓ → internal ✓ → db ✓`: the request path, outermost first. */
export function hopLine(hops: Hop[]): string {
  return hops
    .map((h) => {
      const label =
        hops.some((o) => o.service !== hops[0].service) && h.service !== hops[0].service ? h.service : h.name;
      if (h.ok) return `${label} ✓`;
      const why = h.status !== undefined ? String(h.status) : (h.error ?? 'failed');
      return `${label} ✗ ${why} (${Math.round(h.ms)} ms)`;
    })
    .join(' → ');
}

const past: Record<string, string> = {
  restart: 'restarted',
  start: 'started',
  unpause: 'unpaused',
  scale: 'scaled',
  rollout_restart: 'rolled out a restart of',
  delete_pod: 'deleted a pod of',
  rollout_undo: 'rolled back the rollout of',
};

/** "restarted", "scaled": how a summary says an action was done. */
export const actionPast = (action: string): string => past[action] ?? action;

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

/** Ways of saying "healbot changed nothing": one of them is enough. */
const NOTHING_DONE = /^(nothing was (restarted|changed)|until then healbot changes nothing|healbot changes nothing)$/;
const clauseKey = (clause: string) => {
  const key = clause
    .trim()
    .replace(/[.;:\s]+$/, '')
    .toLowerCase();
  return NOTHING_DONE.test(key) ? 'nothing was changed' : key;
};

/**
 * Says each clause once: a plan step's reason or an escalation often repeats the root cause
 * ("db refuses connections; nothing was restarted. Db refuses connections; …"), and a
 * summary that stutters reads as a bug. Clauses are split at `; ` and `. `.
 */
export function sentencesOnce(text: string): string {
  const seen: string[] = [];
  const out: string[] = [];
  for (const part of text.split(/(?<=[.;])\s+/)) {
    const key = clauseKey(part);
    if (!key) continue;
    if (seen.some((earlier) => earlier === key || (key.length > 12 && earlier.includes(key)))) continue;
    seen.push(key);
    const previous = out.at(-1);
    const clause = part.trim();
    // A sentence starts with a capital, also when the clause before it was dropped.
    out.push(
      previous?.endsWith('.') && !clause.startsWith('http') ? clause.charAt(0).toUpperCase() + clause.slice(1) : clause,
    );
  }
  // A dropped clause can leave "…; Next" or a trailing separator behind.
  return out
    .join(' ')
    .replace(/;\s*$/, '')
    .replace(/; ([A-Z])/g, (_m, c: string) => `. ${c}`);
}

/**
 * The plain summary that ends every conversation: the root cause, what was done, the outcome
 * and the time to heal, in that order, each said once.
 */
export function summarize(input: SummaryInput): string {
  return sentencesOnce(summarizeOnce(input));
}

/** What a final summary is written from. */
export interface SummaryInput {
  outcome: HealReport['outcome'];
  rootCause: RootCause;
  plan: PlanStep[];
  actions: ActionResult[];
  approvedBy: string[];
  deniedBy?: string;
  timeToHealMs?: number;
  escalation?: string;
  leftAlone?: string;
  service: string;
  /** For runtimes that settle (CI): the state at the end, and the state diagnosed. */
  settled?: RuntimeState;
  diagnosed?: RuntimeState;
  runbook?: RunbookReport;
}

function summarizeOnce(input: SummaryInput): string {
  const { rootCause: rc, actions } = input;
  if (input.diagnosed?.ci) return ciSummary(input);
  const cause = rc.summary.replace(/\.$/, '');
  if (input.runbook) return runbookSummary(cause, input.runbook, input);
  const done = actions.filter((a) => a.ok);
  const by = input.approvedBy.length > 0 ? ` after approval by ${input.approvedBy.join(' and ')}` : ' automatically';
  const what = done.map((a) => `${past[a.action] ?? a.action} ${a.target}`).join(', ');
  switch (input.outcome) {
    case 'not_needed':
      if (input.leftAlone) return `${cause}; ${input.leftAlone}; nothing was changed`;
      return rc.kind === 'healthy'
        ? `${input.service} is healthy; nothing was restarted`
        : `${cause}; nothing was restarted`;
    case 'healed':
      return `${cause}; ${what}${by}; healthy again in ${seconds(input.timeToHealMs ?? 0)} from the first failure signal`;
    case 'denied':
      return `${cause}; the fix was denied by ${input.deniedBy}; nothing was changed`;
    case 'failed': {
      const failed = actions.find((a) => !a.ok);
      if (failed) return `${cause}; ${failed.action} ${failed.target} failed: ${failed.error}`;
      return `${cause}; ${what}${by}, but it is still not healthy${input.escalation ? `; ${input.escalation}` : ''}`;
    }
    case 'escalated':
    default: {
      const manualStep = input.plan.find((s) => s.risk === 'manual');
      const tail = input.escalation ?? manualStep?.reason ?? 'a human needs to look';
      if (rc.kind === 'layer_broken' && !input.escalation)
        return `${cause}; the ${input.service} backend is healthy; nothing was restarted`;
      // The pattern's advice already ends the cause; saying it twice helps nobody.
      if (rc.pattern && !input.escalation && manualStep?.reason.startsWith(rc.pattern.advice))
        return `${cause}; nothing was restarted`;
      return `${cause}; nothing was restarted. ${tail.charAt(0).toUpperCase()}${tail.slice(1)}`.replace(/\.\.$/, '.');
    }
  }
}

function runbookSummary(
  cause: string,
  runbook: RunbookReport,
  input: { approvedBy: string[]; timeToHealMs?: number; escalation?: string },
): string {
  const by = input.approvedBy.length > 0 ? ` after approval by ${input.approvedBy.join(' and ')}` : ' automatically';
  const tail = input.escalation ? `; ${input.escalation}` : '';
  if (runbook.verified)
    return `${cause}; ${describeRunbookRun(runbook)}${by}; healthy again in ${seconds(input.timeToHealMs ?? 0)} from the first failure signal${tail}`;
  return `${cause}; ${describeRunbookRun(runbook)}${tail}`;
}
