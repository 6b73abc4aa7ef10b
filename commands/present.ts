import type { IncidentRecord, RemediationStats, ServiceStatus } from '../src/engine/api.js';
import { hopLine } from '../src/engine/report.js';
import { SILENCE_CHOICES } from '../src/engine/silences.js';
import type {
  ActionResult,
  AlertContext,
  ApprovalRequest,
  Diagnosis,
  HealReport,
  Incident,
  PlanStep,
  RootCause,
} from '../src/engine/types.js';
import type { ChatMessage } from './chat.js';

/**
 * Turns engine data into platform-neutral messages. Adapters render these; nothing here
 * knows Slack or Discord.
 */

const KIND_LABEL: Record<RootCause['kind'], string> = {
  healthy: 'healthy',
  layer_broken: 'layer broken',
  service_down: 'service down',
  service_unhealthy: 'service unhealthy',
  crash_loop: 'crash loop',
  oom_killed: 'OOM-killed',
  dependency_down: 'dependency down',
  observer_blind: 'healbot cannot see',
  scaled_to_zero: 'scaled to zero',
  image_pull_failed: 'image pull failed',
  no_endpoints: 'no endpoints',
  recreating: 'being recreated',
  pipeline_failed: 'pipeline failed',
  bad_rollout: 'bad rollout',
  stale_config: 'stale config',
  unknown: 'unknown',
};

const stepLine = (s: PlanStep) => {
  const params = s.params
    ? ` (${Object.entries(s.params)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')})`
    : '';
  return s.risk === 'manual'
    ? `• manual: ${s.reason}`
    : `• ${s.action} *${s.target}*${params} [${s.risk}]: ${s.reason}`;
};

export const describeStep = (s: PlanStep) =>
  s.action === 'runbook'
    ? `run runbook ${s.params?.runbook} on ${s.target}`
    : `${s.action.replaceAll('_', ' ')} ${s.target}${s.params?.replicas !== undefined ? ` to ${s.params.replicas} replicas` : ''}${s.params?.revision !== undefined ? ` to revision ${s.params.revision}` : ''}`;

export function incidentStatus(incident: Incident, phase: string, tone: ChatMessage['tone'] = 'info'): ChatMessage {
  const who = incident.requestedBy ? ` · asked by ${incident.requestedBy}` : '';
  return {
    title: `healbot · ${incident.service}`,
    text: `${phase}\nincident \`${incident.id}\` · ${incident.source}${who}`,
    tone,
  };
}

export function findingMessage(rc: RootCause, diagnosis: Diagnosis): ChatMessage {
  const hops = diagnosis.path;
  const fields = [
    { label: 'Root cause', value: `${KIND_LABEL[rc.kind]}${rc.layer ? ` (${rc.layer})` : ''}` },
    { label: 'Confidence', value: rc.confidence.toFixed(2) },
  ];
  if (hops.length > 0) fields.push({ label: 'Path', value: hopLine(hops) });
  const state = diagnosis.runtime[rc.underlying?.service ?? rc.service];
  const logs = state?.logs?.length && rc.kind !== 'healthy' ? state.logs.join('\n') : undefined;
  return {
    text: `*Diagnosis:* ${rc.summary}\n${rc.evidence.map((e) => `• ${e.detail}`).join('\n')}`,
    fields,
    code: logs,
    tone: rc.kind === 'healthy' ? 'ok' : 'warn',
  };
}

export function diagnosisMessage(diagnosis: Diagnosis): ChatMessage {
  const message = findingMessage(diagnosis.rootCause, diagnosis);
  return {
    ...message,
    title: `Diagnosis of ${diagnosis.service}`,
    text: `${message.text}\n_(took ${diagnosis.ms} ms; nothing was changed)_`,
  };
}

export function planMessage(steps: PlanStep[], blockedBy?: string): ChatMessage {
  if (steps.length === 0) return { text: `*Plan:* nothing to do${blockedBy ? ` (${blockedBy})` : ''}.`, tone: 'ok' };
  return {
    text: `*Plan:*\n${steps.map(stepLine).join('\n')}${blockedBy ? `\n*Not acting:* ${blockedBy}` : ''}`,
    tone: blockedBy ? 'warn' : 'info',
  };
}

export function approvalMessage(request: ApprovalRequest): ChatMessage {
  const what = describeStep(request.step);
  const who = request.approvers.length > 0 ? request.approvers.join(', ') : 'a configured approver';
  const two = request.requiredApprovals > 1 ? ` It needs ${request.requiredApprovals} different approvers.` : '';
  return {
    text: `*Approval needed:* ${what}\n${request.step.reason}\nApprovers: ${who}. Expires ${request.expiresAt}.${two}\nOr type \`/heal approve ${request.id}\` / \`/heal deny ${request.id}\`.`,
    tone: 'warn',
    buttons: [
      {
        action: 'approve',
        value: request.id,
        label: 'Approve',
        style: 'primary',
        confirm: {
          title: 'Run this action?',
          text: `healbot will ${what}.`,
          confirm: `Yes, ${request.step.action.replaceAll('_', ' ')}`,
          deny: 'Cancel',
        },
      },
      { action: 'deny', value: request.id, label: 'Deny', style: 'danger' },
    ],
  };
}

export function decisionMessage(
  request: ApprovalRequest,
  decision: 'approved' | 'denied' | 'expired',
  by: string[],
  at = new Date(),
): ChatMessage {
  const what = describeStep(request.step);
  const when = at.toISOString().slice(11, 16);
  if (decision === 'expired')
    return { text: `~${what}~ expired at ${request.expiresAt}; nothing was done.`, tone: 'warn' };
  return {
    text: `${what}: *${decision}* by ${by.join(' and ')} at ${when} UTC`,
    tone: decision === 'approved' ? 'ok' : 'error',
  };
}

export function actionMessage(result: ActionResult): ChatMessage {
  const change = result.before && result.after ? ` (${result.before.status} → ${result.after.status})` : '';
  const what = `${result.step ? `${result.step}: ` : ''}${result.action.replaceAll('_', ' ')} ${result.target}`;
  return result.ok
    ? { text: `${what} done in ${(result.ms / 1000).toFixed(1)} s${change}`, tone: 'ok' }
    : { text: `${what} failed: ${result.error}${change}`, tone: 'error' };
}

export function doneMessage(report: HealReport): ChatMessage {
  const tone =
    report.outcome === 'healed' || report.outcome === 'not_needed'
      ? 'ok'
      : report.outcome === 'denied'
        ? 'warn'
        : 'error';
  // Only the on-call healbot was configured to notify: a mention inside outside text (a probe error) is just text.
  const mentions = report.notify ?? [];
  const retried = report.retried
    ? `\nRetried ${report.retried.name}: ${report.retried.ok ? 'ok' : `still failing (${report.retried.error})`}`
    : '';
  return {
    title: `${report.service}: ${report.outcome.replaceAll('_', ' ')}`,
    text: `${report.summary}${retried}`,
    fields: report.hops.length > 0 ? [{ label: 'Path', value: hopLine(report.hops) }] : undefined,
    tone,
    mentions: mentions.length > 0 ? mentions : undefined,
  };
}

export function statusMessage(statuses: ServiceStatus[]): ChatMessage {
  const lines = statuses.map((s) => {
    const icon = s.healthy ? '✓' : '✗';
    const flags = [
      s.paused ? 'paused' : '',
      s.breakerOpen ? 'breaker open' : '',
      s.openIncident ? `incident ${s.openIncident}` : '',
    ]
      .filter(Boolean)
      .join(', ');
    return `${icon} *${s.service}*: ${s.healthy ? 'healthy' : s.rootCause.summary}${flags ? ` (${flags})` : ''}`;
  });
  const bad = statuses.filter((s) => !s.healthy).length;
  return {
    title: 'Service status',
    text: lines.join('\n') || 'No services configured.',
    tone: bad > 0 ? 'warn' : 'ok',
  };
}

export function historyMessage(
  records: IncidentRecord[],
  service?: string,
  rates: RemediationStats[] = [],
): ChatMessage {
  if (records.length === 0) return { text: `No incidents${service ? ` for ${service}` : ''} yet.` };
  const lines = records.map(
    (r) =>
      `• \`${r.id}\` ${r.openedAt.slice(0, 16).replace('T', ' ')} *${r.service}* ${r.status === 'open' ? 'open' : (r.outcome ?? 'closed')}: ${r.summary ?? r.rootCause?.summary ?? ''}`,
  );
  const rateLines = rates.map(
    (r) =>
      `• ${r.remediation.replace(':', ' ')} on *${r.service}*: ${r.succeeded} of ${r.runs} worked (last run ${r.lastOk ? 'worked' : 'failed'})`,
  );
  const text = rateLines.length > 0 ? [...lines, '', '*Success rates*', ...rateLines].join('\n') : lines.join('\n');
  return { title: `History${service ? ` of ${service}` : ''}`, text };
}

/** The labels shown with an alert's context; the rest stays in the alert. */
const MAX_LABELS = 12;

/** What the alert or error carried for humans: summary, description, the labels that matched and link buttons. */
export function contextMessage(context: AlertContext, incidentId?: string): ChatMessage {
  const labels = Object.entries(context.labels)
    .slice(0, MAX_LABELS)
    .map(([k, v]) => `${k}=${v}`);
  const text = [context.summary && `*${context.summary}*`, context.description].filter(Boolean).join('\n');
  return {
    text: text || 'The alert carried no summary or description.',
    fields: labels.length > 0 ? [{ label: 'Labels', value: labels.join(', ') }] : undefined,
    links: context.links.length > 0 ? context.links : undefined,
    buttons:
      context.silenceable && incidentId
        ? SILENCE_CHOICES.map((d) => ({
            action: 'command' as const,
            value: `silence ${incidentId} ${d}`,
            label: `Silence ${d}`,
          }))
        : undefined,
    tone: 'info',
  };
}
