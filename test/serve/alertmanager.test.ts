import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { alertmanagerUnavailable, startAlertmanager, type Alertmanager } from '../support/alertmanager.js';
import { requireOrSkip } from '../support/docker-engine.js';
import { startBackend, startTestBot, TOKEN, waitFor, type TestBot } from './harness.js';

const unavailable = alertmanagerUnavailable();
const skip = unavailable !== undefined && requireOrSkip(unavailable);

/** A real Alertmanager delivering to healbot's webhook: grouping, dedupe and resolution end to end. */
describe.skipIf(skip)('alerts from a real Alertmanager', () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let bot: TestBot;
  let alertmanager: Alertmanager;
  const dir = mkdtempSync(join(tmpdir(), 'healbot-am-'));
  const journal = join(dir, 'runbook.log');
  const append = (line: string) => [
    process.execPath,
    '-e',
    'require("fs").appendFileSync(process.argv[1], process.argv[2] + "\\n")',
    journal,
    line,
  ];

  beforeAll(async () => {
    backend = await startBackend();
    backend.status = 503;
    bot = await startTestBot({
      services: {
        api: { probes: [{ name: 'internal', http: backend.url }] },
        web: { probes: [{ name: 'internal', http: backend.url }] },
        jobs: { probes: [{ name: 'internal', http: backend.url }] },
      },
      healing: { verifyTimeout: '1s' },
      runbooks: [
        {
          name: 'web-team',
          when: { labels: { team: 'web' } },
          steps: [{ name: 'record', risk: 'safe', command: append('{service}') }],
          rollback: [{ name: 'undo', risk: 'safe', undoes: 'record', command: append('undone {service}') }],
        },
      ],
    });
    alertmanager = await startAlertmanager({ webhookUrl: `${bot.url}/webhooks/alertmanager`, token: TOKEN });
  });
  afterAll(async () => {
    await alertmanager?.stop();
    await bot?.close();
    await backend?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('turns many alerts per service into one incident per service, counting every alert', async () => {
    const startsAt = new Date().toISOString();
    const alerts = [
      ...Array.from({ length: 60 }, (_, i) => ({
        labels: { alertname: 'HighErrorRate', service: 'api', instance: `api-${i}` },
        annotations: { summary: `api instance ${i} is failing` },
        startsAt,
      })),
      ...Array.from({ length: 15 }, (_, i) => ({
        labels: { alertname: 'Down', job: 'web', instance: `web-${i}` },
        startsAt,
      })),
      { labels: { alertname: 'Down', service: 'not-configured' }, startsAt },
    ];
    // Two pushes, and the first again: Alertmanager merges what it already has.
    await alertmanager.pushAlerts(alerts.slice(0, 40));
    await alertmanager.pushAlerts(alerts.slice(40));
    await alertmanager.pushAlerts(alerts.slice(0, 10));
    const store = bot.bot.store;
    await waitFor(
      async () =>
        (await store.listIncidents({ service: 'api' }))[0]?.alertCount === 60 &&
        (await store.listIncidents({ service: 'web' }))[0]?.alertCount === 15,
      `all alerts to arrive (${alertmanager.output()})`,
      20_000,
    );
    expect(await store.listIncidents({ service: 'api' })).toHaveLength(1);
    expect(await store.listIncidents({ service: 'web' })).toHaveLength(1);
    expect(await store.listIncidents()).toHaveLength(2);
    expect((await store.listIncidents({ service: 'api' }))[0].source).toBe('webhook');
    const metrics = await (await bot.call('/metrics', { token: null })).text();
    expect(metrics).toMatch(/healbot_alerts_received_total\{source="webhook",result="unmatched"\} [1-9]/);
  });

  it('notes the resolution on the incident when the alerts resolve', async () => {
    const incident = (await bot.bot.store.listIncidents({ service: 'web' }))[0];
    // web has no runtime: healbot escalates, and the incident stays open while its alerts fire.
    await waitFor(
      async () => (await bot.bot.store.getIncident(incident.id))?.outcome === 'escalated',
      'the web incident to escalate',
    );
    expect((await bot.bot.store.getIncident(incident.id))?.status).toBe('open');
    const startsAt = new Date(Date.now() - 60_000).toISOString();
    // Alertmanager resolves an alert whose endsAt has passed and tells receivers (send_resolved).
    const before = (await bot.bot.store.listAudit({ service: 'web' })).filter((e) => e.event === 'info').length;
    await alertmanager.pushAlerts([
      { labels: { alertname: 'Late', service: 'web' }, startsAt, endsAt: new Date(Date.now() - 1000).toISOString() },
    ]);
    await alertmanager.pushAlerts([{ labels: { alertname: 'Flap', service: 'web' }, startsAt }]);
    await waitFor(
      async () => (await bot.bot.store.getIncident(incident.id))!.alertCount >= 16,
      'the late alert to be counted on the open incident',
      20_000,
    );
    expect(await bot.bot.store.listIncidents({ service: 'web' })).toHaveLength(1);
    await alertmanager.pushAlerts([
      { labels: { alertname: 'Flap', service: 'web' }, startsAt, endsAt: new Date().toISOString() },
    ]);
    await waitFor(
      async () => (await bot.bot.store.listAudit({ service: 'web' })).filter((e) => e.event === 'info').length > before,
      'the resolution to be noted',
      20_000,
    );
  });

  it("matches a runbook on an alert's labels, and never puts alert text into its commands", async () => {
    const marker = join(dir, 'pwned');
    const evil = `$(touch ${marker})`;
    await alertmanager.pushAlerts([
      {
        labels: { alertname: 'JobsDown', service: 'jobs', team: 'web', note: evil },
        annotations: { summary: evil },
        startsAt: new Date().toISOString(),
      },
    ]);
    await waitFor(
      () => existsSync(journal) && readFileSync(journal, 'utf8').includes('undone'),
      `the runbook to run and roll back (${alertmanager.output()})`,
      20_000,
    );
    expect(readFileSync(journal, 'utf8').trim().split('\n')).toEqual(['jobs', 'undone jobs']);
    expect(existsSync(marker)).toBe(false);
    const incident = (await bot.bot.store.listIncidents({ service: 'jobs' }))[0];
    await waitFor(
      async () => (await bot.bot.store.getIncident(incident.id))?.status === 'closed',
      'the jobs incident to close',
    );
    expect((await bot.bot.store.getIncident(incident.id))?.summary).toContain(
      'runbook web-team ran record, then verification failed',
    );
  });
});
