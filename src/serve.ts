import type { RequestListener, Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';
import type Dockerode from 'dockerode';
import type { ChatAdapter } from '../commands/chat.js';
import { IncidentConversations } from '../commands/conversation.js';
import { configSecrets, createHealbot, loadRuntimes, type Healbot, type HealbotOptions } from './app.js';
import { ErrorRouter } from './app-errors/error-router.js';
import { GitHubRoutes } from './app-errors/github-routes.js';
import type { Config } from './config/schema.js';
import type { ProgressEvent } from './engine/types.js';
import { parseListen, preflightProblems } from './config/preflight.js';
import { ConfigError, describeError, UsageError } from './errors.js';
import { GitHubEscalation } from './escalation/github.js';
import { campaign } from './leadership/campaign.js';
import { standbyServer } from './leadership/standby-server.js';
import { WorkDrain } from './leadership/work-drain.js';
import { openStore } from './store/open-store.js';
import { redactingStore } from './store/redacting-store.js';
import { createLogger, type Logger } from './logger.js';
import { ConfigWatch } from './monitor/config-watch.js';
import { DockerMonitor } from './monitor/docker-monitor.js';
import { Heartbeat } from './monitor/heartbeat.js';
import { ProbeMonitor } from './monitor/probe-monitor.js';
import { Watchdog } from './monitor/watchdog.js';
import { createRedactor } from './redact.js';
import { HealbotMetrics } from './server/metrics.js';
import { createGitHubWebhook } from './server/github-webhook.js';
import { closeHttpServer, createHttpServer } from './server/server.js';
import { GitHubActionsRuntime } from './runtimes/github-actions.js';

export interface ServeOptions
  extends Pick<HealbotOptions, 'storePath' | 'healingEnabled' | 'runtimes' | 'kubeConfigFor' | 'now'> {
  /** host:port to listen on, overriding `server.listen` (port 0 picks a free one). */
  listen?: string;
  /** The console chat on stdin/stdout: true forces it, 'auto' uses it when stdin is a TTY. @defaultValue 'auto' */
  console?: boolean | 'auto';
  input?: Readable;
  output?: (text: string) => void;
  /** Where JSON log lines go. @defaultValue stderr */
  logWrite?: (line: string) => void;
  logLevel?: string;
  /** Builds Docker clients for the event stream (tests point it at their own dockerd). */
  dockerClientFor?: (host?: string) => Dockerode;
  /** Turns the probe loop off (tests drive rounds themselves through `monitor.tick()`). @defaultValue true */
  monitoring?: boolean;
  /** Called when another replica took the Lease over; by default the process exits so it restarts as a standby. */
  onLostLeadership?: () => void;
}

export interface RunningHealbot {
  bot: Healbot;
  logger: Logger;
  metrics: HealbotMetrics;
  watchdog: Watchdog;
  monitor: ProbeMonitor;
  dockerMonitor: DockerMonitor;
  github?: GitHubEscalation;
  errorRouter: ErrorRouter;
  server?: Server;
  /** http://host:port of the HTTP server, when one runs. */
  url?: string;
  close(): Promise<void>;
}

/** Tokens shorter than this are accepted with a warning. */
const SHORT_TOKEN = 16;

export { parseListen };

/** A listen failure as one line that says what to do (a port in use is not healbot's bug). */
function listenError(error: NodeJS.ErrnoException, listen: string, where: string): Error {
  if (error.code === 'EADDRINUSE')
    return new UsageError(
      `${where} ${listen}: the port is already in use (another healbot or another server?); stop it or choose another port`,
    );
  if (error.code === 'EACCES')
    return new UsageError(
      `${where} ${listen}: not allowed to listen there (ports below 1024 need privileges); choose a port above 1024`,
    );
  if (error.code === 'EADDRNOTAVAIL' || error.code === 'ENOTFOUND' || error.code === 'EAI_AGAIN')
    return new UsageError(
      `${where} ${listen}: no such address on this machine; use 127.0.0.1, 0.0.0.0 or one of its addresses`,
    );
  return error;
}

/** The ways in that are open, in words: the HTTP address, Slack and its mode, Discord, the console. */
function openDoors(config: Config, url: string | undefined, consoleChat: boolean): string[] {
  return [
    url ? `HTTP ${url} (webhooks, API, /healthz, /metrics)` : '',
    config.slack ? `Slack (${config.slack.mode} mode${config.slack.mode === 'http' ? ', /slack/events' : ''})` : '',
    config.discord ? 'Discord' : '',
    consoleChat ? 'console chat' : '',
  ].filter(Boolean);
}

/** One pino child logger per incident, so every line about it carries its id. */
function incidentLogging(logger: Logger) {
  const children = new Map<string, Logger>();
  return (event: ProgressEvent) => {
    if (event.type === 'started') {
      children.set(event.incident.id, logger.child({ incidentId: event.incident.id, service: event.incident.service }));
      children
        .get(event.incident.id)!
        .info(
          { source: event.incident.source, summary: event.incident.summary, requestedBy: event.incident.requestedBy },
          'incident opened',
        );
      return;
    }
    const log = children.get(event.incidentId) ?? logger.child({ incidentId: event.incidentId });
    switch (event.type) {
      case 'probe':
        log.debug(
          {
            probe: event.result.name,
            probeService: event.result.service,
            ok: event.result.ok,
            status: event.result.status,
            error: event.result.error,
            ms: event.result.ms,
          },
          'probe',
        );
        break;
      case 'runtime':
        log.debug(
          { runtimeService: event.service, status: event.state.status, exitCode: event.state.exitCode },
          'runtime state',
        );
        break;
      case 'finding':
        log.info(
          { rootCause: event.rootCause.kind, layer: event.rootCause.layer, confidence: event.rootCause.confidence },
          event.rootCause.summary,
        );
        break;
      case 'plan':
        log.info(
          { steps: event.steps.map((s) => `${s.action} ${s.target} (${s.risk})`), blockedBy: event.blockedBy },
          'plan',
        );
        break;
      case 'awaiting_approval':
        log.info(
          {
            approval: event.request.id,
            step: `${event.request.step.action} ${event.request.step.target}`,
            expiresAt: event.request.expiresAt,
          },
          'waiting for approval',
        );
        break;
      case 'approval':
        log.info({ approval: event.approvalId, decision: event.decision, by: event.by }, 'approval decided');
        break;
      case 'action_started':
        log.info({ action: event.step.action, target: event.step.target }, 'acting');
        break;
      case 'action_finished':
        log.info(
          {
            action: event.step.action,
            target: event.step.target,
            ok: event.result.ok,
            ms: event.result.ms,
            error: event.result.error,
          },
          'action finished',
        );
        break;
      case 'verified':
        log.info({ ok: event.ok, ms: event.ms }, 'verification');
        break;
      case 'info':
        log.info({}, event.message);
        break;
      case 'failed':
        log.error({ error: event.error }, 'incident failed');
        children.delete(event.incidentId);
        break;
      case 'done':
        log.info(
          {
            outcome: event.report.outcome,
            timeToHealMs: event.report.timeToHealMs,
            escalation: event.report.escalation,
          },
          event.report.summary,
        );
        children.delete(event.incidentId);
        break;
    }
  };
}

/** How serve builds one chat platform's adapter, when the config has a section for it. */
interface ChatPlatform {
  platform: string;
  configured(config: Config): boolean;
  create(bot: Healbot, logger: Logger): Promise<ChatAdapter>;
}

/** Every chat platform serve knows, in the order they start. Each is imported only when configured. */
const CHAT_PLATFORMS: readonly ChatPlatform[] = [
  {
    platform: 'slack',
    configured: (config) => config.slack !== undefined,
    async create({ config, api, redact }, logger) {
      const { createSlackAdapter, SLACK_EVENTS_PATH } = await import('../adapters/slack/index.js');
      // The Slack adapter tags every line with component: 'slack' itself; a child binding would write the key twice.
      const adapter = createSlackAdapter({ config: config.slack!, api, redact, logger });
      const listener = adapter.requestListener;
      return {
        platform: 'slack',
        surface: adapter.surface,
        defaultChannel: config.slack!.alertChannels[0],
        start: () => adapter.start(),
        stop: () => adapter.stop(),
        routes: listener ? { [SLACK_EVENTS_PATH]: listener } : undefined,
      };
    },
  },
  {
    platform: 'discord',
    configured: (config) => config.discord !== undefined,
    async create({ config, api, redact }, logger) {
      const { createDiscordAdapter } = await import('../adapters/discord/index.js');
      const adapter = createDiscordAdapter({
        config: config.discord!,
        api,
        redact,
        logger: logger.child({ component: 'discord' }),
      });
      return {
        platform: 'discord',
        surface: adapter.surface,
        defaultChannel: config.discord!.alertChannels[0],
        start: () => adapter.start(),
        stop: () => adapter.stop(),
      };
    },
  },
];

/** Starts the configured chat adapters and one conversation per incident on each; the console when none is configured. */
async function startChat(
  bot: Healbot,
  logger: Logger,
  options: ServeOptions,
): Promise<{ routes: Record<string, RequestListener>; console: boolean; stop: () => Promise<void> }> {
  const { config, api, redact, store } = bot;
  const stops: (() => Promise<void>)[] = [];
  const routes: Record<string, RequestListener> = {};
  const platforms = CHAT_PLATFORMS.filter((p) => p.configured(config));
  for (const platform of platforms) {
    const adapter = await platform.create(bot, logger);
    await adapter.start();
    stops.push(() => adapter.stop());
    Object.assign(routes, adapter.routes ?? {});
    const conversations = new IncidentConversations(api, adapter.surface, {
      platform: adapter.platform,
      defaultChannel: adapter.defaultChannel,
      threads: store,
      onError: (error, incidentId) =>
        logger.error(
          { incidentId, platform: adapter.platform, err: redact(describeError(error)) },
          'could not post to chat',
        ),
    });
    conversations.start();
    stops.push(() => conversations.stop());
  }
  const wantConsole =
    options.console === true || ((options.console ?? 'auto') === 'auto' && Boolean(process.stdin.isTTY));
  if (platforms.length === 0 && wantConsole) {
    const { ConsoleChat } = await import('../adapters/console/console-chat.js');
    const chat = new ConsoleChat({
      api,
      input: options.input ?? process.stdin,
      write: (text) => (options.output ?? ((out: string) => process.stdout.write(out)))(redact(text)),
      actor: { platform: 'console', id: process.env.USER ?? 'operator', display: process.env.USER ?? 'the operator' },
    });
    void chat.run().catch((error: unknown) => logger.error({ err: describeError(error) }, 'console chat stopped'));
  }
  return {
    routes,
    console: platforms.length === 0 && wantConsole,
    stop: async () => void (await Promise.allSettled(stops.reverse().map((s) => s()))),
  };
}

/**
 * `healbot serve`: the engine with every door open at once: the HTTP server (webhooks, API,
 * health, metrics), the configured chat adapters (the console when none is), continuous
 * monitoring (probes and the Docker event stream), the heartbeat and GitHub escalation.
 */
export async function startServe(config: Config, options: ServeOptions = {}): Promise<RunningHealbot> {
  const redact = createRedactor(configSecrets(config));
  const logger = createLogger(redact, { write: options.logWrite, level: options.logLevel });
  const token = config.server?.token;
  if (token && token.length < SHORT_TOKEN)
    logger.warn(
      {},
      `server.token is only ${token.length} characters: use at least ${SHORT_TOKEN} random characters (e.g. openssl rand -hex 24)`,
    );

  const problems = preflightProblems(config, { store: false });
  if (problems.length > 0) throw new ConfigError(problems);
  const listenAt = options.listen ?? config.server?.listen;
  const listenWhere = options.listen !== undefined ? '--listen' : 'server.listen';
  if (options.listen !== undefined) parseListen(options.listen, '--listen');
  const listenOn =
    listenAt !== undefined && (config.server || options.listen) ? parseListen(listenAt, listenWhere) : undefined;
  // A shared store (Postgres) is opened first: a standby serves from it while another replica leads.
  await loadRuntimes(config);
  const shared = config.store.url ? await openStore(config.store) : undefined;
  // Slack's HTTP mode reaching a standby gets 503 with Retry-After: Slack retries, the leader answers.
  const slackPath = shared && config.slack ? (await import('../adapters/slack/paths.js')).SLACK_EVENTS_PATH : undefined;
  let leadership: Awaited<ReturnType<typeof campaign>>;
  try {
    leadership = await campaign(config, {
      logger: logger.child({ component: 'leader-election' }),
      kubeConfigFor: options.kubeConfigFor,
      listen: listenOn,
      standby: shared
        ? (elector) =>
            standbyServer({
              config,
              store: redactingStore(shared, redact),
              elector,
              redact,
              logger: logger.child({ component: 'http', standby: true }),
              chatPath: slackPath,
            })
        : undefined,
      onLost: () => (options.onLostLeadership ?? (() => process.exit(1)))(),
    });
  } catch (error) {
    await shared?.close();
    throw error;
  }
  const bot = createHealbot(config, {
    logger: logger.child({ component: 'engine' }),
    storePath: options.storePath,
    store: shared,
    sharedStore: shared ? 'leader' : undefined,
    healingEnabled: options.healingEnabled,
    runtimes: options.runtimes,
    kubeConfigFor: options.kubeConfigFor,
    now: options.now,
    mayAct: leadership ? () => leadership!.notLeadingBecause() : undefined,
    redact,
  });
  const { engine, store } = bot;
  const unsubscribers: (() => void)[] = [];
  const metrics = new HealbotMetrics({
    services: () => engine.services(),
    breakerOpen: (s) => store.isBreakerOpen(s),
    pendingApprovals: () => store.pendingApprovals(),
  });
  unsubscribers.push(engine.subscribe((event) => metrics.observe(event)));
  unsubscribers.push(engine.subscribe(incidentLogging(logger)));
  const github = config.github
    ? new GitHubEscalation({
        config: config.github,
        redact,
        store,
        logger: logger.child({ component: 'github' }),
        repoFor: (service) => config.services[service]?.github?.repo,
      })
    : undefined;
  if (github) unsubscribers.push(engine.subscribe((event) => github.observe(event)));

  const errorRouter = new ErrorRouter({
    config,
    engine,
    store,
    redact,
    github: config.github?.repo ? new GitHubRoutes({ ...config.github, repo: config.github.repo }, redact) : undefined,
    logger: logger.child({ component: 'app-errors' }),
  });
  const watchdog = new Watchdog();
  const monitor = new ProbeMonitor({
    config,
    sensors: bot.sensors,
    engine,
    watchdog,
    logger: logger.child({ component: 'monitor' }),
    onProbe: (r) => metrics.observeProbe(r),
    now: options.now,
  });
  const configWatch = new ConfigWatch({
    config,
    sensors: bot.sensors,
    engine,
    logger: logger.child({ component: 'config-watch' }),
  });
  const dockerMonitor = new DockerMonitor({
    config,
    engine,
    store,
    logger: logger.child({ component: 'docker-events' }),
    clientFor: options.dockerClientFor,
    onStarted: (service) => monitor.forget(service),
    onStoppedOnPurpose: (service) => monitor.leaveAlone(service),
    now: options.now,
  });
  const heartbeat = config.heartbeat
    ? new Heartbeat({
        url: config.heartbeat.url,
        intervalMs: config.heartbeat.interval,
        watchdog,
        logger: logger.child({ component: 'heartbeat' }),
      })
    : undefined;

  // What standbys recorded in the shared store, handed to this (leading) replica's engine.
  const drain = shared
    ? new WorkDrain({ store: bot.store, engine, logger: logger.child({ component: 'work-queue' }) })
    : undefined;
  let chat: Awaited<ReturnType<typeof startChat>> | undefined;
  let server: Server | undefined;
  let url: string | undefined;
  const close = async () => {
    await monitor.stop();
    await configWatch.stop();
    await dockerMonitor.stop();
    await heartbeat?.stop();
    if (server) await closeHttpServer(server);
    await errorRouter.idle();
    await chat?.stop();
    await github?.idle();
    unsubscribers.forEach((u) => u());
    await drain?.stop();
    await bot.close();
    await shared?.close();
    await leadership?.stop();
  };

  try {
    chat = await startChat(bot, logger, options);
    if (listenAt !== undefined && (config.server || options.listen)) {
      const { host, port } = parseListen(listenAt, listenWhere);
      const notify = (service: string) => {
        const runtime = bot.sensors.runtimes[service];
        if (runtime instanceof GitHubActionsRuntime) runtime.notify();
      };
      const githubWebhook = createGitHubWebhook({
        config,
        engine,
        store,
        redact,
        notify,
        logger: logger.child({ component: 'github-webhook' }),
      });
      server = createHttpServer({
        engine,
        store,
        config,
        metrics,
        watchdog,
        redact,
        logger: logger.child({ component: 'http' }),
        chatRoutes: chat.routes,
        errorRouter,
        notReadyBecause: leadership ? () => leadership!.notLeadingBecause() : undefined,
        githubWebhook,
      });
      await new Promise<void>((resolve, reject) => {
        server!.once('error', (error: NodeJS.ErrnoException) => reject(listenError(error, listenAt, listenWhere)));
        server!.listen(port, host, () => {
          server!.removeAllListeners('error');
          resolve();
        });
      });
      const address = server.address() as AddressInfo;
      url = `http://${address.family === 'IPv6' ? `[${address.address}]` : address.address}:${address.port}`;
      logger.info(
        {
          url,
          webhooks: [
            '/webhooks/alertmanager',
            '/webhooks/grafana',
            '/webhooks/generic',
            '/webhooks/github',
            ...(config.sentry ? ['/webhooks/sentry'] : []),
            ...(config.logfire ? ['/webhooks/logfire'] : []),
          ],
        },
        'healbot is listening',
      );
    }
    if (options.monitoring !== false) monitor.start();
    if (options.monitoring !== false) configWatch.start();
    dockerMonitor.start();
    heartbeat?.start();
  } catch (error) {
    await close().catch(() => undefined);
    throw error;
  }
  // After chat and the HTTP server are up, so what recovery tells reaches threads and streams.
  if (!(await bot.takeOwnership()))
    logger.warn(
      { store: options.storePath ?? config.store.path },
      'another live process owns the store: not recovering its incidents',
    );
  drain?.start();
  const pending = await store.pendingApprovals();
  const doors = openDoors(config, url, chat.console);
  logger.info(
    {
      doors,
      services: engine.services(),
      pendingApprovals: pending.length,
      monitorIntervalMs: config.monitor.interval,
      dockerEvents: dockerMonitor.enabled,
    },
    `healbot serve started; doors: ${doors.join(', ') || 'none'}`,
  );
  if (doors.length === 0) {
    logger.warn(
      {},
      'no door is open: nobody can reach healbot and incidents are only logged. Add server: { listen, token } for webhooks and the API, slack: or discord: for chat, or run with --console',
    );
  }
  return { bot, logger, metrics, watchdog, monitor, dockerMonitor, github, errorRouter, server, url, close };
}

/**
 * Runs `healbot serve` until SIGINT or SIGTERM, then shuts down in order: stop intake and
 * monitoring, let chat posts drain, close the store. Everything durable is already committed,
 * so a SIGKILL loses nothing either.
 */
export async function runServe(config: Config, options: ServeOptions = {}): Promise<void> {
  const running = await startServe(config, options);
  await new Promise<void>((resolve) => {
    const stop = (signal: NodeJS.Signals) => {
      running.logger.info({ signal }, 'shutting down');
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      running.close().then(resolve, (error: unknown) => {
        running.logger.error({ err: describeError(error) }, 'shutdown failed');
        resolve();
      });
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}
