import { createServer, type Server } from 'node:http';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { configDir, runCli } from '../support/cli.js';

/** The CLI contract other tools depend on: exit codes, one-line errors, the --json shape. */
describe('healbot CLI', () => {
  const dir = configDir();
  let server: Server;
  let port = 0;
  let answer = 200;

  beforeAll(async () => {
    server = createServer((_req, res) => res.writeHead(answer).end('ok'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => {
    server.close();
    dir.cleanup();
  });

  const config = () => ({
    services: {
      api: { probes: [{ name: 'internal', http: `http://127.0.0.1:${port}/ready` }], dependsOn: ['db'] },
      db: { probes: [{ name: 'internal', tcp: `127.0.0.1:${port}` }] },
    },
  });

  it('check accepts the issue example as it is', async () => {
    const file = fileURLToPath(new URL('../fixtures/issue-example.yml', import.meta.url));
    const result = await runCli(['check', '--config', file]);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/ok \(2 services: api, db\)/);
  });

  it('check rejects a dependency cycle, printing it, with exit 2 and one line', async () => {
    const file = dir.write('cycle.yml', { services: { web: { dependsOn: ['api'] }, api: { dependsOn: ['web'] } } });
    const result = await runCli(['check', '--config', file]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(result.stderr).toMatch(/dependency cycle: (web → api → web|api → web → api)/);
  });

  it('check names the path of a wrong type', async () => {
    const file = dir.write('types.yml', {
      services: {
        api: {
          probes: [
            { name: 'a', http: 'http://x/' },
            { name: 'b', http: 42 },
          ],
        },
      },
    });
    const result = await runCli(['check', '--config', file]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('services.api.probes[1].http');
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it('check rejects shell metacharacters in names', async () => {
    const file = dir.write('unsafe.yml', { services: { api: { docker: { container: 'x; rm -rf /' } } } });
    const result = await runCli(['check', '--config', file]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('services.api.docker.container');
  });

  it('broken YAML is a config error with its line', async () => {
    const file = dir.write('broken.yml', 'services:\n  api: [unclosed\n');
    const result = await runCli(['check', '--config', file]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/line \d+/);
  });

  it('a missing config file is a usage error naming the file', async () => {
    const result = await runCli(['diagnose', 'api', '--config', dir.path('nope.yml')]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/nope\.yml.*file not found/);
  });

  it('an unknown service exits 2 and lists the known ones', async () => {
    const result = await runCli(['diagnose', 'apj', '--config', dir.write('ok.yml', config())]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/unknown service "apj".*Did you mean api.*Known services: api, db/);
  });

  it('an unknown command or option exits 2', async () => {
    expect((await runCli(['frobnicate'])).exitCode).toBe(2);
    expect((await runCli(['diagnose', 'api', '--nope'])).exitCode).toBe(2);
  });

  it('diagnose --json prints the contract object, exit 0 even when the service is down', async () => {
    answer = 503;
    const result = await runCli(['diagnose', 'api', '--config', dir.write('ok.yml', config()), '--json']);
    answer = 200;
    expect(result.exitCode).toBe(0);
    expect(result.json).toMatchObject({
      service: 'api',
      rootCause: { kind: 'service_unhealthy', layer: 'internal' },
      probes: expect.arrayContaining([
        expect.objectContaining({ service: 'api', name: 'internal', ok: false, status: 503 }),
        expect.objectContaining({ service: 'db', name: 'internal', ok: true }),
      ]),
    });
    expect(typeof result.json.rootCause.confidence).toBe('number');
    expect(Array.isArray(result.json.rootCause.evidence)).toBe(true);
    expect(result.json.plan[0]).toMatchObject({ target: 'api', risk: 'manual' });
    expect(result.json.outcome).toBeUndefined();
  });

  it('heal --json on a healthy service changes nothing: outcome not_needed', async () => {
    const result = await runCli(['heal', 'api', '--config', dir.write('ok.yml', config()), '--yes', '--json']);
    expect(result.exitCode).toBe(0);
    expect(result.json).toMatchObject({ rootCause: { kind: 'healthy' }, plan: [], actions: [], outcome: 'not_needed' });
  });

  it('heal without --json prints the path, the root cause and the summary', async () => {
    const result = await runCli(['heal', 'api', '--config', dir.write('ok.yml', config())]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/path: internal ✓ → db ✓/);
    expect(result.stdout).toMatch(/not_needed: api is healthy; nothing was restarted/);
  });
});
