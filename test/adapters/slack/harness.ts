import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createSlackAdapter, type SlackAdapter } from '../../../adapters/slack/adapter.js';
import { IncidentConversations } from '../../../commands/conversation.js';
import { createHealbot, type Healbot } from '../../../src/app.js';
import { parseConfig } from '../../../src/config/load.js';
import { SlackApiServer } from './slack-api-server.js';

export const BOT_TOKEN = 'xoxb-1111111111-2222222222-healbotTESTtoken';
export const APP_TOKEN = 'xapp-1-A111-222-healbotAPPtoken';
export const SIGNING_SECRET = '8f742231b10e8888abcd99yyyzzz85a5';
export const ALERT_CHANNEL = 'C0ALERTS';
export const APPROVER = 'UAPPROVER';
/** A token-looking secret that only the `worker` probe knows; it must never reach Slack. */
export const PROBE_SECRET = 'xoxp-9999999999-8888888888-leakedFROMprobe';

export function fixture<T = Record<string, unknown>>(name: string): T {
  const parsed = JSON.parse(readFileSync(new URL(`../../fixtures/slack/${name}`, import.meta.url), 'utf8')) as Record<
    string,
    unknown
  >;
  delete parsed._source;
  return parsed as T;
}

/**
 * A real service for healbot to heal: `/ready` answers 503 until the restart command POSTs
 * `/restart`, which counts restarts and makes it healthy.
 */
export class TargetService {
  healthy = false;
  restarts = 0;
  #server?: Server;

  get port(): number {
    return (this.#server?.address() as AddressInfo).port;
  }

  async start(): Promise<this> {
    this.#server = createServer((req, res) => {
      if (req.url === '/restart' && req.method === 'POST') {
        this.restarts += 1;
        this.healthy = true;
        res.end('restarted');
        return;
      }
      if (req.url === '/ready') {
        res.writeHead(this.healthy ? 200 : 503);
        res.end(this.healthy ? 'ok' : 'not ready');
        return;
      }
      if (req.url === '/web') {
        res.end('ok');
        return;
      }
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server?.closeAllConnections();
      this.#server?.close(() => resolve());
    });
  }
}

const node = process.execPath;

export interface Harness {
  slack: SlackApiServer;
  target: TargetService;
  healbot: Healbot;
  adapter: SlackAdapter;
  conversations: IncidentConversations;
  /** What the adapter logged, in order. */
  logs: { level: string; msg: string; fields: unknown }[];
  /** HTTP mode: where Slack would POST, e.g. http://127.0.0.1:PORT/slack/events. */
  eventsUrl?: string;
  close(): Promise<void>;
}

/** Real healbot (createHealbot) + real Bolt adapter + local Slack; in socket or http mode. */
export async function startHarness(
  mode: 'socket' | 'http',
  options: { approverGroups?: Record<string, string[]> } = {},
): Promise<Harness> {
  const slack = await new SlackApiServer().start();
  slack.groups = options.approverGroups ?? {};
  const target = await new TargetService().start();
  const base = `http://127.0.0.1:${target.port}`;
  const longLogLine = (i: string) =>
    `'2024-05-01T12:00:00Z api worker '+${i}+' failed to reach upstream after 3 retries: connection reset by peer (ECONNRESET)'`;
  const config = parseConfig({
    services: {
      api: {
        probes: [{ name: 'ready', http: `${base}/ready`, timeoutMs: 2000 }],
        command: {
          restart: [
            node,
            '-e',
            `fetch('${base}/restart',{method:'POST'}).then(()=>process.exit(0),()=>process.exit(1))`,
          ],
          status: [node, '-e', `fetch('${base}/ready').then(r=>process.exit(r.ok?0:1),()=>process.exit(2))`],
          logs: [node, '-e', `for(let i=0;i<120;i++)console.log(${longLogLine('i')})`],
          timeoutMs: 10_000,
        },
      },
      web: { probes: [{ name: 'ready', http: `${base}/web`, timeoutMs: 2000 }] },
      worker: {
        probes: [
          {
            name: 'queue',
            command: [
              node,
              '-e',
              `console.error('queue login failed for ${PROBE_SECRET} using ${BOT_TOKEN}');process.exit(1)`,
            ],
            timeoutMs: 5000,
          },
        ],
      },
    },
    healing: { approvers: [APPROVER], verifyTimeout: 5000, actionTimeout: 10_000 },
    slack: {
      mode,
      botToken: BOT_TOKEN,
      appToken: APP_TOKEN,
      signingSecret: SIGNING_SECRET,
      apiUrl: slack.apiUrl,
      alertChannels: [ALERT_CHANNEL],
      approverGroups: Object.keys(options.approverGroups ?? {}),
    },
  });
  const healbot = createHealbot(config, { storePath: ':memory:' });
  const logs: Harness['logs'] = [];
  const capture = (level: string) => (fields: unknown, msg?: string) =>
    void logs.push({ level, msg: msg ?? '', fields });
  const logger = { debug: capture('debug'), info: capture('info'), warn: capture('warn'), error: capture('error') };
  const adapter = createSlackAdapter({
    config: config.slack!,
    api: healbot.engine,
    redact: healbot.redact,
    logger,
    minPostIntervalMs: 20,
  });
  const conversations = new IncidentConversations(healbot.engine, adapter.surface, {
    platform: 'slack',
    defaultChannel: ALERT_CHANNEL,
    minUpdateIntervalMs: 20,
  });
  conversations.start();
  await adapter.start();

  let server: Server | undefined;
  let eventsUrl: string | undefined;
  if (mode === 'http') {
    // Stands in for `healbot serve`: it mounts the adapter's listener at /slack/events.
    server = createServer((req, res) => {
      if (req.url?.startsWith('/slack/events')) return adapter.requestListener!(req, res);
      res.writeHead(404);
      res.end();
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
    eventsUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/slack/events`;
  }

  return {
    slack,
    target,
    healbot,
    adapter,
    conversations,
    logs,
    eventsUrl,
    async close() {
      await conversations.stop();
      await adapter.stop();
      if (server) {
        server.closeAllConnections();
        await new Promise<void>((resolve) => server!.close(() => resolve()));
      }
      await healbot.close();
      await target.stop();
      await slack.stop();
    },
  };
}
