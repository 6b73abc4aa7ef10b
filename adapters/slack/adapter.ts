import type { IncomingMessage, ServerResponse } from 'node:http';
import { App, HTTPReceiver, LogLevel, SocketModeReceiver } from '@slack/bolt';
import type {
  Logger as BoltLogger,
  BlockAction,
  ButtonAction,
  SlackCommandMiddlewareArgs,
  AllMiddlewareArgs,
  webApi,
} from '@slack/bolt';
import { compileMatchers, healFromAlert, recognizeAlert } from '../../commands/alert-message.js';
import { runCommand } from '../../commands/index.js';
import { threadLinker, type ChatSurface } from '../../commands/chat.js';
import type { SlackConfig } from '../../src/config/schema.js';
import type { Actor, HealbotApi } from '../../src/engine/api.js';
import { ConfigError, describeError } from '../../src/errors.js';
import type { Redactor } from '../../src/redact.js';
import {
  APPROVE_ACTION_ID,
  asKnownBlocks,
  COMMAND_ACTION_PREFIX,
  DENY_ACTION_ID,
  escapeMrkdwn,
  LINK_ACTION_PREFIX,
  linkMentions,
  renderDecided,
  renderMessage,
  type SlackBlock,
} from './blocks.js';
import { DeliveryDedupe, deliveryKey } from './delivery-dedupe.js';
import { SLACK_EVENTS_PATH } from './paths.js';
import { ChannelPostQueue } from './post-queue.js';
import { SlackSurface } from './surface.js';

/** The slash command healbot registers; its subcommands are commands/index.ts' definitions. */
export const SLASH_COMMAND = '/heal';
export { SLACK_EVENTS_PATH };

/** The logging healbot hands the adapter (pino-compatible). */
export interface AdapterLogger {
  debug(obj: unknown, msg?: string): void;
  info(obj: unknown, msg?: string): void;
  warn(obj: unknown, msg?: string): void;
  error(obj: unknown, msg?: string): void;
}

export interface SlackAdapterOptions {
  config: SlackConfig;
  api: HealbotApi;
  redact: Redactor;
  logger?: AdapterLogger;
  /** Gap between new messages in one channel. @defaultValue 1000 */
  minPostIntervalMs?: number;
  /** Where incidents that did not start in Slack open their thread. @defaultValue the first alert channel */
  defaultChannel?: string;
  /** How long a user-group membership lookup is trusted. @defaultValue 60000 */
  groupCacheMs?: number;
}

export interface SlackAdapter {
  surface: ChatSurface;
  /** Verifies the bot token (auth.test) and, in socket mode, connects. */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** HTTP mode only: the handler for POST /slack/events, with Bolt's own signature verification. */
  requestListener?: (req: IncomingMessage, res: ServerResponse) => void;
}

const silentLogger: AdapterLogger = { debug() {}, info() {}, warn() {}, error() {} };

/** Bolt wants its own logger shape; this one forwards into healbot's, redacted. */
function boltLogger(logger: AdapterLogger, redact: Redactor): BoltLogger {
  const line = (parts: unknown[]) => redact(parts.map((p) => (typeof p === 'string' ? p : describeError(p))).join(' '));
  let level = LogLevel.INFO;
  return {
    debug: (...parts: unknown[]) => logger.debug({ component: 'slack' }, line(parts)),
    info: (...parts: unknown[]) => logger.info({ component: 'slack' }, line(parts)),
    warn: (...parts: unknown[]) => logger.warn({ component: 'slack' }, line(parts)),
    error: (...parts: unknown[]) => logger.error({ component: 'slack' }, line(parts)),
    setLevel: (next: LogLevel) => {
      level = next;
    },
    getLevel: () => level,
    setName: () => {},
  };
}

function checkConfig(config: SlackConfig): void {
  const problems: { path: string; message: string }[] = [];
  if (config.mode === 'socket' && !config.appToken) {
    problems.push({
      path: 'slack.appToken',
      message:
        'is required in socket mode: create an app-level token with connections:write (Basic Information → App-Level Tokens), or set slack.mode: http',
    });
  }
  if (config.mode === 'http' && !config.signingSecret) {
    problems.push({
      path: 'slack.signingSecret',
      message: 'is required in http mode: copy it from Basic Information → App Credentials',
    });
  }
  if (problems.length > 0) throw new ConfigError(problems);
  // A bad matcher is reported now, with its path, rather than on the first alert.
  compileMatchers(config.matchers, 'slack.matchers');
}

/**
 * Builds the Slack adapter: a Bolt App in Socket Mode (default) or behind healbot's HTTP server,
 * with `/heal`, Approve/Deny buttons and alert-channel recognition. It turns Slack payloads into
 * engine calls and engine output into Block Kit; it decides nothing itself.
 */
export function createSlackAdapter(options: SlackAdapterOptions): SlackAdapter {
  const { config, api, redact } = options;
  const logger = options.logger ?? silentLogger;
  checkConfig(config);

  const clientOptions: webApi.WebClientOptions = {
    ...(config.apiUrl ? { slackApiUrl: config.apiUrl.endsWith('/') ? config.apiUrl : `${config.apiUrl}/` } : {}),
    // healbot's queue retries a 429 after exactly its Retry-After; WebClient would add its own backoff on top.
    rejectRateLimitedCalls: true,
    // Every call out of the process has a deadline; WebClient has none by default.
    timeout: 30_000,
    retryConfig: { retries: 2, factor: 2, minTimeout: 500, maxTimeout: 5000 },
  };
  const blogger = boltLogger(logger, redact);

  const dedupe = new DeliveryDedupe();
  const receiver =
    config.mode === 'http'
      ? new HTTPReceiver({
          signingSecret: config.signingSecret ?? '',
          endpoints: SLACK_EVENTS_PATH,
          logger: blogger,
          // Ack first, work after: a slash command must be answered within 3 seconds.
          processBeforeResponse: false,
        })
      : new SocketModeReceiver({
          appToken: config.appToken ?? '',
          logger: blogger,
          installerOptions: { clientOptions },
          customPropertiesExtractor: (args: { envelope_id?: string }) => ({ envelopeId: args.envelope_id }),
        });

  const app = new App({
    token: config.botToken,
    receiver,
    logger: blogger,
    clientOptions,
    // auth.test runs in start(), so a wrong token is reported there with the fix, not at construction.
    deferInitialization: true,
    // healbot keeps no per-conversation state in Bolt; the engine and the thread store hold it.
    convoStore: false,
  });
  const client: webApi.WebClient = app.client;

  const queue = new ChannelPostQueue({
    minIntervalMs: options.minPostIntervalMs,
    onRateLimited: (ms, attempt) =>
      logger.warn(
        { component: 'slack', retryAfterMs: ms, attempt },
        'Slack rate limited a call; retrying after Retry-After',
      ),
  });
  // Users healbot verified (they sent a signed command or click) and configured approvers may be mentioned; nobody else.
  const people = { users: new Set(config.approvers), groups: new Set(config.approverGroups) };
  const surface = new SlackSurface({
    client,
    queue,
    redact,
    people,
    defaultChannel: options.defaultChannel ?? config.alertChannels[0],
  });

  const groupCacheMs = options.groupCacheMs ?? 60_000;
  const groupMembers = new Map<string, { users: Set<string>; at: number }>();
  /** The configured approver groups this user belongs to, as actor roles for the engine's check. */
  async function rolesOf(userId: string): Promise<string[] | undefined> {
    if (config.approverGroups.length === 0) return undefined;
    const roles: string[] = [];
    for (const group of config.approverGroups) {
      let cached = groupMembers.get(group);
      if (!cached || Date.now() - cached.at > groupCacheMs) {
        try {
          const result = await queue.direct(() => client.usergroups.users.list({ usergroup: group }));
          cached = { users: new Set(result.users ?? []), at: Date.now() };
          groupMembers.set(group, cached);
        } catch (error) {
          logger.warn(
            { component: 'slack', group, err: redact(describeError(error)) },
            'could not read user group members; treating the user as not in it',
          );
          continue;
        }
      }
      if (cached.users.has(userId)) roles.push(group);
    }
    return roles;
  }

  async function actorFor(userId: string): Promise<Actor> {
    const roles = await rolesOf(userId);
    people.users.add(userId);
    return { platform: 'slack', id: userId, display: `<@${userId}>`, ...(roles ? { roles } : {}) };
  }

  // Drops redelivered events and replayed commands/clicks before any listener sees them.
  app.use(async (args) => {
    const body = args.body as unknown as Record<string, unknown>;
    const envelopeId = (args.context as { envelopeId?: string }).envelopeId;
    const key = deliveryKey(body, envelopeId);
    if (key && !dedupe.firstTime(key)) {
      logger.info(
        { component: 'slack', delivery: key, retryNum: args.context.retryNum },
        'dropped a redelivered Slack payload',
      );
      if ('ack' in args && typeof args.ack === 'function') await (args.ack as () => Promise<void>)();
      return;
    }
    await args.next();
  });

  app.command(SLASH_COMMAND, async ({ command, ack, respond }: SlackCommandMiddlewareArgs & AllMiddlewareArgs) => {
    await ack();
    const actor = await actorFor(command.user_id);
    const reply = await runCommand(
      api,
      {
        actor,
        text: command.text ?? '',
        channel: command.channel_id,
        origin: { platform: 'slack', channel: command.channel_id },
        threadLink: threadLinker(api, surface),
      },
      (error, errorId) =>
        logger.error({ component: 'slack', errorId, err: redact(describeError(error)) }, 'a /heal command failed'),
    );
    const rendered = renderMessage(reply.message, redact, people);
    await respond({
      response_type: reply.visibility === 'channel' ? 'in_channel' : 'ephemeral',
      replace_original: false,
      text: rendered.text,
      blocks: asKnownBlocks(rendered.blocks),
    });
  });

  const onButton = async ({
    ack,
    body,
    action,
  }: {
    ack: () => Promise<void>;
    body: BlockAction;
    action: ButtonAction;
  }) => {
    await ack();
    const decision = action.action_id === APPROVE_ACTION_ID ? 'approve' : 'deny';
    const approvalId = action.value ?? '';
    const channel = body.channel?.id ?? body.container?.channel_id;
    const messageTs = body.message?.ts ?? body.container?.message_ts;
    const actor = await actorFor(body.user.id);
    // Two clicks at once are safe: the engine decides each approval once.
    const result = await api.decide(approvalId, actor, decision);
    if (!channel) return;
    if (result.ok) {
      if (!messageTs) return;
      const decided = renderDecided(body.message?.blocks as SlackBlock[] | undefined, {
        outcome: result.decision,
        by: actor.display ?? actor.id,
        at: new Date(),
        waitingFor: result.waitingFor,
      });
      await queue.update(channel, messageTs, () =>
        client.chat.update({
          channel,
          ts: messageTs,
          text: redact(decided.text),
          blocks: asKnownBlocks(decided.blocks),
        }),
      );
    } else {
      // An expired request keeps no live buttons: the message says so for everyone.
      if (result.reason === 'expired' && messageTs) {
        const expired = renderDecided(body.message?.blocks as SlackBlock[] | undefined, {
          outcome: 'expired',
          by: '',
          at: new Date(),
        });
        await queue.update(channel, messageTs, () =>
          client.chat.update({ channel, ts: messageTs, text: expired.text, blocks: asKnownBlocks(expired.blocks) }),
        );
      }
      await queue.direct(() =>
        client.chat.postEphemeral({
          channel,
          user: body.user.id,
          text: linkMentions(escapeMrkdwn(redact(result.message)), people),
          ...(body.message?.thread_ts ? { thread_ts: body.message.thread_ts } : {}),
        }),
      );
    }
  };
  app.action<BlockAction<ButtonAction>>({ type: 'block_actions', action_id: APPROVE_ACTION_ID }, onButton);
  app.action<BlockAction<ButtonAction>>({ type: 'block_actions', action_id: DENY_ACTION_ID }, onButton);
  app.action<BlockAction<ButtonAction>>(
    { type: 'block_actions', action_id: new RegExp(`^${LINK_ACTION_PREFIX}`) },
    async ({ ack }) => ack(),
  );
  // A command button (Silence 1h, Expire silence) runs its text as the user who clicked, exactly like typing it.
  app.action<BlockAction<ButtonAction>>(
    { type: 'block_actions', action_id: new RegExp(`^${COMMAND_ACTION_PREFIX}`) },
    async ({ ack, body, action }) => {
      await ack();
      const channel = body.channel?.id ?? body.container?.channel_id;
      if (!channel) return;
      const actor = await actorFor(body.user.id);
      const reply = await runCommand(
        api,
        { actor, text: action.value ?? '', channel, origin: { platform: 'slack', channel } },
        (error, errorId) =>
          logger.error({ component: 'slack', errorId, err: redact(describeError(error)) }, 'a button command failed'),
      );
      const rendered = renderMessage(reply.message, redact);
      const thread = body.message?.thread_ts ?? body.message?.ts;
      const where = {
        channel,
        text: rendered.text,
        blocks: asKnownBlocks(rendered.blocks),
        ...(thread ? { thread_ts: thread } : {}),
      };
      await queue.direct(() =>
        reply.visibility === 'channel'
          ? client.chat.postMessage(where)
          : client.chat.postEphemeral({ ...where, user: body.user.id }),
      );
    },
  );

  const alertChannels = new Set(config.alertChannels);
  let ownBotId: string | undefined;
  app.event('message', async ({ event }) => {
    const message = event as unknown as {
      subtype?: string;
      channel: string;
      ts: string;
      thread_ts?: string;
      text?: string;
      user?: string;
      bot_id?: string;
      attachments?: {
        title?: string;
        text?: string;
        fallback?: string;
        pretext?: string;
        fields?: { title?: string; value: string }[];
      }[];
    };
    if (!alertChannels.has(message.channel)) return;
    // Edits, deletions and joins are not new alerts; thread replies are conversation, not alerts.
    if (message.subtype !== undefined && message.subtype !== 'bot_message') return;
    if (message.thread_ts && message.thread_ts !== message.ts) return;
    if (ownBotId && message.bot_id === ownBotId) return;
    let alert;
    try {
      alert = recognizeAlert(
        {
          text: message.text ?? '',
          author: message.user ?? message.bot_id,
          isBot: Boolean(message.bot_id),
          attachments: message.attachments,
        },
        config.matchers,
        api.services(),
      );
    } catch (error) {
      logger.error(
        { component: 'slack', err: describeError(error) },
        'slack.matchers is invalid; alert recognition is off until the config is fixed',
      );
      return;
    }
    if (!alert || !alert.firing) return;
    logger.info(
      { component: 'slack', service: alert.service, channel: message.channel, ts: message.ts },
      'alert recognised',
    );
    // The incident runs to its end; its progress reaches the thread through the conversation, not this handler.
    void healFromAlert(api, alert, { platform: 'slack', channel: message.channel, message: message.ts }, surface).catch(
      (error: unknown) =>
        logger.error(
          { component: 'slack', service: alert.service, err: redact(describeError(error)) },
          'alert-triggered heal failed',
        ),
    );
  });

  app.error(async (error) => {
    logger.error(
      { component: 'slack', code: (error as { code?: string }).code, err: redact(describeError(error)) },
      'Slack handler failed',
    );
  });

  let started = false;
  const adapter: SlackAdapter = {
    surface,
    async start() {
      if (started) return;
      let auth;
      try {
        await app.init();
        auth = await client.auth.test();
      } catch (error) {
        throw new ConfigError(
          [
            {
              path: 'slack.botToken',
              message: `was not accepted by Slack (${redact(describeError(error))}): use the Bot User OAuth Token (xoxb-…) from OAuth & Permissions, and reinstall the app if its scopes changed`,
            },
          ],
          undefined,
          { cause: error },
        );
      }
      ownBotId = auth.bot_id;
      if (config.mode === 'socket') await app.start();
      started = true;
      logger.info({ component: 'slack', mode: config.mode, team: auth.team, bot: auth.user }, 'Slack adapter started');
    },
    async stop() {
      if (!started) return;
      started = false;
      if (config.mode === 'socket') await app.stop();
      await queue.drain();
    },
  };
  if (config.mode === 'http') {
    const listener = (receiver as HTTPReceiver).requestListener;
    adapter.requestListener = (req, res) => {
      if (!started) {
        res.writeHead(503, { 'content-type': 'text/plain', 'retry-after': '5' });
        res.end('healbot is starting');
        return;
      }
      try {
        listener(req, res);
      } catch {
        // Bolt throws for paths it does not serve; the server decides what else lives there.
        if (!res.headersSent) {
          res.writeHead(404, { 'content-type': 'text/plain' });
          res.end('not found');
        }
      }
    };
  }
  return adapter;
}
