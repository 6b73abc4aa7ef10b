import { describe, expect, it } from 'vitest';
import { decisionReply } from '../../commands/index.js';
import {
  actionMessage,
  approvalMessage,
  decisionMessage,
  describeStep,
  diagnosisMessage,
  doneMessage,
  findingMessage,
  historyMessage,
  incidentStatus,
  planMessage,
  statusMessage,
} from '../../commands/present.js';
import type { ApprovalRequest, Diagnosis, HealReport, RootCause } from '../../src/engine/types.js';

const rc: RootCause = {
  kind: 'layer_broken',
  service: 'api',
  layer: 'public',
  summary: 'the public layer answers 502 while proxy and internal are healthy',
  confidence: 0.9,
  evidence: [{ source: 'probe', detail: 'api/public failed (502)' }],
};

const diagnosis: Diagnosis = {
  service: 'api',
  probes: [],
  path: [
    { service: 'api', name: 'public', ok: false, status: 502, ms: 41 },
    { service: 'api', name: 'proxy', ok: true, ms: 3 },
    { service: 'api', name: 'internal', ok: true, ms: 2 },
    { service: 'db', name: 'internal', ok: true, ms: 1 },
  ],
  runtime: { api: { runtime: 'docker', target: 'portfolio-backend', status: 'running', logs: ['GET /ready 200'] } },
  rootCause: rc,
  startedAt: '2025-01-01T00:00:00.000Z',
  ms: 57,
};

const request: ApprovalRequest = {
  id: 'apr_1a2b3c4d',
  incidentId: 'inc_1',
  service: 'api',
  step: { action: 'rollout_restart', target: 'api', risk: 'risky', reason: 'pods crash' },
  approvers: ['<@U_ANA>'],
  requiredApprovals: 2,
  expiresAt: '2025-01-01T00:15:00.000Z',
};

describe('present', () => {
  it('findingMessage gives the kind, layer, confidence, the hop line and the evidence', () => {
    const message = findingMessage(rc, diagnosis);
    expect(message.fields).toEqual([
      { label: 'Root cause', value: 'layer broken (public)' },
      { label: 'Confidence', value: '0.90' },
      { label: 'Path', value: 'public ✗ 502 (41 ms) → proxy ✓ → internal ✓ → db ✓' },
    ]);
    expect(message.text).toContain(rc.summary);
    expect(message.text).toContain('• api/public failed (502)');
    expect(message.code).toBe('GET /ready 200');
    expect(message.tone).toBe('warn');
  });

  it('diagnosisMessage says nothing was changed and how long it took', () => {
    const message = diagnosisMessage(diagnosis);
    expect(message.title).toBe('Diagnosis of api');
    expect(message.text).toContain('took 57 ms; nothing was changed');
  });

  it('planMessage lists steps with risk, and says why it is not acting', () => {
    const message = planMessage(
      [
        { action: 'restart', target: 'api', risk: 'risky', reason: 'times out' },
        { action: 'manual', target: 'api', risk: 'manual', reason: 'check logs' },
      ],
      'dry run: nothing was changed',
    );
    expect(message.text).toContain('• restart *api* [risky]: times out');
    expect(message.text).toContain('• manual: check logs');
    expect(message.text).toContain('*Not acting:* dry run');
    expect(message.tone).toBe('warn');
    expect(planMessage([]).text).toBe('*Plan:* nothing to do.');
  });

  it('approvalMessage carries the id in both buttons and a confirm naming the action and target', () => {
    const message = approvalMessage(request);
    expect(message.buttons?.map((b) => [b.action, b.value])).toEqual([
      ['approve', 'apr_1a2b3c4d'],
      ['deny', 'apr_1a2b3c4d'],
    ]);
    expect(message.buttons?.[0].confirm?.text).toBe('healbot will rollout restart api.');
    expect(message.text).toContain('/heal approve apr_1a2b3c4d');
    expect(message.text).toContain('It needs 2 different approvers.');
    expect(message.text).toContain('Approvers: <@U_ANA>');
  });

  it('describeStep names replicas for scale', () => {
    expect(describeStep({ action: 'scale', target: 'web', risk: 'risky', reason: '', params: { replicas: 3 } })).toBe(
      'scale web to 3 replicas',
    );
    expect(
      describeStep({ action: 'runbook', target: 'api', risk: 'risky', reason: '', params: { runbook: 'free-disk' } }),
    ).toBe('run runbook free-disk on api');
    expect(
      describeStep({
        action: 'rollout_undo',
        target: 'api',
        risk: 'risky',
        reason: '',
        params: { revision: 4, image: 'shop/api:1.4' },
      }),
    ).toBe('rollout undo api to revision 4');
  });

  it('decisionMessage names who and when, or that it expired', () => {
    expect(decisionMessage(request, 'approved', ['@ana', '@bo'], new Date('2025-01-01T09:05:00Z')).text).toBe(
      'rollout restart api: *approved* by @ana and @bo at 09:05 UTC',
    );
    expect(decisionMessage(request, 'expired', []).text).toContain(
      'expired at 2025-01-01T00:15:00.000Z; nothing was done',
    );
  });

  it('decisionReply: refusals are ephemeral, decisions go to the channel', () => {
    expect(decisionReply({ ok: false, reason: 'not_allowed', message: 'You are not an approver' })).toMatchObject({
      visibility: 'ephemeral',
      message: { tone: 'error' },
    });
    expect(
      decisionReply({
        ok: true,
        decision: 'approved',
        request,
        by: ['@ana'],
        at: '2025-01-01T00:00:00.000Z',
        waitingFor: 1,
      }).message.text,
    ).toBe('Approval recorded; waiting for 1 more approver.');
    expect(
      decisionReply({ ok: true, decision: 'denied', request, by: ['@bo'], at: '2025-01-01T00:00:00.000Z' }),
    ).toMatchObject({ visibility: 'channel', message: { tone: 'error' } });
  });

  it('actionMessage shows the state change', () => {
    expect(
      actionMessage({
        action: 'start',
        target: 'api',
        ok: true,
        ms: 1234,
        before: { runtime: 'docker', target: 'a', status: 'exited' },
        after: { runtime: 'docker', target: 'a', status: 'running' },
      }).text,
    ).toBe('start api done in 1.2 s (exited → running)');
    expect(actionMessage({ action: 'restart', target: 'api', ok: false, ms: 5, error: 'exited 5' })).toMatchObject({
      tone: 'error',
      text: 'restart api failed: exited 5',
    });
  });

  it('doneMessage mentions the on-call from the escalation and shows the path', () => {
    const report: HealReport = {
      incidentId: 'inc_1',
      service: 'api',
      outcome: 'escalated',
      rootCause: rc,
      hops: diagnosis.path,
      plan: [],
      actions: [],
      approvedBy: [],
      summary: 'the breaker is open',
      escalation: 'the breaker for api is open; probe said <!channel> <@U0ONCALL> @sre-team',
      notify: ['<@U0ONCALL>', '@sre-team'],
    };
    const message = doneMessage(report);
    expect(message.mentions).toEqual(['<@U0ONCALL>', '@sre-team']);
    expect(message.tone).toBe('error');
    expect(message.title).toBe('api: escalated');
    expect(message.fields?.[0].value).toBe('public ✗ 502 (41 ms) → proxy ✓ → internal ✓ → db ✓');
    expect(
      doneMessage({ ...report, outcome: 'not_needed', escalation: undefined, notify: undefined }).mentions,
    ).toBeUndefined();
    expect(doneMessage({ ...report, notify: undefined }).mentions).toBeUndefined();
  });

  it('statusMessage flags paused and breaker-open services', () => {
    const message = statusMessage([
      { service: 'api', healthy: true, rootCause: { ...rc, kind: 'healthy' }, paused: false, breakerOpen: false },
      {
        service: 'db',
        healthy: false,
        rootCause: { ...rc, service: 'db', summary: 'db refuses connections' },
        paused: true,
        breakerOpen: true,
        openIncident: 'inc_9',
      },
    ]);
    expect(message.text).toBe(
      '✓ *api*: healthy\n✗ *db*: db refuses connections (paused, breaker open, incident inc_9)',
    );
    expect(message.tone).toBe('warn');
  });

  it('historyMessage says when there is nothing', () => {
    expect(historyMessage([], 'api').text).toBe('No incidents for api yet.');
    const text = historyMessage([
      {
        id: 'inc_1',
        service: 'api',
        status: 'closed',
        source: 'cli',
        openedAt: '2025-01-01T10:20:30.000Z',
        alertCount: 1,
        outcome: 'healed',
        summary: 'restarted api',
      },
    ]).text;
    expect(text).toBe('• `inc_1` 2025-01-01 10:20 *api* healed: restarted api');
  });

  it('incidentStatus names the incident, its source and who asked', () => {
    const message = incidentStatus(
      { id: 'inc_1', service: 'api', source: 'chat', requestedBy: '@ana', openedAt: '' },
      'Diagnosing',
    );
    expect(message).toMatchObject({
      title: 'healbot · api',
      text: 'Diagnosing\nincident `inc_1` · chat · asked by @ana',
    });
  });
});
