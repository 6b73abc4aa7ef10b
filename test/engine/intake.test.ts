import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHealbot, type Healbot } from '../../src/app.js';
import { parseConfig } from '../../src/config/load.js';
import { PermissionDenied } from '../../src/errors.js';
import { SqliteStore } from '../../src/store/sqlite-store.js';
import type { Store } from '../../src/store/store.js';
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

  const notes = async (incidentId: string) =>
    (await bot.store.listAudit())
      .filter((e) => e.incidentId === incidentId && e.event === 'info')
      .map((e) => String(e.detail.message));

  it('keeps an escalated incident open and joins later signals to it, telling its thread at most once per few minutes', async () => {
    const opened = (
      await bot.api.accept([{ source: 'webhook', service: 'api', key: 'a1', fingerprint: 'a1', text: 'api down' }])
    )[0];
    expect(opened.result).toBe('opened');
    expect((await opened.report!).outcome).toBe('escalated');
    const id = opened.incidentId!;
    expect(await bot.store.getIncident(id)).toMatchObject({ status: 'open', outcome: 'escalated' });

    const joins = await bot.api.accept([
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
    expect((await bot.store.getIncident(id))?.alertCount).toBe(2);
    expect((await notes(id)).filter((m) => m.startsWith('Still failing'))).toHaveLength(1);
    now += 6 * 60_000;
    await bot.api.accept([{ source: 'event', service: 'api', key: 'e1', text: 'container died' }]);
    expect((await notes(id)).filter((m) => m.startsWith('Still failing'))).toEqual([
      expect.stringContaining('another alert'),
      expect.stringContaining('2 more signals'),
    ]);
  });

  it('never lets a dry run join the open incident, and gives it its own id', async () => {
    const [open] = await bot.store.listIncidents({ service: 'api', status: 'open' });
    const dry = await bot.api.open({ service: 'api', source: 'api', dryRun: true });
    expect(dry.result).toBe('opened');
    expect(dry.incidentId).not.toBe(open.id);
    await dry.report;
    expect((await bot.store.getIncident(dry.incidentId!))?.status).toBe('closed');
    expect((await bot.store.getIncident(open.id))?.status).toBe('open');
  });

  it('lets only an approver resolve an incident by hand', async () => {
    const [open] = await bot.store.listIncidents({ service: 'api', status: 'open' });
    await expect(bot.api.resolveIncident(open.id, stranger)).rejects.toBeInstanceOf(PermissionDenied);
    expect((await bot.store.getIncident(open.id))?.status).toBe('open');
    const view = await bot.api.resolveIncident(open.id, ana);
    expect(view).toMatchObject({ id: open.id, status: 'closed' });
    expect((await bot.store.getIncident(open.id))?.summary).toContain('resolved by <@UANA>');
    // The next failure opens a new incident.
    const next = (await bot.api.accept([{ source: 'webhook', service: 'api', key: 'b1', fingerprint: 'b1' }]))[0];
    expect(next.result).toBe('opened');
    expect(next.incidentId).not.toBe(open.id);
    await next.report;
  });

  it('closes an escalated incident once the last of its alerts resolves, noting the others on the way', async () => {
    const [open] = await bot.store.listIncidents({ service: 'api', status: 'open' });
    await bot.api.accept([{ source: 'webhook', service: 'api', key: 'b2', fingerprint: 'b2' }]);
    const first = (
      await bot.api.accept([{ source: 'webhook', service: 'api', key: 'b1', fingerprint: 'b1', status: 'resolved' }])
    )[0];
    expect(first).toMatchObject({ result: 'resolved', resolution: 'noted', incidentId: open.id });
    expect((await bot.store.getIncident(open.id))?.status).toBe('open');
    const last = (
      await bot.api.accept([{ source: 'webhook', service: 'api', key: 'b2', fingerprint: 'b2', status: 'resolved' }])
    )[0];
    expect(last).toMatchObject({ result: 'resolved', resolution: 'closed', incidentId: open.id });
    expect((await bot.store.getIncident(open.id))?.status).toBe('closed');
  });
});

/**
 * A store whose transactions interleave, as Postgres's do between connections, and whose every
 * call yields first, like a round trip: nothing but the intake's own locks keeps two decisions apart.
 */
function interleavingStore(store: SqliteStore): Store {
  const proxy: Store = new Proxy(store, {
    get(target, property) {
      if (property === 'transaction') return <T>(work: (tx: Store) => Promise<T>) => work(proxy);
      const value = Reflect.get(target, property, target);
      if (typeof value !== 'function') return value;
      return async (...args: unknown[]) => {
        await new Promise((resolve) => setImmediate(resolve));
        return value.apply(target, args);
      };
    },
  });
  return proxy;
}

describe('the intake on a store whose transactions interleave', () => {
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let bot: Healbot;
  let store: SqliteStore;

  beforeAll(async () => {
    backend = await startBackend();
    backend.status = 503;
    store = new SqliteStore(':memory:');
    const config = parseConfig({ services: { api: { probes: [{ name: 'internal', http: backend.url }] } } });
    bot = createHealbot(config, { store: interleavingStore(store) });
  });
  afterAll(async () => {
    await bot?.close();
    await store?.close();
    await backend?.close();
  });

  it('opens one incident for many alerts delivered at once, counting every one on it', async () => {
    const decisions = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        bot.api.accept([{ source: 'webhook', service: 'api', key: `k${i}`, fingerprint: `k${i}`, text: 'api down' }]),
      ),
    );
    const results = decisions.map(([d]) => d.result);
    expect(results.filter((r) => r === 'opened')).toHaveLength(1);
    expect(results.filter((r) => r === 'joined')).toHaveLength(9);
    expect(new Set(decisions.map(([d]) => d.incidentId)).size).toBe(1);
    const opened = decisions.find(([d]) => d.result === 'opened')![0];
    await opened.report;
    const incidents = await store.listIncidents({ service: 'api' });
    expect(incidents).toHaveLength(1);
    expect(incidents[0].alertCount).toBe(10);
  });
});
