/**
 * A button clicked after healbot restarted: the approval lives in the engine's store and its id
 * in the button's custom_id, so a new process (new engine, new discord.js Client) resolves it.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { createDiscordAdapter, type DiscordAdapter } from '../../../adapters/discord/index.js';
import { IncidentConversations } from '../../../commands/conversation.js';
import { createHealbot, type Healbot } from '../../../src/app.js';
import { configSchema, type Config } from '../../../src/config/schema.js';
import { DiscordTestServer } from './discord-server.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAwMQ.GhIjKl.restart-test-bot-token-abcdefghijklmno';
const SRE = { id: '1100000000000000701', roles: ['1100000000000000300'] };

let discord: DiscordTestServer;
let probe: Server;
let running = false;
let restarts = 0;
let dir: string;
let config: Config;

interface Running {
  healbot: Healbot;
  adapter: DiscordAdapter;
  conversations: IncidentConversations;
}

async function boot(): Promise<Running> {
  const healbot = createHealbot(config);
  const adapter = createDiscordAdapter({ config: config.discord!, api: healbot.api, redact: healbot.redact });
  const conversations = new IncidentConversations(healbot.api, adapter.surface, {
    platform: 'discord',
    minUpdateIntervalMs: 50,
  });
  conversations.start();
  await adapter.start();
  return { healbot, adapter, conversations };
}

async function shutdown(app: Running): Promise<void> {
  await app.conversations.stop();
  await app.adapter.stop();
  await app.healbot.close();
}

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'healbot-discord-'));
  discord = await DiscordTestServer.start();
  probe = createServer((req, res) => {
    if (req.url === '/restart') {
      restarts += 1;
      running = true;
    }
    res.writeHead(running ? 200 : 503).end();
  });
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
  const base = `http://127.0.0.1:${(probe.address() as AddressInfo).port}`;
  const fetchArgv = (url: string) => [
    process.execPath,
    '-e',
    'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(2))',
    url,
  ];
  config = configSchema.parse({
    services: {
      api: {
        command: { restart: fetchArgv(`${base}/restart`), status: fetchArgv(`${base}/running`) },
        probes: [{ name: 'ready', http: `${base}/ready` }],
      },
    },
    healing: { verifyTimeout: 10_000 },
    store: { path: join(dir, 'healbot.db') },
    discord: {
      token: TOKEN,
      applicationId: discord.applicationId,
      guildId: discord.guildId,
      apiUrl: discord.apiUrl,
      approverRoles: SRE.roles,
    },
  });
});

afterAll(async () => {
  await discord?.close();
  probe?.closeAllConnections();
  await new Promise((resolve) => probe?.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

it('acts on an Approve click made after healbot restarted, and says when an approval is unknown', async () => {
  const first = await boot();
  const command = discord.slashCommand('heal', { service: 'api' });
  discord.dispatch('INTERACTION_CREATE', command);
  const approval = await new Promise<{ id: string; approvalId: string }>((resolve, reject) => {
    const deadline = Date.now() + 15_000;
    const poll = () => {
      for (const message of discord.messages.values()) {
        const button = message.components?.[0]?.components?.[0];
        if (button?.custom_id?.startsWith('healbot:approve:'))
          return resolve({ id: message.id, approvalId: button.custom_id.split(':')[2] });
      }
      if (Date.now() > deadline) return reject(new Error(`no approval message; calls:\n${discord.describeCalls()}`));
      setTimeout(poll, 20);
    };
    poll();
  });
  await shutdown(first);
  expect(restarts).toBe(0);

  const second = await boot();
  try {
    // Without alert channels the second client asks for the Guilds intent only.
    expect(discord.identifies.map((i) => i.intents)).toEqual([1, 1]);
    const click = discord.buttonClick(`healbot:approve:${approval.approvalId}`, approval.id, SRE);
    discord.dispatch('INTERACTION_CREATE', click);
    const edit = await discord.waitForCall(
      (c) => c.method === 'PATCH' && c.route.includes(`${click.token}/messages/@original`),
    );
    expect(edit.body.components).toEqual([]);
    const deadline = Date.now() + 15_000;
    while (restarts === 0 && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(restarts).toBe(1);

    const stale = discord.buttonClick('healbot:approve:apr_00000000', approval.id, SRE);
    discord.dispatch('INTERACTION_CREATE', stale);
    const answer = await discord.waitForCall(
      (c) => c.method === 'POST' && c.route === `/webhooks/${discord.applicationId}/${stale.token}`,
    );
    expect(answer.body.flags).toBe(64);
    expect(answer.body.content).toMatch(/expired|not found|unknown|no approval/i);
  } finally {
    await shutdown(second);
  }
});
