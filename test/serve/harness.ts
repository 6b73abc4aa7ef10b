/**
 * Helpers for the serve, server and monitor tests: a switchable backend on loopback, a command
 * runtime whose restarts are counted in a file, and an in-process `healbot serve`.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseConfig } from '../../src/config/load.js';
import { startServe, type RunningHealbot, type ServeOptions } from '../../src/serve.js';
export { waitFor } from '../support/wait.js';

export const TOKEN = 'test-token-0123456789abcdef';
/** The named API credential `ops` every test bot accepts; it approves where `api:ops` is listed. */
export const API_TOKEN = 'api-token-ops-0123456789abcdef';

/** An HTTP backend on 127.0.0.1 whose /ready answers `status` (changeable). */
export async function startBackend(): Promise<{
  url: string;
  port: number;
  status: number;
  server: Server;
  close(): Promise<void>;
}> {
  const backend = {
    status: 200,
    url: '',
    port: 0,
    server: undefined as unknown as Server,
    close: async () => {
      backend.server.closeAllConnections();
      await new Promise<void>((resolve) => backend.server.close(() => resolve()));
    },
  };
  backend.server = createServer((_req, res) => res.writeHead(backend.status).end(String(backend.status)));
  await new Promise<void>((resolve) => backend.server.listen(0, '127.0.0.1', resolve));
  backend.port = (backend.server.address() as { port: number }).port;
  backend.url = `http://127.0.0.1:${backend.port}/ready`;
  return backend;
}

/**
 * A service that is "down" until its restart ran: the restart appends a line to a file, the
 * status command and the probe pass once the file exists. `runs()` counts restarts.
 */
export function countedService(dir: string, name: string, policy: Record<string, unknown> = {}) {
  const file = join(dir, `${name}-runs.txt`);
  const node = process.execPath;
  const exists = `process.exit(require('fs').existsSync(${JSON.stringify(file)}) ? 0 : 1)`;
  return {
    file,
    runs: () => (existsSync(file) ? readFileSync(file, 'utf8').split('\n').filter(Boolean).length : 0),
    config: {
      command: {
        restart: [node, '-e', `require('fs').appendFileSync(${JSON.stringify(file)}, 'restart\\n')`],
        status: [node, '-e', exists],
      },
      probes: [{ name: 'internal', command: [node, '-e', exists] }],
      policy,
    },
  };
}

export function tempDir(): { path: string; cleanup(): void } {
  const path = mkdtempSync(join(tmpdir(), 'healbot-serve-'));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export interface TestBot extends RunningHealbot {
  url: string;
  logs: string[];
  /** fetch against the bot with the bearer token. */
  call(path: string, init?: RequestInit & { token?: string | null; json?: unknown }): Promise<Response>;
}

/** An in-process `healbot serve` on a free loopback port, logs captured. */
export async function startTestBot(raw: Record<string, unknown>, options: ServeOptions = {}): Promise<TestBot> {
  const config = parseConfig({
    server: { listen: '127.0.0.1:0', token: TOKEN, apiTokens: [{ name: 'ops', token: API_TOKEN }] },
    ...raw,
  });
  const logs: string[] = [];
  const running = await startServe(config, {
    console: false,
    monitoring: false,
    logWrite: (line) => logs.push(line),
    logLevel: 'debug',
    ...options,
  });
  const url = running.url!;
  return {
    ...running,
    url,
    logs,
    call(path, init = {}) {
      const { token = TOKEN, json, ...rest } = init;
      const headers = new Headers(rest.headers);
      if (token !== null) headers.set('authorization', `Bearer ${token}`);
      if (json !== undefined) headers.set('content-type', 'application/json');
      return fetch(url + path, { ...rest, headers, body: json !== undefined ? JSON.stringify(json) : rest.body });
    },
  };
}

/** An Alertmanager webhook payload (version 4) with the given alerts. */
export function alertmanagerPayload(
  alerts: {
    labels: Record<string, string>;
    status?: 'firing' | 'resolved';
    fingerprint?: string;
    startsAt?: string;
    summary?: string;
  }[],
) {
  return {
    version: '4',
    groupKey: '{}:{alertname="test"}',
    truncatedAlerts: 0,
    status: alerts.some((a) => (a.status ?? 'firing') === 'firing') ? 'firing' : 'resolved',
    receiver: 'healbot',
    groupLabels: {},
    commonLabels: {},
    commonAnnotations: {},
    externalURL: 'http://127.0.0.1:9093',
    alerts: alerts.map((a, i) => ({
      status: a.status ?? 'firing',
      labels: { alertname: 'Down', ...a.labels },
      annotations: { summary: a.summary ?? `${a.labels.service ?? 'something'} is down` },
      startsAt: a.startsAt ?? '2025-01-01T00:00:00Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://127.0.0.1:9090/graph',
      fingerprint: a.fingerprint ?? `fp${i}`,
    })),
  };
}
