import { createServer, type Server } from 'node:http';
import type { KubeConfig } from '@kubernetes/client-node';
import type { Config } from './config/schema.js';
import type { Logger } from './logger.js';
import { loadKubeConfig } from './runtimes/kubernetes.js';
import { LeaseElector } from './runtimes/kubernetes-lease.js';

export interface Leadership {
  elector: LeaseElector;
  /** Resolves once this replica leads. */
  acquired: Promise<void>;
  /** Why this replica must not act now (it could not renew its Lease in time), or undefined while it leads. */
  notLeadingBecause(): string | undefined;
  stop(): Promise<void>;
}

/** What a standby tells clients to wait before they retry a request meant for the leader. */
const STANDBY_RETRY_AFTER_SECONDS = 5;

/**
 * Campaigns for the configured Lease. Until it leads, a standby replica answers `/healthz` and
 * `/readyz` with 200 (it can serve, so rollouts proceed) and anything else with 503 and
 * Retry-After; only the leader runs the engine, so two replicas never act on the same incident.
 */
export async function campaign(
  config: NonNullable<Config['leaderElection']>,
  options: {
    logger: Logger;
    kubeConfigFor?: (context?: string) => KubeConfig;
    listen?: { host: string; port: number };
    onLost: () => void;
  },
): Promise<Leadership> {
  const identity = config.identity ?? process.env.HOSTNAME ?? `healbot-${process.pid}`;
  let lead: () => void = () => undefined;
  const acquired = new Promise<void>((resolve) => (lead = resolve));
  let leading = false;
  const elector = new LeaseElector({
    kubeConfig: options.kubeConfigFor?.(config.context) ?? loadKubeConfig(config.context),
    namespace: config.namespace,
    name: config.lease,
    identity,
    leaseDurationSeconds: Math.max(1, Math.round(config.leaseDuration / 1000)),
    onError: (message) => options.logger.warn({ lease: config.lease }, message),
    onChange: (leader) => {
      if (leader && !leading) {
        leading = true;
        options.logger.info({ identity, lease: config.lease }, 'this replica leads: starting');
        lead();
      } else if (!leader && leading) {
        leading = false;
        options.logger.error(
          { identity, lease: config.lease, reason: elector.notLeadingBecause() },
          'lost the lease: stopping so that only one replica acts',
        );
        options.onLost();
      }
    },
  });
  let standby: Server | undefined;
  if (options.listen) {
    standby = createServer((req, res) => {
      req.resume();
      // Ready means "can serve" (up, campaigning, taking over within the lease duration), so a
      // rollout counts standbys as available. Work is for the leader: 503 with Retry-After, which
      // Alertmanager and Grafana retry, reaching the leader through the Service.
      const probe = req.url === '/healthz' || req.url === '/readyz';
      const headers: Record<string, string> = { 'content-type': 'application/json', connection: 'close' };
      if (!probe) headers['retry-after'] = String(STANDBY_RETRY_AFTER_SECONDS);
      // A standby's connections must not be reused once it hands the port to the real server.
      res.writeHead(probe ? 200 : 503, headers);
      const leader = elector.leader() ?? null;
      res.end(
        JSON.stringify(
          probe
            ? { ok: true, standby: true, leader }
            : {
                ok: false,
                standby: true,
                leader,
                error: `this replica is a standby${leader ? `; ${leader} leads` : ''}: retry`,
              },
        ),
      );
    });
    const server = standby;
    await new Promise<void>((resolve) => server.listen(options.listen!.port, options.listen!.host, resolve));
  }
  await elector.start();
  if (!elector.isLeader())
    options.logger.info({ identity, leader: elector.leader() }, 'standing by: another replica leads');
  await acquired;
  if (standby) {
    const server = standby;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
  return { elector, acquired, notLeadingBecause: () => elector.notLeadingBecause(), stop: () => elector.stop() };
}
