import { connect } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { json } from '../support/http.js';
import {
  alertmanagerPayload,
  API_TOKEN,
  countedService,
  startBackend,
  startTestBot,
  tempDir,
  TOKEN,
  waitFor,
  type TestBot,
} from '../serve/harness.js';

/** Sends raw bytes and returns whatever comes back before the server closes or `ms` pass. */
function rawRequest(port: number, bytes: string, ms = 1000): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => (answer += d.toString()));
    socket.on('error', () => resolve(answer));
    socket.on('close', () => resolve(answer));
    socket.write(bytes);
    setTimeout(() => {
      socket.destroy();
      resolve(answer);
    }, ms);
  });
}

describe('healbot serve HTTP server', () => {
  const dir = tempDir();
  let backend: Awaited<ReturnType<typeof startBackend>>;
  let bot: TestBot;
  const worker = countedService(dir.path, 'worker', { auto: ['restart', 'start'] });
  const db = countedService(dir.path, 'db');

  beforeAll(async () => {
    backend = await startBackend();
    backend.status = 500;
    bot = await startTestBot({
      services: {
        api: { probes: [{ name: 'internal', http: backend.url }] },
        worker: worker.config,
        db: db.config,
        cache: {
          probes: [{ name: 'internal', http: backend.url }],
          alerts: [{ labels: { team: 'storage', component: 'redis' } }],
        },
      },
      healing: { approvalTimeout: '1m', verifyTimeout: '5s', approvers: ['api:ops'] },
      store: { path: `${dir.path}/healbot.db` },
    });
  });
  afterAll(async () => {
    await bot?.close();
    await backend?.close();
    dir.cleanup();
  });
  afterEach(async () => {
    // Let every incident a test opened settle before the next one.
    await waitFor(() => Object.keys(bot.bot.engine.openIncidents()).length === 0, 'incidents to settle');
  });

  const incidents = (service: string) => bot.bot.store.listIncidents({ service });

  it('refuses webhooks and the API without the right bearer token, and changes nothing', async () => {
    const before = (await bot.bot.store.listIncidents()).length;
    const body = alertmanagerPayload([{ labels: { service: 'api' } }]);
    for (const token of [null, 'wrong', `${TOKEN}x`, TOKEN.slice(0, -1)]) {
      const res = await bot.call('/webhooks/alertmanager', { method: 'POST', json: body, token });
      expect(res.status).toBe(401);
      expect((await json(res)).error).toMatch(/token/);
    }
    expect((await bot.call('/api/heal', { method: 'POST', json: { service: 'api' }, token: 'nope' })).status).toBe(401);
    expect((await bot.call('/api/incidents', { token: null })).status).toBe(401);
    expect((await bot.call('/api/events', { token: 'nope' })).status).toBe(401);
    expect((await bot.bot.store.listIncidents()).length).toBe(before);
  });

  it('answers malformed, truncated, empty and oversized bodies with a 4xx one-line error and stays up', async () => {
    const post = (body: string, headers: Record<string, string> = {}) =>
      bot.call('/webhooks/alertmanager', {
        method: 'POST',
        body,
        headers: { 'content-type': 'application/json', ...headers },
      });
    const malformed = await post('{"alerts": [');
    expect(malformed.status).toBe(400);
    const error = (await json(malformed)).error as string;
    expect(error).toMatch(/^malformed JSON/);
    expect(error).not.toContain('\n');
    expect((await post('')).status).toBe(400);
    expect((await post('{"alerts": "nope"}')).status).toBe(400);
    expect((await post('[]')).status).toBe(400);
    expect((await post('{}', { 'content-type': 'text/plain' })).status).toBe(415);
    const huge = JSON.stringify({ alerts: [], padding: 'x'.repeat(2 * 1024 * 1024) });
    const oversized = await post(huge);
    expect(oversized.status).toBe(413);
    // A client that promises more than it sends and hangs up.
    const port = Number(new URL(bot.url).port);
    await rawRequest(
      port,
      `POST /webhooks/alertmanager HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${TOKEN}\r\ncontent-type: application/json\r\ncontent-length: 500\r\n\r\n{"alerts":[`,
      100,
    );
    // A request that is not HTTP at all.
    expect(await rawRequest(port, 'HELLO\r\n\r\n')).toMatch(/^HTTP\/1.1 400/);
    expect((await bot.call('/healthz', { token: null })).status).toBe(200);
    expect(await bot.bot.store.listIncidents({ service: 'api' })).toHaveLength(0);
    // …and nothing was lost: a good delivery right after still opens its incident.
    const ok = await bot.call('/webhooks/alertmanager', {
      method: 'POST',
      json: alertmanagerPayload([{ labels: { service: 'api' }, fingerprint: 'after-bad' }]),
    });
    expect(ok.status).toBe(202);
    expect((await json(ok)).alerts[0]).toMatchObject({ service: 'api', result: 'opened' });
  });

  it('maps alerts by service label or by label matchers, and reports unknown services', async () => {
    const res = await bot.call('/webhooks/alertmanager', {
      method: 'POST',
      json: alertmanagerPayload([
        { labels: { job: 'worker' }, fingerprint: 'map1', startsAt: '2025-02-01T00:00:00Z' },
        { labels: { team: 'storage', component: 'redis' }, fingerprint: 'map2' },
        { labels: { service: 'no-such-service' }, fingerprint: 'map3' },
      ]),
    });
    expect(res.status).toBe(202);
    const { alerts } = await json(res);
    expect(alerts.map((a: { service?: string; result: string }) => [a.service, a.result])).toEqual([
      ['worker', 'opened'],
      ['cache', 'opened'],
      [undefined, 'unmatched'],
    ]);
    const generic = await bot.call('/webhooks/generic', {
      method: 'POST',
      json: { service: 'nope', summary: 'x', severity: 'critical' },
    });
    expect(generic.status).toBe(404);
    expect((await json(generic)).error).toMatch(/unknown service "nope".*api/);
    // The worker heals by itself (auto restart): its restart ran once.
    await waitFor(async () => (await incidents('worker'))[0]?.status === 'closed', 'worker incident to close');
    expect((await incidents('worker'))[0]).toMatchObject({ outcome: 'healed', source: 'webhook' });
    expect(worker.runs()).toBe(1);
  });

  it('opens one incident per service for a storm of alerts and ignores duplicate deliveries', async () => {
    backend.status = 500;
    const before = (await incidents('api')).length;
    const storm = Array.from({ length: 40 }, (_, batch) =>
      bot.call('/webhooks/alertmanager', {
        method: 'POST',
        json: alertmanagerPayload(
          Array.from({ length: 25 }, (_, i) => ({
            labels: { service: 'api', instance: `i${i}` },
            fingerprint: `storm-${batch}-${i}`,
            startsAt: '2025-03-01T00:00:00Z',
          })),
        ),
      }),
    );
    const answers = await Promise.all(storm);
    expect(answers.every((r) => r.status === 202)).toBe(true);
    // The same delivery again (Alertmanager retries): nothing new.
    const again = await bot.call('/webhooks/alertmanager', {
      method: 'POST',
      json: alertmanagerPayload([
        { labels: { service: 'api' }, fingerprint: 'storm-0-0', startsAt: '2025-03-01T00:00:00Z' },
      ]),
    });
    expect((await json(again)).alerts[0].result).toBe('duplicate');
    await waitFor(
      async () => (await incidents('api')).every((i) => i.outcome !== undefined),
      'api incidents to finish their runs',
    );
    const opened = (await incidents('api')).length - before;
    // The first test's incident closed moments ago, so the storm is grouped onto it (groupWindow).
    expect(opened).toBe(0);
    expect((await incidents('api'))[0].alertCount).toBe(1 + 1000);
  });

  it('marks alerts with the security label so healbot never acts on them', async () => {
    const sec = countedService(dir.path, 'sec', { auto: ['restart', 'start'] });
    const secure = await startTestBot({ services: { sec: sec.config }, healing: { verifyTimeout: '5s' } });
    try {
      const alert = {
        labels: { service: 'sec', security: 'true' },
        fingerprint: 'sec-1',
        startsAt: '2025-05-01T00:00:00Z',
      };
      const res = await secure.call('/webhooks/alertmanager', { method: 'POST', json: alertmanagerPayload([alert]) });
      const incidentId = (await json(res)).alerts[0].incidentId;
      const done = await waitFor(
        async () =>
          (await secure.bot.store.getIncident(incidentId))?.outcome && (await secure.bot.store.getIncident(incidentId)),
        'security incident to escalate',
      );
      expect(done.outcome).toBe('escalated');
      // Escalated is a state of an open incident: the failure goes on until its alert resolves.
      expect(done.status).toBe('open');
      expect(done.actions ?? []).toHaveLength(0);
      expect(sec.runs()).toBe(0);
      const again = await secure.call('/webhooks/alertmanager', {
        method: 'POST',
        json: alertmanagerPayload([{ ...alert, fingerprint: 'sec-2' }]),
      });
      expect((await json(again)).alerts[0]).toMatchObject({ result: 'joined', incidentId });
      await secure.call('/webhooks/alertmanager', {
        method: 'POST',
        json: alertmanagerPayload([{ ...alert, status: 'resolved' }]),
      });
      expect((await secure.bot.store.getIncident(incidentId))?.status).toBe('open');
      const last = await secure.call('/webhooks/alertmanager', {
        method: 'POST',
        json: alertmanagerPayload([{ ...alert, fingerprint: 'sec-2', status: 'resolved' }]),
      });
      expect((await json(last)).alerts[0]).toMatchObject({ result: 'resolved', incidentId });
      expect(await secure.bot.store.getIncident(incidentId)).toMatchObject({ status: 'closed', alertCount: 2 });
    } finally {
      await secure.close();
    }
  });

  it('closes an incident healbot did not act on when its alert resolves', async () => {
    const res = await bot.call('/webhooks/alertmanager', {
      method: 'POST',
      json: alertmanagerPayload([{ labels: { service: 'db' }, fingerprint: 'db-1', startsAt: '2025-04-01T00:00:00Z' }]),
    });
    const incidentId = (await json(res)).alerts[0].incidentId as string;
    await waitFor(
      async () => (await bot.bot.store.pendingApprovals()).some((a) => a.incidentId === incidentId),
      'the approval request',
    );
    const resolved = await bot.call('/webhooks/alertmanager', {
      method: 'POST',
      json: alertmanagerPayload([
        { labels: { service: 'db' }, fingerprint: 'db-1', startsAt: '2025-04-01T00:00:00Z', status: 'resolved' },
      ]),
    });
    expect((await json(resolved)).alerts[0]).toMatchObject({ result: 'resolved', incidentId });
    const closed = await waitFor(
      async () =>
        (await bot.bot.store.getIncident(incidentId))?.status === 'closed' &&
        (await bot.bot.store.getIncident(incidentId)),
      'the incident to close',
    );
    expect(closed.actions ?? []).toHaveLength(0);
    expect(db.runs()).toBe(0);
    expect(
      (await bot.bot.store.listAudit({ service: 'db' })).some(
        (e) => e.event === 'info' && String(e.detail.message).includes('resolved'),
      ),
    ).toBe(true);
  });

  it('starts heals, lists incidents, takes approvals and streams progress over the API', async () => {
    const controller = new AbortController();
    const stream = await bot.call('/api/events', { signal: controller.signal });
    expect(stream.headers.get('content-type')).toMatch(/text\/event-stream/);
    const reader = stream.body!.getReader();
    let seen = '';
    const reading = (async () => {
      for (;;) {
        const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
        if (done) return;
        seen += new TextDecoder().decode(value);
      }
    })();

    const unknown = await bot.call('/api/heal', { method: 'POST', json: { service: 'nope' } });
    expect(unknown.status).toBe(404);
    const started = await bot.call('/api/heal', { method: 'POST', json: { service: 'db', by: 'ana' } });
    expect(started.status).toBe(202);
    const { incidentId } = await json(started);
    const approval = await waitFor(
      async () =>
        ((await json(await bot.call('/api/approvals'))) as { id: string; incidentId: string }[]).find(
          (a) => a.incidentId === incidentId,
        ),
      'a pending approval',
    );
    // While it waits, the incident already shows what healbot found and what it proposes.
    const waiting = await json(await bot.call(`/api/incidents/${incidentId}`));
    expect(waiting).toMatchObject({
      status: 'open',
      rootCause: { kind: 'service_down', service: 'db' },
      plan: [{ target: 'db', risk: 'risky' }],
    });
    // Asking again joins it, and the answer says where it stands.
    const joined = await bot.call('/api/heal', { method: 'POST', json: { service: 'db', by: 'bob' } });
    expect(await json(joined)).toMatchObject({
      incidentId,
      result: 'joined',
      state: expect.stringMatching(/^waiting for approval to (re)?start db$/),
      approvalId: approval.id,
    });
    // A dry run is its own incident, with its own id, and never joins the real one.
    const dry = await json(await bot.call('/api/heal', { method: 'POST', json: { service: 'db', dryRun: true } }));
    expect(dry).toMatchObject({ result: 'opened', incidentId: expect.stringMatching(/^inc_/) });
    expect(dry.incidentId).not.toBe(incidentId);
    const wrong = await bot.call(`/api/approvals/${approval.id}`, { method: 'POST', json: { decision: 'maybe' } });
    expect(wrong.status).toBe(400);
    const decided = await bot.call(`/api/approvals/${approval.id}`, {
      method: 'POST',
      token: API_TOKEN,
      json: { decision: 'approve', by: 'ana' },
    });
    expect(await json(decided)).toMatchObject({ ok: true, decision: 'approved' });
    const twice = await bot.call(`/api/approvals/${approval.id}`, {
      method: 'POST',
      token: API_TOKEN,
      json: { decision: 'approve', by: 'bob' },
    });
    expect(twice.status).toBe(409);
    await waitFor(
      async () => (await json(await bot.call(`/api/incidents/${incidentId}`))).status === 'closed',
      'the heal to finish',
    );
    const one = await json(await bot.call(`/api/incidents/${incidentId}`));
    expect(Object.keys(one)).toEqual(
      expect.arrayContaining([
        'id',
        'service',
        'status',
        'openedAt',
        'closedAt',
        'alertCount',
        'rootCause',
        'plan',
        'actions',
        'outcome',
      ]),
    );
    expect(one).toMatchObject({ id: incidentId, service: 'db', outcome: 'healed', alertCount: 1 });
    expect(one.actions[0]).toMatchObject({ ok: true, approvedBy: ['api:ops'] });
    expect(db.runs()).toBe(1);
    const list = await json(await bot.call('/api/incidents?service=db'));
    expect(list.map((i: { id: string }) => i.id)).toContain(incidentId);
    expect((await bot.call('/api/incidents/inc_nothere')).status).toBe(404);

    await waitFor(
      () => seen.includes('event: done') && seen.includes(incidentId),
      'the SSE stream to carry the incident',
    );
    expect(seen).toMatch(/event: started\ndata: \{/);
    expect(seen).toContain('event: awaiting_approval');
    expect(seen).not.toContain(TOKEN);
    controller.abort();
    await reading;
  });

  it('exposes health, readiness and Prometheus metrics', async () => {
    expect(await json(await bot.call('/healthz', { token: null }))).toEqual({ ok: true });
    expect((await bot.call('/readyz', { token: null })).status).toBe(200);
    const metrics = await (await bot.call('/metrics', { token: null })).text();
    // The heal and its dry run.
    expect(metrics).toMatch(/healbot_incidents_opened_total\{service="db",source="api"\} 2/);
    expect(metrics).toMatch(/healbot_heals_succeeded_total\{service="db",root_cause="service_down"\} 1/);
    expect(metrics).toMatch(/healbot_breaker_open\{service="api"\} 0/);
    expect(metrics).toMatch(/healbot_probe_duration_seconds_bucket\{/);
    expect(metrics).toMatch(/healbot_alerts_received_total\{source="webhook",result="duplicate"\}/);
    bot.watchdog.watch('stuck-loop', -1);
    const notReady = await bot.call('/readyz', { token: null });
    expect(notReady.status).toBe(503);
    expect((await json(notReady)).loops.find((l: { name: string }) => l.name === 'stuck-loop').ok).toBe(false);
    bot.watchdog.unwatch('stuck-loop');
  });

  it('writes JSON logs with the incident id on every incident line and never the token', () => {
    const lines = bot.logs.map((l) => JSON.parse(l) as Record<string, unknown>);
    const incidentLines = lines.filter((l) => l.msg === 'incident opened' || l.msg === 'plan' || l.msg === 'acting');
    expect(incidentLines.length).toBeGreaterThan(0);
    expect(incidentLines.every((l) => typeof l.incidentId === 'string' && l.incidentId.startsWith('inc_'))).toBe(true);
    expect(bot.logs.join('\n')).not.toContain(TOKEN);
  });
});
