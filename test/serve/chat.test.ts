/**
 * `healbot serve` with its chat doors open, end to end: the real startServe (HTTP server,
 * engine, SQLite store, conversations) with the real Bolt adapter behind `/slack/events`
 * talking to a local Slack Web API, and the real discord.js client talking to a local Discord
 * REST + gateway. The services are a node:http server on loopback whose `command` restart
 * flips it healthy again. Requests reach serve exactly as Slack and Discord send them.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DiscordTestServer } from '../adapters/discord/discord-server.js';
import { SlackApiServer, signSlackRequest, type RecordedCall } from '../adapters/slack/slack-api-server.js';
import type { ServeOptions } from '../../src/serve.js';
import { json } from '../support/http.js';
import { tempDir, TOKEN, startTestBot, waitFor, type TestBot } from './harness.js';

const BOT_TOKEN = 'xoxb-1111111111-2222222222-serveCHATtoken';
const SIGNING_SECRET = '4c1e9a0b7d2f8e6a5b3c1d0e9f8a7b6c';
const ALERTS = 'C0ALERTS';
const OPS = 'C0OPS';
const ONCALL = 'U0ONCALL';
const FORM = 'application/x-www-form-urlencoded';

/**
 * The workloads: `/ready/<key>` answers 200 or 503 by a flag, `POST /__heal/<key>` (what the
 * restart command calls) counts a restart and makes it healthy, `/running/<key>` always says 200.
 */
class Workloads {
  readonly healthy = new Map<string, boolean>();
  readonly heals = new Map<string, number>();
  private server?: Server;

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      const [, what, key] = (req.url ?? '').split('/');
      if (what === '__heal' && req.method === 'POST') {
        this.heals.set(key, (this.heals.get(key) ?? 0) + 1);
        this.healthy.set(key, true);
        res.end('healed');
        return;
      }
      if (what === 'ready') {
        const ok = this.healthy.get(key) ?? true;
        res.writeHead(ok ? 200 : 503).end(ok ? 'ok' : 'not ready');
        return;
      }
      res.writeHead(what === 'running' ? 200 : 404).end();
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    return this;
  }

  url(path: string, key: string): string {
    return `http://127.0.0.1:${(this.server!.address() as AddressInfo).port}/${path}/${key}`;
  }

  /** A `command` service whose probe is `/ready/<key>` and whose restart POSTs `/__heal/<key>`; argv only, no shell. */
  service(key: string) {
    const fetchArgv = (init: string) => [
      process.execPath,
      '-e',
      `fetch(process.argv[1]${init}).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(2))`,
    ];
    return {
      probes: [{ name: 'ready', http: this.url('ready', key), timeoutMs: 2000 }],
      command: {
        restart: [...fetchArgv(",{method:'POST'}"), this.url('__heal', key)],
        status: [...fetchArgv(''), this.url('running', key)],
        timeoutMs: 10_000,
      },
    };
  }

  break(key: string): void {
    this.healthy.set(key, false);
  }

  restarts(key: string): number {
    return this.heals.get(key) ?? 0;
  }

  async close(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
/** pino's numeric levels: 50 is error. */
const errorLines = (logs: string[]) => logs.filter((line) => (JSON.parse(line) as { level: number }).level >= 50);

let workloads: Workloads;
beforeAll(async () => {
  workloads = await new Workloads().start();
});
afterAll(async () => {
  await workloads?.close();
});

describe('healbot serve with Slack over HTTP', () => {
  const dir = tempDir();
  const storePath = `${dir.path}/healbot.db`;
  let slack: SlackApiServer;
  let bot: TestBot;
  let config: Record<string, unknown>;
  /** Log lines of serve runs that have ended. */
  const earlierLogs: string[] = [];

  const start = async (options: ServeOptions = {}) => {
    bot = await startTestBot(config, { storePath, ...options });
  };
  const allLogs = () => [...earlierLogs, ...bot.logs];

  beforeAll(async () => {
    slack = await new SlackApiServer().start();
    config = {
      services: {
        api: workloads.service('s-api'),
        web: workloads.service('s-web'),
        worker: workloads.service('s-worker'),
        billing: workloads.service('s-billing'),
      },
      healing: { verifyTimeout: 5000, actionTimeout: 10_000, approvalTimeout: '10m' },
      slack: {
        mode: 'http',
        botToken: BOT_TOKEN,
        signingSecret: SIGNING_SECRET,
        apiUrl: slack.apiUrl,
        alertChannels: [ALERTS],
        approvers: [ONCALL],
      },
    };
    await start();
  });
  afterAll(async () => {
    await bot?.close();
    await slack?.stop();
    dir.cleanup();
  });

  /** POSTs to serve's /slack/events as Slack does; returns the HTTP status. */
  async function deliver(body: string, contentType: string, signed = true): Promise<number> {
    const headers = { 'content-type': contentType, ...(signed ? signSlackRequest(body, SIGNING_SECRET) : {}) };
    const response = await fetch(`${bot.url}/slack/events`, { method: 'POST', headers, body });
    await response.arrayBuffer();
    return response.status;
  }

  let commands = 0;
  /** A `/heal …` slash command as Slack posts it (form-encoded, signed); returns its response_url id. */
  async function slash(text: string, channel = OPS, user = 'U0ANA'): Promise<{ status: number; responseId: string }> {
    commands += 1;
    const responseId = `cmd-${commands}`;
    const form = new URLSearchParams({
      token: 'gIkuvaNzQIHg97ATvDxqgjtO',
      team_id: 'T0001',
      team_domain: 'example',
      channel_id: channel,
      channel_name: 'ops',
      user_id: user,
      user_name: 'ana',
      command: '/heal',
      text,
      api_app_id: 'A123456',
      is_enterprise_install: 'false',
      response_url: slack.responseUrl(responseId),
      trigger_id: `13345224609.738474920.cmd${commands}`,
    }).toString();
    return { status: await deliver(form, FORM), responseId };
  }

  const text = (call: RecordedCall) => JSON.stringify(call.body);
  const posts = (channel: string) => slack.callsOf('chat.postMessage').filter((c) => c.body.channel === channel);
  const hasApproveButton = (call: RecordedCall) =>
    (call.body.blocks as { type: string; elements?: { action_id?: string }[] }[] | undefined)?.some(
      (b) => b.type === 'actions' && b.elements?.some((e) => e.action_id === 'healbot_approve'),
    ) ?? false;

  interface PostedApproval {
    call: RecordedCall;
    ts: string;
    thread: string;
    channel: string;
    approvalId: string;
  }

  /** The approval message posted for `service` in `channel`, with the approval id its buttons carry. */
  function approvalFor(service: string, channel: string): Promise<PostedApproval> {
    return waitFor(() => {
      const call = posts(channel).find((c) => hasApproveButton(c) && text(c).includes(`restart ${service}`));
      if (!call) return undefined;
      const actions = (call.body.blocks as { type: string; elements: { action_id: string; value: string }[] }[]).find(
        (b) => b.type === 'actions',
      )!;
      return {
        call,
        ts: call.response!.ts as string,
        thread: call.body.thread_ts as string,
        channel,
        approvalId: actions.elements.find((e) => e.action_id === 'healbot_approve')!.value,
      };
    }, `the approval request for ${service} in ${channel}`);
  }

  let clicks = 0;
  /** A block_actions payload for a click on the approval message, as Slack posts it (form field `payload`). */
  function click(
    approval: PostedApproval,
    user: string,
    action: 'healbot_approve' | 'healbot_deny' = 'healbot_approve',
  ): Promise<number> {
    clicks += 1;
    const payload = {
      type: 'block_actions',
      user: { id: user, username: 'oncall', name: 'oncall', team_id: 'T0001' },
      api_app_id: 'A123456',
      token: 'gIkuvaNzQIHg97ATvDxqgjtO',
      container: {
        type: 'message',
        message_ts: approval.ts,
        channel_id: approval.channel,
        is_ephemeral: false,
        thread_ts: approval.thread,
      },
      trigger_id: `12466734323.1395872398.click${clicks}`,
      team: { id: 'T0001', domain: 'example' },
      enterprise: null,
      is_enterprise_install: false,
      channel: { id: approval.channel, name: 'ops' },
      message: {
        type: 'message',
        user: slack.botUserId,
        bot_id: slack.botId,
        ts: approval.ts,
        thread_ts: approval.thread,
        text: approval.call.body.text,
        blocks: approval.call.body.blocks,
      },
      state: { values: {} },
      response_url: slack.responseUrl(`click-${clicks}`),
      actions: [
        {
          action_id: action,
          block_id: 'healbot_approval',
          text: { type: 'plain_text', text: 'Approve', emoji: true },
          value: approval.approvalId,
          style: 'primary',
          type: 'button',
          action_ts: `${Math.floor(Date.now() / 1000)}.000000`,
        },
      ],
    };
    return deliver(new URLSearchParams({ payload: JSON.stringify(payload) }).toString(), FORM);
  }

  it('refuses an unsigned request with 401 and does nothing', async () => {
    const form = new URLSearchParams({
      command: '/heal',
      text: 'api',
      user_id: 'U0MALLORY',
      channel_id: OPS,
      response_url: slack.responseUrl('forged'),
      trigger_id: 'forged.1',
    }).toString();
    expect(await deliver(form, FORM, false)).toBe(401);
    await pause(100);
    expect(slack.calls.some((c) => c.url === '/response/forged')).toBe(false);
    expect(slack.callsOf('chat.postMessage')).toHaveLength(0);
    expect(await bot.bot.store.listIncidents()).toHaveLength(0);
    // serve verified the bot token at start.
    expect(slack.callsOf('auth.test').length).toBeGreaterThan(0);
    expect(slack.callsOf('auth.test').every((c) => c.token === BOT_TOKEN)).toBe(true);
  });

  let apiApproval: PostedApproval;
  it('answers /heal api with a status message, then the diagnosis and an approval request with buttons in its thread', async () => {
    workloads.break('s-api');
    const { status, responseId } = await slash('api');
    expect(status).toBe(200);
    const ack = await waitFor(
      () => slack.calls.find((c) => c.url === `/response/${responseId}`),
      'the reply to the slash command',
    );
    // Only the asker sees the acknowledgement; the channel sees the thread.
    expect(ack.body.response_type).toBe('ephemeral');
    expect(text(ack)).toContain('Healing *api*');

    const statusMessage = await waitFor(() => posts(OPS)[0], 'the status message');
    expect(statusMessage.body.thread_ts).toBeUndefined();
    expect(statusMessage.token).toBe(BOT_TOKEN);
    expect(text(statusMessage)).toContain('healbot · api');
    const thread = statusMessage.response!.ts as string;

    apiApproval = await approvalFor('api', OPS);
    expect(apiApproval.thread).toBe(thread);
    const diagnosis = posts(OPS).find((c) => text(c).includes('Diagnosis:'));
    expect(diagnosis?.body.thread_ts).toBe(thread);
    expect(text(diagnosis!)).toContain('service unhealthy');
    expect(posts(OPS).indexOf(diagnosis!)).toBeLessThan(posts(OPS).indexOf(apiApproval.call));
    const buttons = (
      apiApproval.call.body.blocks as {
        type: string;
        elements?: { action_id: string; value: string; text: { text: string } }[];
      }[]
    ).find((b) => b.type === 'actions')!.elements!;
    expect(buttons.map((b) => [b.action_id, b.text.text])).toEqual([
      ['healbot_approve', 'Approve'],
      ['healbot_deny', 'Deny'],
    ]);
    expect(buttons.every((b) => b.value === apiApproval.approvalId)).toBe(true);
    expect(text(apiApproval.call)).toContain(ONCALL);
    // Every post after the status message is a reply in its thread.
    expect(
      posts(OPS)
        .slice(1)
        .every((c) => c.body.thread_ts === thread),
    ).toBe(true);
    expect(workloads.restarts('s-api')).toBe(0);
  });

  it('runs the restart once when the on-call clicks Approve, marks the approval message, and ends the thread with a summary', async () => {
    // Someone who is not an approver clicks first: refused, privately, and nothing runs.
    expect(await click(apiApproval, 'U0INTERN')).toBe(200);
    const refusal = await waitFor(
      () => slack.callsOf('chat.postEphemeral').find((c) => c.body.user === 'U0INTERN'),
      'the refusal',
    );
    expect(refusal.body.text).toContain('not an approver for api');
    expect(workloads.restarts('s-api')).toBe(0);

    expect(await click(apiApproval, ONCALL)).toBe(200);
    const marked = await waitFor(
      () => slack.callsOf('chat.update').find((c) => c.body.ts === apiApproval.ts),
      'the approval message to be updated',
    );
    expect(marked.body.channel).toBe(OPS);
    expect(marked.body.text).toContain(`Approved by <@${ONCALL}>`);
    expect(JSON.stringify(marked.body.blocks)).not.toContain('healbot_approve');

    const summary = await waitFor(
      () => posts(OPS).find((c) => text(c).includes('healthy again in')),
      'the summary',
      15_000,
    );
    expect(summary.body.thread_ts).toBe(apiApproval.thread);
    expect(text(summary)).toContain('api: healed');
    expect(posts(OPS).at(-1)).toBe(summary);
    expect(workloads.restarts('s-api')).toBe(1);
    const [incident] = await bot.bot.store.listIncidents({ service: 'api' });
    expect(incident).toMatchObject({ status: 'closed', outcome: 'healed' });
    // The status message at the top of the thread was edited to the outcome.
    await waitFor(
      () => slack.callsOf('chat.update').some((c) => c.body.ts === apiApproval.thread && text(c).includes('healed')),
      'the status message to show the outcome',
    );
    // A late second click changes nothing.
    expect(await click(apiApproval, ONCALL)).toBe(200);
    await waitFor(
      () =>
        slack
          .callsOf('chat.postEphemeral')
          .find((c) => c.body.user === ONCALL && String(c.body.text).includes('already approved')),
      'the "already decided" answer',
    );
    expect(workloads.restarts('s-api')).toBe(1);
  });

  it('threads the diagnosis under an Alertmanager notification posted in the alert channel', async () => {
    workloads.break('s-web');
    const event = {
      token: 'XXYYZZ',
      team_id: 'T0001',
      api_app_id: 'A123456',
      event: {
        type: 'message',
        subtype: 'bot_message',
        text: '',
        username: 'alertmanager',
        bot_id: 'B0ALERTMGR',
        attachments: [
          {
            id: 1,
            color: 'a30200',
            fallback: '[FIRING:1] WebDown web | http://alertmanager:9093/#/alerts?receiver=slack',
            title: '[FIRING:1] WebDown web (http://web:8080/ready prod)',
            title_link: 'http://alertmanager:9093/#/alerts?receiver=slack',
            text: 'The web service has failed its readiness probe for 1 minute.',
          },
        ],
        channel: ALERTS,
        ts: '1700000100.000200',
        event_ts: '1700000100.000200',
        channel_type: 'channel',
      },
      type: 'event_callback',
      event_id: 'Ev0SERVEWEB1',
      event_time: 1700000100,
      authorizations: [
        { enterprise_id: null, team_id: 'T0001', user_id: slack.botUserId, is_bot: true, is_enterprise_install: false },
      ],
    };
    expect(await deliver(JSON.stringify(event), 'application/json')).toBe(200);
    const diagnosis = await waitFor(
      () => posts(ALERTS).find((c) => text(c).includes('Diagnosis:')),
      'the diagnosis of web',
    );
    expect(diagnosis.body.thread_ts).toBe(event.event.ts);
    expect(text(diagnosis)).toContain('web');
    // The status message also sits in the alert's thread: nothing is posted at the channel's top level.
    expect(posts(ALERTS).every((c) => c.body.thread_ts === event.event.ts)).toBe(true);
    const [incident] = await bot.bot.store.listIncidents({ service: 'web' });
    expect(incident).toMatchObject({ source: 'alert' });
  });

  it('opens a thread in the default alert channel for a webhook alert', async () => {
    workloads.break('s-worker');
    const response = await bot.call('/webhooks/generic', {
      method: 'POST',
      json: { service: 'worker', summary: 'worker queue is stuck', severity: 'critical', id: 'serve-chat-1' },
    });
    expect(response.status).toBe(202);
    expect((await json(response)).alerts[0]).toMatchObject({ service: 'worker', result: 'opened' });
    const root = await waitFor(
      () => posts(ALERTS).find((c) => c.body.thread_ts === undefined && text(c).includes('healbot · worker')),
      'the worker thread',
    );
    const thread = root.response!.ts as string;
    const diagnosis = await waitFor(
      () => posts(ALERTS).find((c) => c.body.thread_ts === thread && text(c).includes('Diagnosis:')),
      'the worker diagnosis',
      15_000,
    );
    expect(text(diagnosis)).toContain('worker');
  });

  it('honours an Approve click on a button posted before serve restarted', async () => {
    workloads.break('s-billing');
    expect((await slash('billing')).status).toBe(200);
    const before = await approvalFor('billing', OPS);
    const pending = (await bot.bot.store.pendingApprovals()).find((a) => a.id === before.approvalId);
    expect(pending).toMatchObject({ service: 'billing', status: 'pending' });

    await bot.close();
    earlierLogs.push(...bot.logs);
    const callsBefore = slack.calls.length;
    await start();
    expect(slack.calls.slice(callsBefore).map((c) => c.method)).toContain('auth.test');
    expect((await bot.bot.store.pendingApprovals()).map((a) => a.id)).toContain(before.approvalId);
    expect(workloads.restarts('s-billing')).toBe(0);

    expect(await click(before, ONCALL)).toBe(200);
    const marked = await waitFor(
      () => slack.callsOf('chat.update').find((c) => c.body.ts === before.ts),
      'the old approval message to be updated',
    );
    expect(marked.body.text).toContain(`Approved by <@${ONCALL}>`);
    const summary = await waitFor(
      () => posts(OPS).find((c) => c.body.thread_ts === before.thread && text(c).includes('healthy again in')),
      'the summary in the old thread',
      15_000,
    );
    expect(text(summary)).toContain('billing: healed');
    expect(workloads.restarts('s-billing')).toBe(1);
    // The status message the first run posted is the one edited to the outcome.
    await waitFor(
      () => slack.callsOf('chat.update').some((c) => c.body.ts === before.thread && text(c).includes('healed')),
      'the old status message to show the outcome',
    );
    // The resumed incident kept talking in its thread rather than opening a new one.
    expect(
      posts(OPS).filter((c) => c.body.thread_ts === undefined && text(c).includes('healbot · billing')),
    ).toHaveLength(1);
    expect(await bot.bot.store.listIncidents({ service: 'billing' })).toEqual([
      expect.objectContaining({ status: 'closed', outcome: 'healed' }),
    ]);
  });

  it('says plainly that an approval expired while serve was down, and runs nothing', async () => {
    // The alert's incident for web is still waiting for approval (approvalTimeout 10m).
    const waiting = await approvalFor('web', ALERTS);
    await bot.close();
    earlierLogs.push(...bot.logs);
    await start({ now: () => Date.now() + 11 * 60_000 });

    expect(await click(waiting, ONCALL)).toBe(200);
    const answer = await waitFor(
      () =>
        slack
          .callsOf('chat.postEphemeral')
          .find((c) => c.body.user === ONCALL && String(c.body.text).includes(waiting.approvalId)),
      'the answer to the late click',
    );
    expect(answer.body.text).toContain('expired');
    expect(answer.body.text).toContain('nothing was done');
    expect(answer.body.thread_ts).toBe(waiting.thread);
    const expired = await waitFor(
      () => slack.callsOf('chat.update').find((c) => c.body.ts === waiting.ts),
      'the approval message to show it expired',
    );
    expect(String(expired.body.text)).toMatch(/^Expired, nothing was done/);
    expect(JSON.stringify(expired.body.blocks ?? '')).not.toContain('healbot_approve');
    await pause(200);
    expect(workloads.restarts('s-web')).toBe(0);
    // Nobody approved in time: escalated, and still open while web keeps failing.
    expect(await bot.bot.store.listIncidents({ service: 'web' })).toEqual([
      expect.objectContaining({ status: 'open', outcome: 'escalated' }),
    ]);
  });

  it('never sent a secret to Slack and logged no errors', () => {
    const sent = slack.everythingSent();
    for (const secret of [BOT_TOKEN, SIGNING_SECRET, TOKEN]) expect(sent).not.toContain(secret);
    expect(errorLines(allLogs())).toEqual([]);
    // Each log line names its component once (a duplicated JSON key confuses log pipelines).
    const slackLines = allLogs().filter((line) => line.includes('"component":"slack"'));
    expect(slackLines.length).toBeGreaterThan(0);
    expect(slackLines.filter((line) => line.split('"component":').length > 2)).toEqual([]);
  });
});

describe('healbot serve with Discord', () => {
  const DISCORD_TOKEN = 'MTEwMDAwMDAwMDAwMDAwMDAwMQ.GhIjKl.serve-chat-bot-token-abcdefghijklmnop';
  const OPS_CHANNEL = '1100000000000000200';
  const ALERTS_CHANNEL = '1100000000000000201';
  const SRE_ROLE = '1100000000000000300';
  const DEV_ROLE = '1100000000000000301';
  const SRE = { id: '1100000000000000701', roles: [SRE_ROLE] };
  const DEV = { id: '1100000000000000703', roles: [DEV_ROLE] };
  const EPHEMERAL = 64;
  const dir = tempDir();
  let discord: DiscordTestServer;
  let bot: TestBot;

  beforeAll(async () => {
    discord = await DiscordTestServer.start({ heartbeatInterval: 250 });
    bot = await startTestBot(
      {
        services: { api: workloads.service('d-api'), web: workloads.service('d-web') },
        healing: { verifyTimeout: 5000, actionTimeout: 10_000 },
        discord: {
          token: DISCORD_TOKEN,
          applicationId: discord.applicationId,
          guildId: discord.guildId,
          apiUrl: discord.apiUrl,
          alertChannels: [ALERTS_CHANNEL],
          approverRoles: [SRE_ROLE],
        },
      },
      { storePath: `${dir.path}/healbot.db` },
    );
  });
  afterAll(async () => {
    await bot?.close();
    await discord?.close();
    dir.cleanup();
  });

  const ofInteraction = (interaction: { id: string; token: string }) =>
    discord.calls.filter(
      (c) => c.route.includes(`/interactions/${interaction.id}/`) || c.route.includes(`/${interaction.token}`),
    );

  it('identifies on the gateway and registers /heal for the guild when serve starts', () => {
    expect(discord.identifies).toHaveLength(1);
    expect(discord.identifies[0].token).toBe(DISCORD_TOKEN);
    const registrations = discord.calls.filter((c) => c.method === 'PUT');
    expect(registrations).toHaveLength(1);
    expect(registrations[0].route).toBe(`/applications/${discord.applicationId}/guilds/${discord.guildId}/commands`);
    expect(registrations[0].status).toBe(200);
    const [heal] = registrations[0].body;
    expect(heal.name).toBe('heal');
    const subcommand = heal.options.find((o: { name: string }) => o.name === 'heal');
    expect(subcommand.options[0].choices.map((c: { value: string }) => c.value)).toEqual(['api', 'web']);
  });

  it('turns /heal api into a thread with the diagnosis and Approve/Deny buttons, and runs the restart once when an approver clicks', async () => {
    workloads.break('d-api');
    const command = discord.slashCommand('heal', { service: 'api' });
    discord.dispatch('INTERACTION_CREATE', command);
    const edit = await discord.waitForCall(
      (c) => c.method === 'PATCH' && c.route.includes(`${command.token}/messages/@original`),
    );
    expect(ofInteraction(command)[0]).toMatchObject({
      route: `/interactions/${command.id}/${command.token}/callback`,
      body: { type: 5, data: { flags: EPHEMERAL } },
    });
    expect(edit.body.content).toContain('Healing **api**');

    // The conversation: a status message in the command's channel, a thread started on it.
    const threadCall = await discord.waitForCall(
      (c) => c.method === 'POST' && /^\/channels\/\d+\/messages\/\d+\/threads$/.test(c.route),
    );
    expect(threadCall.route.startsWith(`/channels/${OPS_CHANNEL}/messages/`)).toBe(true);
    expect(threadCall.body.name).toContain('api');
    const thread = threadCall.route.split('/')[4];
    await discord.waitForCall(
      (c) =>
        c.method === 'POST' &&
        c.route === `/channels/${thread}/messages` &&
        JSON.stringify(c.body).includes('Diagnosis'),
    );

    const approval = await waitFor(() => {
      for (const message of discord.messages.values()) {
        const buttons = message.components?.[0]?.components as { custom_id: string; label: string }[] | undefined;
        if (message.channel_id === thread && buttons?.some((b) => b.custom_id.startsWith('healbot:approve:')))
          return { message, buttons };
      }
      return undefined;
    }, 'the approval message in the thread');
    expect(approval.buttons.map((b) => b.label)).toEqual(['Approve', 'Deny']);
    const approvalId = approval.buttons[0].custom_id.split(':')[2];
    expect(approval.buttons[1].custom_id).toBe(`healbot:deny:${approvalId}`);
    expect(workloads.restarts('d-api')).toBe(0);

    // A member without the approver role is refused, privately, and nothing runs.
    const refused = discord.buttonClick(`healbot:approve:${approvalId}`, approval.message.id, DEV);
    discord.dispatch('INTERACTION_CREATE', refused);
    const refusal = await discord.waitForCall(
      (c) => c.method === 'POST' && c.route === `/webhooks/${discord.applicationId}/${refused.token}`,
    );
    expect(refusal.body.flags).toBe(EPHEMERAL);
    expect(refusal.body.content).toContain('not an approver for api');

    const approved = discord.buttonClick(`healbot:approve:${approvalId}`, approval.message.id, SRE);
    discord.dispatch('INTERACTION_CREATE', approved);
    const decided = await discord.waitForCall(
      (c) => c.method === 'PATCH' && c.route.includes(`${approved.token}/messages/@original`),
    );
    expect(ofInteraction(approved)[0].body).toEqual({ type: 6 });
    expect(decided.body.components).toEqual([]);
    expect(JSON.stringify(decided.body.embeds)).toContain(`Approved by <@${SRE.id}>`);

    const summary = await discord.waitForCall(
      (c) =>
        c.method === 'POST' &&
        c.route === `/channels/${thread}/messages` &&
        JSON.stringify(c.body).includes('healthy again in'),
    );
    expect(JSON.stringify(summary.body)).toContain('healed');
    expect(workloads.restarts('d-api')).toBe(1);
    expect(await bot.bot.store.listIncidents({ service: 'api' })).toEqual([
      expect.objectContaining({ status: 'closed', outcome: 'healed' }),
    ]);
  });

  it('never sent a secret to Discord and logged no errors', () => {
    for (const call of discord.calls) expect(call.rawBody, `${call.method} ${call.route}`).not.toContain(DISCORD_TOKEN);
    expect(errorLines(bot.logs)).toEqual([]);
  });
});
