import { createServer, type IncomingHttpHeaders } from 'node:http';
import { PassThrough } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { parseConfigText } from '../../src/config/load.js';
import { startServe } from '../../src/serve.js';
import { json } from '../support/http.js';
import { API_TOKEN, countedService, startBackend, startTestBot, tempDir, waitFor } from './harness.js';

describe('healbot serve', () => {
  const dir = tempDir();
  afterAll(() => dir.cleanup());

  it('runs the issue’s configuration as it is, warning that the token is short', async () => {
    const backend = await startBackend();
    const text = `
server: { listen: "127.0.0.1:8080", token: "s3cret" }   # HTTP server and its bearer token
store: { path: "./healbot.db" }                          # embedded SQLite file
services:
  api:
    probes: [ { name: internal, http: "http://127.0.0.1:${backend.port}/ready" } ]
`;
    const config = parseConfigText(text);
    expect(config.server).toMatchObject({ listen: '127.0.0.1:8080', token: 's3cret' });
    const logs: string[] = [];
    const bot = await startServe(config, {
      listen: '127.0.0.1:0',
      storePath: `${dir.path}/issue.db`,
      console: false,
      monitoring: false,
      logWrite: (l) => logs.push(l),
    });
    try {
      expect(logs.some((l) => /server\.token is only 6 characters/.test(l))).toBe(true);
      const refused = await fetch(`${bot.url}/webhooks/generic`, {
        method: 'POST',
        headers: { authorization: 'Bearer secret', 'content-type': 'application/json' },
        body: '{"service":"api"}',
      });
      expect(refused.status).toBe(401);
      const accepted = await fetch(`${bot.url}/webhooks/generic`, {
        method: 'POST',
        headers: { authorization: 'Bearer s3cret', 'content-type': 'application/json' },
        body: JSON.stringify({ service: 'api', summary: 'api is slow', severity: 'warning' }),
      });
      expect(accepted.status).toBe(202);
      expect((await json(accepted)).alerts[0]).toMatchObject({ service: 'api', result: 'opened' });
      expect(logs.join('\n')).not.toContain('s3cret');
    } finally {
      await bot.close();
      await backend.close();
    }
  });

  it('accepts Grafana alerting webhooks, unified and legacy, and deduplicates generic alerts with an id', async () => {
    const backend = await startBackend();
    backend.status = 500;
    const bot = await startTestBot({
      services: {
        api: { probes: [{ name: 'internal', http: backend.url }] },
        web: { probes: [{ name: 'internal', http: backend.url }] },
      },
      monitor: { groupWindow: 0 },
    });
    try {
      const unified = await bot.call('/webhooks/grafana', {
        method: 'POST',
        json: {
          receiver: 'healbot',
          status: 'firing',
          orgId: 1,
          version: '1',
          alerts: [
            {
              status: 'firing',
              labels: { alertname: 'Errors', service: 'api' },
              annotations: { summary: 'api 5xx' },
              startsAt: '2025-01-01T00:00:00Z',
              fingerprint: 'g1',
            },
          ],
        },
      });
      expect((await json(unified)).alerts[0]).toMatchObject({ service: 'api', result: 'opened' });
      const legacy = await bot.call('/webhooks/grafana', {
        method: 'POST',
        json: {
          title: '[Alerting] web down',
          ruleId: 7,
          ruleName: 'web down',
          state: 'alerting',
          message: 'web answers 500',
          tags: { app: 'web' },
        },
      });
      expect((await json(legacy)).alerts[0]).toMatchObject({ service: 'web', result: 'opened' });
      const bad = await bot.call('/webhooks/grafana', { method: 'POST', json: { hello: 'world' } });
      expect(bad.status).toBe(400);
      await waitFor(() => Object.keys(bot.bot.engine.openIncidents()).length === 0, 'the runs to end');
      // api has no runtime: its incident escalated and stays open while api fails, so the next alert joins it.
      const first = await bot.call('/webhooks/generic', {
        method: 'POST',
        json: { service: 'api', summary: 'down', id: 'ticket-1' },
      });
      const again = await bot.call('/webhooks/generic', {
        method: 'POST',
        json: { service: 'api', summary: 'down', id: 'ticket-1' },
      });
      expect((await json(first)).alerts[0].result).toBe('joined');
      expect((await json(again)).alerts[0].result).toBe('duplicate');
      expect(await bot.bot.store.listIncidents({ service: 'api' })).toEqual([
        expect.objectContaining({ status: 'open', outcome: 'escalated', alertCount: 2 }),
      ]);
    } finally {
      await bot.close();
      await backend.close();
    }
  });

  it('counts alerts on an incident waiting across a restart, and closes it when denied', async () => {
    const svc = countedService(dir.path, 'denied');
    const raw = {
      services: { svc: svc.config },
      store: { path: `${dir.path}/denied.db` },
      healing: { approvers: ['api:ops'] },
    };
    const first = await startTestBot(raw);
    const { incidentId } = await json(await first.call('/api/heal', { method: 'POST', json: { service: 'svc' } }));
    const approval = await waitFor(
      async () => (await first.bot.store.pendingApprovals()).find((a) => a.incidentId === incidentId),
      'the approval request',
    );
    await first.close();
    const second = await startTestBot(raw);
    try {
      // While it waits (across the restart), a new alert for the service is counted on it.
      const grouped = await second.call('/webhooks/generic', {
        method: 'POST',
        json: { service: 'svc', summary: 'still down', id: 'a1' },
      });
      expect((await json(grouped)).alerts[0]).toMatchObject({ result: 'joined', incidentId });
      const denied = await second.call(`/api/approvals/${approval.id}`, {
        method: 'POST',
        token: API_TOKEN,
        json: { decision: 'deny' },
      });
      expect(denied.status).toBe(200);
      expect(await second.bot.store.getIncident(incidentId)).toMatchObject({
        status: 'closed',
        outcome: 'denied',
        alertCount: 2,
      });
      expect(svc.runs()).toBe(0);
    } finally {
      await second.close();
    }
  });

  it('posts incidents to the console chat when asked to', async () => {
    const backend = await startBackend();
    backend.status = 503;
    const input = new PassThrough();
    let out = '';
    const bot = await startTestBot(
      { services: { api: { probes: [{ name: 'internal', http: backend.url }] } } },
      { console: true, input, output: (t) => (out += t) },
    );
    try {
      await bot.call('/webhooks/generic', { method: 'POST', json: { service: 'api', summary: 'api is down' } });
      await waitFor(() => /escalated/i.test(out), 'the console thread to show the outcome');
      expect(out).toMatch(/api/);
    } finally {
      input.end();
      await bot.close();
      await backend.close();
    }
  });

  it('opens a GitHub issue with the diagnosis when an incident is escalated', async () => {
    const backend = await startBackend();
    backend.status = 502;
    const requests: { method?: string; url?: string; headers: IncomingHttpHeaders; body: Record<string, unknown> }[] =
      [];
    const github = createServer((req, res) => {
      let body = '';
      req.on('data', (d) => (body += d));
      req.on('end', () => {
        requests.push({ method: req.method, url: req.url, headers: req.headers, body: JSON.parse(body) });
        res
          .writeHead(201, { 'content-type': 'application/json' })
          .end(JSON.stringify({ number: 42, html_url: 'https://ghe.example/acme/ops/issues/42' }));
      });
    });
    await new Promise<void>((resolve) => github.listen(0, '127.0.0.1', resolve));
    const apiUrl = `http://127.0.0.1:${(github.address() as { port: number }).port}/api/v3`;
    const bot = await startTestBot({
      services: { api: { probes: [{ name: 'internal', http: backend.url }] } },
      oncall: ['@oncall-ana'],
      github: { repo: 'acme/ops', token: 'ghp_0123456789abcdefghijABCDEFGHIJ0123', apiUrl },
    });
    try {
      const res = await bot.call('/api/heal', { method: 'POST', json: { service: 'api' } });
      const { incidentId } = await json(res);
      await waitFor(() => requests.length === 1, 'the GitHub issue');
      await bot.github!.idle();
      const [request] = requests;
      expect(request.method).toBe('POST');
      expect(request.url).toBe('/api/v3/repos/acme/ops/issues');
      expect(request.headers.authorization).toBe('Bearer ghp_0123456789abcdefghijABCDEFGHIJ0123');
      expect(request.headers.accept).toBe('application/vnd.github+json');
      expect(String(request.body.title)).toContain('api');
      expect(String(request.body.body)).toContain(incidentId);
      expect(String(request.body.body)).toMatch(/Root cause/);
      expect(String(request.body.body)).toContain('@oncall-ana');
      expect(
        (await bot.bot.store.listAudit({ service: 'api' })).find((e) => e.event === 'github_issue')?.detail,
      ).toMatchObject({ number: 42 });
      // One issue per incident.
      expect(
        await bot.github!.escalate({ ...(await bot.bot.engine.history('api'))[0], incidentId } as never),
      ).toBeUndefined();
      expect(requests).toHaveLength(1);
    } finally {
      await bot.close();
      await backend.close();
      github.closeAllConnections();
      github.close();
    }
  });
});
