/**
 * A real Alertmanager for tests: Debian's prometheus-alertmanager on 127.0.0.1 with a temporary
 * config whose only receiver is a webhook to healbot (bearer token set), short grouping times
 * and clustering off, so it never touches the network. Install it with .ci/install-alertmanager.sh.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort } from '../../src/free-port.js';

export const ALERTMANAGER_PATH = '/usr/bin/prometheus-alertmanager';

export interface Alertmanager {
  url: string;
  /** POST /api/v2/alerts */
  pushAlerts(
    alerts: {
      labels: Record<string, string>;
      annotations?: Record<string, string>;
      startsAt?: string;
      endsAt?: string;
    }[],
  ): Promise<void>;
  /** What it logged, for failure messages. */
  output(): string;
  stop(): Promise<void>;
}

/** Why Alertmanager cannot run here, or undefined when it can. */
export function alertmanagerUnavailable(): string | undefined {
  if (!existsSync(ALERTMANAGER_PATH))
    return `Alertmanager is not installed at ${ALERTMANAGER_PATH} (run .ci/install-alertmanager.sh)`;
  return undefined;
}

export interface AlertmanagerOptions {
  /** healbot's webhook URL, e.g. http://127.0.0.1:PORT/webhooks/alertmanager */
  webhookUrl: string;
  token: string;
  /** @defaultValue '100ms' */
  groupWait?: string;
  /** @defaultValue '1s' */
  groupInterval?: string;
  /** Labels alerts are grouped by. @defaultValue ['service'] */
  groupBy?: string[];
}

/** Starts Alertmanager and waits until its API answers. */
export async function startAlertmanager(options: AlertmanagerOptions): Promise<Alertmanager> {
  const dir = mkdtempSync(join(tmpdir(), 'healbot-alertmanager-'));
  const port = await freePort();
  const configFile = join(dir, 'alertmanager.yml');
  writeFileSync(
    configFile,
    stringify({
      route: {
        receiver: 'healbot',
        group_by: options.groupBy ?? ['service'],
        group_wait: options.groupWait ?? '100ms',
        group_interval: options.groupInterval ?? '1s',
        repeat_interval: '1h',
      },
      receivers: [
        {
          name: 'healbot',
          webhook_configs: [
            {
              url: options.webhookUrl,
              send_resolved: true,
              max_alerts: 0,
              http_config: { authorization: { type: 'Bearer', credentials: options.token } },
            },
          ],
        },
      ],
    }),
  );
  let output = '';
  const child: ChildProcess = spawn(
    ALERTMANAGER_PATH,
    [
      `--config.file=${configFile}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      '--log.level=warn',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  child.stdout?.on('data', (d) => (output += d));
  child.stderr?.on('data', (d) => (output += d));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `http://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    rmSync(dir, { recursive: true, force: true });
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) {
      await stop();
      throw new Error(`Alertmanager exited at start: ${output.trim().split('\n').slice(-3).join(' | ')}`);
    }
    const ready = await fetch(`${url}/-/ready`).then(
      (r) => r.ok,
      () => false,
    );
    if (ready) break;
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`Alertmanager did not become ready: ${output.trim().split('\n').slice(-3).join(' | ')}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return {
    url,
    output: () => output,
    stop,
    async pushAlerts(alerts) {
      const res = await fetch(`${url}/api/v2/alerts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(alerts),
      });
      if (!res.ok) throw new Error(`Alertmanager refused the alerts: ${res.status} ${await res.text()}`);
    },
  };
}
