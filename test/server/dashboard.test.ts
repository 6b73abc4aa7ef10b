/**
 * The gauges a dashboard needs (each service's health, pending approvals) and
 * examples/grafana-dashboard.json, whose every query must name a series /metrics exports.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO_ROOT } from '../support/node-image.js';
import {
  API_TOKEN,
  countedService,
  startBackend,
  startTestBot,
  tempDir,
  waitFor,
  type TestBot,
} from '../serve/harness.js';

interface Panel {
  title: string;
  type: string;
  targets?: { expr: string }[];
  panels?: Panel[];
}

const dashboard = JSON.parse(readFileSync(`${REPO_ROOT}/examples/grafana-dashboard.json`, 'utf8')) as {
  panels: Panel[];
};
const panels = dashboard.panels.flatMap((p) => [p, ...(p.panels ?? [])]);
const queries = panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

/** The series names an exposition text offers: a histogram's _bucket, _sum and _count, anything else by its name. */
function exportedSeries(text: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    if (type === 'histogram') for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    else if (type === 'summary') for (const suffix of ['', '_sum', '_count']) names.add(name + suffix);
    else names.add(name);
  }
  return names;
}

const gauge = (text: string, name: string, service: string) =>
  new RegExp(`^${name}\\{service="${service}"\\} (\\d+)$`, 'm').exec(text)?.[1];

describe('dashboard metrics', () => {
  const dir = tempDir();
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let bot: TestBot;
  const approvalsOf = countedService(dir.path, 'gated');
  const metrics = async () => (await bot.call('/metrics', { token: null })).text();

  beforeAll(async () => {
    backend = await startBackend();
    bot = await startTestBot({
      services: { web: { probes: [{ name: 'internal', http: backend.url }] }, gated: approvalsOf.config },
      monitor: { groupWindow: 0 },
      healing: { approvers: ['api:ops'] },
    });
  });

  afterAll(async () => {
    await bot?.close();
    await backend?.close();
    dir.cleanup();
  });

  // First: the monitor's rounds below open incidents (and approvals) of their own.
  it('exports the approvals waiting for a decision, by service', async () => {
    expect(gauge(await metrics(), 'healbot_pending_approvals', 'gated')).toBe('0');
    await bot.call('/api/heal', { method: 'POST', json: { service: 'gated' } });
    const approval = await waitFor(async () => (await bot.bot.store.pendingApprovals())[0], 'the approval request');
    expect(gauge(await metrics(), 'healbot_pending_approvals', 'gated')).toBe('1');
    expect(gauge(await metrics(), 'healbot_pending_approvals', 'web')).toBe('0');
    const denied = await bot.call(`/api/approvals/${approval.id}`, {
      method: 'POST',
      token: API_TOKEN,
      json: { decision: 'deny' },
    });
    expect(denied.status).toBe(200);
    expect(gauge(await metrics(), 'healbot_pending_approvals', 'gated')).toBe('0');
  });

  it("exports each service's health from its probes' last run", async () => {
    expect(gauge(await metrics(), 'healbot_service_healthy', 'web')).toBeUndefined();
    await bot.monitor.tick();
    expect(gauge(await metrics(), 'healbot_service_healthy', 'web')).toBe('1');
    backend.status = 503;
    await bot.monitor.tick();
    expect(gauge(await metrics(), 'healbot_service_healthy', 'web')).toBe('0');
    backend.status = 200;
    await bot.monitor.tick();
    expect(gauge(await metrics(), 'healbot_service_healthy', 'web')).toBe('1');
  });

  it('examples/grafana-dashboard.json queries only series /metrics exports', async () => {
    const exported = exportedSeries(await metrics());
    expect(queries.length).toBeGreaterThan(10);
    for (const { panel, expr } of queries) {
      const named = expr.match(/\bhealbot_[a-z0-9_]+\b/g) ?? [];
      expect(named.length, `${panel}: ${expr}`).toBeGreaterThan(0);
      for (const series of named) expect(exported.has(series), `${panel}: ${series} is not exported`).toBe(true);
    }
  });

  it('covers health, approvals, incidents, outcomes, root causes, time to heal, breakers and probe latency', () => {
    const all = queries.map((q) => q.expr).join('\n');
    for (const series of [
      'healbot_service_healthy',
      'healbot_pending_approvals',
      'healbot_incidents_opened_total',
      'healbot_incident_outcomes_total',
      'healbot_heals_succeeded_total',
      'healbot_time_to_heal_seconds_bucket',
      'healbot_breaker_open',
      'healbot_probe_duration_seconds_bucket',
    ]) {
      expect(all).toContain(series);
    }
    expect(all).toMatch(/by \(root_cause\)/);
    expect(new Set(panels.map((p) => p.title)).size).toBe(panels.length);
  });
});
