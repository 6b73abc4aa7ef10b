/**
 * healbot on Discord, end to end: the real discord.js Client logs in to a local gateway and
 * REST server (discord-server.ts), the real engine (createHealbot) probes a local HTTP target
 * and restarts it through a `command` runtime, and the shared conversation logic posts each
 * incident into a thread. Only loopback addresses are used.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createDiscordAdapter, discordIntents, type DiscordAdapter } from '../../../adapters/discord/index.js';
import { slashCommandBody } from '../../../adapters/discord/slash-commands.js';
import { IncidentConversations } from '../../../commands/conversation.js';
import { commandDefinitions } from '../../../commands/index.js';
import { createHealbot, type Healbot } from '../../../src/app.js';
import { configSchema } from '../../../src/config/schema.js';
import { DiscordTestServer, fixture, type RecordedCall } from './discord-server.js';

const TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAwMQ.GhIjKl.adapter-test-bot-token-abcdefghijklmnop';
const PROBE_SECRET = 'probe-header-secret-4f9a1c';
const LOG_PASSWORD = 'hunter2-from-the-logs';
const SECRETS = [TOKEN, PROBE_SECRET, LOG_PASSWORD];

const OPS = '1100000000000000200';
const ALERTS = '1100000000000000201';
const SRE_ROLE = '1100000000000000300';
const DEV_ROLE = '1100000000000000301';
const ANA = { id: '1100000000000000700', roles: [SRE_ROLE] };
const BOB = { id: '1100000000000000701', roles: [SRE_ROLE] };
const CAROL = { id: '1100000000000000702', roles: [SRE_ROLE] };
const DEV = { id: '1100000000000000703', roles: [DEV_ROLE] };
const EPHEMERAL = 64;

const SERVICES = ['api', 'billing', 'search', 'checkout', 'ledger', 'orders'] as const;
type ServiceName = (typeof SERVICES)[number];

/** The workloads healbot watches: a node:http target whose /ready and /running follow a flag the restart command flips. */
class ProbeTarget {
  readonly running = new Map<string, boolean>(SERVICES.map((s) => [s, true]));
  readonly restarts = new Map<string, number>(SERVICES.map((s) => [s, 0]));
  private constructor(private readonly server: Server) {}

  static async start(): Promise<ProbeTarget> {
    const target: ProbeTarget = new ProbeTarget(
      createServer((req, res) => {
        const [, what, service] = (req.url ?? '').split('/');
        if (what === 'restart') {
          target.restarts.set(service, (target.restarts.get(service) ?? 0) + 1);
          target.running.set(service, true);
        }
        res.writeHead(target.running.get(service) ? 200 : 503).end(what);
      }),
    );
    await new Promise<void>((resolve) => target.server.listen(0, '127.0.0.1', resolve));
    return target;
  }

  url(path: string, service: string): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/${path}/${service}`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

/** `node -e` argv that fetches a URL and exits 0 only on a 2xx: no shell involved. */
const fetchArgv = (url: string) => [
  process.execPath,
  '-e',
  'fetch(process.argv[1]).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(2))',
  url,
];

/** A long log with secrets in it, as a crashing app would print. */
const logsArgv = [
  process.execPath,
  '-e',
  `for (let i = 0; i < 120; i++) console.log('2024-05-01T12:00:00Z ERROR pool exhausted; retrying connection to postgres (attempt ' + i + ') DB_PASSWORD=${LOG_PASSWORD} auth=${PROBE_SECRET}')`,
];

let target: ProbeTarget;
let discord: DiscordTestServer;
let healbot: Healbot;
let adapter: DiscordAdapter;
let conversations: IncidentConversations;
const adapterErrors: string[] = [];

async function waitFor<T>(
  what: string,
  check: () => T | undefined | false | Promise<T | undefined | false>,
  timeoutMs = 15_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}; Discord calls:\n${discord.describeCalls()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

const callsFor = (interaction: { id: string; token: string }) =>
  discord.calls.filter(
    (c) => c.route.includes(`/interactions/${interaction.id}/`) || c.route.includes(`/${interaction.token}`),
  );

/** The approval message the conversation posted for a service, with its approval id. */
async function approvalMessageFor(
  service: ServiceName,
): Promise<{ messageId: string; approvalId: string; channel: string }> {
  return waitFor(`the approval message for ${service}`, () => {
    for (const message of discord.messages.values()) {
      const button = message.components?.[0]?.components?.find((c: any) => c.custom_id?.startsWith('healbot:approve:'));
      if (button && JSON.stringify(message.embeds).includes(service)) {
        return {
          messageId: message.id,
          approvalId: button.custom_id.split(':')[2] as string,
          channel: message.channel_id,
        };
      }
    }
    return undefined;
  });
}

async function openIncidentFromSlashCommand(service: ServiceName, user = ANA): Promise<void> {
  target.running.set(service, false);
  const command = discord.slashCommand('heal', { service }, user);
  discord.dispatch('INTERACTION_CREATE', command);
  const edit = await discord.waitForCall(
    (c) => c.method === 'PATCH' && c.route.includes(`${command.token}/messages/@original`),
  );
  expect(edit.body.content).toContain(`Healing **${service}**`);
}

beforeAll(async () => {
  target = await ProbeTarget.start();
  discord = await DiscordTestServer.start({ heartbeatInterval: 250 });
  const config = configSchema.parse({
    services: Object.fromEntries(
      SERVICES.map((service) => [
        service,
        {
          command: {
            restart: fetchArgv(target.url('restart', service)),
            status: fetchArgv(target.url('running', service)),
            logs: logsArgv,
            timeoutMs: 10_000,
          },
          probes: [
            {
              name: 'ready',
              http: { url: target.url('ready', service), headers: { 'x-probe-token': PROBE_SECRET } },
              timeoutMs: 2000,
            },
          ],
        },
      ]),
    ),
    healing: { verifyTimeout: 10_000, approvalTimeout: 60_000 },
    discord: {
      token: TOKEN,
      applicationId: discord.applicationId,
      guildId: discord.guildId,
      apiUrl: discord.apiUrl,
      alertChannels: [ALERTS],
      approverRoles: [SRE_ROLE],
      matchers: [
        { pattern: 'Your service ledger went down', service: 'ledger' },
        { pattern: 'Your service orders went down', service: 'orders' },
      ],
    },
  });
  healbot = createHealbot(config, { storePath: ':memory:' });
  adapter = createDiscordAdapter({
    config: config.discord!,
    api: healbot.api,
    redact: healbot.redact,
    logger: {
      info() {},
      warn() {},
      debug() {},
      error: (object, message) => adapterErrors.push(`${message} ${JSON.stringify(object)}`),
    },
  });
  conversations = new IncidentConversations(healbot.api, adapter.surface, {
    platform: 'discord',
    minUpdateIntervalMs: 50,
    threads: healbot.store,
    onError: (error) => adapterErrors.push(String(error)),
  });
  conversations.start();
  await adapter.start();
});

afterAll(async () => {
  await conversations?.stop();
  await adapter?.stop();
  await healbot?.close();
  await discord?.close();
  await target?.close();
});

describe('Discord adapter against a local Discord', () => {
  it('identifies with only the intents it needs and registers /heal per guild from commandDefinitions', async () => {
    // Guilds (1) + GuildMessages (512) + MessageContent (32768): alert channels are configured.
    expect(discord.identifies).toHaveLength(1);
    // JSON encoding, no transport compression (discord.js compresses only when zlib-sync is installed).
    expect(discord.connectUrls).toEqual(['/gateway?v=10&encoding=json']);
    expect(discord.identifies[0].intents).toBe(1 | 512 | 32768);
    expect(discordIntents({ alertChannels: [] })).toEqual([1]);

    const put = discord.calls.find((c) => c.method === 'PUT')!;
    expect(put.route).toBe(`/applications/${discord.applicationId}/guilds/${discord.guildId}/commands`);
    expect(put.body).toEqual(slashCommandBody(commandDefinitions, healbot.api.services()));
    const [heal] = put.body;
    expect(heal).toMatchObject({ name: 'heal', type: 1 });
    expect(heal.options.map((o: any) => o.name)).toEqual(commandDefinitions.map((d) => d.name));
    for (const definition of commandDefinitions) {
      const sub = heal.options.find((o: any) => o.name === definition.name);
      expect(sub.type).toBe(1);
      expect(sub.options.map((o: any) => [o.name, o.required]).sort()).toEqual(
        definition.options.map((o) => [o.name, o.required]).sort(),
      );
      for (const option of sub.options.filter(
        (o: any) => definition.options.find((d) => d.name === o.name)?.kind === 'service',
      )) {
        expect(option.choices.map((c: any) => c.value)).toEqual([...SERVICES]);
      }
    }
  });

  it('answers /heal status publicly: deferred within the 3 s window, then the status edited in', async () => {
    const command = discord.slashCommand('status');
    discord.dispatch('INTERACTION_CREATE', command);
    // Status probes every service, which takes a few seconds: the deferred reply covers that.
    const edit = await discord.waitForCall(
      (c) => c.method === 'PATCH' && c.route.includes(`${command.token}/messages/@original`),
      30_000,
    );
    const [callback] = callsFor(command);
    expect(callback).toMatchObject({
      method: 'POST',
      route: `/interactions/${command.id}/${command.token}/callback`,
      body: { type: 5, data: { flags: 0 } },
    });
    expect(callback.at).toBeLessThanOrEqual(edit.at);
    const text = JSON.stringify(edit.body.embeds);
    for (const service of SERVICES) expect(text).toContain(service);
  });

  it('answers an unknown service with an ephemeral error, whatever the subcommand', async () => {
    const heal = discord.slashCommand('heal', { service: 'nope' });
    discord.dispatch('INTERACTION_CREATE', heal);
    const edit = await discord.waitForCall(
      (c) => c.method === 'PATCH' && c.route.includes(`${heal.token}/messages/@original`),
    );
    expect(callsFor(heal)[0].body).toEqual({ type: 5, data: { flags: EPHEMERAL } });
    expect(JSON.stringify(edit.body)).toContain('unknown service \\"nope\\"');

    // diagnose answers publicly when it works, so its deferred reply is swapped for an ephemeral follow-up.
    const diagnose = discord.slashCommand('diagnose', { service: 'nope' });
    discord.dispatch('INTERACTION_CREATE', diagnose);
    const followUp = await discord.waitForCall(
      (c) => c.method === 'POST' && c.route === `/webhooks/${discord.applicationId}/${diagnose.token}`,
    );
    expect(followUp.body.flags).toBe(EPHEMERAL);
    expect(JSON.stringify(followUp.body)).toContain('unknown service \\"nope\\"');
    expect(callsFor(diagnose).map((c) => c.method)).toEqual(['POST', 'DELETE', 'POST']);
  });

  it('handles a replayed interaction (the same id dispatched twice) once', async () => {
    const help = discord.slashCommand('help');
    discord.dispatch('INTERACTION_CREATE', help);
    discord.dispatch('INTERACTION_CREATE', help);
    await discord.waitForCall((c) => c.method === 'PATCH' && c.route.includes(`${help.token}/messages/@original`));
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(callsFor(help).map((c) => `${c.method} ${c.status}`)).toEqual(['POST 204', 'PATCH 200']);
  });

  it('threads on an Alertmanager embed in an alert channel and posts the diagnosis there', async () => {
    target.running.set('api', false);
    const alert = fixture('message-create-alertmanager.json');
    discord.dispatch('MESSAGE_CREATE', alert);
    const thread = await discord.waitForCall(
      (c) => c.method === 'POST' && c.route === `/channels/${ALERTS}/messages/${alert.id}/threads`,
    );
    expect(thread.body.name).toContain('api');
    // The thread shares the alert's id; the status message and the diagnosis go inside it.
    const diagnosis = await discord.waitForCall(
      (c) =>
        c.method === 'POST' &&
        c.route === `/channels/${alert.id}/messages` &&
        JSON.stringify(c.body).includes('Diagnosis'),
    );
    expect(diagnosis.body.embeds[0].fields.find((f: any) => f.name === 'Root cause')).toBeDefined();
    const approval = await approvalMessageFor('api');
    expect(approval.channel).toBe(alert.id);

    // The same alert delivered again joins the same incident: no second thread.
    discord.dispatch('MESSAGE_CREATE', alert);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(discord.calls.filter((c) => c.route.endsWith(`/messages/${alert.id}/threads`))).toHaveLength(1);
  });

  it('matches Uptime Kuma posts with a configured matcher, and ignores people posting in alert channels', async () => {
    target.running.set('ledger', false);
    const kuma = fixture('message-create-uptime-kuma.json');
    kuma.embeds[0].title = '❌ Your service ledger went down. ❌';
    kuma.embeds[0].fields[0].value = 'ledger';
    discord.dispatch('MESSAGE_CREATE', kuma);
    await discord.waitForCall(
      (c) => c.method === 'POST' && c.route === `/channels/${ALERTS}/messages/${kuma.id}/threads`,
    );

    const human = fixture('message-create-alertmanager.json');
    human.id = discord.snowflake();
    human.author = { id: DEV.id, username: 'dev', discriminator: '0', avatar: null, global_name: 'Dev' };
    delete human.webhook_id;
    discord.dispatch('MESSAGE_CREATE', human);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(discord.calls.some((c) => c.route.endsWith(`/messages/${human.id}/threads`))).toBe(false);
  });

  it('runs the action once when a user with an approver role clicks Approve, even if the click is replayed', async () => {
    await openIncidentFromSlashCommand('billing');
    const approval = await approvalMessageFor('billing');
    // The conversation opened its thread on a status message in the command's channel.
    expect(discord.threads.get(approval.channel)?.parent_id).toBe(OPS);

    const click = discord.buttonClick(`healbot:approve:${approval.approvalId}`, approval.messageId, BOB);
    discord.dispatch('INTERACTION_CREATE', click);
    discord.dispatch('INTERACTION_CREATE', click);
    const edit = await discord.waitForCall(
      (c) => c.method === 'PATCH' && c.route.includes(`${click.token}/messages/@original`),
    );
    expect(callsFor(click)[0].body).toEqual({ type: 6 });
    expect(edit.body.components).toEqual([]);
    const decision = edit.body.embeds.at(-1).fields.find((f: any) => f.name === 'Decision');
    expect(decision.value).toMatch(new RegExp(`Approved by <@${BOB.id}> <t:\\d+:f>`));

    await waitFor('billing to heal', () =>
      discord.calls.some(
        (c) => c.route === `/channels/${approval.channel}/messages` && /healed/i.test(JSON.stringify(c.body)),
      ),
    );
    expect(target.restarts.get('billing')).toBe(1);
    expect(callsFor(click).filter((c) => c.route.endsWith('/callback'))).toHaveLength(1);
  });

  it('refuses an unauthorised click with an ephemeral message and runs nothing', async () => {
    await openIncidentFromSlashCommand('search');
    const approval = await approvalMessageFor('search');
    const click = discord.buttonClick(`healbot:approve:${approval.approvalId}`, approval.messageId, DEV);
    discord.dispatch('INTERACTION_CREATE', click);
    const refusal = await discord.waitForCall(
      (c) => c.method === 'POST' && c.route === `/webhooks/${discord.applicationId}/${click.token}`,
    );
    expect(refusal.body.flags).toBe(EPHEMERAL);
    expect(refusal.body.content).toContain('You are not an approver for search');
    // The approver role is named as a mention, not as a bare number.
    expect(refusal.body.content).toContain(`ask <@&${SRE_ROLE}>`);
    expect(callsFor(click).some((c) => c.method === 'PATCH')).toBe(false);
    expect(discord.messages.get(approval.messageId)!.components).toHaveLength(1);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(target.restarts.get('search')).toBe(0);

    // Deny it properly so the incident closes.
    const deny = discord.buttonClick(`healbot:deny:${approval.approvalId}`, approval.messageId, ANA);
    discord.dispatch('INTERACTION_CREATE', deny);
    const denied = await discord.waitForCall(
      (c) => c.method === 'PATCH' && c.route.includes(`${deny.token}/messages/@original`),
    );
    expect(denied.body.embeds.at(-1).fields.at(-1).value).toContain(`Denied by <@${ANA.id}>`);
    expect(target.restarts.get('search')).toBe(0);
  });

  it('runs the action once when two approvers click at the same moment', async () => {
    await openIncidentFromSlashCommand('checkout');
    const approval = await approvalMessageFor('checkout');
    const first = discord.buttonClick(`healbot:approve:${approval.approvalId}`, approval.messageId, BOB);
    const second = discord.buttonClick(`healbot:approve:${approval.approvalId}`, approval.messageId, CAROL);
    discord.dispatch('INTERACTION_CREATE', first);
    discord.dispatch('INTERACTION_CREATE', second);

    const answers = await Promise.all(
      [first, second].map((click) =>
        discord.waitForCall(
          (c) =>
            (c.method === 'PATCH' && c.route.includes(`${click.token}/messages/@original`)) ||
            (c.method === 'POST' && c.route === `/webhooks/${discord.applicationId}/${click.token}`),
        ),
      ),
    );
    // One click decided (message edited); the other was told it was already decided (ephemeral).
    expect(answers.map((a) => a.method).sort()).toEqual(['PATCH', 'POST']);
    expect(answers.find((a) => a.method === 'POST')!.body.flags).toBe(EPHEMERAL);
    expect(answers.find((a) => a.method === 'POST')!.body.content).toContain('already');

    await waitFor('checkout to heal', () =>
      discord.calls.some(
        (c) => c.route === `/channels/${approval.channel}/messages` && /healed/i.test(JSON.stringify(c.body)),
      ),
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(target.restarts.get('checkout')).toBe(1);
  });

  it('approves with /heal approve <id> like the button does', async () => {
    // The ledger incident opened from the Uptime Kuma post is waiting for approval.
    const approval = await approvalMessageFor('ledger');
    const command = discord.slashCommand('approve', { id: approval.approvalId }, CAROL);
    discord.dispatch('INTERACTION_CREATE', command);
    const edit = await discord.waitForCall(
      (c) => c.method === 'PATCH' && c.route.includes(`${command.token}/messages/@original`),
    );
    expect(callsFor(command)[0].body).toEqual({ type: 5, data: { flags: 0 } });
    expect(JSON.stringify(edit.body)).toContain(`<@${CAROL.id}>`);
    await waitFor('ledger to heal', () =>
      discord.calls.some(
        (c) => c.route === `/channels/${approval.channel}/messages` && /healed/i.test(JSON.stringify(c.body)),
      ),
    );
    expect(target.restarts.get('ledger')).toBe(1);
  });

  it('answers /heal for a service with an open incident with the incident, its state, its thread and, for approvers, the buttons', async () => {
    await openIncidentFromSlashCommand('orders');
    const approval = await approvalMessageFor('orders');
    const incidentId = (await healbot.store.getApproval(approval.approvalId))!.incidentId;
    const thread = (await healbot.store.getThread(incidentId, 'discord'))!;
    const again = discord.slashCommand('heal', { service: 'orders' }, BOB);
    discord.dispatch('INTERACTION_CREATE', again);
    const edit = await discord.waitForCall(
      (c) => c.method === 'PATCH' && c.route.includes(`${again.token}/messages/@original`),
    );
    const said = JSON.stringify(edit.body);
    expect(said).toContain(incidentId);
    expect(said).toMatch(/waiting for approval to (re)?start orders/);
    expect(said).toContain(`<#${thread.thread}>`);
    expect(said).not.toContain('diagnosing every layer');
    expect(said).toContain(`healbot:approve:${approval.approvalId}`);

    const outsider = discord.slashCommand('heal', { service: 'orders' }, DEV);
    discord.dispatch('INTERACTION_CREATE', outsider);
    const plain = await discord.waitForCall(
      (c) => c.method === 'PATCH' && c.route.includes(`${outsider.token}/messages/@original`),
    );
    expect(JSON.stringify(plain.body)).toContain(incidentId);
    expect(JSON.stringify(plain.body)).not.toContain('healbot:approve:');
    expect(await healbot.store.listIncidents({ service: 'orders' })).toHaveLength(1);
  });

  it('answers an alert post that joins an open incident once, as a reply to it, pointing to the incident thread', async () => {
    const [incident] = await healbot.store.listIncidents({ service: 'orders' });
    const thread = (await healbot.store.getThread(incident.id, 'discord'))!;
    const kuma = fixture('message-create-uptime-kuma.json');
    kuma.id = discord.snowflake();
    kuma.embeds[0].title = '❌ Your service orders went down. ❌';
    kuma.embeds[0].fields[0].value = 'orders';
    discord.dispatch('MESSAGE_CREATE', kuma);
    const answer = await discord.waitForCall(
      (c) =>
        c.method === 'POST' &&
        c.route === `/channels/${ALERTS}/messages` &&
        c.body?.message_reference?.message_id === kuma.id,
    );
    expect(JSON.stringify(answer.body)).toContain(incident.id);
    expect(JSON.stringify(answer.body)).toContain(`<#${thread.thread}>`);
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(discord.calls.filter((c) => c.body?.message_reference?.message_id === kuma.id)).toHaveLength(1);
    expect(discord.calls.some((c) => c.route.endsWith(`/messages/${kuma.id}/threads`))).toBe(false);
    expect((await healbot.store.getIncident(incident.id))?.alertCount).toBe(2);
    expect(target.restarts.get('orders')).toBe(0);
  });

  it('posts long logs truncated within Discord limits', async () => {
    const withLogs = await waitFor('a message with logs', () =>
      discord.calls.find(
        (c): c is RecordedCall => c.method === 'POST' && JSON.stringify(c.body ?? '').includes('pool exhausted'),
      ),
    );
    const embed = withLogs.body.embeds[0];
    expect(embed.description.length).toBeLessThanOrEqual(4096);
    expect(embed.description).toMatch(/… \d+ more lines\n```$/);
  });

  it('never lets a secret reach Discord', async () => {
    await conversations.idle();
    expect(discord.calls.length).toBeGreaterThan(20);
    for (const call of discord.calls) {
      for (const secret of SECRETS) expect(call.rawBody, `${call.method} ${call.route}`).not.toContain(secret);
    }
    // The bot token goes only in the Authorization header, and interaction callbacks carry none.
    for (const call of discord.calls) {
      if (call.route.startsWith('/interactions/') || call.route.startsWith('/webhooks/'))
        expect(call.headers.authorization).toBeUndefined();
      else expect(call.headers.authorization).toBe(`Bot ${TOKEN}`);
    }
    expect(adapterErrors).toEqual([]);
  });
});
