import { createServer, type Server } from 'node:http';
import { readFileSync } from 'node:fs';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, configDir, runCli } from '../support/cli.js';

/** Starts `healbot serve`, waits for its startup line on stderr, stops it, and returns everything it wrote. */
async function serveUntilStarted(args: string[]): Promise<string> {
  const child = execa(process.execPath, [CLI, 'serve', ...args], {
    reject: false,
    stdin: 'ignore',
    env: { HEALING_ENABLED: 'true' },
  });
  let stderr = '';
  await new Promise<void>((resolve) => {
    child.stderr!.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
      if (stderr.includes('healbot serve started')) resolve();
    });
    void child.then(() => resolve());
  });
  await new Promise((resolve) => setTimeout(resolve, 100));
  child.kill('SIGTERM');
  await child;
  return stderr;
}

const oneLine = (result: { exitCode: number; stderr: string }) => {
  expect(result.exitCode).toBe(2);
  expect(result.stderr.trim().split('\n')).toHaveLength(1);
  expect(result.stderr).not.toMatch(/internal error|    at /);
};

describe('first-run errors say what to do', () => {
  const dir = configDir();
  let http: Server;
  let port = 0;

  beforeAll(async () => {
    http = createServer((_req, res) => res.end('ok'));
    await new Promise<void>((resolve) => http.listen(0, '127.0.0.1', resolve));
    port = (http.address() as { port: number }).port;
  });
  afterAll(() => {
    http.close();
    dir.cleanup();
  });

  it('check rejects what serve rejects: Slack socket mode without appToken, a port out of range, an unusable store path', async () => {
    const file = dir.write('bad.yml', {
      services: { api: {} },
      slack: { botToken: 'xoxb-1-2-first-run' },
      server: { listen: '127.0.0.1:99999', token: 'first-run-token-0123456789' },
      store: { path: `${dir.write('plain-file', 'x')}/healbot.db` },
    });
    const check = await runCli(['check', '--config', file]);
    oneLine(check);
    expect(check.stderr).toContain('slack.appToken: is required in socket mode');
    expect(check.stderr).toContain('server.listen: port 99999 is out of range');
    expect(check.stderr).toMatch(/store\.path: .* is a file, not a directory/);
    const serve = await runCli(['serve', '--config', file], { timeoutMs: 30_000 });
    oneLine(serve);
    expect(serve.stderr).toContain('slack.appToken: is required in socket mode');
  });

  it('serve says in one line, exit 2, when --listen is nonsense or the port is taken', async () => {
    const file = dir.write('ok.yml', {
      services: { api: {} },
      server: { listen: '127.0.0.1:0', token: 'first-run-token-0123456789' },
    });
    const nonsense = await runCli(['serve', '--config', file, '--listen', 'nonsense'], { timeoutMs: 30_000 });
    oneLine(nonsense);
    expect(nonsense.stderr).toContain('--listen must be host:port');
    const taken = await runCli(['serve', '--config', file, '--listen', `127.0.0.1:${port}`], { timeoutMs: 30_000 });
    oneLine(taken);
    expect(taken.stderr).toContain(`--listen 127.0.0.1:${port}: the port is already in use`);
  });

  it('serve names its open doors in one startup line, and warns when none is open', async () => {
    const none = await serveUntilStarted(['--config', dir.write('closed.yml', { services: { api: {} } })]);
    expect(none).toContain('healbot serve started; doors: none');
    expect(none).toContain('no door is open');
    const open = await serveUntilStarted([
      '--config',
      dir.write('open.yml', {
        services: { api: {} },
        server: { listen: '127.0.0.1:0', token: 'first-run-token-0123456789' },
      }),
    ]);
    const started = open.split('\n').find((line) => line.includes('healbot serve started'))!;
    expect(JSON.parse(started).msg).toMatch(/doors: HTTP http:\/\/127\.0\.0\.1:\d+ /);
    expect(open).not.toContain('no door is open');
  });

  it('diagnose shows a runtime it cannot read, with lowered confidence, and --json keeps rootCause.layer as null', async () => {
    const file = dir.write('blind.yml', {
      services: {
        api: {
          docker: { container: 'api', host: `unix://${dir.path('no-docker.sock')}` },
          probes: [{ name: 'internal', http: `http://127.0.0.1:${port}/ready` }],
        },
      },
    });
    const text = await runCli(['diagnose', 'api', '--config', file]);
    expect(text.exitCode).toBe(0);
    expect(text.stdout).toMatch(/runtime of api could not be read: /);
    expect(text.stdout).not.toMatch(/confidence 0\.95/);
    const asJson = await runCli(['diagnose', 'api', '--config', file, '--json']);
    expect(asJson.json.rootCause.confidence).toBeLessThan(0.6);
    expect(asJson.json.rootCause).toHaveProperty('layer', null);
    expect(asJson.json.runtime.api.error).toBeTruthy();
  });

  it('names the known services for a built-in name, exit 2', async () => {
    const file = dir.write('two.yml', { services: { api: {}, db: {} } });
    for (const command of ['diagnose', 'heal']) {
      const result = await runCli([command, 'constructor', '--config', file]);
      oneLine(result);
      expect(result.stderr).toContain('unknown service "constructor"');
      expect(result.stderr).toContain('Known services: api, db');
    }
  });

  it('prints its version, and help mentions exit codes and HEALING_ENABLED', async () => {
    const version = await runCli(['--version']);
    expect(version.exitCode).toBe(0);
    expect(version.stdout.trim()).toBe(
      JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')).version,
    );
    for (const args of [['--help'], ['heal', '--help']]) {
      const help = await runCli(args);
      expect(help.exitCode).toBe(0);
      expect(help.stdout).toMatch(/Exit codes:[\s\S]*2 +usage or configuration error/);
      expect(help.stdout).toContain('HEALING_ENABLED=false');
    }
  });
});
