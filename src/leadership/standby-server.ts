import type { Server } from 'node:http';
import type { Config } from '../config/schema.js';
import type { Store } from '../engine/ports/store.js';
import type { Logger } from '../logger.js';
import { Watchdog } from '../monitor/watchdog.js';
import type { Redactor } from '../redact.js';
import { HealbotMetrics } from '../server/metrics.js';
import { createHttpServer } from '../server/server.js';
import { refusingStandby } from './campaign.js';
import type { Elector } from './elector.js';
import { standbyApi } from './standby-api.js';

/**
 * The HTTP server of a replica that stands by on a shared store: the same routes, checks and
 * answers as the leader's, served from the store, with requests that need the engine recorded
 * for the leader (see {@link standbyApi}). Chat's HTTP route, when configured, answers 503 with
 * Retry-After so Slack retries until the leader answers.
 */
export function standbyServer(options: {
  config: Config;
  /** The shared store, behind the redactor. */
  store: Store;
  elector: Elector;
  redact: Redactor;
  logger: Logger;
  chatPath?: string;
}): Server {
  const { config, store, elector } = options;
  return createHttpServer({
    standby: { leader: () => elector.leader() },
    chatRoutes: options.chatPath ? { [options.chatPath]: refusingStandby(() => elector.leader()) } : undefined,
    engine: standbyApi(config, store),
    store,
    config,
    metrics: new HealbotMetrics({
      services: () => Object.keys(config.services),
      breakerOpen: (service) => store.isBreakerOpen(service),
      pendingApprovals: () => store.pendingApprovals(),
    }),
    watchdog: new Watchdog(),
    redact: options.redact,
    logger: options.logger,
  });
}
