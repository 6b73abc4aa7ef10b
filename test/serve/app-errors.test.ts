import { createHmac, randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { HealReport } from '../../src/engine/types.js';
import { GitHubApiServer } from '../support/github-api-server.js';
import { json } from '../support/http.js';
import { countedService, startTestBot, tempDir, waitFor, type TestBot } from './harness.js';

const SECRET = 'sentry-client-secret-0123456789abcdef';
const LOGFIRE_SECRET = 'logfire-shared-secret-0123456789';
const fixture = (path: string) => JSON.parse(readFileSync(new URL(`../fixtures/${path}`, import.meta.url), 'utf8'));
const sign = (body: string, secret = SECRET) => createHmac('sha256', secret).update(body).digest('hex');

/** A Sentry event fixture with its exception replaced, as another error of the same shape. */
function sentryEvent(
  file: string,
  change: {
    type: string;
    value: string;
    platform?: string;
    eventId?: string;
    issueId?: string;
    tags?: [string, string][];
  },
) {
  const payload = fixture(file);
  const event = payload.data.error ?? payload.data.event;
  event.exception.values[0].type = change.type;
  event.exception.values[0].value = change.value;
  event.exception.values[0].stacktrace.frames.push({
    filename: 'app/billing.py',
    abs_path: '/srv/app/billing.py',
    lineno: 42,
    in_app: true,
    function: 'charge',
  });
  event.title = `${change.type}: ${change.value}`;
  event.platform = change.platform ?? event.platform;
  event.event_id = change.eventId ?? randomUUID().replace(/-/g, '');
  event.issue_id = change.issueId ?? String(Math.floor(Math.random() * 1e9));
  event.contexts.trace = { trace_id: '4bf92f3577b34da6a3ce929d0e0e4736', span_id: '00f067aa0ba902b7' };
  if (change.tags) event.tags = change.tags;
  return payload;
}

describe('Sentry and Logfire webhooks through healbot serve, routed by the matrix', () => {
  const dir = tempDir();
  const github = new GitHubApiServer({ repo: 'acme/shop' });
  const db = countedService(dir.path, 'db', { auto: ['restart', 'start'] });
  const api = countedService(dir.path, 'api');
  let bot: TestBot;
  const reports: HealReport[] = [];

  beforeAll(async () => {
    await github.start();
    bot = await startTestBot({
      services: { api: { ...api.config, dependsOn: [] }, db: db.config },
      sentry: { clientSecret: SECRET, projects: { '1': 'api', 'front-end': 'api', bar: 'api' } },
      logfire: { secret: LOGFIRE_SECRET },
      github: { repo: 'acme/shop', token: github.token, apiUrl: github.apiUrl },
      oncall: ['@oncall-ana'],
      healing: { approvers: ['U0ONCALL'] },
    });
    bot.bot.engine.subscribe((event) => {
      if (event.type === 'done') reports.push(event.report);
    });
  });
  afterAll(async () => {
    await bot?.close();
    await github.close();
    dir.cleanup();
  });

  const deliver = (resource: string, payload: unknown, headers: Record<string, string> = {}) => {
    const body = typeof payload === 'string' ? payload : JSON.stringify(payload);
    return fetch(`${bot.url}/webhooks/sentry`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'request-id': randomUUID(),
        'sentry-hook-resource': resource,
        'sentry-hook-timestamp': String(Math.floor(Date.now() / 1000)),
        'sentry-hook-signature': sign(body),
        ...headers,
      },
      body,
    });
  };
  const reportFor = (incidentId: string, timeoutMs?: number) =>
    waitFor(() => reports.find((r) => r.incidentId === incidentId), `incident ${incidentId} to end`, timeoutMs);

  it('opens a GitHub issue for the documented error delivery (an unknown error), and counts a later occurrence on it', async () => {
    const res = await deliver('error', fixture('sentry/error.json'));
    expect(res.status).toBe(202);
    const body = await json(res);
    expect(body.errors[0]).toMatchObject({ result: 'routed', service: 'api', category: 'unknown', action: 'issue' });
    const report = await reportFor(body.errors[0].incidentId);
    expect(github.issues).toHaveLength(1);
    const issue = github.issues[0];
    expect(issue.title).toContain('ReferenceError: blooopy is not defined');
    expect(issue.labels.map((l) => l.name)).toEqual(['healbot', 'error:unknown']);
    expect(issue.body).toContain(
      'https://sentry.io/organizations/test-org/issues/1170820242/events/bb78c1407cea4519aa397afc059c793d/',
    );
    expect(issue.body).toContain('`/runner:3`');
    expect(report.summary).toContain(
      `Opened issue #${issue.number}: https://github.com/acme/shop/issues/${issue.number}`,
    );

    const again = fixture('sentry/error.json');
    again.data.error.event_id = 'cc78c1407cea4519aa397afc059c793e';
    const second = await json(await deliver('error', again));
    const counted = await reportFor(second.errors[0].incidentId);
    expect(github.issues).toHaveLength(1);
    expect(issue.comments).toHaveLength(1);
    expect(issue.comments[0].body).toContain('occurrence 2');
    expect(counted.summary).toContain(`counted on issue #${issue.number} (occurrence 2)`);
    expect(await bot.bot.store.getIncident(second.errors[0].incidentId)).toMatchObject({
      status: 'closed',
      source: 'sentry',
    });
  });

  it('refuses a forged delivery with 401 and routes nothing', async () => {
    const body = JSON.stringify(fixture('sentry/issue.json'));
    const before = github.requests.length;
    const forged = await deliver('issue', body, { 'sentry-hook-signature': sign(body, 'not-the-secret') });
    expect(forged.status).toBe(401);
    expect((await json(forged)).error).toMatch(/Sentry-Hook-Signature/);
    const unsigned = await fetch(`${bot.url}/webhooks/sentry`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'request-id': randomUUID(), 'sentry-hook-resource': 'issue' },
      body,
    });
    expect(unsigned.status).toBe(401);
    const tampered = await deliver('issue', body, {
      'sentry-hook-signature': sign(body.replace('front-end', 'back-end')),
    });
    expect(tampered.status).toBe(401);
    expect(github.requests.length).toBe(before);
  });

  it('answers a replayed Request-ID with 409 and routes it once', async () => {
    const payload = sentryEvent('sentry/error.json', {
      type: 'ZeroDivisionError',
      value: 'division by zero',
      platform: 'python',
    });
    const id = randomUUID();
    const first = await deliver('error', payload, { 'request-id': id });
    const replay = await deliver('error', payload, { 'request-id': id });
    expect(first.status).toBe(202);
    expect(replay.status).toBe(409);
    expect((await json(replay)).error).toContain(id);
    // The same event under a new Request-ID (Sentry sends error and event_alert for one event) is a duplicate, not a second incident.
    const sameEvent = await json(await deliver('error', payload));
    expect(sameEvent.errors[0].result).toBe('duplicate');
  });

  it('refuses malformed deliveries with 400 naming what is wrong', async () => {
    const notJson = await deliver('error', '{"action": "created", ');
    expect(notJson.status).toBe(400);
    expect((await json(notJson)).error).toMatch(/malformed JSON/);
    const wrongShape = await deliver('error', { action: 'created', data: {} });
    expect(wrongShape.status).toBe(400);
    expect((await json(wrongShape)).error).toMatch(/not a Sentry "error" webhook: data\.error/);
    const noResource = await deliver('error', fixture('sentry/error.json'), { 'sentry-hook-resource': '' });
    expect(noResource.status).toBe(400);
  });

  it('triggers the fix workflow with repository_dispatch for a high-confidence code error, with file, line and trace id', async () => {
    const payload = sentryEvent('sentry/event-alert.json', {
      type: 'ModuleNotFoundError',
      value: "No module named 'stripe'",
      platform: 'python',
    });
    const body = await json(await deliver('event_alert', payload));
    expect(body.errors[0]).toMatchObject({ result: 'routed', category: 'import_error', action: 'dispatch' });
    expect(body.errors[0].confidence).toBeGreaterThanOrEqual(0.85);
    const report = await reportFor(body.errors[0].incidentId);
    expect(github.dispatches.at(-1)).toEqual({
      event_type: 'error-detected',
      client_payload: {
        error_message: "No module named 'stripe'",
        file: 'app/billing.py',
        line: 42,
        trace_id: '4bf92f3577b34da6a3ce929d0e0e4736',
        service: 'api',
        incident: body.errors[0].incidentId,
      },
    });
    expect(report.summary).toContain('repository_dispatch error-detected on acme/shop');
    expect(report.summary).toContain(`${github.apiUrl}/acme/shop/actions?query=event%3Arepository_dispatch`);
  });

  it('heals the dependency a "connection refused" names instead of blaming the code', async () => {
    const payload = sentryEvent('sentry/error.json', {
      type: 'redis.exceptions.ConnectionError',
      value: 'Error 111 connecting to db:6379. Connection refused.',
      platform: 'python',
    });
    const body = await json(await deliver('error', payload));
    expect(body.errors[0]).toMatchObject({ category: 'infrastructure', action: 'heal', service: 'api' });
    const report = await reportFor(body.errors[0].incidentId, 30_000);
    expect(db.runs()).toBe(1);
    expect(api.runs()).toBe(0);
    expect(report.summary).toMatch(/^Healing db \(incident inc_[0-9a-f]+\)/);
    expect(report.outcome).toBe('healed');
  });

  it('alerts only on a timeout, touching neither GitHub nor the service', async () => {
    const before = github.requests.length;
    const payload = sentryEvent('sentry/error.json', {
      type: 'requests.exceptions.ReadTimeout',
      value: "HTTPSConnectionPool(host='api.stripe.com', port=443): Read timed out. (read timeout=10)",
      platform: 'python',
    });
    const body = await json(await deliver('error', payload));
    expect(body.errors[0]).toMatchObject({ category: 'timeout', action: 'alert' });
    const report = await reportFor(body.errors[0].incidentId);
    expect(report.summary).toMatch(/^Alert only \(timeout\): nothing automated\. Sentry: https:\/\/sentry\.io\//);
    expect(github.requests.length).toBe(before);
  });

  it('blocks automation on a security error: mentions the on-call and pauses healing until /heal resume', async () => {
    const payload = sentryEvent('sentry/error.json', {
      type: 'jwt.exceptions.InvalidSignatureError',
      value: 'Signature verification failed',
      platform: 'python',
    });
    const body = await json(await deliver('error', payload));
    expect(body.errors[0]).toMatchObject({ category: 'security', action: 'block' });
    const report = await reportFor(body.errors[0].incidentId);
    expect(report.escalation).toBe('@oncall-ana');
    expect(report.summary).toContain('paused until someone runs /heal resume api');
    expect(await bot.bot.store.isPaused('api')).toBe(true);
    const heal = await bot.bot.engine.heal({ service: 'api', source: 'api' });
    expect(heal.outcome).toBe('escalated');
    expect(heal.escalation).toContain('healing of api is paused');
    expect(api.runs()).toBe(0);
    await bot.bot.engine.resume('api', { platform: 'slack', id: 'U0ONCALL' });
    expect(await bot.bot.store.isPaused('api')).toBe(false);
  });

  it('routes issue and metric alert deliveries, and ignores what is not an error', async () => {
    const issue = await json(await deliver('issue', fixture('sentry/issue.json')));
    expect(issue.errors[0]).toMatchObject({ result: 'routed', service: 'api' });
    const resolvedIssue = fixture('sentry/issue.json');
    resolvedIssue.action = 'resolved';
    expect(await json(await deliver('issue', resolvedIssue))).toMatchObject({
      accepted: 0,
      ignored: 'issue resolved: nothing to route',
    });
    const metric = await json(await deliver('metric_alert', fixture('sentry/metric-alert.json')));
    expect(metric.errors[0]).toMatchObject({ result: 'routed', service: 'api' });
    const installation = await json(await deliver('installation', { action: 'created', data: {} }));
    expect(installation.ignored).toMatch(/installation/);
    await bot.errorRouter.idle();
  });

  it('maps by the service tag, and says when nothing maps', async () => {
    const tagged = sentryEvent('sentry/error.json', {
      type: 'ZeroDivisionError',
      value: 'division by zero',
      tags: [['service', 'db']],
    });
    tagged.data.error.project = 999;
    expect((await json(await deliver('error', tagged))).errors[0]).toMatchObject({ result: 'routed', service: 'db' });
    const stray = sentryEvent('sentry/error.json', { type: 'ZeroDivisionError', value: 'division by zero', tags: [] });
    stray.data.error.project = 999;
    expect((await json(await deliver('error', stray))).errors[0]).toMatchObject({
      result: 'unmatched',
      reason: 'project "999" is not mapped to a configured service (sentry.projects)',
    });
    await bot.errorRouter.idle();
  });

  describe('Logfire', () => {
    const post = (payload: unknown, init: { query?: string; token?: string | null } = {}) =>
      fetch(`${bot.url}/webhooks/logfire${init.query ?? ''}`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(init.token === null ? {} : { authorization: `Bearer ${init.token ?? LOGFIRE_SECRET}` }),
        },
        body: typeof payload === 'string' ? payload : JSON.stringify(payload),
      });

    /** A Logfire alert of one ZeroDivisionError row with this trace id. */
    const divisionByZero = (traceId: string) => ({
      text: 'Logfire alert "checkout" matched 1 row',
      blocks: [
        {
          type: 'section',
          text: {
            type: 'mrkdwn',
            text: `trace_id: ${traceId}\nexception_type: ZeroDivisionError\nexception_message: division by zero`,
          },
        },
      ],
    });

    it('routes each matched row with its service, trace id and the link to the alert run', async () => {
      const before = github.dispatches.length;
      const body = await json(await post(fixture('logfire/alert.json')));
      expect(body.accepted).toBe(2);
      expect(
        body.errors.map((e: { service: string; category: string; action: string }) => [
          e.service,
          e.category,
          e.action,
        ]),
      ).toEqual([
        ['api', 'import_error', 'dispatch'],
        ['api', 'import_error', 'dispatch'],
      ]);
      const report = await reportFor(body.errors[1].incidentId);
      expect(github.dispatches.slice(before).map((d) => d.client_payload?.trace_id)).toEqual([
        '0195a1f3c2d84e6b9f0a7c5d3e2b1a90',
        '0195a1f3c2d84e6b9f0a7c5d3e2b1a91',
      ]);
      expect(report.summary).toContain('Logfire: https://logfire.pydantic.dev/acme/shop/alerts/3f1c2b7e?run=8812');
    });

    it('takes the shared secret as a bearer token or on the URL, and refuses anything else with 401', async () => {
      const payload = divisionByZero('0195ffff');
      expect((await post(payload, { token: 'wrong-secret-0123456789abcdef' })).status).toBe(401);
      expect((await post(payload, { token: null })).status).toBe(401);
      expect((await post(payload, { token: null, query: '?secret=nope' })).status).toBe(401);
      const viaUrl = await post(payload, { token: null, query: `?secret=${LOGFIRE_SECRET}&service=api` });
      expect(viaUrl.status).toBe(202);
      expect((await json(viaUrl)).errors[0]).toMatchObject({ result: 'routed', service: 'api', category: 'unknown' });
      const replay = await json(await post(payload, { query: '?service=api' }));
      expect(replay).toMatchObject({ accepted: 0, errors: [{ result: 'duplicate' }] });
      await bot.errorRouter.idle();
    });

    it('routes two identical deliveries racing each other once: the other is a duplicate of the same incident', async () => {
      const payload = divisionByZero('0195eeee');
      const bodies = await Promise.all([0, 1].map(async () => json(await post(payload, { query: '?service=api' }))));
      const errors = bodies.map((body) => body.errors[0]);
      expect(errors.map((e: { result: string }) => e.result).sort()).toEqual(['duplicate', 'routed']);
      expect(errors[0].incidentId).toEqual(expect.any(String));
      expect(errors[1].incidentId).toBe(errors[0].incidentId);
      await bot.errorRouter.idle();
    });

    it('refuses malformed alerts with 400', async () => {
      expect((await post('{"text": ')).status).toBe(400);
      const noText = await post({ blocks: [] });
      expect(noText.status).toBe(400);
      expect((await json(noText)).error).toMatch(/not a Logfire alert webhook \(Slack format\): text/);
    });
  });
});
