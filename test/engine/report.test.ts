import { describe, expect, it } from 'vitest';
import { hopLine, hopsFrom, summarize } from '../../src/engine/report.js';
import type { ActionResult, Hop, PlanStep, RootCause } from '../../src/engine/types.js';

const hop = (service: string, name: string, ok: boolean, over: Partial<Hop> = {}): Hop => ({
  service,
  name,
  ok,
  ms: 5,
  ...over,
});

describe('hopLine', () => {
  it('renders the issue example exactly', () => {
    const hops = [
      hop('api', 'public', false, { status: 502, ms: 41 }),
      hop('api', 'proxy', true),
      hop('api', 'internal', true),
      hop('db', 'internal', true),
    ];
    expect(hopLine(hops)).toBe('public ✗ 502 (41 ms) → proxy ✓ → internal ✓ → db ✓');
  });

  it('a failure without a status shows its error and rounds the time', () => {
    expect(hopLine([hop('api', 'internal', false, { error: 'timed out', ms: 5000.4 })])).toBe(
      'internal ✗ timed out (5000 ms)',
    );
    expect(hopLine([hop('api', 'internal', false, { ms: 1 })])).toBe('internal ✗ failed (1 ms)');
  });

  it('uses probe names when every hop is one service', () => {
    expect(hopLine([hop('db', 'tcp', true), hop('db', 'query', false, { status: 500, ms: 3 })])).toBe(
      'tcp ✓ → query ✗ 500 (3 ms)',
    );
  });

  it('is empty without hops', () => {
    expect(hopLine([])).toBe('');
  });

  it('hopsFrom keeps only what a hop needs', () => {
    expect(
      hopsFrom([
        { service: 'api', name: 'p', ok: false, status: 502, error: 'HTTP 502', errorKind: 'status', host: 'a', ms: 3 },
      ]),
    ).toEqual([{ service: 'api', name: 'p', ok: false, status: 502, error: 'HTTP 502', ms: 3 }]);
  });
});

describe('summarize', () => {
  const rc = (over: Partial<RootCause> = {}): RootCause => ({
    kind: 'service_down',
    service: 'api',
    summary: 'the api container has exited (code 1).',
    confidence: 0.9,
    evidence: [],
    ...over,
  });
  const restart: PlanStep = { action: 'start', target: 'api', risk: 'risky', reason: 'exited' };
  const started: ActionResult = { action: 'start', target: 'api', ok: true, ms: 800 };
  const base = {
    rootCause: rc(),
    plan: [restart],
    actions: [] as ActionResult[],
    approvedBy: [] as string[],
    service: 'api',
  };

  it('healed says what was done, by whom and how long it took', () => {
    const text = summarize({
      ...base,
      outcome: 'healed',
      actions: [started],
      approvedBy: ['@ana'],
      timeToHealMs: 4200,
    });
    expect(text).toBe(
      'the api container has exited (code 1); started api after approval by @ana; healthy again in 4.2 s from the first failure signal',
    );
  });

  it('healed by policy says automatically', () => {
    const text = summarize({
      ...base,
      outcome: 'healed',
      actions: [{ ...started, action: 'restart' }],
      timeToHealMs: 1000,
    });
    expect(text).toContain('restarted api automatically');
  });

  it('two approvers are both named', () => {
    expect(
      summarize({ ...base, outcome: 'healed', actions: [started], approvedBy: ['@ana', '@bo'], timeToHealMs: 0 }),
    ).toContain('after approval by @ana and @bo');
  });

  it('not_needed on a healthy service says nothing was restarted', () => {
    expect(
      summarize({
        ...base,
        outcome: 'not_needed',
        rootCause: rc({ kind: 'healthy', summary: 'api is healthy' }),
        plan: [],
      }),
    ).toBe('api is healthy; nothing was restarted');
  });

  it('denied names who denied and that nothing changed', () => {
    expect(summarize({ ...base, outcome: 'denied', deniedBy: '@bo' })).toBe(
      'the api container has exited (code 1); the fix was denied by @bo; nothing was changed',
    );
  });

  it('failed action names the action and its error', () => {
    const text = summarize({
      ...base,
      outcome: 'failed',
      actions: [{ ...started, ok: false, error: 'exited 1: no such unit' }],
    });
    expect(text).toBe('the api container has exited (code 1); start api failed: exited 1: no such unit');
  });

  it('failed verification says it is still not healthy and why', () => {
    const text = summarize({
      ...base,
      outcome: 'failed',
      actions: [started],
      approvedBy: ['@ana'],
      escalation: 'still unhealthy after the fix: api/internal',
    });
    expect(text).toBe(
      'the api container has exited (code 1); started api after approval by @ana, but it is still not healthy; still unhealthy after the fix: api/internal',
    );
  });

  it('escalated with a manual step gives the manual step, capitalised', () => {
    const text = summarize({
      ...base,
      outcome: 'escalated',
      rootCause: rc({ kind: 'observer_blind', summary: 'healbot cannot resolve db.' }),
      plan: [
        { action: 'manual', target: 'api', risk: 'manual', reason: 'join healbot to the portfolio_default network.' },
      ],
    });
    expect(text).toBe(
      'healbot cannot resolve db; nothing was restarted. Join healbot to the portfolio_default network.',
    );
  });

  it('escalated because a gate blocked says the gate', () => {
    const text = summarize({ ...base, outcome: 'escalated', escalation: 'the breaker for api is open' });
    expect(text).toBe('the api container has exited (code 1); nothing was restarted. The breaker for api is open');
  });

  it('escalated on a broken layer says the backend is healthy', () => {
    const text = summarize({
      ...base,
      outcome: 'escalated',
      rootCause: rc({
        kind: 'layer_broken',
        summary: 'the public layer answers 502 while proxy and internal are healthy',
      }),
      plan: [{ action: 'manual', target: 'api', risk: 'manual', reason: 'route it' }],
    });
    expect(text).toBe(
      'the public layer answers 502 while proxy and internal are healthy; the api backend is healthy; nothing was restarted',
    );
  });

  it('escalated with nothing else to say asks a human', () => {
    expect(summarize({ ...base, outcome: 'escalated', plan: [] })).toContain('A human needs to look');
  });
});
