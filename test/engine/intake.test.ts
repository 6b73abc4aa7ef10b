import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHealbot, type Healbot } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { PermissionDenied } from '../../src/errors.js';
import { startBackend } from '../serve/harness.js';

/** The intake on its own: one engine, a failing backend with no runtime (healbot can only escalate). */
describe('the intake', () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let bot: Healbot;
  let now = Date.parse('2025-06-01T12:00:00Z');
  const ana = { platform: 'slack' as const, id: 'UANA', display: '<@UANA>' };
  const stranger = { platform: 'slack' as const, id: 'USTRANGER' };

  beforeAll(async () => {
    backend = await startBackend();
    backend.status = 503;
    const config = parseConfig({
      services: { api: { probes: [{ name: 'internal', http: backend.url }] } },
      healing: { approvers: ['UANA'] },
    });
    bot = createHealbot(config, { storePath: ':memory:', now: () => now });
  });
  afterAll(async () => {
    await bot?.close();
    await backend?.close();
  });

  const notes = (incidentId: string) =>
    bot.store
      .listAudit()
      .filter((e) => e.incidentId === incidentId && e.event === 'info')
      .map((e) => String(e.detail.message));

  it('keeps an escalated incident open and joins later signals to it, telling its thread at most once per few minutes', async () => {
    const opened = bot.api.accept([
      { source: 'webhook', service: 'api', key: 'a1', fingerprint: 'a1', text: 'api down' },
    ])[0];
    expect(opened.result).toBe('opened');
    expect((await opened.report!).outcome).toBe('escalated');
    const id = opened.incidentId!;
    expect(bot.store.getIncident(id)).toMatchObject({ status: 'open', outcome: 'escalated' });

    const joins = bot.api.accept([
      { source: 'webhook', service: 'api', key: 'a2', fingerprint: 'a2', text: 'api still down' },
      { source: 'monitor', service: 'api', text: 'monitoring: internal 503' },
      { source: 'webhook', service: 'api', key: 'a2', fingerprint: 'a2' },
    ]);
    expect(joins.map((d) => [d.result, d.incidentId])).toEqual([
      ['joined', id],
      ['joined', id],
      ['duplicate', id],
    ]);
    // Alerts count; a monitoring round and a redelivery do not.
    expect(bot.store.getIncident(id)?.alertCount).toBe(2);
    expect(notes(id).filter((m) => m.startsWith('Still failing'))).toHaveLength(1);
    now += 6 * 60_000;
    bot.api.accept([{ source: 'event', service: 'api', key: 'e1', text: 'container died' }]);
    expect(notes(id).filter((m) => m.startsWith('Still failing'))).toEqual([
      expect.stringContaining('another alert'),
      expect.stringContaining('2 more signals'),
    ]);
  });

  it('never lets a dry run join the open incident, and gives it its own id', async () => {
    const [open] = bot.store.listIncidents({ service: 'api', status: 'open' });
    const dry = bot.api.open({ service: 'api', source: 'api', dryRun: true });
    expect(dry.result).toBe('opened');
    expect(dry.incidentId).not.toBe(open.id);
    await dry.report;
    expect(bot.store.getIncident(dry.incidentId!)?.status).toBe('closed');
    expect(bot.store.getIncident(open.id)?.status).toBe('open');
  });

  it('lets only an approver resolve an incident by hand', async () => {
    const [open] = bot.store.listIncidents({ service: 'api', status: 'open' });
    await expect(bot.api.resolveIncident(open.id, stranger)).rejects.toBeInstanceOf(PermissionDenied);
    expect(bot.store.getIncident(open.id)?.status).toBe('open');
    const view = await bot.api.resolveIncident(open.id, ana);
    expect(view).toMatchObject({ id: open.id, status: 'closed' });
    expect(bot.store.getIncident(open.id)?.summary).toContain('resolved by <@UANA>');
    // The next failure opens a new incident.
    const next = bot.api.accept([{ source: 'webhook', service: 'api', key: 'b1', fingerprint: 'b1' }])[0];
    expect(next.result).toBe('opened');
    expect(next.incidentId).not.toBe(open.id);
    await next.report;
  });

  it('closes an escalated incident once the last of its alerts resolves, noting the others on the way', () => {
    const [open] = bot.store.listIncidents({ service: 'api', status: 'open' });
    bot.api.accept([{ source: 'webhook', service: 'api', key: 'b2', fingerprint: 'b2' }]);
    const first = bot.api.accept([
      { source: 'webhook', service: 'api', key: 'b1', fingerprint: 'b1', status: 'resolved' },
    ])[0];
    expect(first).toMatchObject({ result: 'resolved', resolution: 'noted', incidentId: open.id });
    expect(bot.store.getIncident(open.id)?.status).toBe('open');
    const last = bot.api.accept([
      { source: 'webhook', service: 'api', key: 'b2', fingerprint: 'b2', status: 'resolved' },
    ])[0];
    expect(last).toMatchObject({ result: 'resolved', resolution: 'closed', incidentId: open.id });
    expect(bot.store.getIncident(open.id)?.status).toBe('closed');
  });
});
