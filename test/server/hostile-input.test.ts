import { connect } from 'node:net';
import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { json } from '../support/http.js';
import { alertmanagerPayload, startTestBot, TOKEN, waitFor, type TestBot } from '../serve/harness.js';

/** A small deterministic generator (mulberry32), so a failing body can be reproduced from its seed. */
function random(seed: number) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return {
    next,
    int: (n: number) => Math.floor(next() * n),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)],
  };
}

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', 'valueOf'];

function nested(depth: number, leaf: string): string {
  const open = leaf === 'array' ? '['.repeat(depth) : '{"a":'.repeat(depth);
  const close = leaf === 'array' ? ']'.repeat(depth) : '}'.repeat(depth);
  return `${open}${leaf === 'array' ? '' : '1'}${close}`;
}

/** One hostile body: deep nesting, prototype keys, wrong types, huge strings, invalid UTF-8, truncated JSON. */
function hostileBody(rnd: ReturnType<typeof random>): Buffer {
  const service = rnd.pick([...PROTO_KEYS, 'api', '', 'x'.repeat(300), '../../etc/passwd', '<!channel>']);
  const valid = [
    JSON.stringify(alertmanagerPayload([{ labels: { service } }])),
    JSON.stringify({ service, summary: 'down' }),
    JSON.stringify({ decision: 'approve', by: service }),
    JSON.stringify({ state: 'alerting', ruleName: service, tags: { service } }),
  ];
  switch (rnd.int(9)) {
    case 0:
      return Buffer.from(nested(1000 + rnd.int(20_000), rnd.pick(['array', 'object'])));
    case 1: {
      // Label values nested deep: String(value) on these used to recurse until the stack ran out.
      const labels = `{"service":"api","deep":${nested(2000 + rnd.int(10_000), rnd.pick(['array', 'object']))}}`;
      return Buffer.from(`{"version":"4","alerts":[{"status":"firing","labels":${labels},"annotations":{}}]}`);
    }
    case 2: {
      const body: Record<string, unknown> = {};
      for (const key of PROTO_KEYS) body[key] = rnd.pick([{ polluted: true }, 'api', 1, null, []]);
      Object.defineProperty(body, '__proto__', { value: { service: 'api' }, enumerable: true });
      return Buffer.from(
        JSON.stringify({
          ...body,
          service,
          labels: { __proto__: 'x', constructor: 'y' },
          alerts: [{ status: 'firing', labels: { constructor: { a: 1 } } }],
        }),
      );
    }
    case 3:
      return Buffer.from(
        JSON.stringify(
          rnd.pick([
            null,
            1,
            'str',
            true,
            [],
            [1, 2],
            { service: 1 },
            { service: ['api'] },
            { alerts: 'x' },
            { alerts: [1] },
            { decision: 7 },
            { state: {} },
            { service: 'api', dryRun: 'yes' },
          ]),
        ),
      );
    case 4:
      return Buffer.from(JSON.stringify({ service, summary: 'x'.repeat(rnd.pick([10_000, 500_000, 1_100_000])) }));
    case 5: {
      const bytes = Buffer.from(rnd.pick(valid));
      for (let i = 0; i < 8; i += 1) bytes[rnd.int(bytes.length)] = rnd.pick([0xff, 0xfe, 0xc0, 0x80, 0xed, 0x00]);
      return bytes;
    }
    case 6: {
      const text = rnd.pick(valid);
      return Buffer.from(text.slice(0, rnd.int(text.length)));
    }
    case 7:
      return Buffer.from(
        JSON.stringify(alertmanagerPayload([{ labels: { service: 'api', [rnd.pick(PROTO_KEYS)]: 'x' } }])).replace(
          '"service":"api"',
          `"service":${rnd.pick(['1', 'true', 'null', '[]', '{}', '"api"'])}`,
        ),
      );
    default:
      return Buffer.from(rnd.pick(valid));
  }
}

const ENDPOINTS = [
  ['POST', '/webhooks/alertmanager'],
  ['POST', '/webhooks/grafana'],
  ['POST', '/webhooks/generic'],
  ['POST', '/webhooks/constructor'],
  ['POST', '/api/heal'],
  ['POST', '/api/approvals/apr_00000000'],
  ['POST', '/api/approvals/__proto__'],
  ['GET', '/api/incidents?limit=-1&status=__proto__&service=constructor'],
  ['GET', '/api/incidents/constructor'],
  ['GET', '/api/approvals'],
  ['PUT', '/api/heal'],
  ['GET', '/healthz'],
  ['GET', '/readyz'],
  ['GET', '/metrics'],
] as const;

/** Sends one request with raw bytes and an arbitrary content type; resolves with the status, or 0 when the server closed the connection. */
function send(port: number, method: string, path: string, body: Buffer, token: string | undefined): Promise<number> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: '127.0.0.1',
        port,
        method,
        path,
        agent: false,
        headers: {
          'content-type': 'application/json',
          'content-length': body.length,
          ...(token ? { authorization: `Bearer ${token}` } : {}),
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
        res.on('error', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve(0));
    req.end(method === 'GET' ? undefined : body);
  });
}

describe('hostile input through the HTTP server', () => {
  let bot: TestBot;
  let port: number;

  beforeAll(async () => {
    bot = await startTestBot({ services: { api: {}, db: {} }, healing: { approvalTimeout: '1m' } });
    port = Number(new URL(bot.url).port);
  });
  afterAll(async () => {
    await bot?.close();
  });

  it('answers 404 for service names that are JavaScript built-ins, and stores nothing', async () => {
    for (const service of ['constructor', '__proto__', 'toString', 'hasOwnProperty']) {
      const res = await bot.call('/api/heal', { method: 'POST', json: { service } });
      expect(res.status, service).toBe(404);
      expect((await json(res)).error).toMatch(/unknown service .*Known services: api, db/);
      const generic = await bot.call('/webhooks/generic', { method: 'POST', json: { service, summary: 'down' } });
      expect(generic.status, service).toBe(404);
    }
    expect((await bot.call('/webhooks/constructor', { method: 'POST', json: {} })).status).toBe(404);
    expect(await bot.bot.store.listIncidents()).toEqual([]);
  });

  it('refuses alert labels that are not strings, naming the label, instead of recursing into them', async () => {
    const deep = '['.repeat(10_000) + ']'.repeat(10_000);
    const body = `{"version":"4","alerts":[{"status":"firing","labels":{"service":"api","deep":${deep}},"annotations":{}}]}`;
    const res = await bot.call('/webhooks/alertmanager', {
      method: 'POST',
      body,
      headers: { 'content-type': 'application/json' },
    });
    expect(res.status).toBe(400);
    expect((await json(res)).error).toMatch(/alerts\.0\.labels\.deep: must be a string/);
    const numbers = await bot.call('/webhooks/alertmanager', {
      method: 'POST',
      json: { alerts: [{ status: 'firing', labels: { service: 'db', port: 5432, page: true } }] },
    });
    expect(numbers.status).toBe(202);
  });

  it('closes the connection after a 401 even while the client is still sending its body', async () => {
    const socket = connect(port, '127.0.0.1');
    let answer = '';
    socket.on('data', (d) => (answer += d.toString()));
    const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
    socket.write(
      'POST /api/heal HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100000\r\n\r\n{',
    );
    // Keeps trickling one byte every 100 ms until the server hangs up; on the old code that lasted minutes.
    const trickle = setInterval(() => socket.writable && socket.write(' '), 100);
    await closed;
    clearInterval(trickle);
    expect(answer).toMatch(/^HTTP\/1\.1 401/);
    expect(answer.toLowerCase()).toContain('connection: close');
  });

  it('sets header, request and keep-alive timeouts and a connection cap', () => {
    const server = bot.server!;
    expect(server.headersTimeout).toBeGreaterThan(0);
    expect(server.requestTimeout).toBeGreaterThan(0);
    expect(server.requestTimeout).toBeLessThanOrEqual(60_000);
    expect(server.keepAliveTimeout).toBeGreaterThan(0);
    expect(server.maxConnections).toBeGreaterThan(0);
    expect(server.maxConnections).toBeLessThan(10_000);
  });

  it('answers thousands of generated hostile bodies on every endpoint with 4xx, never 5xx, and stays up', async () => {
    const rnd = random(20261130);
    global.gc?.();
    const rssBefore = process.memoryUsage().rss;
    const statuses = new Map<number, number>();
    const failures: string[] = [];
    const total = 3000;
    let sent = 0;
    const worker = async () => {
      while (sent < total) {
        const i = sent++;
        const [method, path] = ENDPOINTS[i % ENDPOINTS.length];
        const body = hostileBody(rnd);
        const token = rnd.int(10) === 0 ? rnd.pick(['wrong', '', TOKEN + 'x']) : TOKEN;
        const status = await send(port, method, path, body, token);
        statuses.set(status, (statuses.get(status) ?? 0) + 1);
        if (status >= 500)
          failures.push(`#${i} ${method} ${path} → ${status}: ${body.subarray(0, 120).toString('latin1')}`);
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    await waitFor(() => Object.keys(bot.bot.engine.openIncidents()).length === 0, 'incidents to settle', 30_000);
    global.gc?.();
    const rssAfter = process.memoryUsage().rss;
    console.log(
      `fuzz: ${total} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}, rss ${Math.round(rssBefore / 2 ** 20)} MiB → ${Math.round(rssAfter / 2 ** 20)} MiB`,
    );
    expect(failures).toEqual([]);
    expect(statuses.get(0) ?? 0).toBe(0);
    expect((await bot.call('/healthz')).status).toBe(200);
    expect((await bot.call('/api/heal', { method: 'POST', json: { service: 'api' } })).status).toBe(202);
    // Incidents opened only for configured services.
    expect((await bot.bot.store.listIncidents()).filter((r) => r.service !== 'api' && r.service !== 'db')).toEqual([]);
    // RSS returns near where it started (the bodies and their parses are garbage once answered).
    expect(rssAfter - rssBefore).toBeLessThan(256 * 2 ** 20);
    const malformedLines = bot.logs.filter((l) => /malformed HTTP request|request failed/.test(l)).length;
    expect(malformedLines).toBeLessThanOrEqual(30);
  });

  it('rate limits malformed-request log lines', async () => {
    const before = bot.logs.filter((l) => l.includes('malformed HTTP request')).length;
    for (let i = 0; i < 50; i += 1) {
      await new Promise<void>((resolve) => {
        const socket = connect(port, '127.0.0.1');
        socket.on('data', () => socket.destroy());
        socket.on('close', () => resolve());
        socket.on('error', () => resolve());
        socket.write('NOT HTTP AT ALL\r\n\r\n');
      });
    }
    const after = bot.logs.filter((l) => l.includes('malformed HTTP request')).length;
    expect(after - before).toBeLessThanOrEqual(10);
    expect((await bot.call('/healthz')).status).toBe(200);
  });
});
