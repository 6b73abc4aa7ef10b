import { createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommandProbe } from '../../src/probes/command.js';
import { DnsProbe } from '../../src/probes/dns.js';
import { HttpProbe } from '../../src/probes/http.js';
import { createProbe, probeTarget } from '../../src/probes/index.js';
import { createLookup } from '../../src/probes/resolver.js';
import { splitHostPort, TcpProbe } from '../../src/probes/tcp.js';
import { classifyNetworkError } from '../../src/probes/classify.js';
import { runProbe } from '../../src/engine/diagnose.js';
import { LocalDnsServer } from '../support/dns-server.js';
import { HttpTarget } from '../support/http-target.js';

const check = (probe: {
  check(signal: AbortSignal): Promise<unknown>;
  timeoutMs: number;
  name: string;
  kind: string;
}) => runProbe('api', probe as Parameters<typeof runProbe>[1]);

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let target: HttpTarget;
let dns: LocalDnsServer;
let lookup: ReturnType<typeof createLookup>;

beforeAll(async () => {
  target = await new HttpTarget('ok').start();
  dns = await new LocalDnsServer({ 'api.internal': '127.0.0.1', 'db.internal': '127.0.0.1' }).start();
  lookup = createLookup([dns.address]);
});

afterAll(async () => {
  await target.stop();
  await dns.stop();
});

describe('HttpProbe', () => {
  it('is healthy on 200 and reports the status', async () => {
    target.mode = 'ok';
    const result = await check(new HttpProbe('ready', { url: target.readyUrl }, 2000));
    expect(result).toMatchObject({ service: 'api', name: 'ready', ok: true, status: 200, host: '127.0.0.1' });
    expect(result.ms).toBeGreaterThanOrEqual(0);
  });

  it('fails on a 5xx with errorKind status', async () => {
    target.mode = 'error';
    target.errorStatus = 502;
    const result = await check(new HttpProbe('ready', { url: target.readyUrl }, 2000));
    expect(result).toMatchObject({ ok: false, status: 502, error: 'HTTP 502', errorKind: 'status' });
  });

  it('fails on a 404 by default', async () => {
    const result = await check(new HttpProbe('ready', { url: `${target.url}/missing` }, 2000));
    expect(result).toMatchObject({ ok: false, status: 404, errorKind: 'status' });
  });

  it('expectStatus accepts a status that would otherwise fail, and refuses 200 when not listed', async () => {
    target.mode = 'error';
    target.errorStatus = 503;
    expect(await check(new HttpProbe('ready', { url: target.readyUrl, expectStatus: [503] }, 2000))).toMatchObject({
      ok: true,
      status: 503,
    });
    target.mode = 'ok';
    expect(await check(new HttpProbe('ready', { url: target.readyUrl, expectStatus: 204 }, 2000))).toMatchObject({
      ok: false,
      status: 200,
      errorKind: 'status',
    });
  });

  it('expectBody must be contained in the body', async () => {
    target.mode = 'ok';
    target.body = '{"status":"ready"}';
    expect(await check(new HttpProbe('ready', { url: target.readyUrl, expectBody: '"ready"' }, 2000))).toMatchObject({
      ok: true,
    });
    const lacking = await check(new HttpProbe('ready', { url: target.readyUrl, expectBody: 'database: up' }, 2000));
    expect(lacking).toMatchObject({ ok: false, status: 200, errorKind: 'body' });
    expect(lacking.error).toContain('database: up');
    target.body = 'ready\n';
  });

  it('times out on a backend that never answers', async () => {
    target.mode = 'hang';
    const result = await check(new HttpProbe('ready', { url: target.readyUrl }, 300));
    expect(result).toMatchObject({ ok: false, errorKind: 'timeout', error: 'timed out' });
    target.mode = 'ok';
  });

  it('reports a refused connection', async () => {
    const port = await closedPort();
    const result = await check(new HttpProbe('ready', { url: `http://127.0.0.1:${port}/ready` }, 2000));
    expect(result).toMatchObject({ ok: false, errorKind: 'refused', error: 'connection refused' });
  });

  it('reports a connection closed without an answer as reset', async () => {
    target.mode = 'close';
    const result = await check(new HttpProbe('ready', { url: target.readyUrl }, 2000));
    expect(result).toMatchObject({ ok: false, errorKind: 'reset' });
    target.mode = 'ok';
  });

  it('resolves names through the configured DNS server', async () => {
    target.mode = 'ok';
    const result = await check(
      new HttpProbe('ready', { url: `http://api.internal:${target.port}/ready` }, 2000, lookup),
    );
    expect(result).toMatchObject({ ok: true, status: 200, host: 'api.internal' });
  });

  it('a name that does not resolve is a dns failure naming the host', async () => {
    const result = await check(
      new HttpProbe('ready', { url: `http://nosuch.internal:${target.port}/ready` }, 2000, lookup),
    );
    expect(result).toMatchObject({ ok: false, errorKind: 'dns', host: 'nosuch.internal' });
    expect(result.error).toContain('nosuch.internal');
  });

  it('sends configured headers', async () => {
    const { createServer: createHttpServer } = await import('node:http');
    let seen: string | undefined;
    const server = createHttpServer((req, res) => ((seen = req.headers['x-health-token'] as string), res.end('ok')));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as { port: number };
    const result = await check(
      new HttpProbe('ready', { url: `http://127.0.0.1:${port}/`, headers: { 'x-health-token': 'abc' } }, 2000),
    );
    await new Promise<void>((resolve) => server.close(() => resolve()));
    expect(result.ok).toBe(true);
    expect(seen).toBe('abc');
  });
});

describe('TcpProbe', () => {
  it('is healthy when the port accepts connections', async () => {
    expect(await check(new TcpProbe('tcp', target.hostPort, 2000))).toMatchObject({ ok: true, host: '127.0.0.1' });
  });

  it('reports refused', async () => {
    const port = await closedPort();
    expect(await check(new TcpProbe('tcp', `127.0.0.1:${port}`, 2000))).toMatchObject({
      ok: false,
      errorKind: 'refused',
    });
  });

  it('resolves through the configured DNS server, and a missing name is a dns failure', async () => {
    expect(await check(new TcpProbe('tcp', `db.internal:${target.port}`, 2000, lookup))).toMatchObject({
      ok: true,
      host: 'db.internal',
    });
    expect(await check(new TcpProbe('tcp', `gone.internal:${target.port}`, 2000, lookup))).toMatchObject({
      ok: false,
      errorKind: 'dns',
    });
  });

  it('splits host:port and [v6]:port', () => {
    expect(splitHostPort('postgres:5432')).toEqual({ host: 'postgres', port: 5432 });
    expect(splitHostPort('[::1]:80')).toEqual({ host: '::1', port: 80 });
    expect(() => splitHostPort('postgres')).toThrow(/not host:port/);
  });
});

describe('DnsProbe', () => {
  it('resolves a name the local DNS server knows', async () => {
    expect(await check(new DnsProbe('dns', 'api.internal', 2000, lookup))).toMatchObject({
      ok: true,
      host: 'api.internal',
    });
  });

  it('NXDOMAIN is errorKind dns', async () => {
    const result = await check(new DnsProbe('dns', 'missing.internal', 2000, lookup));
    expect(result).toMatchObject({ ok: false, errorKind: 'dns', host: 'missing.internal' });
    expect(result.error).toMatch(/cannot resolve missing\.internal/);
  });

  it('a name added later resolves (no stale answer)', async () => {
    dns.set('late.internal', '127.0.0.1');
    expect(await check(new DnsProbe('dns', 'late.internal', 2000, lookup))).toMatchObject({ ok: true });
    dns.set('late.internal', undefined);
  });
});

describe('CommandProbe', () => {
  const node = process.execPath;

  it('is healthy on exit 0 and fails with the exit code otherwise', async () => {
    expect(await check(new CommandProbe('cmd', [node, '-e', 'process.exit(0)'], 5000))).toMatchObject({ ok: true });
    const failed = await check(
      new CommandProbe('cmd', [node, '-e', 'console.log("db not ready"); process.exit(3)'], 5000),
    );
    expect(failed).toMatchObject({ ok: false, errorKind: 'exit', error: 'exit 3: db not ready' });
  });

  it('passes argv with shell metacharacters literally, never through a shell', async () => {
    const literal = await check(
      new CommandProbe('cmd', [node, '-e', 'process.exit(process.argv[1]==="; rm -rf /"?0:1)', '; rm -rf /'], 5000),
    );
    expect(literal.ok).toBe(true);
    const substitution = await check(
      new CommandProbe(
        'cmd',
        [node, '-e', 'process.exit(process.argv[1]==="$(echo hi) `id` | cat > x"?0:1)', '$(echo hi) `id` | cat > x'],
        5000,
      ),
    );
    expect(substitution.ok).toBe(true);
  });

  it('a missing executable fails without throwing', async () => {
    const result = await check(new CommandProbe('cmd', ['/nonexistent/healthcheck'], 5000));
    expect(result.ok).toBe(false);
    expect(result.error).toBeTruthy();
  });

  it('a command that runs past its timeout is killed and reported as a timeout', async () => {
    const result = await check(new CommandProbe('cmd', [node, '-e', 'setTimeout(() => {}, 30000)'], 300));
    expect(result).toMatchObject({ ok: false, errorKind: 'timeout' });
  });
});

describe('createProbe and probeTarget', () => {
  it('builds the probe each config kind describes', () => {
    expect(createProbe({ name: 'a', http: 'http://a/', timeoutMs: 5000 }).kind).toBe('http');
    expect(createProbe({ name: 'a', tcp: 'a:1', timeoutMs: 5000 }).kind).toBe('tcp');
    expect(createProbe({ name: 'a', dns: 'a', timeoutMs: 5000 }).kind).toBe('dns');
    expect(createProbe({ name: 'a', command: ['true'], timeoutMs: 5000 }).kind).toBe('command');
  });

  it('an http object timeout wins over the probe timeout', () => {
    expect(createProbe({ name: 'a', http: { url: 'http://a/', timeoutMs: 750 }, timeoutMs: 5000 }).timeoutMs).toBe(750);
  });

  it('names the target of each kind', () => {
    expect(probeTarget({ name: 'a', http: { url: 'http://a:8000/ready' }, timeoutMs: 1 })).toBe('http://a:8000/ready');
    expect(probeTarget({ name: 'a', tcp: 'db:5432', timeoutMs: 1 })).toBe('db:5432');
    expect(probeTarget({ name: 'a', command: ['pg_isready', '-h', 'db'], timeoutMs: 1 })).toBe('pg_isready -h db');
  });
});

describe('classifyNetworkError', () => {
  it('looks through fetch-style causes', () => {
    const wrapped = Object.assign(new Error('fetch failed'), {
      cause: Object.assign(new Error('x'), { code: 'ECONNREFUSED' }),
    });
    expect(classifyNetworkError(wrapped).kind).toBe('refused');
  });

  it.each([
    ['ENOTFOUND', 'dns'],
    ['EAI_AGAIN', 'dns'],
    ['ECONNRESET', 'reset'],
    ['ETIMEDOUT', 'timeout'],
    ['CERT_HAS_EXPIRED', 'tls'],
    ['EHOSTUNREACH', 'refused'],
    ['EWHATEVER', 'other'],
  ])('%s is %s', (code, kind) => {
    expect(classifyNetworkError(Object.assign(new Error(code), { code })).kind).toBe(kind);
  });
});
