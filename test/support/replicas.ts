/**
 * Several `healbot serve` processes (the built CLI) on one Postgres store, and the real
 * dockerd: a stopped container behind a probe, for failover tests and the failover benchmark.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type Dockerode from 'dockerode';
import { execa, type ResultPromise } from 'execa';
import { stringify } from 'yaml';
import { freePort } from '../../src/free-port.js';
import { CLI } from './cli.js';
import { commands, runContainer, waitForContainer } from './images.js';
export { waitFor } from './wait.js';

export const WEBHOOK_TOKEN = 'failover-webhook-token-0123456789abcdef';
export const OPS_TOKEN = 'failover-ops-token-0123456789abcdef';

export interface Replica {
  identity: string;
  url: string;
  process: ResultPromise;
  output(): string;
  call(
    path: string,
    init?: { method?: string; json?: unknown; token?: string },
  ): Promise<{ status: number; body: any }>;
}

/** A container serving `GET /ready` on a loopback port, killed (exit 137): it needs a start that only an approver may allow. */
export async function killedService(docker: Dockerode, name: string): Promise<{ port: number }> {
  const port = await freePort();
  await runContainer(docker, { name, cmd: commands.readyServer(port) });
  await waitForContainer(docker, name, (info) => info.State.Running);
  await docker.getContainer(name).kill();
  await waitForContainer(docker, name, (info) => !info.State.Running);
  return { port };
}

/** The configuration every replica shares but for its identity and port. */
export function replicaConfig(options: {
  storeUrl: string;
  identity: string;
  port: number;
  leaseDuration: string;
  container: string;
  dockerHost: string;
  servicePort: number;
}) {
  return {
    store: { url: options.storeUrl, leader: { identity: options.identity, leaseDuration: options.leaseDuration } },
    server: {
      listen: `127.0.0.1:${options.port}`,
      token: WEBHOOK_TOKEN,
      apiTokens: [{ name: 'ops', token: OPS_TOKEN }],
    },
    healing: { approvers: ['api:ops'], verifyTimeout: '30s', approvalTimeout: '10m' },
    monitor: { interval: '1h', dockerEvents: false },
    services: {
      web: {
        docker: { container: options.container, host: options.dockerHost },
        probes: [{ name: 'internal', http: `http://127.0.0.1:${options.servicePort}/ready`, timeoutMs: 1000 }],
      },
    },
  };
}

/** Starts `healbot serve` with `config` (written to `dir`) and waits until it answers /healthz. */
export async function startReplica(dir: string, identity: string, config: object): Promise<Replica> {
  const file = join(dir, `${identity}.yml`);
  writeFileSync(file, stringify(config));
  const url = `http://${(config as { server: { listen: string } }).server.listen}`;
  let output = '';
  const child = execa(process.execPath, [CLI, 'serve', '--config', file], {
    reject: false,
    stdin: 'ignore',
    env: { LOG_LEVEL: 'info', HEALING_ENABLED: 'true' },
  });
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const call: Replica['call'] = async (path, init = {}) => {
    const response = await fetch(url + path, {
      method: init.method ?? (init.json === undefined ? 'GET' : 'POST'),
      headers: {
        authorization: `Bearer ${init.token ?? WEBHOOK_TOKEN}`,
        ...(init.json === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: init.json === undefined ? undefined : JSON.stringify(init.json),
      signal: AbortSignal.timeout(10_000),
    });
    const text = await response.text();
    let body: unknown = text;
    try {
      body = JSON.parse(text);
    } catch {
      // Not JSON (metrics): the text is the body.
    }
    return { status: response.status, body };
  };
  const replica: Replica = { identity, url, process: child, output: () => output, call };
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`replica ${identity} exited (${child.exitCode}):\n${output}`);
    const up = await call('/healthz').catch(() => undefined);
    if (up?.status === 200) return replica;
    if (Date.now() > deadline) throw new Error(`replica ${identity} did not answer /healthz within 60 s:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** True once the replica leads: its /readyz is the engine's, not a standby's. */
export async function leads(replica: Replica): Promise<boolean> {
  const ready = await replica.call('/readyz').catch(() => undefined);
  return ready?.status === 200 && typeof ready.body === 'object' && ready.body !== null && !ready.body.standby;
}

/** An Alertmanager webhook body with one firing alert for `web`. */
export function firingAlert(alertname: string, summary: string) {
  const labels = { alertname, service: 'web', severity: 'critical' };
  return {
    version: '4',
    status: 'firing',
    receiver: 'healbot',
    groupKey: `{}:{alertname="${alertname}"}`,
    groupLabels: { alertname },
    commonLabels: labels,
    commonAnnotations: { summary },
    externalURL: 'http://127.0.0.1:9093',
    alerts: [
      {
        status: 'firing',
        labels,
        annotations: { summary },
        startsAt: new Date().toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://127.0.0.1:9090/graph',
        fingerprint: `${alertname}-fingerprint`.slice(0, 16),
      },
    ],
  };
}

/** The `start` events dockerd recorded for `container` since `since` (seconds). */
export async function startEvents(docker: Dockerode, container: string, since: string): Promise<string[]> {
  const stream = (await docker.getEvents({
    since: since as unknown as number,
    until: Math.ceil(Date.now() / 1000) + 1,
    filters: { container: [container], event: ['start'] },
  })) as unknown as NodeJS.ReadableStream;
  let text = '';
  for await (const chunk of stream) text += chunk.toString();
  return text.split('\n').filter(Boolean);
}
