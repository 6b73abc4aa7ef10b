import { createServer, type IncomingMessage } from 'node:http';
import { afterAll, describe, expect, it } from 'vitest';
import { Heartbeat } from '../../src/monitor/heartbeat.js';
import { Watchdog } from '../../src/monitor/watchdog.js';
import { startBackend, startTestBot, tempDir, waitFor } from '../serve/harness.js';

describe('continuous monitoring', () => {
  const dir = tempDir();
  afterAll(() => dir.cleanup());

  it('opens one incident (source monitor) when a service starts failing, keeps it open while it fails, and closes it when healthy again', async () => {
    const backend = await startBackend();
    const db = await startBackend();
    const bot = await startTestBot({
      services: {
        api: { probes: [{ name: 'internal', http: backend.url }], dependsOn: ['db'] },
        db: { probes: [{ name: 'internal', http: db.url }] },
      },
    });
    try {
      expect(await bot.monitor.tick()).toEqual([]);
      expect(await bot.bot.store.listIncidents()).toHaveLength(0);
      backend.status = 500;
      expect(await bot.monitor.tick()).toEqual(['api']);
      // api has no runtime: healbot escalates, and the incident stays open while api fails.
      const first = await waitFor(
        async () =>
          (await bot.bot.store.listIncidents({ service: 'api' }))[0]?.outcome &&
          (await bot.bot.store.listIncidents({ service: 'api' }))[0],
        'the api incident to escalate',
      );
      expect(first).toMatchObject({ source: 'monitor', outcome: 'escalated', status: 'open' });
      // Still failing: later rounds join it, no new incident.
      await bot.monitor.tick();
      await bot.monitor.tick();
      expect(await bot.bot.store.listIncidents({ service: 'api' })).toEqual([
        expect.objectContaining({ id: first.id, status: 'open' }),
      ]);
      // Healthy again: the incident closes; failing again: a new incident.
      backend.status = 200;
      await bot.monitor.tick();
      expect(await bot.bot.store.getIncident(first.id)).toMatchObject({
        status: 'closed',
        summary: expect.stringContaining('api is healthy again (monitoring'),
      });
      backend.status = 500;
      await bot.monitor.tick();
      await waitFor(
        async () =>
          (await bot.bot.store.listIncidents({ service: 'api' })).length === 2 &&
          (await bot.bot.store.listIncidents({ service: 'api' }))[0].outcome === 'escalated',
        'a second api incident',
      );
      // The dependency fails too: one incident, for the dependency, not one per dependent.
      backend.status = 200;
      await bot.monitor.tick();
      backend.status = 500;
      db.status = 500;
      expect((await bot.monitor.tick()).sort()).toEqual(['api', 'db']);
      await waitFor(async () => (await bot.bot.store.listIncidents({ service: 'db' })).length === 1, 'the db incident');
      expect(await bot.bot.store.listIncidents({ service: 'api' })).toHaveLength(2);
      const metrics = await bot.metrics.text();
      expect(metrics).toMatch(/healbot_probe_duration_seconds_count\{service="db",probe="internal",ok="false"\} [1-9]/);
    } finally {
      await bot.close();
      await backend.close();
      await db.close();
    }
  });

  it('runs the monitoring loop on its interval and reports it to the watchdog', async () => {
    const backend = await startBackend();
    backend.status = 502;
    const bot = await startTestBot(
      { services: { api: { probes: [{ name: 'internal', http: backend.url }] } }, monitor: { interval: '50ms' } },
      { monitoring: true },
    );
    try {
      await waitFor(
        async () => (await bot.bot.store.listIncidents({ service: 'api' })).length === 1,
        'the monitor loop to open an incident',
      );
      expect(bot.watchdog.report().find((l) => l.name === 'monitor')?.ok).toBe(true);
      expect((await bot.call('/readyz', { token: null })).status).toBe(200);
    } finally {
      await bot.close();
      await backend.close();
    }
  });
});

describe('watchdog', () => {
  it('reports a loop stuck once it stays silent longer than allowed', () => {
    let now = 1000;
    const watchdog = new Watchdog(() => now);
    watchdog.watch('monitor', 100);
    now += 100;
    expect(watchdog.healthy()).toBe(true);
    now += 1;
    expect(watchdog.report()).toEqual([{ name: 'monitor', ok: false, silentMs: 101, maxSilenceMs: 100 }]);
    watchdog.tick('monitor');
    expect(watchdog.healthy()).toBe(true);
  });
});

describe('heartbeat', () => {
  it('calls the heartbeat URL while healthy and withholds it while a loop is stuck', async () => {
    const hits: IncomingMessage[] = [];
    const server = createServer((req, res) => {
      hits.push(req);
      res.end('ok');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(server.address() as { port: number }).port}/ping/abc`;
    const watchdog = new Watchdog();
    const heartbeat = new Heartbeat({ url, intervalMs: 30, watchdog });
    try {
      heartbeat.start();
      await waitFor(() => hits.length >= 2, 'two beats');
      expect(hits[0].url).toBe('/ping/abc');
      await heartbeat.stop();
      watchdog.watch('monitor', -1);
      const before = hits.length;
      await heartbeat.beat();
      expect(hits.length).toBe(before);
    } finally {
      await heartbeat.stop();
      server.closeAllConnections();
      server.close();
    }
  });
});
